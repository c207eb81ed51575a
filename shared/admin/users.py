"""Users and their API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shared.domain.states import Role
from shared.errors import Conflict, NotFound
from shared.models import ApiToken, User, utcnow
from shared.security import hash_password, hash_token, new_token, token_prefix
from shared.uow import UnitOfWork

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: Username
    role: Role
    display_name: str | None = Field(None, max_length=200)
    password: str | None = Field(None, min_length=8, max_length=1024)


def create_user(uow: UnitOfWork, data: UserCreate) -> tuple[User, str]:
    """Create a user and a first API token; return both (the token is shown once)."""
    user = User(
        username=data.username,
        display_name=data.display_name or data.username,
        role=data.role,
        password_hash=hash_password(data.password) if data.password else None,
    )
    uow.session.add(user)
    try:
        uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"user {data.username!r} exists already") from exc
    return user, issue_token(uow, user)


def issue_token(
    uow: UnitOfWork, user: User, name: str = "default", expires_at: dt.datetime | None = None
) -> str:
    token = new_token("cf")
    uow.session.add(
        ApiToken(
            user_id=user.id,
            token_hash=hash_token(token),
            prefix=token_prefix(token),
            name=name,
            expires_at=expires_at,
        )
    )
    uow.session.flush()
    return token


def find_user(uow: UnitOfWork, username: str) -> User:
    user = uow.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def set_password(uow: UnitOfWork, user: User, password: str) -> None:
    user.password_hash = hash_password(password)


def user_for_token(uow: UnitOfWork, token: str) -> tuple[User, ApiToken] | None:
    """The active user a bearer token belongs to, and the token; None if unknown, expired or
    revoked. Reads only."""
    now = utcnow()
    row = uow.session.execute(
        select(User, ApiToken)
        .join(ApiToken, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    user, api_token = row
    if api_token.revoked_at is not None or not user.active:
        return None
    if api_token.expires_at is not None and api_token.expires_at <= now:
        return None
    return user, api_token


def needs_touch(api_token: ApiToken) -> bool:
    """Record use at most once a minute: a token used in a loop must not write every time."""
    last = api_token.last_used_at
    return last is None or utcnow() - last > dt.timedelta(minutes=1)


def touch_token(uow: UnitOfWork, token_id: int) -> None:
    uow.session.execute(
        update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow())
    )
