"""Deliveries: where published articles went, what failed, and replaying the dead ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.web.api.schemas import DeliveryOut, ReplayIn, ReplayOut
from services.web.deps import UoW, require
from shared.domain.states import DeliveryState, Role
from shared.errors import Invalid
from shared.models import MAX_ID, User
from shared.publishing import ledger

router = APIRouter(prefix="/deliveries", tags=["publishing"])
Editor = Annotated[User, Depends(require(Role.EDITOR))]


@router.get("", response_model=list[DeliveryOut])
def list_deliveries(
    uow: UoW,
    _editor: Editor,
    state: Annotated[DeliveryState | None, Query()] = None,
    article_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[DeliveryOut]:
    """Newest first; `state=dead` lists what gave up and needs a replay (or a fix first)."""
    rows = ledger.listing(uow.session, state=state, article_id=article_id, limit=limit)
    return [DeliveryOut.model_validate(row) for row in rows]


@router.post("/replay", response_model=ReplayOut)
def replay(body: ReplayIn, uow: UoW, _editor: Editor) -> ReplayOut:
    """Dead deliveries go back to pending with a fresh count of attempts; the publisher's
    sweep sends them within `PUBLISH_SWEEP_SECONDS`."""
    if not body.all_dead and not body.ids:
        raise Invalid("name the deliveries to replay (ids), or set all_dead")
    count = ledger.replay(uow.session, None if body.all_dead else body.ids)
    uow.commit()
    return ReplayOut(replayed=count)
