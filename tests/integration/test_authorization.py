"""Who may reach what, over real HTTP: every route the web server serves is classified in
POLICY, and each one is asked without credentials, with every kind of token that must not
work, by each role and by partners.

A route added without a decision in POLICY fails `test_the_policy_classifies_every_route`,
and so does a POLICY entry for a route that is gone.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import update
from starlette.routing import Mount
from starlette.types import ASGIApp

from services.web import feeds as feed_server
from services.web import session
from shared import crypto
from shared.admin.users import issue_login_token
from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.states import ArticleState, Role
from shared.editorial.actions import TranslationInput
from shared.models import ApiToken, Source, utcnow
from shared.publishing.feeds import FILES
from shared.security import hash_token
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import replace_settings
from tests.integration.test_desk_pages import PASSWORD
from tests.support.factories import Newsroom, make_article, make_source, make_user
from tests.support.web import WebServer


class Access(enum.Enum):
    PUBLIC = "anyone, without credentials"
    SIGN_IN = "anyone: the name and password sent are the credentials"
    CAPABILITY = "whoever knows the unguessable token in the path (WebSub callbacks)"
    METRICS = "anyone, or only the metrics token when CROSSFEED_METRICS_TOKEN is set"
    DESK = "a desk session of any role; without one, a redirect to the sign-in form"
    DESK_ADMIN = "a desk session of an admin"
    TRANSLATOR = "an API token or session of a translator, editor or admin"
    EDITOR = "an API token or session of an editor or admin"
    ADMIN = "an API token or session of an admin"
    PARTNER = "the partner's own feed token"


ROLE_OF = {Access.TRANSLATOR: Role.TRANSLATOR, Access.EDITOR: Role.EDITOR, Access.ADMIN: Role.ADMIN}
DESK_PAGES = (Access.DESK, Access.DESK_ADMIN)
BAD_TOKEN = "the token is unknown, expired or revoked"
FEED_REFUSED = {"type": "about:blank", "title": "this token does not open this feed", "status": 401}


@dataclass(frozen=True)
class Call:
    """A request someone entitled may make, and the answers they may get."""

    path: str
    ok: frozenset[int] = frozenset({200})
    json: Callable[[], Any] | None = None  # built when sent (a lock_version read just before)
    data: bytes | dict[str, str] | None = None  # a raw body, or a form


@dataclass(frozen=True)
class Rule:
    access: Access
    probe: Callable[[World], Call]


@dataclass
class World:
    """Everything the table's requests name, made through the API where an admin would."""

    web: WebServer
    database: Database
    settings: Settings
    tokens: dict[Role, str]  # API tokens by role
    sessions: dict[Role, str]  # sign-in tokens (the desk's cookie) by role
    refused: dict[str, str]  # user tokens that must open nothing, by why
    partners: dict[str, str]  # feed tokens by partner slug: mine, theirs
    closed: dict[str, tuple[str, str]]  # partner tokens refused on their own feeds: (slug, token)
    source_id: int
    article_id: int  # translating, assigned to tara, one version saved
    destination_id: int
    websub_token: str
    websub_topic: str
    newsroom: Newsroom
    unique: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def admin(self) -> str:
        return self.tokens[Role.ADMIN]

    def lock_version(self, article_id: int) -> int:
        answer = self.web.get(f"/api/v1/articles/{article_id}", self.admin())
        assert answer.status_code == 200, answer.text
        return int(answer.json()["lock_version"])

    def fresh_article(self) -> int:
        return make_article(self.database, self.source_id)

    def n(self) -> int:
        return next(self.unique)


def _add_source(w: World) -> Call:
    n = w.n()
    body = {"name": f"Probe {n}", "url": f"https://probe{n}.example/feed", "language": "ar"}
    return Call(API + "/sources", frozenset({201}), json=lambda: body)


def _claim(w: World) -> Call:
    article_id = w.fresh_article()
    return Call(f"{API}/articles/{article_id}/actions/claim", json=lambda: {"lock_version": 1})


def _feed(file: str) -> Callable[[World], Call]:
    return lambda w: Call(f"/feeds/mine/{file}")


A = Access
API = "/api/v1"
ARTICLE = API + "/articles/{article_id}"
POLICY: dict[tuple[str, str], Rule] = {
    # The service's own pages: documentation, health, static assets, the front page.
    ("GET", "/openapi.json"): Rule(A.PUBLIC, lambda w: Call("/openapi.json")),
    ("GET", "/docs"): Rule(A.PUBLIC, lambda w: Call("/docs")),
    ("GET", "/docs/oauth2-redirect"): Rule(A.PUBLIC, lambda w: Call("/docs/oauth2-redirect")),
    ("GET", "/redoc"): Rule(A.PUBLIC, lambda w: Call("/redoc")),
    ("GET", "/healthz"): Rule(A.PUBLIC, lambda w: Call("/healthz")),
    ("GET", "/readyz"): Rule(A.PUBLIC, lambda w: Call("/readyz")),
    ("GET", "/metrics"): Rule(A.METRICS, lambda w: Call("/metrics")),
    ("GET", "/static/{path}"): Rule(A.PUBLIC, lambda w: Call("/static/desk.css")),
    ("GET", "/"): Rule(A.PUBLIC, lambda w: Call("/")),
    # Signing in and out.
    ("GET", "/login"): Rule(A.PUBLIC, lambda w: Call("/login")),
    # Without the form's own cookie the form is refused before any name is looked at.
    ("POST", "/login"): Rule(
        A.SIGN_IN,
        lambda w: Call(
            "/login",
            frozenset({400}),
            data={"username": "nobody", "password": PASSWORD, "csrf": "a guess"},
        ),
    ),
    # Without a session and its CSRF token, signing out revokes nothing.
    ("POST", "/logout"): Rule(A.PUBLIC, lambda w: Call("/logout", frozenset({303}))),
    ("POST", API + "/login"): Rule(
        A.SIGN_IN,
        lambda w: Call(
            API + "/login",
            frozenset({401}),
            json=lambda: {"username": "nobody", "password": PASSWORD},
        ),
    ),
    # The desk's pages.
    ("GET", "/desk"): Rule(A.DESK, lambda w: Call("/desk")),
    ("GET", "/articles/{article_id}"): Rule(A.DESK, lambda w: Call(f"/articles/{w.article_id}")),
    ("GET", "/articles/{article_id}/preview"): Rule(
        A.DESK, lambda w: Call(f"/articles/{w.article_id}/preview")
    ),
    ("GET", "/sources"): Rule(A.DESK, lambda w: Call("/sources")),
    ("GET", "/admin"): Rule(A.DESK_ADMIN, lambda w: Call("/admin")),
    # WebSub hubs: the path's token is the subscription's; content is also signed.
    ("GET", "/websub/{token}"): Rule(
        A.CAPABILITY,
        lambda w: Call(
            f"/websub/{w.websub_token}?"
            + urlencode(
                {"hub.mode": "subscribe", "hub.topic": w.websub_topic, "hub.challenge": "prove-it"}
            )
        ),
    ),
    # Content with a wrong signature is acknowledged and dropped (the spec's answer).
    ("POST", "/websub/{token}"): Rule(
        A.CAPABILITY, lambda w: Call(f"/websub/{w.websub_token}", frozenset({202}), data=b"<x/>")
    ),
    # The editor API: reading, and the workflow (whose per-action rules are checked below).
    ("GET", API + "/me"): Rule(A.TRANSLATOR, lambda w: Call(API + "/me")),
    ("GET", API + "/desk"): Rule(A.TRANSLATOR, lambda w: Call(API + "/desk")),
    ("GET", API + "/articles"): Rule(A.TRANSLATOR, lambda w: Call(API + "/articles")),
    ("GET", ARTICLE): Rule(A.TRANSLATOR, lambda w: Call(f"{API}/articles/{w.article_id}")),
    ("GET", ARTICLE + "/versions"): Rule(
        A.TRANSLATOR, lambda w: Call(f"{API}/articles/{w.article_id}/versions")
    ),
    ("GET", ARTICLE + "/versions/{number}"): Rule(
        A.TRANSLATOR, lambda w: Call(f"{API}/articles/{w.article_id}/versions/1")
    ),
    ("GET", ARTICLE + "/diff"): Rule(
        A.TRANSLATOR, lambda w: Call(f"{API}/articles/{w.article_id}/diff?from=1&to=1")
    ),
    ("GET", ARTICLE + "/source-diff"): Rule(
        A.TRANSLATOR, lambda w: Call(f"{API}/articles/{w.article_id}/source-diff")
    ),
    ("POST", ARTICLE + "/actions/{action}"): Rule(A.TRANSLATOR, _claim),
    ("PUT", ARTICLE + "/translation"): Rule(
        A.TRANSLATOR,
        lambda w: Call(
            f"{API}/articles/{w.article_id}/translation",
            json=lambda: {
                "lock_version": w.lock_version(w.article_id),
                "title": f"T {w.n()}",
                "body_html": "<p>Text.</p>",
            },
        ),
    ),
    # Machine translation is off in tests: past the permission check, the provider says 503.
    ("POST", ARTICLE + "/draft"): Rule(
        A.TRANSLATOR,
        lambda w: Call(
            f"{API}/articles/{w.article_id}/draft",
            frozenset({503}),
            json=lambda: {"lock_version": w.lock_version(w.article_id)},
        ),
    ),
    ("PUT", ARTICLE + "/keywords"): Rule(
        A.EDITOR,
        lambda w: Call(
            f"{API}/articles/{w.article_id}/keywords", json=lambda: {"keywords": [f"kw {w.n()}"]}
        ),
    ),
    # Sources: everyone reads them, editors ask for a poll, admins manage them.
    ("GET", API + "/sources"): Rule(A.TRANSLATOR, lambda w: Call(API + "/sources")),
    ("GET", API + "/sources/{source_id}"): Rule(
        A.TRANSLATOR, lambda w: Call(f"{API}/sources/{w.source_id}")
    ),
    ("POST", API + "/sources"): Rule(A.ADMIN, _add_source),
    ("PATCH", API + "/sources/{source_id}"): Rule(
        A.ADMIN,
        lambda w: Call(f"{API}/sources/{w.source_id}", json=lambda: {"name": f"Outlet {w.n()}"}),
    ),
    ("POST", API + "/sources/{source_id}/pause"): Rule(
        A.ADMIN, lambda w: Call(f"{API}/sources/{w.source_id}/pause")
    ),
    ("POST", API + "/sources/{source_id}/resume"): Rule(
        A.ADMIN, lambda w: Call(f"{API}/sources/{w.source_id}/resume")
    ),
    ("POST", API + "/sources/{source_id}/poll"): Rule(
        A.EDITOR, lambda w: Call(f"{API}/sources/{w.source_id}/poll", frozenset({202}))
    ),
    # Publishing: the delivery ledger.
    ("GET", API + "/deliveries"): Rule(A.EDITOR, lambda w: Call(API + "/deliveries")),
    ("POST", API + "/deliveries/replay"): Rule(
        A.EDITOR, lambda w: Call(API + "/deliveries/replay", json=lambda: {"all_dead": True})
    ),
    # Admins: users, partners, destinations.
    ("GET", API + "/users"): Rule(A.ADMIN, lambda w: Call(API + "/users")),
    ("POST", API + "/users"): Rule(
        A.ADMIN,
        lambda w: Call(
            API + "/users",
            frozenset({201}),
            json=lambda: {"username": f"probe{w.n()}", "role": "translator"},
        ),
    ),
    ("PATCH", API + "/users/{username}"): Rule(
        A.ADMIN,
        lambda w: Call(API + "/users/target", json=lambda: {"display_name": f"Target {w.n()}"}),
    ),
    ("GET", API + "/partners"): Rule(A.ADMIN, lambda w: Call(API + "/partners")),
    ("POST", API + "/partners"): Rule(
        A.ADMIN,
        lambda w: Call(
            API + "/partners",
            frozenset({201}),
            json=lambda: {"slug": f"probe{w.n()}", "name": "Probe"},
        ),
    ),
    ("PATCH", API + "/partners/{slug}"): Rule(
        A.ADMIN, lambda w: Call(API + "/partners/probe", json=lambda: {"name": f"P {w.n()}"})
    ),
    ("POST", API + "/partners/{slug}/token"): Rule(
        A.ADMIN, lambda w: Call(API + "/partners/probe/token")
    ),
    ("GET", API + "/destinations"): Rule(A.ADMIN, lambda w: Call(API + "/destinations")),
    ("POST", API + "/destinations"): Rule(
        A.ADMIN,
        lambda w: Call(
            API + "/destinations",
            frozenset({201}),
            json=lambda: {
                "name": f"Hook {w.n()}",
                "kind": "webhook",
                "url": "https://hook.example/in",
            },
        ),
    ),
    ("PATCH", API + "/destinations/{destination_id}"): Rule(
        A.ADMIN,
        lambda w: Call(f"{API}/destinations/{w.destination_id}", json=lambda: {"enabled": True}),
    ),
    # Partners' feeds, answered in front of the app (services/web/feeds.py).
    **{("GET", f"/feeds/{{slug}}/{file}"): Rule(A.PARTNER, _feed(file)) for file in FILES.values()},
}


def served_routes(server: ASGIApp) -> set[tuple[str, str]]:
    """(method, path template) of everything the web server answers, HEAD aside (it answers
    wherever GET does): the FastAPI app's routes and what answers in front of it."""
    routes: set[tuple[str, str]] = set()
    while not isinstance(server, FastAPI):
        if not isinstance(server, feed_server.FeedServer):
            raise AssertionError(
                f"{type(server).__name__} answers in front of the app: list what it serves here"
            )
        routes |= {("GET", f"{feed_server.PREFIX}{{slug}}/{file}") for file in FILES.values()}
        server = server.app
    for route in iter_route_contexts(server.routes):
        assert route.path is not None, route
        if isinstance(route.original_route, Mount):
            routes.add(("GET", route.path + "/{path}"))
            continue
        routes |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return routes


def send(
    w: World, method: str, call: Call, token: str | None = None, cookie: str | None = None
) -> requests.Response:
    kwargs: dict[str, Any] = {"allow_redirects": False}
    if call.json is not None:
        kwargs["json"] = call.json()
    if call.data is not None:
        kwargs["data"] = call.data
    if cookie is not None:
        kwargs["cookies"] = {session.COOKIE: cookie}
    return w.web.api.request(method, call.path, token, **kwargs)


@pytest.fixture
def authz_settings(settings: Settings) -> Settings:
    # Revocations take effect at once (no cache) and nothing here is rate limited.
    return replace_settings(settings, feeds_cache_seconds=0, feeds_rate_limit="")


@pytest.fixture
def web(authz_settings: Settings) -> Iterator[WebServer]:
    server = WebServer(authz_settings).start()
    yield server
    server.stop()


def _session(w: WebServer, database: Database, settings: Settings, user_id: int) -> str:
    """A sign-in token, as POST /login issues once the password is checked (argon2's time is
    spent by the tests about passwords only)."""
    with UnitOfWork(database) as uow:
        lifetime = dt.timedelta(hours=settings.login_token_hours)
        _, token, _ = issue_login_token(uow, user_id, lifetime)
        uow.commit()
    assert w.get(API + "/me", token).status_code == 200  # it works before it is made not to
    return token


def _feed_opens(web: WebServer, slug: str, token: str) -> None:
    assert web.get(f"/feeds/{slug}/atom.xml", token).status_code == 200


@pytest.fixture
def world(web: WebServer, database: Database, authz_settings: Settings) -> World:
    ids: dict[str, int] = {}
    tokens: dict[Role, str] = {}
    for name, role in (("tara", Role.TRANSLATOR), ("eddie", Role.EDITOR), ("ada", Role.ADMIN)):
        ids[name], tokens[role] = make_user(database, name, role)
    for name in ("sam", "pat", "dee", "exp", "target"):
        ids[name], _ = make_user(database, name, Role.EDITOR)
    admin = web.api.with_token(tokens[Role.ADMIN])

    def signed_in(name: str) -> str:
        return _session(web, database, authz_settings, ids[name])

    sessions = {
        role: signed_in(name)
        for name, role in (("tara", Role.TRANSLATOR), ("eddie", Role.EDITOR), ("ada", Role.ADMIN))
    }
    # User tokens that must open nothing, each seen working first (by `signed_in`).
    expired = signed_in("exp")
    with UnitOfWork(database) as uow:  # its LOGIN_TOKEN_HOURS are over
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(expired))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        uow.commit()
    signed_out = signed_in("sam")
    out = web.post(
        "/logout",
        data={"csrf": session.csrf_token(authz_settings, signed_out)},
        cookies={session.COOKIE: signed_out},
        allow_redirects=False,
    )
    assert out.status_code == 303 and out.headers["location"] == "/login"
    changed = signed_in("pat")
    assert admin.request("PATCH", API + "/users/pat", json={"password": "another password"}).ok
    deactivated = signed_in("dee")
    assert admin.request("PATCH", API + "/users/dee", json={"active": False}).ok

    partners: dict[str, str] = {}
    for slug in ("mine", "theirs", "off", "rotated", "probe"):
        created = admin.post(API + "/partners", json={"slug": slug, "name": slug.title()})
        assert created.status_code == 201, created.text
        partners[slug] = created.json()["token"]
        _feed_opens(web, slug, partners[slug])
    assert admin.request("PATCH", API + "/partners/off", json={"active": False}).ok
    assert admin.post(API + "/partners/rotated/token").ok

    source_id = make_source(database, name="Syria TV")
    newsroom = Newsroom(database, authz_settings, translator=ids["tara"], editor=ids["eddie"])
    article_id = make_article(database, source_id)
    newsroom.act(article_id, ids["tara"], wf.Action.CLAIM)
    newsroom.act(
        article_id,
        ids["tara"],
        wf.Action.SAVE,
        TranslationInput("Shelling in Jasim", "", "<p>Two were killed.</p>"),
    )
    hook = admin.post(
        API + "/destinations",
        json={"name": "Hook", "kind": "webhook", "url": "https://hook.example/in"},
    )
    assert hook.status_code == 201, hook.text
    websub_token, topic = "wst-" + "7" * 40, "https://outlet.example/feed"
    with UnitOfWork(database) as uow:  # as a subscription request leaves it (test_websub.py)
        source = uow.session.get_one(Source, source_id)
        source.websub_token = websub_token
        source.websub_topic = topic
        source.websub_state = "subscribing"
        source.websub_secret_encrypted = crypto.encrypt(authz_settings, "hub-secret")
        uow.commit()
    return World(
        web=web,
        database=database,
        settings=authz_settings,
        tokens=tokens,
        sessions=sessions,
        refused={
            "a forged token": "cf_forged-token-never-issued",
            "an expired sign-in token": expired,
            "a signed-out session": signed_out,
            "a token from before a password change": changed,
            "a deactivated user's token": deactivated,
            "a partner's feed token": partners["mine"],
        },
        partners={"mine": partners["mine"], "theirs": partners["theirs"]},
        closed={
            "a switched-off partner's token": ("off", partners["off"]),
            "a rotated-away token": ("rotated", partners["rotated"]),
        },
        source_id=source_id,
        article_id=article_id,
        destination_id=hook.json()["id"],
        websub_token=websub_token,
        websub_topic=topic,
        newsroom=newsroom,
    )


def test_the_policy_classifies_every_route(web: WebServer) -> None:
    """Every route served has a decision in POLICY, and every decision names a served route."""
    served = served_routes(web.app)
    unclassified = sorted(served - POLICY.keys())
    assert not unclassified, f"routes without a decision in POLICY: {unclassified}"
    gone = sorted(POLICY.keys() - served)
    assert not gone, f"POLICY names routes the server no longer serves: {gone}"
    # The OpenAPI document describes a subset of what is served (the pages are left out).
    openapi = web.get("/openapi.json").json()["paths"]
    documented = {(method.upper(), path) for path, ops in openapi.items() for method in ops}
    assert documented <= served
    assert {path for _, path in documented} >= {p for _, p in served if p.startswith(API)}
    # And the check sees a route added later without a decision.
    app = web.app.app if isinstance(web.app, feed_server.FeedServer) else web.app
    assert isinstance(app, FastAPI)
    app.add_api_route("/api/v1/added-later", lambda: {}, methods=["DELETE"])
    assert served_routes(web.app) - POLICY.keys() == {("DELETE", "/api/v1/added-later")}


def test_nothing_opens_without_valid_credentials(world: World) -> None:
    """No credentials, a forged, expired or revoked token, or a partner's token: a 401 from
    the API, with one body whatever the reason; the desk's pages send you to sign in."""
    for (method, path), rule in POLICY.items():
        where = f"{method} {path}"
        call = rule.probe(world)
        if rule.access in ROLE_OF:
            missing = send(world, method, call)
            assert missing.status_code == 401, (where, missing.text)
            assert missing.headers["www-authenticate"] == "Bearer"
            bodies = set()
            for why, token in world.refused.items():
                refused = send(world, method, call, token=token)
                assert refused.status_code == 401, (where, why, refused.text)
                assert refused.json()["detail"] == BAD_TOKEN, (where, why)
                bodies.add(refused.content)
            assert len(bodies) == 1, (where, bodies)  # nothing tells why, or whose it was
        elif rule.access in DESK_PAGES:
            # A page reads the session cookie only: a bearer token, even a valid one, is none.
            offered: list[tuple[str, str | None, str | None]] = [
                (why, None, cookie) for why, cookie in world.refused.items()
            ]
            offered += [("no session", None, None), ("an API token", world.admin(), None)]
            for why, bearer, cookie in offered:
                answer = send(world, method, call, token=bearer, cookie=cookie)
                assert answer.status_code == 303, (where, why, answer.status_code)
                assert answer.headers["location"].startswith("/login?next=%2F"), (where, why)
        elif rule.access in (Access.PUBLIC, Access.SIGN_IN, Access.METRICS):
            # Open to anyone (/metrics while no metrics token is set): a token changes nothing.
            assert send(world, method, call).status_code in call.ok, where
            forged = send(world, method, call, world.refused["a forged token"])
            assert forged.status_code in call.ok, where
        elif rule.access is Access.CAPABILITY:
            assert send(world, method, call).status_code in call.ok, where
            unknown = Call(call.path.replace(world.websub_token, "wst-" + "0" * 40))
            for bearer in (None, world.admin(), world.partners["mine"]):
                assert send(world, method, unknown, bearer).status_code == 404, where
        else:
            assert rule.access is Access.PARTNER
            refused = send(world, method, call, world.admin())
            assert refused.status_code == 401 and refused.json() == FEED_REFUSED, where


def test_each_role_may_do_what_the_table_allows_and_gets_403_beyond(world: World) -> None:
    for (method, path), rule in POLICY.items():
        where = f"{method} {path}"
        if rule.access in ROLE_OF:
            needed = ROLE_OF[rule.access]
            for role in Role:  # the lowest first: a refusal changes nothing for the next
                call = rule.probe(world)
                answer = send(world, method, call, token=world.tokens[role])
                if role.includes(needed):
                    assert answer.status_code in call.ok, (where, role, answer.text)
                else:
                    assert answer.status_code == 403, (where, role, answer.text)
                    assert answer.json()["detail"] == (
                        f"this needs the {needed.value} role; you are {role.value}"
                    )
        elif rule.access in DESK_PAGES:
            for role in Role:
                answer = send(world, method, rule.probe(world), cookie=world.sessions[role])
                if rule.access is Access.DESK or role is Role.ADMIN:
                    assert answer.status_code == 200, (where, role)
                else:
                    assert answer.status_code == 403, (where, role)


def test_the_session_cookie_opens_the_api_by_role_and_not_once_revoked(world: World) -> None:
    """The desk calls the API with its cookie and CSRF token: the same roles, and a revoked
    session is a 401 even with its own CSRF token."""
    keywords = f"{API}/articles/{world.article_id}/keywords"

    def put(cookie: str) -> requests.Response:
        csrf = session.csrf_token(world.settings, cookie)
        return world.web.api.request(
            "PUT",
            keywords,
            json={"keywords": ["Jasim"]},
            headers={"X-CSRF-Token": csrf},
            cookies={session.COOKIE: cookie},
        )

    assert put(world.sessions[Role.EDITOR]).status_code == 200
    refused = put(world.sessions[Role.TRANSLATOR])
    assert refused.status_code == 403 and "needs the editor role" in refused.json()["detail"]
    for why, cookie in world.refused.items():
        answer = put(cookie)
        assert (answer.status_code, answer.json()["detail"]) == (401, BAD_TOKEN), why


# Who may take each workflow action, and a state the action is legal in (so a refusal is about
# who asks, not about the article). An action added to the workflow must be placed here.
ACTIONS: dict[wf.Action, tuple[Role | None, ArticleState]] = {
    wf.Action.CLAIM: (Role.TRANSLATOR, ArticleState.NEW),
    wf.Action.SAVE: (Role.TRANSLATOR, ArticleState.TRANSLATING),  # the assignee, or an editor
    wf.Action.SUBMIT: (Role.TRANSLATOR, ArticleState.TRANSLATING),  # the assignee, or an editor
    wf.Action.RELEASE: (Role.TRANSLATOR, ArticleState.TRANSLATING),  # the assignee, or an editor
    wf.Action.REQUEST_CHANGES: (Role.EDITOR, ArticleState.IN_REVIEW),
    wf.Action.APPROVE: (Role.EDITOR, ArticleState.IN_REVIEW),
    wf.Action.PUBLISH: (Role.EDITOR, ArticleState.APPROVED),
    wf.Action.SCHEDULE: (Role.EDITOR, ArticleState.APPROVED),
    wf.Action.UNSCHEDULE: (Role.EDITOR, ArticleState.SCHEDULED),
    wf.Action.WITHDRAW: (Role.EDITOR, ArticleState.PUBLISHED),
    wf.Action.CORRECT: (Role.EDITOR, ArticleState.PUBLISHED),
    wf.Action.DISCARD: (Role.EDITOR, ArticleState.IN_REVIEW),
    wf.Action.RESTORE: (Role.EDITOR, ArticleState.DISCARDED),
    wf.Action.ASSIGN: (Role.EDITOR, ArticleState.NEW),
    # The timers' own: no person, whatever their role.
    wf.Action.EXPIRE_CLAIM: (None, ArticleState.TRANSLATING),
    wf.Action.PUBLISH_SCHEDULED: (None, ArticleState.SCHEDULED),
}
ASSIGNEE_ONLY = {wf.Action.SAVE, wf.Action.SUBMIT, wf.Action.RELEASE}


def _article_in(w: World, state: ArticleState) -> int:
    """An article brought to `state` by tara (translator) and eddie (editor)."""
    room, tara, eddie = w.newsroom, w.newsroom.translator, w.newsroom.editor
    article_id = w.fresh_article()
    if state == ArticleState.NEW:
        return article_id
    if state == ArticleState.DISCARDED:
        room.act(article_id, eddie, wf.Action.DISCARD)
        return article_id
    room.act(article_id, tara, wf.Action.CLAIM)
    room.act(article_id, tara, wf.Action.SAVE, TranslationInput("Title", "", "<p>Body.</p>"))
    if state == ArticleState.TRANSLATING:
        return article_id
    room.act(article_id, tara, wf.Action.SUBMIT)
    if state == ArticleState.IN_REVIEW:
        return article_id
    room.act(article_id, eddie, wf.Action.APPROVE)
    if state == ArticleState.SCHEDULED:
        room.act(article_id, eddie, wf.Action.SCHEDULE, at=utcnow() + dt.timedelta(days=1))
    elif state == ArticleState.PUBLISHED:
        room.act(article_id, eddie, wf.Action.PUBLISH)
    assert room.state(article_id) == state
    return article_id


def _take(w: World, article_id: int, action: wf.Action, token: str) -> requests.Response:
    lock_version = w.lock_version(article_id)
    if action == wf.Action.SAVE:
        return w.web.api.request(
            "PUT",
            f"{API}/articles/{article_id}/translation",
            token,
            json={"lock_version": lock_version, "title": "Saved", "body_html": "<p>Saved.</p>"},
        )
    body = {
        "lock_version": lock_version,
        "note": "a reason",
        "assignee": "tara",
        "at": (utcnow() + dt.timedelta(days=2)).isoformat(),
    }
    if action != wf.Action.ASSIGN:
        body.pop("assignee")
    return w.web.post(f"{API}/articles/{article_id}/actions/{action.value}", token, json=body)


def test_workflow_actions_are_refused_to_whoever_may_not_take_them(world: World) -> None:
    unplaced = set(wf.Action) - ACTIONS.keys()
    assert not unplaced, f"workflow actions without a decision in ACTIONS: {unplaced}"
    other_translator = make_user(world.database, "tina", Role.TRANSLATOR)[1]
    for action, (needed, state) in ACTIONS.items():
        article_id = _article_in(world, state)
        refused = [role for role in Role if needed is None or not role.includes(needed)]
        callers = [(role.value, world.tokens[role]) for role in refused]
        if action in ASSIGNEE_ONLY:
            callers.append(("a translator it is not assigned to", other_translator))
        for who, token in callers:
            answer = _take(world, article_id, action, token)
            assert answer.status_code == 403, (action, who, answer.text)
        if needed is not None:
            answer = _take(world, article_id, action, world.tokens[needed])
            assert answer.status_code == 200, (action, needed, answer.text)


def test_a_partner_token_opens_its_own_feeds_only_and_refusals_look_alike(world: World) -> None:
    mine, theirs = world.partners["mine"], world.partners["theirs"]
    user_tokens = {f"{role.value}'s API token": t for role, t in world.tokens.items()}
    user_tokens |= {f"{role.value}'s session": t for role, t in world.sessions.items()}
    for file in FILES.values():
        assert world.web.get(f"/feeds/mine/{file}", mine).status_code == 200
        assert world.web.get(f"/feeds/mine/{file}?token={mine}").status_code == 200
        asked = {
            "another partner's token": (f"/feeds/mine/{file}", theirs),
            "another partner's token in the URL": (f"/feeds/mine/{file}?token={theirs}", None),
            "its token on another partner's feed": (f"/feeds/theirs/{file}", mine),
            "its token on a partner that does not exist": (f"/feeds/nobody/{file}", mine),
            **{why: (f"/feeds/mine/{file}", t) for why, t in world.refused.items() if t != mine},
            **{why: (f"/feeds/{slug}/{file}", t) for why, (slug, t) in world.closed.items()},
            **{why: (f"/feeds/mine/{file}", t) for why, t in user_tokens.items()},
        }
        for why, (path, token) in asked.items():
            answer = world.web.get(path, token)
            # One answer, whoever asks: nothing tells a partner or a token exists.
            assert (answer.status_code, answer.json()) == (401, FEED_REFUSED), (file, why)
        none = world.web.get(f"/feeds/mine/{file}")
        assert none.status_code == 401 and none.json()["title"] == "a feed token is needed"


def test_metrics_need_the_metrics_token_once_one_is_set(world: World) -> None:
    assert world.web.get("/metrics").status_code == 200  # no token set: open, as documented
    guarded = WebServer(replace_settings(world.settings, metrics_token="metrics-secret")).start()
    try:
        assert guarded.get("/metrics").status_code == 401
        offered = {
            **world.refused,
            **{role.value: t for role, t in world.tokens.items()},
            "a wrong metrics token": "metrics-secreT",
        }
        for why, token in offered.items():
            assert guarded.get("/metrics", token).status_code == 401, why
        answer = guarded.get("/metrics", "metrics-secret")
        assert answer.status_code == 200 and "crossfeed_articles" in answer.text
    finally:
        guarded.stop()


def test_a_sign_in_token_expires_and_sign_in_refusals_name_nothing(world: World) -> None:
    make_user(world.database, "tara-too", Role.TRANSLATOR, PASSWORD)
    signed = world.web.post(API + "/login", json={"username": "tara-too", "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    token = signed.json()["token"]
    assert world.web.get(API + "/me", token).status_code == 200
    with UnitOfWork(world.database) as uow:  # LOGIN_TOKEN_HOURS later
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(token))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        uow.commit()
    expired = world.web.get(API + "/me", token)
    assert (expired.status_code, expired.json()["detail"]) == (401, BAD_TOKEN)

    wrong = world.web.post(API + "/login", json={"username": "tara-too", "password": "not it"})
    unknown = world.web.post(API + "/login", json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    admin = world.web.api.with_token(world.admin())
    assert admin.request("PATCH", API + "/users/tara-too", json={"active": False}).ok
    again = world.web.post(API + "/login", json={"username": "tara-too", "password": PASSWORD})
    assert again.content == wrong.content  # deactivated: refused like a wrong password
