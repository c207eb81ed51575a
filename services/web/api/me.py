"""Who am I: a cheap way for a client to check its token."""

from __future__ import annotations

from fastapi import APIRouter

from services.web.api.schemas import UserOut
from services.web.deps import CurrentUser

router = APIRouter(tags=["users"])


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)
