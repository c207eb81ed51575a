"""Fixtures for every tier: settings, real databases (SQLite and PostgreSQL), real Redis.

PostgreSQL: one database per xdist worker, migrated once, truncated after each test. SQLite: a
migrated template file copied for each test. Redis: a key prefix per test, deleted afterwards.
A missing server is an error with instructions, never a skip: `make test` starts them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL

from shared import migrate
from shared.db import Database
from shared.models import Base
from shared.settings import Settings
from tests.support.httpserver import LocalServer
from tests.support.processes import Processes
from tests.support.web import WebServer

# The tests configure everything themselves; a developer's CROSSFEED_* variables must not leak in.
for _name in list(os.environ):
    if _name.startswith("CROSSFEED_") or _name == "PROMETHEUS_MULTIPROC_DIR":
        del os.environ[_name]

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "test-secret-0123456789abcdef0123456789abcdef"
BACKENDS = ["sqlite", "postgresql"]


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: no .env, test environment, everything under `data_dir`."""
    values: dict[str, Any] = {
        "environment": "test",
        "secret_key": SECRET,
        "data_dir": data_dir,
        "log_format": "json",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    """A copy with some values changed, validated like real settings (unlike model_copy)."""
    values = {name: getattr(settings, name) for name in Settings.model_fields}
    values.pop("metrics_dir")  # set by its alias only
    return Settings(_env_file=None, **{**values, **changes})


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSFEED_")}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None or field.validation_alias is not None:
            continue
        if isinstance(value, list):
            value = ",".join(value)
        elif hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"CROSSFEED_{name.upper()}"] = str(value)
    if settings.metrics_dir:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(settings.metrics_dir)
    return env


@pytest.fixture(scope="session")
def worker_name(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture(scope="session")
def pg_url(worker_name: str) -> Iterator[str]:
    """A migrated PostgreSQL database for this xdist worker (TEST_RUN_NAME keeps two runs on
    one server, from two checkouts, out of each other's databases)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"crossfeed_test_{os.environ.get('TEST_RUN_NAME', '')}{worker_name}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}). `make test` starts it; "
            "or point TEST_POSTGRES_URL at a server where this user may create databases."
        ) from exc
    url: URL = make_url(PG_ADMIN_URL).set(database=name)
    rendered = url.render_as_string(hide_password=False)
    migrate.upgrade(rendered)
    yield rendered
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def truncate_all(database: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty SQLite file of this test's own (for tests that run on SQLite only,
    such as those starting real processes on the embedded stack)."""
    path = tmp_path / "crossfeed.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated, empty database URL: SQLite and PostgreSQL (parametrised)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    url = request.getfixturevalue("pg_url")
    yield url
    cleanup = Database(url)
    try:
        truncate_all(cleanup)
    finally:
        cleanup.dispose()


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    yield db
    db.dispose()


@pytest.fixture
def web(settings: Settings) -> Iterator[WebServer]:
    """The web app on this test's database, served by uvicorn on a loopback port."""
    server = WebServer(settings).start()
    yield server
    server.stop()


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[Database]:
    """PostgreSQL only, for what SQLite's single writer makes impossible (interleaved writes);
    emptied afterwards like `database`."""
    db = Database(pg_url)
    yield db
    try:
        truncate_all(db)
    finally:
        db.dispose()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"cf-test-{uuid.uuid4().hex[:12]}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RuntimeError(
            f"Redis is not reachable at {REDIS_URL} ({exc}); `make test` starts it"
        ) from exc
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings on this test's database and the embedded broker in its own folder."""
    return make_settings(tmp_path / "var", database_url=db_url)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def procs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Processes]:
    """Real processes for this test, stopped afterwards; their logs are printed on failure."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    group = Processes(log_dir)
    yield group
    group.stop_all()
    report = getattr(request.node, "report_call", None)
    if report is None or report.failed:
        print(group.report())


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A real HTTP server on 127.0.0.1 that the test scripts."""
    local = LocalServer().start()
    yield local
    local.stop()
