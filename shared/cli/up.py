"""`crossfeed up`: the whole system in one command, on embedded defaults.

Runs migrations, then starts and supervises one process per role (web, worker for every queue,
beat, relay, and with --demo the demo outlets; see supervisor.py), restarts a process that
dies, and on Ctrl-C or SIGTERM stops them all, letting the worker finish its tasks; a second
Ctrl-C stops them at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.panel import Panel

from shared.demo.seed import DemoAccount
from shared.settings import Settings

from .common import console, err, esc, load_settings, user_errors
from .supervisor import Child, Supervisor

READY_TIMEOUT = 60.0


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, timeout: float, supervisor: Supervisor) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 - our own loopback
        ):
            if response.status == 200:
                return True
        if supervisor.check() is not None:
            return False
        time.sleep(0.2)
    return False


def _lock_data_dir(data_dir: Path) -> IO[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / "up.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        err.print(
            f"[red]Error:[/red] another `crossfeed up` is using {data_dir} "
            f"(pid {handle.read().strip() or '?'}); stop it or set CROSSFEED_DATA_DIR"
        )
        raise typer.Exit(1) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _child_env(settings: Settings, host: str, port: int, extra_hosts: list[str]) -> dict[str, str]:
    env = dict(os.environ)
    metrics_dir = settings.data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)  # counters restart with the processes
    metrics_dir.mkdir(parents=True)
    allowed = list(dict.fromkeys([*settings.fetch_allowed_hosts, *extra_hosts]))
    env.update(
        {
            "CROSSFEED_DATA_DIR": str(settings.data_dir),
            "CROSSFEED_DATABASE_URL": settings.database_url,
            "CROSSFEED_WEB_HOST": host,
            "CROSSFEED_WEB_PORT": str(port),
            "CROSSFEED_FETCH_ALLOWED_HOSTS": ",".join(allowed),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if settings.log_format == "auto" and sys.stderr.isatty():
        env["CROSSFEED_LOG_FORMAT"] = "console"
    return env


def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed demo outlets and a demo editor")
    ] = False,
    host: Annotated[
        str | None, typer.Option(help="Default: CROSSFEED_WEB_HOST (127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Default: CROSSFEED_WEB_PORT (8000)")] = None,
) -> None:
    """Start everything (migrations, web, worker, beat, relay) and supervise it until Ctrl-C."""
    started = time.monotonic()
    settings = load_settings()
    host = host or settings.web_host
    port = port or settings.web_port
    lock = _lock_data_dir(settings.data_dir)
    if not _port_free(host, port):
        err.print(
            f"[red]Error:[/red] {host}:{port} is in use; pass --port or set CROSSFEED_WEB_PORT"
        )
        raise typer.Exit(1)

    from shared import migrate  # noqa: PLC0415

    with user_errors():
        migrate.upgrade(settings.database_url)
    console.print(f"Database ready ({esc(_describe_db(settings))}).")

    supervisor, demo_port = _supervisor(settings, host, port, demo)

    def _interrupt(_signum: int, _frame: object) -> None:
        if supervisor.stopping:
            supervisor.kill_all()  # asked twice: do not wait for the grace period
            return
        supervisor.stopping = True
        raise KeyboardInterrupt

    # Both explicitly: a shell starts background jobs with SIGINT ignored, and Python then
    # installs no handler of its own, so `kill -INT` would do nothing.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    code = 0
    try:
        code = _run(supervisor, settings, host, port, started, demo_port)
    except KeyboardInterrupt:
        console.print("\nStopping...")
    finally:
        supervisor.stop()
        lock.close()
    console.print("Stopped.")
    raise typer.Exit(code)


def _supervisor(
    settings: Settings, host: str, port: int, demo: bool
) -> tuple[Supervisor, int | None]:
    """The children to run (and the demo outlets' port, with --demo)."""
    python = [sys.executable, "-m", "shared.cli"]
    children = [
        Child("web", [*python, "web", "--host", host, "--port", str(port)]),
        Child("beat", [*python, "beat"]),
        Child("relay", [*python, "relay"]),
        Child("worker", [*python, "worker"]),
    ]
    extra_hosts: list[str] = []
    demo_port = None
    if demo:
        demo_port = port + 1 if _port_free("127.0.0.1", port + 1) else _free_port("127.0.0.1")
        extra_hosts.append(f"127.0.0.1:{demo_port}")
        children.insert(0, Child("demo-outlets", [*python, "demo-feeds", "--port", str(demo_port)]))
    return Supervisor(children, _child_env(settings, host, port, extra_hosts)), demo_port


def _run(
    supervisor: Supervisor,
    settings: Settings,
    host: str,
    port: int,
    started: float,
    demo_port: int | None,
) -> int:
    """Start the children, announce readiness, and supervise; the exit code when giving up."""
    supervisor.start_all()
    account = _seed_demo(settings, demo_port, supervisor) if demo_port else None
    if not _wait_http(f"http://{host}:{port}/readyz", READY_TIMEOUT, supervisor):
        err.print("[red]Crossfeed did not become ready; see the messages above.[/red]")
        return 1
    _print_ready(settings, host, port, time.monotonic() - started, demo_port, account)
    while True:
        reason = supervisor.check()
        if reason:
            err.print(f"[red]Giving up: {esc(reason)}.[/red]")
            return 1
        time.sleep(0.5)


def _describe_db(settings: Settings) -> str:
    broker = "embedded broker" if settings.embedded_broker else "Redis broker"
    db = (
        f"SQLite {settings.database_url.removeprefix('sqlite:///')}"
        if settings.is_sqlite
        else "PostgreSQL"
    )
    return f"{db}, {broker}"


def _seed_demo(settings: Settings, demo_port: int, supervisor: Supervisor) -> DemoAccount:
    from shared.db import get_database  # noqa: PLC0415
    from shared.demo.seed import seed_editor, seed_sources  # noqa: PLC0415
    from shared.demo.server import load_outlets  # noqa: PLC0415
    from shared.uow import UnitOfWork  # noqa: PLC0415

    base = f"http://127.0.0.1:{demo_port}"
    if not _wait_http(f"{base}/yarmouk-post/feed.rss", 15, supervisor):
        err.print("[yellow]The demo outlets did not answer; the poller will retry.[/yellow]")
    outlets, _ = load_outlets()
    with user_errors(), UnitOfWork(get_database(settings)) as uow:
        feeds = [
            (o, f"{base}/{o.slug}/feed.{'atom' if o.format == 'atom' else 'rss'}") for o in outlets
        ]
        seed_sources(uow, feeds)
        account = seed_editor(uow)
        uow.commit()
    return account


def _print_ready(
    settings: Settings,
    host: str,
    port: int,
    seconds: float,
    demo_port: int | None,
    account: DemoAccount | None,
) -> None:
    url = f"http://{host}:{port}"
    lines = [
        f"[bold green]Crossfeed is up[/bold green] in {seconds:.1f}s",
        f"  Desk       {url}/    API docs {url}/docs",
        f"  Data       {esc(settings.data_dir)} ({esc(_describe_db(settings))})",
    ]
    if demo_port is not None and account is not None:
        lines += [
            f"  Demo       5 outlets served at http://127.0.0.1:{demo_port}/",
            f"  Editor     {account.username} / {account.password}   (sign in to the desk)",
            f"  API token  {account.token}",
            "  Try        crossfeed status",
            f"             curl -H 'Authorization: Bearer {account.token}' {url}/api/v1/articles",
        ]
    lines.append("Press Ctrl-C to stop.")
    console.print(Panel("\n".join(lines), expand=False))
