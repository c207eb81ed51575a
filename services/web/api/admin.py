"""Admins: users, partners and destinations. And the login that gives a person a token."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field, computed_field

from services.web import session
from services.web.api.schemas import Out, UserOut
from services.web.deps import UoW, get_settings, require
from shared.admin import destinations as destination_ops
from shared.admin import partners as partner_ops
from shared.admin import users as user_ops
from shared.domain.states import Role
from shared.models import MAX_ID, User
from shared.settings import Settings

router = APIRouter(tags=["admin"])
Admin = Annotated[User, Depends(require(Role.ADMIN))]
AppSettings = Annotated[Settings, Depends(get_settings)]
Username = Annotated[str, Path(max_length=64)]
Slug = Annotated[str, Path(max_length=64)]


class UserAdminOut(UserOut):
    active: bool
    created_at: dt.datetime


class CreatedUser(BaseModel):
    user: UserAdminOut
    token: str = Field(description="shown once; only its hash is stored")


class PartnerOut(Out):
    id: int
    slug: str
    name: str
    formats: list[str]
    filters: dict[str, Any]
    active: bool
    created_at: dt.datetime


class CreatedPartner(BaseModel):
    partner: PartnerOut
    token: str = Field(description="the partner's feed token; shown once")


class DestinationOut(Out):
    id: int
    name: str
    kind: str
    url: str
    config: dict[str, Any]
    secret_encrypted: str | None = Field(None, exclude=True)  # read to say has_secret, never sent
    partner_id: int | None
    enabled: bool
    disabled_reason: str | None
    created_at: dt.datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_secret(self) -> bool:
        return self.secret_encrypted is not None


class CreatedDestination(DestinationOut):
    secret: str | None = Field(
        None, description="a webhook's signing secret made for it when none was sent; shown once"
    )


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class LoginOut(BaseModel):
    token: str
    expires_at: dt.datetime
    user: UserOut


@router.post("/login", response_model=LoginOut)
def login(request: Request, body: LoginIn) -> LoginOut:
    """Exchange a username and password for an API token that expires (the web UI's login).
    A wrong name and a wrong password get the same 401. The password is checked (argon2, tens
    of milliseconds) before any write lock is taken; the token is then issued in a short one."""
    try:
        user, token, expires_at = session.sign_in(request, body.username, body.password)
    except session.TooManySignIns as refused:
        raise HTTPException(429, f"too many failed sign-ins; try again in {refused.wait} s",
                            headers={"Retry-After": str(refused.wait)}) from None  # fmt: skip
    return LoginOut(token=token, expires_at=expires_at, user=UserOut.model_validate(user))


@router.get("/users", response_model=list[UserAdminOut])
def list_users(uow: UoW, _admin: Admin) -> list[UserAdminOut]:
    return [UserAdminOut.model_validate(u) for u in user_ops.list_users(uow)]


@router.post("/users", response_model=CreatedUser, status_code=status.HTTP_201_CREATED)
def create_user(body: user_ops.UserCreate, uow: UoW, _admin: Admin) -> CreatedUser:
    user, token = user_ops.create_user(uow, body)
    uow.commit()
    return CreatedUser(user=UserAdminOut.model_validate(user), token=token)


@router.patch("/users/{username}", response_model=UserAdminOut)
def update_user(
    username: Username, body: user_ops.UserUpdate, uow: UoW, admin: Admin
) -> UserAdminOut:
    user = user_ops.update_user(uow, username, body, acting=admin)
    uow.commit()
    return UserAdminOut.model_validate(user)


@router.get("/partners", response_model=list[PartnerOut])
def list_partners(uow: UoW, _admin: Admin) -> list[PartnerOut]:
    return [PartnerOut.model_validate(p) for p in partner_ops.list_partners(uow)]


@router.post("/partners", response_model=CreatedPartner, status_code=status.HTTP_201_CREATED)
def add_partner(body: partner_ops.PartnerCreate, uow: UoW, _admin: Admin) -> CreatedPartner:
    partner, token = partner_ops.add_partner(uow, body)
    uow.commit()
    return CreatedPartner(partner=PartnerOut.model_validate(partner), token=token)


@router.patch("/partners/{slug}", response_model=PartnerOut)
def update_partner(
    slug: Slug, body: partner_ops.PartnerUpdate, uow: UoW, _admin: Admin
) -> PartnerOut:
    partner = partner_ops.update_partner(uow, slug, body)
    uow.commit()
    return PartnerOut.model_validate(partner)


@router.post("/partners/{slug}/token", response_model=CreatedPartner)
def rotate_partner_token(slug: Slug, uow: UoW, _admin: Admin) -> CreatedPartner:
    """A new feed token, shown once; the old one stops working."""
    partner, token = partner_ops.rotate_token(uow, slug)
    uow.commit()
    return CreatedPartner(partner=PartnerOut.model_validate(partner), token=token)


@router.get("/destinations", response_model=list[DestinationOut])
def list_destinations(uow: UoW, _admin: Admin) -> list[DestinationOut]:
    return [DestinationOut.model_validate(d) for d in destination_ops.list_destinations(uow)]


@router.post(
    "/destinations", response_model=CreatedDestination, status_code=status.HTTP_201_CREATED
)
def add_destination(
    body: destination_ops.DestinationCreate, uow: UoW, _admin: Admin, settings: AppSettings
) -> CreatedDestination:
    """Credentials are stored encrypted and never shown; a webhook sent without a signing
    secret gets one, in this answer only."""
    data, generated = destination_ops.with_signing_secret(body)
    destination = destination_ops.add_destination(uow, settings, data)
    uow.commit()
    return CreatedDestination.model_validate(destination).model_copy(update={"secret": generated})


@router.patch("/destinations/{destination_id}", response_model=DestinationOut)
def update_destination(
    destination_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: destination_ops.DestinationUpdate,
    uow: UoW,
    _admin: Admin,
    settings: AppSettings,
) -> DestinationOut:
    destination = destination_ops.update_destination(uow, settings, destination_id, body)
    uow.commit()
    return DestinationOut.model_validate(destination)
