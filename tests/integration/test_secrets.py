"""Secrets: stored hashed where the system never needs them back, encrypted where it does,
never logged, and shown once.

Every kind is made through its real path: a user's API token (API and CLI), a sign-in token,
a user's password, a partner's feed token (made and rotated), a webhook signing secret (given,
and made by the CLI), a WordPress application password, a WebSub hub secret (sent to a hub
speaking the protocol), and the machine-translation API key (a setting, never stored).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, text

from services.poller import websub as poller_websub
from services.publisher import handlers as publisher
from shared import crypto
from shared.db import Database
from shared.domain.states import Role
from shared.http import SafeClient
from shared.models import Base, Delivery, Destination, Source
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import make_settings, replace_settings, settings_env
from tests.support.factories import Newsroom, make_article, make_source, make_user
from tests.support.httpserver import LocalServer, Reply, Request
from tests.support.processes import Processes, run
from tests.support.wait import wait_for
from tests.support.web import WebServer, listening_socket
from tests.support.websub_hub import Hub

PASSWORD = "correct horse battery staple"
WP_USER, WP_PASSWORD = "publisher", "abcd EFGH 1234 ijkl MNOP 5678"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"a webhook key of 32 bytes, given").decode()
MT_KEY = "lt-api-key-0123456789"


def variants(secret: str) -> set[str]:
    """The forms a secret could leak in: itself, its parts, Basic auth's base64 of it."""
    forms = {secret, base64.b64encode(secret.encode()).decode()}
    for prefix in ("cf_", "cfp_", "whsec_"):
        if secret.startswith(prefix) and len(secret) > 20:
            forms.add(secret.removeprefix(prefix))
    if ":" in secret:
        forms.add(secret.partition(":")[2])
    return {form for form in forms if len(form) >= 12}


def leaks(haystack: str, secrets: dict[str, str]) -> list[str]:
    return [f"{name} ({form[:12]}...)" for name, secret in secrets.items()
            for form in variants(secret) if form in haystack]  # fmt: skip


def raw_rows(database: Database) -> str:
    """Every value of every row of every table, as text (bytes decoded as latin-1)."""
    out = []
    with database.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                for value in row:
                    out.append(value.decode("latin-1") if isinstance(value, bytes)
                               else str(value))  # fmt: skip
    return "\n".join(out)


def made_through_their_paths(
    web: WebServer, settings: Settings, database: Database, hub: Hub
) -> dict[str, str]:
    """Every kind of secret, each made as an admin or the system makes it."""
    admin = make_user(database, "admin", Role.ADMIN, password=PASSWORD)[1]
    api = web.api.with_token(admin)
    secrets = {"admin's first token": admin, "password": PASSWORD, "MT key": MT_KEY}
    created = api.post("/api/v1/users", json={"username": "tina", "role": "translator",
                                              "password": PASSWORD + " 2"})  # fmt: skip
    assert created.status_code == 201, created.text
    secrets["user token (API)"] = created.json()["token"]
    secrets["second password"] = PASSWORD + " 2"
    login = api.post("/api/v1/login", json={"username": "tina", "password": PASSWORD + " 2"})
    secrets["sign-in token"] = login.json()["token"]
    partner = api.post("/api/v1/partners", json={"slug": "enab", "name": "Enab"})
    secrets["partner token"] = partner.json()["token"]
    rotated = api.post("/api/v1/partners/enab/token")
    secrets["rotated partner token"] = rotated.json()["token"]
    for kind, secret in (("webhook", WEBHOOK_SECRET), ("wordpress", f"{WP_USER}:{WP_PASSWORD}")):
        body = {"name": kind, "kind": kind, "url": "https://site.example/", "secret": secret}
        added = api.post("/api/v1/destinations", json=body)
        assert added.status_code == 201, added.text
        secrets[f"{kind} secret"] = secret
    env = settings_env(settings)
    cli = run(["users", "create", "carl", "--role", "editor"], env)
    secrets["user token (CLI)"] = cli.stdout.strip().splitlines()[-1]
    cli = run(["destinations", "add", "hook", "--kind", "webhook",
               "--url", "https://partner.example/hook"], env)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    secrets["webhook secret (CLI)"] = cli.stdout.strip().splitlines()[-1]
    assert secrets["webhook secret (CLI)"].startswith("whsec_")
    source_id = make_source(database)
    with UnitOfWork(database) as uow:
        source = uow.session.get_one(Source, source_id)
        source.websub_hub, source.websub_topic = hub.url, source.url
        source.websub_state = "subscribing"
        uow.commit()
    poller_websub.subscribe(database, SafeClient(settings), settings, source_id)
    secrets["WebSub hub secret"] = hub.requests[-1]["hub.secret"]
    wait_for(lambda: hub.subscriptions, timeout=15, what="the hub to verify the subscription")
    return secrets


@pytest.fixture
def hub() -> Iterator[Hub]:
    started = Hub().start()
    yield started
    started.stop()


@pytest.fixture
def secret_settings(settings: Settings, hub: Hub) -> tuple[Settings, WebServer]:
    sock = listening_socket()
    changed = replace_settings(settings, public_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
                               fetch_allowed_hosts=[hub.host_port], mt_api_key=MT_KEY)  # fmt: skip
    return changed, WebServer(changed, sock)


def test_secrets_at_rest_are_hashed_or_encrypted(
    database: Database, secret_settings: tuple[Settings, WebServer], hub: Hub
) -> None:
    settings, web = secret_settings
    web.start()
    try:
        secrets = made_through_their_paths(web, settings, database, hub)
    finally:
        web.stop()
    assert leaks(raw_rows(database), secrets) == []

    with UnitOfWork(database, read_only=True) as uow:
        hashes = set(uow.session.scalars(text("SELECT token_hash FROM api_tokens")).all())
        hashes |= set(uow.session.scalars(text("SELECT token_hash FROM partners")).all())
        passwords = uow.session.scalars(text("SELECT password_hash FROM users")).all()
        stored = {d.name: d.secret_encrypted for d in uow.session.scalars(select(Destination))}
        websub_secret = uow.session.scalars(select(Source.websub_secret_encrypted)).one()
    for name in ("admin's first token", "user token (API)", "user token (CLI)",
                 "sign-in token", "rotated partner token"):  # fmt: skip
        assert hashlib.sha256(secrets[name].encode()).hexdigest() in hashes, name
    assert sum(1 for p in passwords if p and p.startswith("$argon2id$")) == 2
    # Needed back to sign and to sign in: encrypted, and readable with the key only.
    readable = {"webhook": "webhook secret", "wordpress": "wordpress secret",
                "hook": "webhook secret (CLI)"}  # fmt: skip
    for name, secret_name in readable.items():
        token = stored[name]
        assert token is not None
        assert crypto.decrypt(settings, token) == secrets[secret_name]
    assert websub_secret is not None
    assert crypto.decrypt(settings, websub_secret) == secrets["WebSub hub secret"]
    other = replace_settings(settings, secret_key="another-secret-key-0123456789abcdef0123")
    for token in [*stored.values(), websub_secret]:
        assert token is not None
        with pytest.raises(crypto.CannotDecrypt, match="CROSSFEED_SECRET_KEY"):
            crypto.decrypt(other, token)


def echoing_wordpress(request: Request) -> Reply:
    """A site (or a proxy in front of it) whose error page repeats the request's headers."""
    detail = f"not allowed: Authorization: {request.headers.get('Authorization')}"
    return Reply(401, ('{"code":"rest_forbidden","message":"' + detail + '"}').encode(),
                 {"Content-Type": "application/json"})  # fmt: skip


WORKER = """
import sys
from services.poller.websub import subscribe
from services.publisher.handlers import deliver
from shared.db import get_database
from shared.http import SafeClient
from shared.logs import configure_logging
from shared.settings import get_settings

settings = get_settings()
configure_logging(settings, "worker")
database, client = get_database(settings), SafeClient(settings)
job, ident = sys.argv[1], int(sys.argv[2])
print(deliver(database, settings, client, ident) if job == "deliver"
      else subscribe(database, client, settings, ident))
"""


def worker(env: dict[str, str], job: str, ident: int) -> str:
    """One delivery or subscription in a process of its own, with the services' logging."""
    done = subprocess.run([sys.executable, "-c", WORKER, job, str(ident)], env=env, timeout=60,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_secrets_are_never_logged_and_shown_once(
    sqlite_url: str, procs: Processes, server: LocalServer, tmp_path: Path
) -> None:
    sock = listening_socket()
    port = sock.getsockname()[1]
    sock.close()
    settings = make_settings(
        tmp_path / "var", database_url=sqlite_url, web_port=port, log_format="json",
        public_url=f"http://127.0.0.1:{port}", fetch_allowed_hosts=[server.host_port],
        mt_provider="libretranslate", mt_url=server.url("/mt"), mt_api_key=MT_KEY,
    )  # fmt: skip
    env = settings_env(settings)
    database = Database(sqlite_url)
    logs: list[str] = []  # every line any process wrote to stdout or stderr, but what is shown once
    shown: list[str] = []  # what reads later show: lists, details, pages

    def cli(*args: str) -> str:
        done = run(list(args), env)
        assert done.returncode == 0, done.stderr
        logs.append(done.stderr)
        return done.stdout

    secrets = {"password": PASSWORD, "MT key": MT_KEY}
    secrets["admin token"] = cli("users", "create", "admin", "--role", "admin",
                                 "--password", PASSWORD).strip().splitlines()[-1]  # fmt: skip
    web = procs.start("web", ["web"], env)
    base = settings.public_url
    anyone = requests.Session()
    wait_for(lambda: anyone.get(f"{base}/readyz", timeout=2).ok, timeout=30, what="the web")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {secrets['admin token']}"

    def post(path: str, **body: object) -> dict[str, object]:
        answer = api.post(base + path, json=body or None, timeout=10)
        assert answer.status_code < 300, answer.text
        return dict(answer.json())

    secrets["user token"] = str(post("/api/v1/users", username="tina", role="translator",
                                     password=PASSWORD)["token"])  # fmt: skip
    secrets["sign-in token"] = str(
        post("/api/v1/login", username="tina", password=PASSWORD)["token"]
    )
    secrets["first partner token"] = str(
        post("/api/v1/partners", slug="enab", name="Enab")["token"]
    )
    secrets["partner token"] = str(post("/api/v1/partners/enab/token")["token"])
    server.route("/wp/", echoing_wordpress)
    wordpress = post("/api/v1/destinations", name="site", kind="wordpress", url=server.url("/wp/"),
                     secret=f"{WP_USER}:{WP_PASSWORD}")  # fmt: skip
    secrets["wordpress secret"] = f"{WP_USER}:{WP_PASSWORD}"
    post("/api/v1/destinations", name="hook", kind="webhook", url="https://partner.example/h",
         secret=WEBHOOK_SECRET)  # fmt: skip
    secrets["webhook secret"] = WEBHOOK_SECRET
    # A partner reading its feed with the token in the URL, as readers that take only a URL do,
    # the parameter's name percent-encoded too.
    for query in ("token", "%74oken", "before=x&to%6Ben", "t%6F%6Ben"):
        raw = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # sends the URL as is
        raw.request("GET", f"/feeds/enab/rss.xml?{query}={secrets['partner token']}")
        assert raw.getresponse().status == 200, query
        raw.close()

    # A LibreTranslate that refuses, repeating the request's API key in its error.
    server.route("/mt/translate", lambda r: Reply(403, ('{"error": "Invalid API key: '
        + MT_KEY + '"}').encode(), {"Content-Type": "application/json"}))  # fmt: skip
    article_id = make_article(database, make_source(database))
    translator = requests.Session()
    translator.headers["Authorization"] = f"Bearer {secrets['user token']}"
    path = f"{base}/api/v1/articles/{article_id}"
    translator.post(f"{path}/actions/claim", json={"lock_version": 1}, timeout=10)
    refused = translator.post(f"{path}/draft", json={"lock_version": 2}, timeout=10)
    assert refused.status_code == 503
    shown.append(refused.text)

    # A WordPress delivery that fails, the site echoing the credentials it was sent.
    published = make_article(database, make_source(database))
    Newsroom(database, settings).publish(published)
    with UnitOfWork(database) as uow:
        publisher.plan(uow, settings, published, 1, "publish")
        uow.commit()
        delivery_id = uow.session.scalars(select(Delivery.id).where(
            Delivery.destination_id == wordpress["id"])).one()  # fmt: skip
    logs.append(worker(env, "deliver", delivery_id))
    assert any(r.path.startswith("/wp/") for r in server.requests)  # sent, and refused

    # A WebSub hub that refuses a subscription, repeating the form (with our secret).
    server.route("/hub", lambda r: Reply(400, b"bad request: " + r.body))
    source_id = make_source(database)
    with UnitOfWork(database) as uow:
        source = uow.session.get_one(Source, source_id)
        source.websub_hub, source.websub_topic = server.url("/hub"), source.url
        source.websub_state = "subscribing"
        uow.commit()
    logs.append(worker(env, "subscribe", source_id))
    [subscription] = [r for r in server.requests if r.path == "/hub"]
    secrets["WebSub hub secret"] = re.findall(r"hub\.secret=([^&]+)", subscription.body.decode())[0]

    # Later reads: the API, the CLI and the desk show prefixes at most.
    for route in ("/api/v1/users", "/api/v1/partners", "/api/v1/destinations",
                  "/api/v1/deliveries", f"/api/v1/sources/{source_id}", "/api/v1/me"):  # fmt: skip
        answer = api.get(base + route, timeout=10)
        assert answer.status_code == 200, (route, answer.text)
        shown.append(answer.text)
    for args in (["partners", "list"], ["destinations", "list"], ["deliveries", "list"],
                 ["sources", "show", str(source_id)], ["status"]):  # fmt: skip
        shown.append(cli(*args))
    desk = requests.Session()
    form = desk.get(f"{base}/login", timeout=10).text
    nonce = re.search(r'name="csrf" value="([^"]+)"', form)
    assert nonce is not None
    desk.post(f"{base}/login", data={"username": "admin", "password": PASSWORD,
              "csrf": nonce.group(1), "next": "/admin"}, timeout=10)  # fmt: skip
    admin_page = desk.get(f"{base}/admin", timeout=10)
    assert admin_page.status_code == 200 and "enab" in admin_page.text
    shown.append(admin_page.text)

    web.stop()
    logs.append(web.output())
    everything = "\n".join(logs)
    assert "/feeds/enab/rss.xml" in everything  # the access log was captured
    assert '"event": "delivery_failed"' in everything  # and the worker's JSON lines
    assert leaks(everything, secrets) == [], "secrets in the logs"
    assert leaks("\n".join(shown), secrets) == [], "secrets shown again"
    assert leaks(raw_rows(database), secrets) == [], "secrets in the database"
    database.dispose()
