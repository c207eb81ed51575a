"""The `crossfeed` command line."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from enum import StrEnum
from typing import Annotated, Any

import typer

from shared import __version__
from shared.logs import configure_logging
from shared.metrics import serve_metrics
from shared.subscriptions import QUEUES

from . import admin, publishing, up
from .articles import articles
from .common import console, err, load_settings, user_errors
from .outbox import outbox
from .status import status

app = typer.Typer(
    name="crossfeed",
    help="Crossfeed: poll Arabic outlets, track translation review, enrich, publish.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(articles, name="articles")
app.add_typer(admin.sources, name="sources")
app.add_typer(admin.users, name="users")
app.add_typer(admin.partners, name="partners")
app.add_typer(outbox, name="outbox")
app.add_typer(publishing.destinations, name="destinations")
app.add_typer(publishing.deliveries, name="deliveries")
app.command("up")(up.up)


class Pool(StrEnum):
    threads = "threads"
    prefork = "prefork"
    solo = "solo"


def _version(value: bool) -> None:
    if value:
        console.print(f"crossfeed {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    _version_flag: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version")
    ] = False,
) -> None:
    """Settings come from CROSSFEED_* variables and .env; see .env.example."""


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
) -> None:
    """Apply database migrations (also done by `crossfeed up`)."""
    from shared import migrate as migrations  # noqa: PLC0415 - alembic is slow to import

    settings = load_settings()
    configure_logging(settings, "migrate")
    with user_errors():
        before = migrations.current_revision(settings.database_url)
        migrations.upgrade(settings.database_url, revision)
        after = migrations.current_revision(settings.database_url)
    console.print(f"Database at revision {after} (was {before or 'empty'}).")


@app.command()
def web(
    host: Annotated[str | None, typer.Option(help="Default: CROSSFEED_WEB_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: CROSSFEED_WEB_PORT")] = None,
) -> None:
    """Serve the editor API, the front page, health checks and metrics."""
    import uvicorn  # noqa: PLC0415

    settings = load_settings()
    configure_logging(settings, "web")
    uvicorn.run(
        "services.web.app:create_server",
        factory=True,
        host=host or settings.web_host,
        port=port or settings.web_port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
        timeout_keep_alive=settings.web_keepalive_seconds,
    )


@app.command()
def worker(
    queues: Annotated[
        str, typer.Option(help=f"Comma-separated, of: {', '.join(QUEUES)}")
    ] = ",".join(QUEUES),
    concurrency: Annotated[
        int | None, typer.Option(help="Default: CROSSFEED_WORKER_CONCURRENCY")
    ] = None,
    pool: Annotated[
        Pool | None,
        typer.Option(help="Default: threads on SQLite or the embedded broker, else prefork"),
    ] = None,
) -> None:
    """Run a Celery worker for some queues (one service per queue in production)."""
    from shared.celery_app import create_celery_app  # noqa: PLC0415

    settings = load_settings()
    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(wanted) - set(QUEUES))
    if unknown or not wanted:
        err.print(
            f"[red]Error:[/red] unknown queue(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(QUEUES)}"
        )
        raise typer.Exit(2)
    configure_logging(settings, f"worker:{'+'.join(wanted)}")
    serve_metrics(settings)
    chosen = pool or (
        Pool.threads if settings.is_sqlite or settings.embedded_broker else Pool.prefork
    )
    celery = create_celery_app(settings)
    celery.worker_main(
        [
            "worker",
            f"--queues={','.join(wanted)}",
            f"--pool={chosen.value}",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            f"--loglevel={settings.log_level}",
            f"--hostname={'-'.join(wanted)}-{os.getpid()}@%h",
            # No worker-to-worker chatter: nothing here uses it, and it slows start-up.
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
    )


@app.command()
def beat() -> None:
    """Run the scheduler that sends the sweeps (run exactly one; RedBeat enforces it on Redis)."""
    from shared.celery_app import create_celery_app  # noqa: PLC0415

    settings = load_settings()
    configure_logging(settings, "beat")
    serve_metrics(settings)
    create_celery_app(settings).start(["beat", f"--loglevel={settings.log_level}"])


@app.command()
def relay() -> None:
    """Send committed events from the outbox to the queues (safe to run several)."""
    from shared.celery_app import (  # noqa: PLC0415
        create_celery_app,
        prune_processed_messages,
        queue_depths,
    )
    from shared.db import get_database  # noqa: PLC0415
    from shared.outbox import Relay  # noqa: PLC0415
    from shared.subscriptions import Consumer  # noqa: PLC0415

    settings = load_settings()
    configure_logging(settings, "relay")
    serve_metrics(settings)
    celery = create_celery_app(settings)

    def send(consumer: Consumer, envelope: dict[str, Any]) -> None:
        celery.send_task(consumer.task, args=[envelope], queue=consumer.queue)

    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    chores = [lambda: prune_processed_messages(settings)] if settings.embedded_broker else []
    Relay(
        get_database(settings),
        send,
        settings,
        housekeeping=chores,
        queue_depths=lambda: queue_depths(celery),
    ).run(stop)


app.command("status")(status)


@app.command("demo-feeds", hidden=True)
def demo_feeds(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 8001,
    reveal_every: Annotated[float, typer.Option(help="Seconds between new stories")] = 10.0,
) -> None:
    """Serve the demo outlets' feeds on loopback (what `up --demo` runs)."""
    from shared.demo.server import DemoFeedServer  # noqa: PLC0415

    server = DemoFeedServer(port=port, reveal_every=reveal_every)
    console.print(f"Demo outlets at {server.base_url}")
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.stop).start())
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def main() -> None:
    app()
