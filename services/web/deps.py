"""Request dependencies: settings, a unit of work per request, the authenticated user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.admin.users import user_for_token
from shared.db import Database
from shared.domain.states import Role
from shared.models import User
from shared.settings import Settings
from shared.uow import UnitOfWork

_bearer = HTTPBearer(auto_error=False, description="An API token from `crossfeed users create`")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_uow(database: Annotated[Database, Depends(get_database)]) -> Iterator[UnitOfWork]:
    with UnitOfWork(database) as uow:
        yield uow


UoW = Annotated[UnitOfWork, Depends(get_uow)]


def current_user(
    uow: UoW,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            "send an API token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = user_for_token(uow, credentials.credentials)
    if user is None:
        raise HTTPException(
            401,
            "the token is unknown, expired or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    uow.commit()  # the token's last-used time
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(role: Role) -> Callable[[User], User]:
    """A dependency that admits users whose role includes `role`."""

    def check(user: CurrentUser) -> User:
        if not Role(user.role).includes(role):
            raise HTTPException(403, f"this needs the {role.value} role; you are {user.role}")
        return user

    return check
