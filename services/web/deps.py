"""Request dependencies: settings, a unit of work per request, the authenticated user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from shared.admin.users import needs_touch, touch_token, user_for_token
from shared.db import Database
from shared.domain.states import Role
from shared.http import SafeClient
from shared.models import User
from shared.settings import Settings
from shared.uow import UnitOfWork

from . import session

log = structlog.get_logger(__name__)
_bearer = HTTPBearer(auto_error=False, description="An API token from `crossfeed users create`")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def http_client(request: Request) -> SafeClient:
    """The app's client for calls outside (machine translation); made on first use."""
    client: SafeClient | None = getattr(request.app.state, "http", None)
    if client is None:
        client = request.app.state.http = SafeClient(request.app.state.settings)
    return client


def get_uow(
    request: Request, database: Annotated[Database, Depends(get_database)]
) -> Iterator[UnitOfWork]:
    # GET and HEAD only read: on SQLite they then never wait behind a writer.
    with UnitOfWork(database, read_only=request.method in ("GET", "HEAD")) as uow:
        yield uow


UoW = Annotated[UnitOfWork, Depends(get_uow)]


def get_reading_uow(database: Annotated[Database, Depends(get_database)]) -> Iterator[UnitOfWork]:
    """A read-only unit of work for a request that writes in units of its own, after slow work
    (a call to another service) that must not hold the write lock."""
    with UnitOfWork(database, read_only=True) as uow:
        yield uow


ReadingUoW = Annotated[UnitOfWork, Depends(get_reading_uow)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def current_user(request: Request, uow: UoW, credentials: Credentials) -> User:
    return _authenticate(request, uow, credentials)


def current_user_reading(request: Request, uow: ReadingUoW, credentials: Credentials) -> User:
    return _authenticate(request, uow, credentials)


def _authenticate(
    request: Request, uow: UnitOfWork, credentials: HTTPAuthorizationCredentials | None
) -> User:
    """The user of a bearer token, or of the desk's session cookie (see session.py)."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        token = credentials.credentials
    else:
        cookie = session.session_token(request)
        if cookie is None:
            raise HTTPException(
                401,
                "send an API token: Authorization: Bearer <token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        settings: Settings = request.app.state.settings
        offered = request.headers.get(session.CSRF_HEADER)
        if request.method not in session.SAFE_METHODS and not session.csrf_valid(
            settings, cookie, offered
        ):
            raise HTTPException(403, "the session's CSRF token is missing or wrong; reload")
        token = cookie
    found = user_for_token(uow, token)
    if found is None:
        raise HTTPException(
            401,
            "the token is unknown, expired or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    user, api_token = found
    if needs_touch(api_token):
        if uow.read_only:
            _touch(uow.database, api_token.id)
        else:
            # This request already holds a writing transaction (on SQLite, the write lock):
            # a second one would wait for it. The touch commits with the request's changes.
            touch_token(uow, api_token.id)
    return user


def _touch(database: Database, token_id: int) -> None:
    """Record the token's use in a short transaction of its own; losing it is harmless."""
    try:
        with UnitOfWork(database) as writer:
            touch_token(writer, token_id)
            writer.commit()
    except SQLAlchemyError as exc:
        log.warning("token_touch_failed", error=str(exc).splitlines()[0])


CurrentUser = Annotated[User, Depends(current_user)]
# The same user, authenticated without opening a writing transaction.
ReadingUser = Annotated[User, Depends(current_user_reading)]


def require(role: Role) -> Callable[[User], User]:
    """A dependency that admits users whose role includes `role`."""

    def check(user: CurrentUser) -> User:
        if not Role(user.role).includes(role):
            raise HTTPException(403, f"this needs the {role.value} role; you are {user.role}")
        return user

    return check
