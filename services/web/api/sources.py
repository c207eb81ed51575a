"""Sources: admins add, pause and resume them; editors may ask for a poll now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.web.api.pagination import Page, decode_cursor, encode_cursor
from services.web.api.schemas import SourceOut
from services.web.deps import CurrentUser, UoW, require
from shared.admin import sources as admin
from shared.domain.states import Role
from shared.models import MAX_ID, Source, User

router = APIRouter(prefix="/sources", tags=["sources"])
SourceId = Annotated[int, Path(ge=1, le=MAX_ID)]  # beyond the column: a 422, not a crash
Admin = Annotated[User, Depends(require(Role.ADMIN))]
Editor = Annotated[User, Depends(require(Role.EDITOR))]


class PauseIn(BaseModel):
    reason: str = Field("paused by an operator", max_length=500)


@router.get("", response_model=Page[SourceOut])
def list_sources(
    uow: UoW,
    _user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[SourceOut]:
    stmt = select(Source).order_by(Source.id.desc()).limit(limit + 1)
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Source.id < after)
    rows = uow.session.scalars(stmt).all()
    items = [SourceOut.model_validate(s) for s in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


@router.post("", response_model=SourceOut, status_code=status.HTTP_201_CREATED)
def add_source(body: admin.SourceCreate, uow: UoW, _user: Admin) -> SourceOut:
    source = admin.add_source(uow, body)
    uow.commit()
    return SourceOut.model_validate(source)


@router.patch("/{source_id}", response_model=SourceOut)
def update_source(
    source_id: SourceId, body: admin.SourceUpdate, uow: UoW, _user: Admin
) -> SourceOut:
    source = admin.update_source(uow, source_id, body)
    uow.commit()
    return SourceOut.model_validate(source)


@router.get("/{source_id}", response_model=SourceOut)
def get_source(source_id: SourceId, uow: UoW, _user: CurrentUser) -> SourceOut:
    return SourceOut.model_validate(admin.find_source(uow, source_id))


@router.post("/{source_id}/pause", response_model=SourceOut)
def pause_source(
    source_id: SourceId, uow: UoW, _user: Admin, body: PauseIn | None = None
) -> SourceOut:
    source = admin.pause_source(uow, source_id, (body or PauseIn()).reason)
    uow.commit()
    return SourceOut.model_validate(source)


@router.post("/{source_id}/resume", response_model=SourceOut)
def resume_source(source_id: SourceId, uow: UoW, _user: Admin) -> SourceOut:
    source = admin.resume_source(uow, source_id)
    uow.commit()
    return SourceOut.model_validate(source)


@router.post("/{source_id}/poll", response_model=SourceOut, status_code=status.HTTP_202_ACCEPTED)
def poll_source(source_id: SourceId, uow: UoW, _user: Editor) -> SourceOut:
    source = admin.request_poll(uow, source_id)
    uow.commit()
    return SourceOut.model_validate(source)
