"""Sign-in, and the admin endpoints for users, partners and destinations, over real HTTP."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from shared import crypto
from shared.db import Database
from shared.domain.states import Role
from shared.models import Destination, User
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.support.api import Api
from tests.support.factories import make_user
from tests.support.web import WebServer


@pytest.fixture
def admin(web: WebServer, database: Database) -> Api:
    return web.api.with_token(make_user(database, "ada", Role.ADMIN, password="admin-pass-1")[1])


def test_login_gives_an_expiring_token_and_tells_nothing_about_names(
    web: WebServer, database: Database, admin: Api
) -> None:
    make_user(database, "layla", Role.TRANSLATOR, password="correct-horse")
    answer = web.api.post("/api/v1/login", json={"username": "layla", "password": "correct-horse"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"]["username"] == "layla"
    lifetime = dt.datetime.fromisoformat(body["expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=11) < lifetime <= dt.timedelta(hours=12)
    assert web.api.get("/api/v1/me", body["token"]).json()["username"] == "layla"

    wrong = web.api.post("/api/v1/login", json={"username": "layla", "password": "wrong-horse"})
    unknown = web.api.post("/api/v1/login", json={"username": "nobody", "password": "x" * 10})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "wrong username or password"
    assert admin.request("PATCH", "/api/v1/users/layla", json={"active": False}).ok
    again = web.api.post("/api/v1/login", json={"username": "layla", "password": "correct-horse"})
    assert again.status_code == 401
    assert web.api.get("/api/v1/me", body["token"]).status_code == 401  # its tokens are revoked


def test_only_admins_manage_users(web: WebServer, database: Database, admin: Api) -> None:
    editor = web.api.with_token(make_user(database, "ed", Role.EDITOR)[1])
    assert editor.get("/api/v1/users").status_code == 403
    assert editor.post("/api/v1/users", json={"username": "x", "role": "admin"}).status_code == 403

    created = admin.post("/api/v1/users", json={"username": "rana", "role": "translator"})
    assert created.status_code == 201, created.text
    rana = web.api.with_token(created.json()["token"])
    assert rana.get("/api/v1/me").json()["role"] == "translator"
    promoted = admin.request("PATCH", "/api/v1/users/rana", json={"role": "editor"})
    assert promoted.json()["role"] == "editor"
    assert rana.get("/api/v1/me").json()["role"] == "editor"
    assert [u["username"] for u in admin.get("/api/v1/users").json()] == ["ada", "ed", "rana"]
    assert (
        admin.post("/api/v1/users", json={"username": "rana", "role": "editor"}).status_code == 409
    )
    myself = admin.request("PATCH", "/api/v1/users/ada", json={"role": "editor"})
    assert myself.status_code == 409 and "another admin" in myself.json()["detail"]
    assert admin.request("PATCH", "/api/v1/users/ghost", json={"active": False}).status_code == 404


def test_partners_and_destinations(
    web: WebServer, database: Database, admin: Api, settings: Settings
) -> None:
    partner = admin.post("/api/v1/partners", json={"slug": "enab", "name": "Enab Baladi"})
    assert partner.status_code == 201, partner.text
    assert partner.json()["token"].startswith("cfp_")
    assert admin.post("/api/v1/partners", json={"slug": "enab", "name": "x"}).status_code == 409
    assert [p["slug"] for p in admin.get("/api/v1/partners").json()] == ["enab"]

    site = admin.post("/api/v1/destinations", json={
        "name": "Our site", "kind": "wordpress", "url": "https://news.example/wp-json/",
        "config": {"status": "publish"}, "secret": "publisher:app-password-1234"})  # fmt: skip
    assert site.status_code == 201, site.text
    assert site.json()["has_secret"] is True
    assert "app-password-1234" not in site.text
    with UnitOfWork(database, read_only=True) as uow:
        stored = uow.session.scalar(select(Destination.secret_encrypted))
    assert stored and "app-password-1234" not in stored
    assert crypto.decrypt(settings, stored) == "publisher:app-password-1234"
    unusable = admin.post("/api/v1/destinations", json={
        "name": "Bad hook", "kind": "webhook", "url": "https://x.example/hook",
        "secret": "not-a-whsec-secret"})  # fmt: skip
    assert unusable.status_code == 422 and "whsec_" in unusable.text
    hook = admin.post("/api/v1/destinations", json={
        "name": "Enab webhook", "kind": "webhook", "url": "https://enab.example/hook",
        "partner": "enab"})  # fmt: skip
    assert hook.json()["partner_id"] == partner.json()["partner"]["id"]
    # Sent without a signing secret: one is made, shown in this answer only, and stored.
    made = hook.json()["secret"]
    assert made.startswith("whsec_") and hook.json()["has_secret"]
    listed = admin.get("/api/v1/destinations").json()
    assert made not in str(listed) and all("secret" not in d for d in listed)
    with UnitOfWork(database, read_only=True) as uow:
        row = uow.session.get_one(Destination, hook.json()["id"])
        assert row.secret_encrypted and crypto.decrypt(settings, row.secret_encrypted) == made
    off = admin.request("PATCH", f"/api/v1/destinations/{hook.json()['id']}",
                        json={"enabled": False, "disabled_reason": "partner asked"})  # fmt: skip
    assert (off.json()["enabled"], off.json()["disabled_reason"]) == (False, "partner asked")
    bad_kind = admin.post("/api/v1/destinations", json={"name": "x", "kind": "ftp",
                                                         "url": "https://x.example/"})  # fmt: skip
    assert bad_kind.status_code == 422
    orphan = {"name": "y", "kind": "webhook", "url": "https://y.example/", "partner": "ghost"}
    no_partner = admin.post("/api/v1/destinations", json=orphan)
    assert no_partner.status_code == 404


def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    web: WebServer, database: Database, admin: Api
) -> None:
    other = web.api.with_token(make_user(database, "bo", Role.ADMIN)[1])
    barrier = threading.Barrier(2)
    results: list[int] = []

    def demote(api: Api, whom: str) -> None:
        barrier.wait()
        results.append(api.request("PATCH", f"/api/v1/users/{whom}",
                                   json={"role": "editor"}).status_code)  # fmt: skip

    threads = [threading.Thread(target=demote, args=(admin, "bo")),
               threading.Thread(target=demote, args=(other, "ada"))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results)[0] == 200 and sorted(results)[1] in (403, 409)
    with UnitOfWork(database, read_only=True) as uow:
        roles = dict(uow.session.execute(select(User.username, User.role)).all())
    assert sorted(roles.values()) == ["admin", "editor"]
