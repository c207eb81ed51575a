"""Users and their API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shared.domain.states import Role
from shared.errors import Conflict, NotFound, Unauthorized
from shared.models import ApiToken, User, utcnow
from shared.security import hash_password, hash_token, new_token, token_prefix, verify_password
from shared.uow import UnitOfWork

Username = Annotated[
    str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
]


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


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Role | None = None
    display_name: str | None = Field(None, max_length=200)
    active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=1024)


def list_users(uow: UnitOfWork) -> list[User]:
    return list(uow.session.scalars(select(User).order_by(User.username)))


def update_user(uow: UnitOfWork, username: str, data: UserUpdate, acting: User) -> User:
    """Change a user's role, name, password or standing. Deactivating a user revokes every
    token they hold; an admin cannot demote or deactivate themselves (someone must remain)."""
    user = find_user(uow, username)
    leaves_admins = user.role == Role.ADMIN and (
        data.active is False or (data.role is not None and data.role != Role.ADMIN)
    )
    if leaves_admins and user.id == acting.id:
        raise Conflict("you cannot demote or deactivate yourself; ask another admin")
    if leaves_admins:
        # Lock every active admin's row, so two admins removing each other at once take turns
        # and the second sees that it would leave none.
        admins = uow.session.scalars(
            select(User.id).where(User.role == Role.ADMIN, User.active.is_(True)).with_for_update()
        ).all()
        if len(admins) <= 1:
            raise Conflict("this is the last active admin; make another admin first")
    if data.role is not None:
        user.role = data.role
    if data.display_name is not None:
        user.display_name = data.display_name
    if data.password is not None:
        set_password(uow, user, data.password)
    if data.active is not None:
        user.active = data.active
    if data.active is False or data.password is not None:
        # Deactivated, or a new password (perhaps because the old one leaked): every token
        # the user holds stops working; they sign in again.
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    uow.session.flush()
    return user


# Verified when the name is unknown, so a wrong name costs the same time as a wrong password
# and the answer's timing does not tell which names exist.
_DUMMY_HASH = hash_password("not-a-real-password-" + new_token("x"))


def check_password(reader: UnitOfWork, username: str, password: str) -> int:
    """The id of the active user with this name and password; Unauthorized (401) otherwise.
    Slow on purpose (argon2): call it with a read-only unit of work, holding no write lock."""
    user = reader.session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    valid = verify_password(stored, password)
    if user is None or not user.active or user.password_hash is None or not valid:
        raise Unauthorized("wrong username or password")
    return user.id


def issue_login_token(
    uow: UnitOfWork, user_id: int, lifetime: dt.timedelta
) -> tuple[User, str, dt.datetime]:
    """A new expiring token for a user whose password was just checked."""
    user = uow.session.get(User, user_id)
    if user is None or not user.active:
        raise Unauthorized("wrong username or password")
    expires_at = utcnow() + lifetime
    return user, issue_token(uow, user, name="login", expires_at=expires_at), expires_at


def revoke_token(uow: UnitOfWork, token: str) -> None:
    """Sign out: the token stops working at once (unknown tokens are ignored)."""
    uow.session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
