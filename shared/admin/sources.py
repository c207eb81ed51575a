"""Add, find, pause, resume and poll sources."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shared.domain.events import SourcePollRequested
from shared.domain.states import SourceStatus
from shared.enrichment.standing import ATTRIBUTION_FIELDS, TemplateError, check_template
from shared.errors import Conflict, Invalid, NotFound
from shared.models import Source, utcnow
from shared.uow import UnitOfWork

LanguageTag = Annotated[
    str, StringConstraints(max_length=35, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
]
MAX_URL = 2048  # the columns' width


def check_http_url(value: str) -> str:
    value = value.strip()
    if not value.lower().startswith(("http://", "https://")) or len(value) > MAX_URL:
        raise ValueError("must be an http(s) URL of at most 2048 characters")
    return value


ATTRIBUTION_HELP = (
    'How the newsroom credits the outlet: "Syria TV says" gives "<headline>, Syria TV says"; '
    '"{headline}: {source} reports" places the headline itself'
)


def check_attribution(value: str | None) -> str | None:
    if value:
        try:
            check_template(value, ATTRIBUTION_FIELDS)
        except TemplateError as exc:
            raise ValueError(str(exc)) from exc
    return value


class SourceCreate(BaseModel):
    """A new source, from the CLI or `POST /api/v1/sources`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    url: str = Field(max_length=MAX_URL, description="The feed URL (RSS, Atom or JSON Feed)")
    language: LanguageTag = "ar"
    interval_minutes: int | None = Field(None, ge=1, le=24 * 60)
    attribution: str | None = Field(None, max_length=300, description=ATTRIBUTION_HELP)
    site_url: str | None = Field(None, max_length=MAX_URL)
    full_text: bool = Field(False, description="Fetch each new article's page (summary-only feeds)")

    _url = field_validator("url")(check_http_url)
    _attribution = field_validator("attribution")(check_attribution)

    @field_validator("site_url")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        return check_http_url(value) if value else None


def add_source(uow: UnitOfWork, data: SourceCreate) -> Source:
    source = Source(
        name=data.name,
        url=data.url,
        language=data.language,
        interval_minutes=data.interval_minutes,
        attribution=data.attribution or f"{data.name} says",
        site_url=data.site_url,
        full_text=data.full_text,
        next_poll_at=utcnow(),
    )
    uow.session.add(source)
    try:
        uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a source with the name {data.name!r} or this URL exists already") from exc
    return source


class SourceUpdate(BaseModel):
    """Changes to a source; fields left out stay as they are. `interval_minutes: null` unpins."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    interval_minutes: int | None = Field(None, ge=1, le=24 * 60)
    attribution: str | None = Field(None, max_length=300, description=ATTRIBUTION_HELP)
    full_text: bool | None = None

    _attribution = field_validator("attribution")(check_attribution)


def update_source(uow: UnitOfWork, ref: str | int, data: SourceUpdate) -> Source:
    source = find_source(uow, ref)
    changes = data.model_dump(exclude_unset=True)
    for field_name, value in changes.items():
        if field_name != "interval_minutes" and value is None:
            raise Invalid(f"{field_name} cannot be empty")
        setattr(source, field_name, value)
    if "interval_minutes" in changes:
        source.next_poll_at = utcnow()  # apply the new rhythm from the next poll
    try:
        uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a source named {data.name!r} exists already") from exc
    return source


def find_source(uow: UnitOfWork, ref: str | int) -> Source:
    """A source by id or by exact name."""
    source: Source | None
    if isinstance(ref, int) or str(ref).isdigit():
        source = uow.session.get(Source, int(ref))
    else:
        source = uow.session.scalar(select(Source).where(Source.name == ref))
    if source is None:
        raise NotFound(f"no source {ref!r}")
    return source


def list_sources(uow: UnitOfWork) -> list[Source]:
    return list(uow.session.scalars(select(Source).order_by(Source.name)))


def pause_source(uow: UnitOfWork, ref: str | int, reason: str = "paused by an operator") -> Source:
    source = find_source(uow, ref)
    source.status = SourceStatus.PAUSED
    source.paused_reason = reason
    return source


def resume_source(uow: UnitOfWork, ref: str | int) -> Source:
    """Resume polling now, forgetting past failures."""
    source = find_source(uow, ref)
    source.status = SourceStatus.ACTIVE
    source.paused_reason = None
    source.consecutive_failures = 0
    source.next_poll_at = utcnow()
    source.poll_lease_until = source.poll_lease_token = None
    return source


def request_poll(uow: UnitOfWork, ref: str | int) -> Source:
    """Ask the poller to poll this source now."""
    source = find_source(uow, ref)
    if source.status != SourceStatus.ACTIVE:
        raise Invalid(f"source {source.name!r} is paused; resume it first")
    uow.emit(SourcePollRequested(source_id=source.id))
    return source
