"""The desk: articles by state and what needs attention first (shared/editorial/desk.py)."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter
from pydantic import BaseModel

from services.web.deps import CurrentUser, UoW
from shared.editorial import desk

router = APIRouter(prefix="/desk", tags=["articles"])


class WaitingOut(BaseModel):
    id: int
    title: str
    source: str
    state: str
    since: str


class DeskOut(BaseModel):
    counts: dict[str, int]
    oldest_in_review: list[WaitingOut]
    source_revised: list[WaitingOut]
    delivery_failed: list[WaitingOut]


@router.get("", response_model=DeskOut)
def overview(uow: UoW, _user: CurrentUser) -> DeskOut:
    """Articles in each state, and the articles waiting longest in review, those whose source
    changed under the translator, and those a destination failed to receive."""
    attention = desk.attention(uow.session)
    lists = {
        field.name: [
            WaitingOut(**{**dataclasses.asdict(w), "since": w.since.isoformat()})
            for w in getattr(attention, field.name)
        ]
        for field in dataclasses.fields(attention)
    }
    return DeskOut(counts=desk.counts(uow.session), **lists)
