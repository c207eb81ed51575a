"""Destinations the publisher pushes to: the newsroom's WordPress site, partners' webhooks.

Credentials (a WordPress application password, a webhook signing secret) are stored encrypted
with a key derived from the installation's secret (`shared.crypto`), and never shown again.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    UrlConstraints,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shared import crypto
from shared.domain.states import DestinationKind
from shared.errors import Conflict, Invalid, NotFound
from shared.models import MAX_ID, Destination, Partner
from shared.settings import Settings
from shared.uow import UnitOfWork

Url = Annotated[HttpUrl, UrlConstraints(max_length=2048)]  # the column's width
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
# Non-secret settings of a destination: a few flat, bounded values.
ConfigKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ConfigValue = (
    Annotated[str, StringConstraints(max_length=2000)]
    | Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)]
    | bool
    | None
)
Config = Annotated[dict[ConfigKey, ConfigValue], Field(max_length=50)]


def new_webhook_secret() -> str:
    """A signing secret in the Standard Webhooks form: whsec_ and 32 random bytes, base64."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(kind: DestinationKind, secret: str | None) -> None:
    """Refuse credentials the publisher could not use, when they are entered (not at the first
    delivery): a webhook's whsec_ secrets (several while rotating, space-separated); a
    WordPress user:application-password."""
    if secret is None:
        return
    if kind == DestinationKind.WEBHOOK:
        for part in secret.split():
            key = part.removeprefix(WEBHOOK_SECRET_PREFIX)
            try:
                valid = (
                    part.startswith(WEBHOOK_SECRET_PREFIX)
                    and len(base64.b64decode(key + "==", validate=False)) >= 16
                )
            except (binascii.Error, ValueError):
                valid = False
            if not valid:
                raise ValueError(
                    "a webhook secret is whsec_ followed by base64 of at least 16 bytes "
                    "(several, space-separated, while a key is rotated)"
                )
    elif kind == DestinationKind.WORDPRESS and ":" not in secret:
        raise ValueError("a WordPress secret is user:application-password")


class DestinationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    kind: DestinationKind
    url: Url
    config: Config = Field(default_factory=dict, description="non-secret settings")
    secret: str | None = Field(None, max_length=4096, description="stored encrypted")
    partner: str | None = Field(
        None, max_length=64, description="the partner a webhook belongs to (slug)"
    )

    @model_validator(mode="after")
    def _usable_secret(self) -> DestinationCreate:
        check_secret(self.kind, self.secret)
        return self


class DestinationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    enabled: bool | None = None
    disabled_reason: str | None = Field(None, max_length=500)
    url: Url | None = None
    config: Config | None = None
    secret: str | None = Field(None, max_length=4096)


def with_signing_secret(data: DestinationCreate) -> tuple[DestinationCreate, str | None]:
    """A webhook given no signing secret gets a new one, returned to be shown once: a webhook
    cannot be signed without one (every delivery to it would fail)."""
    if data.kind != DestinationKind.WEBHOOK or data.secret:
        return data, None
    secret = new_webhook_secret()
    return data.model_copy(update={"secret": secret}), secret


def add_destination(uow: UnitOfWork, settings: Settings, data: DestinationCreate) -> Destination:
    partner_id = None
    if data.partner is not None:
        partner_id = uow.session.scalar(select(Partner.id).where(Partner.slug == data.partner))
        if partner_id is None:
            raise NotFound(f"no partner {data.partner!r}")
    destination = Destination(
        name=data.name,
        kind=data.kind.value,
        url=str(data.url),
        config=data.config,
        secret_encrypted=crypto.encrypt(settings, data.secret) if data.secret else None,
        partner_id=partner_id,
    )
    uow.session.add(destination)
    try:
        uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"destination {data.name!r} exists already") from exc
    return destination


def update_destination(
    uow: UnitOfWork, settings: Settings, destination_id: int, data: DestinationUpdate
) -> Destination:
    destination = uow.session.get(Destination, destination_id)
    if destination is None:
        raise NotFound(f"no destination {destination_id}")
    if data.enabled is not None:
        destination.enabled = data.enabled
        destination.disabled_reason = None if data.enabled else (
            data.disabled_reason or "disabled by an admin")  # fmt: skip
    if data.url is not None:
        destination.url = str(data.url)
    if data.config is not None:
        destination.config = data.config
    if data.secret is not None:
        try:
            check_secret(DestinationKind(destination.kind), data.secret)
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        destination.secret_encrypted = crypto.encrypt(settings, data.secret)
    uow.session.flush()
    return destination


def list_destinations(uow: UnitOfWork) -> list[Destination]:
    return list(uow.session.scalars(select(Destination).order_by(Destination.name)))
