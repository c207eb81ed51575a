"""The web desk's sessions: the login token in a cookie, and CSRF protection for it.

Signing in (`/login`) issues the same expiring token the API's `POST /api/v1/login` issues
and keeps it in an HttpOnly, SameSite=Strict cookie (Secure when the site is served over
https). The desk's pages read with it, and their scripts call the JSON API with it, so the
desk has no actions of its own.

A cookie is sent by the browser on its own, so every request that changes something and is
authenticated by the cookie must also carry `X-CSRF-Token` (or a `csrf` form field): an HMAC
of the session's token under the secret key, which the page embeds and another site cannot
read (the synchroniser-token pattern of the OWASP cheat sheet). A bearer token in
`Authorization` needs none: a browser never adds it by itself.

Failed sign-ins are limited per username and per client address (`LOGIN_RATE_LIMIT`, see
shared/ratelimit.py), for the form and for `POST /api/v1/login` alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from fastapi import Request, Response

from shared.admin import users as user_ops
from shared.db import Database
from shared.errors import Unauthorized
from shared.models import User
from shared.ratelimit import Limiter
from shared.settings import Settings
from shared.uow import UnitOfWork

COOKIE = "cf_session"
LOGIN_COOKIE = "cf_login"  # the login form's own double-submit token, before any session
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


def csrf_token(settings: Settings, session_token: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()[:40]


def csrf_valid(settings: Settings, session_token: str, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(csrf_token(settings, session_token), offered)


def session_token(request: Request) -> str | None:
    token = request.cookies.get(COOKIE)
    return token if token and len(token) <= 200 else None


def secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def set_session(response: Response, settings: Settings, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max_age, httponly=True, samesite="strict",
        secure=secure(settings), path="/",
    )  # fmt: skip


def clear_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=secure(settings))  # fmt: skip


def client_address(request: Request) -> str:
    """The client's address (the proxy's X-Forwarded-For when uvicorn trusts the proxy)."""
    return request.client.host if request.client else "unknown"


class TooManySignIns(Exception):
    def __init__(self, wait: int) -> None:
        self.wait = wait  # seconds, for Retry-After


def sign_in(request: Request, username: str, password: str) -> tuple[User, str, dt.datetime]:
    """The user, a new expiring token and its end, for a right name and password: the form's
    and `POST /api/v1/login`'s one path. TooManySignIns while this name or address failed too
    often; Unauthorized (counted as a failure) otherwise. The password is checked (argon2,
    tens of milliseconds) before any write lock is taken; the token is issued in a short one."""
    wait = sign_in_refused(request, username)
    if wait is not None:
        raise TooManySignIns(wait)
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    try:
        with UnitOfWork(database, read_only=True) as reader:
            user_id = user_ops.check_password(reader, username, password)
    except Unauthorized:
        sign_in_failed(request, username)
        raise
    with UnitOfWork(database) as uow:
        issued = user_ops.issue_login_token(
            uow, user_id, dt.timedelta(hours=settings.login_token_hours)
        )
        uow.commit()
        return issued


def sign_in_refused(request: Request, username: str) -> int | None:
    """Seconds to wait when this username or this address failed too often to try now."""
    limiter: Limiter = request.app.state.login_limiter
    for key in (("login-user", username.casefold()), ("login-address", client_address(request))):
        verdict = limiter.check(*key)
        if not verdict.allowed:
            return verdict.retry_after
    return None


def sign_in_failed(request: Request, username: str) -> None:
    limiter: Limiter = request.app.state.login_limiter
    limiter.hit("login-user", username.casefold())
    limiter.hit("login-address", client_address(request))
