"""Seed the demo: the outlets as sources (pointed at the running demo server) and an editor."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from shared.admin.sources import SourceCreate, add_source, request_poll
from shared.admin.users import UserCreate, create_user, issue_token, set_password
from shared.domain.states import Role, SourceStatus
from shared.models import ApiToken, Source, User, utcnow
from shared.uow import UnitOfWork

from .server import DemoOutlet

DEMO_EDITOR = "demo-editor"
DEMO_POLL_MINUTES = 1


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    token: str


def seed_sources(uow: UnitOfWork, outlets: list[tuple[DemoOutlet, str]]) -> list[int]:
    """Add or re-point the demo sources; ask for an immediate poll of each. Returns their ids."""
    ids = []
    for outlet, url in outlets:
        source = uow.session.scalar(select(Source).where(Source.name == outlet.name))
        if source is None:
            source = add_source(
                uow,
                SourceCreate(
                    name=outlet.name,
                    url=url,
                    language=outlet.language,
                    interval_minutes=DEMO_POLL_MINUTES,
                    attribution=outlet.attribution,
                    site_url=url.rsplit("/", 1)[0] + "/",
                ),
            )
        else:
            # The demo server's port may differ from last time.
            source.url = url
            source.status = SourceStatus.ACTIVE
            source.paused_reason = None
            source.consecutive_failures = 0
            source.next_poll_at = utcnow()
            source.poll_lease_until = source.poll_lease_token = None
            source.etag = source.last_modified = source.content_hash = None
        uow.session.flush()
        request_poll(uow, source.id)
        ids.append(source.id)
    return ids


def seed_editor(uow: UnitOfWork) -> DemoAccount:
    """Create the demo editor, or give it a new password and token; return the credentials."""
    password = secrets.token_urlsafe(12)
    user = uow.session.scalar(select(User).where(User.username == DEMO_EDITOR))
    if user is None:
        user, token = create_user(
            uow,
            UserCreate(
                username=DEMO_EDITOR,
                role=Role.EDITOR,
                display_name="Demo Editor",
                password=password,
            ),
        )
    else:
        set_password(uow, user, password)
        # Only the token printed this time works: the ones printed before are revoked.
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        token = issue_token(uow, user, name="demo")
    return DemoAccount(DEMO_EDITOR, password, token)
