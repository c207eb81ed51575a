"""docker-compose.yml, run without Docker: every service's command as a local process.

No Docker engine runs here, so this reads the compose file and starts each service's command
with the environment compose would give it, pointed at the local PostgreSQL and Redis instead
of the `postgres` and `redis` containers. It proves the wiring: the commands exist, migrate
runs first, and an article polled from a feed reaches the review desk through poller, relay,
enricher and review, with services scaled to two as `docker compose up --scale` would.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.db import Database
from tests.conftest import REDIS_URL, truncate_all
from tests.support.api import Api
from tests.support.compose import APP_SERVICES, COMPOSE, INFRA, OPTIONAL, ROOT, command, service_env
from tests.support.feeds import Item, rss
from tests.support.httpserver import LocalServer, Reply
from tests.support.processes import Processes, run
from tests.support.servers import free_port
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e


def test_the_compose_file_is_wired_as_documented() -> None:
    services = COMPOSE["services"]
    assert APP_SERVICES == [
        "beat", "enricher", "migrate", "poller", "publisher", "relay", "review", "web"
    ]  # fmt: skip
    for name in INFRA:
        assert services[name]["healthcheck"]["test"], name
    for name in OPTIONAL:
        assert services[name]["profiles"], name
    redis_command = " ".join(services["redis"]["command"])
    assert "--maxmemory-policy noeviction" in redis_command
    assert "--appendonly yes" in redis_command
    assert services["migrate"]["restart"] == "no"
    for name in APP_SERVICES:
        assert services[name]["env_file"] == ".env", name
        assert services[name]["stop_grace_period"] == "60s", name
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        if name != "migrate":
            assert deps["migrate"]["condition"] == "service_completed_successfully", name
            assert deps["redis"]["condition"] == "service_healthy", name
        env = service_env(name)
        assert env["CROSSFEED_ENVIRONMENT"] == "production"
        assert env["CROSSFEED_BROKER_URL"] == "redis://redis:6379/0"
        assert "@postgres:5432/" in env["CROSSFEED_DATABASE_URL"]
    queues = {name: command(name) for name in ("poller", "enricher", "review", "publisher")}
    assert queues == {
        "poller": ["worker", "--queues", "poll"],
        "enricher": ["worker", "--queues", "enrich"],
        "review": ["worker", "--queues", "review"],
        "publisher": ["worker", "--queues", "publish"],
    }
    assert set(COMPOSE["volumes"]) == {"pgdata", "redisdata", "data", "ltmodels"}
    # Published on the host's loopback only.
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_bytes((ROOT / "docker-compose.yml").read_bytes())
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=x\n")  # the secret key is missing
    result = subprocess.run(
        ["docker-compose", "--project-directory", str(tmp_path), "-f",
         str(tmp_path / "docker-compose.yml"), "config", "--quiet"],
        env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, check=False,
        timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "set CROSSFEED_SECRET_KEY in .env" in result.stderr


@pytest.fixture
def local_env(
    tmp_path: Path, pg_url: str, redis_prefix: str, server: LocalServer
) -> Iterator[dict[str, str]]:
    """What each container would get, pointed at this machine's servers."""
    overrides = {
        "CROSSFEED_DATABASE_URL": pg_url,
        "CROSSFEED_BROKER_URL": REDIS_URL,
        "CROSSFEED_REDIS_PREFIX": redis_prefix,
        "CROSSFEED_DATA_DIR": str(tmp_path / "data"),
        # Each container has its own network; here they share one, so no fixed metrics port.
        "CROSSFEED_METRICS_PORT": "0",
        "CROSSFEED_FETCH_ALLOWED_HOSTS": server.host_port,
        "CROSSFEED_POLL_SWEEP_SECONDS": "1",
        "CROSSFEED_RELAY_INTERVAL_SECONDS": "0.1",
    }
    yield overrides
    database = Database(pg_url)
    truncate_all(database)
    database.dispose()


def env_for(name: str, overrides: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CROSSFEED_")}
    env = {**base, **service_env(name), **overrides}
    # Each container has its own /tmp; here they share one host, so no shared metrics folder.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def test_every_service_runs_and_an_article_reaches_the_review_desk(
    local_env: dict[str, str], procs: Processes, server: LocalServer
) -> None:
    server.route("/feed", Reply(200, rss([Item("urn:story:1", "انقطاع المياه في جاسم")])))

    migrate = run(command("migrate"), env_for("migrate", local_env))
    assert migrate.returncode == 0, migrate.stderr
    assert "Database at revision" in migrate.stdout

    port = free_port()
    web_args = command("web")
    web_args[web_args.index("--host") + 1] = "127.0.0.1"
    web_args[web_args.index("--port") + 1] = str(port)
    procs.start("web", web_args, env_for("web", local_env))
    # Two of the scalable services, as `docker compose up --scale` would run them.
    replicas = {"enricher": 2, "relay": 2}
    for name in ("poller", "enricher", "review", "publisher", "beat", "relay"):
        for n in range(replicas.get(name, 1)):
            procs.start(f"{name}-{n}", command(name), env_for(name, local_env))

    api = Api(f"http://127.0.0.1:{port}")
    wait_for(api.ready, timeout=60, what="the web service to be ready")

    cli_env = env_for("web", local_env)
    created = run(["users", "create", "editor", "--role", "editor"], cli_env)
    assert created.returncode == 0, created.stderr
    api = api.with_token(created.stdout.strip().splitlines()[-1])
    added = run(["sources", "add", "--name", "Jasim Voice", "--url", server.url("/feed")], cli_env)
    assert added.returncode == 0, added.stderr
    source_id = int(added.stdout.strip().splitlines()[-1])

    def queued_article() -> dict[str, Any] | None:
        page = api.get("/api/v1/articles", params={"source_id": source_id}).json()
        items = [item for item in page["items"] if item["queued_at"]]
        return items[0] if items else None

    article = wait_for(queued_article, timeout=90, what="the article to reach the review desk")
    assert (article["title"], article["state"]) == ("انقطاع المياه في جاسم", "new")

    def enriched() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/api/v1/articles/{article['id']}").json()
        return body if body["enrichment"] else None

    detail = wait_for(enriched, timeout=30, what="the enrichment")
    assert [h["action"] for h in detail["history"]] == ["queue"]
    assert detail["enrichment"][0]["direction"] == "rtl"

    def status() -> dict[str, Any]:
        result = run(["status", "--json"], cli_env)
        assert result.returncode == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    wait_for(
        lambda: status()["outbox"]["in_flight"] == 0,
        timeout=30,
        what="every event to be acknowledged",
    )
    final = status()
    assert (final["articles"]["new"], final["queued_for_review"]) == (1, 1)
    assert final["broker_error"] is None
    assert 'crossfeed_articles{state="new"} 1.0' in api.get("/metrics").text

    for proc in procs.procs:
        assert proc.alive(), f"{proc.name} exited:\n{proc.output()[-3000:]}"
    assert len(server.hits("/feed")) >= 1
