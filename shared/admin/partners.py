"""Partners who pull our outbound feeds."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from shared.errors import Conflict, NotFound
from shared.models import FeedDocument, Partner
from shared.security import hash_token, new_token, token_prefix
from shared.uow import UnitOfWork

FeedFormat = Literal["rss", "atom", "jsonfeed", "ninjs"]
ALL_FORMATS: tuple[FeedFormat, ...] = ("rss", "atom", "jsonfeed", "ninjs")
Slug = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PartnerFilters(BaseModel):
    """What a partner's feeds carry: every published article, or those matching all of the
    filters given (within one filter, any of its values; names compared case-insensitively)."""

    model_config = ConfigDict(extra="forbid")

    sources: list[Term] = Field(default_factory=list, max_length=200, description="outlets")
    categories: list[Term] = Field(default_factory=list, max_length=200)
    places: list[Term] = Field(default_factory=list, max_length=200)
    keywords: list[Term] = Field(default_factory=list, max_length=200)
    language: str | None = Field(None, max_length=35, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


class PartnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: Slug
    name: str = Field(min_length=1, max_length=200)
    formats: list[FeedFormat] = Field(
        default_factory=lambda: list(ALL_FORMATS), max_length=len(ALL_FORMATS)
    )
    filters: PartnerFilters = Field(default_factory=PartnerFilters)


def add_partner(uow: UnitOfWork, data: PartnerCreate) -> tuple[Partner, str]:
    """Create a partner and its feed token (shown once)."""
    token = new_token("cfp")
    partner = Partner(
        slug=data.slug,
        name=data.name,
        formats=list(dict.fromkeys(data.formats)),
        filters=data.filters.model_dump(exclude_defaults=True),
        token_hash=hash_token(token),
        token_prefix=token_prefix(token),
    )
    uow.session.add(partner)
    try:
        uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"partner {data.slug!r} exists already") from exc
    return partner, token


class PartnerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    formats: list[FeedFormat] | None = Field(None, max_length=len(ALL_FORMATS))
    filters: PartnerFilters | None = None
    active: bool | None = Field(None, description="false: every feed of the partner answers 401")


def find_partner(uow: UnitOfWork, slug: str) -> Partner:
    partner = uow.session.scalar(select(Partner).where(Partner.slug == slug))
    if partner is None:
        raise NotFound(f"no partner {slug!r}")
    return partner


def update_partner(uow: UnitOfWork, slug: str, data: PartnerUpdate) -> Partner:
    """Change a partner; new filters or formats drop its rendered feeds (rendered again on
    the next request or refresh)."""
    partner = find_partner(uow, slug)
    if data.name is not None:
        partner.name = data.name
    if data.active is not None:
        partner.active = data.active
    if data.formats is not None or data.filters is not None:
        if data.formats is not None:
            partner.formats = list(dict.fromkeys(data.formats))
        if data.filters is not None:
            partner.filters = data.filters.model_dump(exclude_defaults=True)
        uow.session.execute(delete(FeedDocument).where(FeedDocument.partner_id == partner.id))
    uow.session.flush()
    return partner


def rotate_token(uow: UnitOfWork, slug: str) -> tuple[Partner, str]:
    """A new feed token for the partner (shown once); the old one stops working."""
    partner = find_partner(uow, slug)
    token = new_token("cfp")
    partner.token_hash = hash_token(token)
    partner.token_prefix = token_prefix(token)
    uow.session.flush()
    return partner, token


def list_partners(uow: UnitOfWork) -> list[Partner]:
    return list(uow.session.scalars(select(Partner).order_by(Partner.slug)))
