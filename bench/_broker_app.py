"""The Celery app that bench/broker.py runs: the project's configuration on a chosen broker.

`make_app(kind, workdir)` builds the sending side in the benchmark process. A worker started as
`python -m celery -A bench._broker_app worker ...` finds the module-level `app`, built from
BENCH_BROKER ("filesystem" or "sqla") and BENCH_DIR, and signals readiness by writing the file
named by BENCH_READY_FILE.

Everything except the broker and the queue comes from `shared.celery_app.celery_config`, so the
worker runs with the project's settings (acks_late, prefetch multiplier 1, JSON, no results...).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Final

from celery import Celery, signals
from kombu.entity import Exchange, Queue

from shared.celery_app import celery_config
from shared.settings import Settings

QUEUE: Final = "bench"
KINDS: Final = ("filesystem", "sqla")
# The project's filesystem broker scans its folder every 50 ms; the peer polls as often.
POLLING_INTERVAL: Final = 0.05

LATENCY_FILE: Final = "latency.txt"  # "<label> <sent> <received>" per ping
MARKER_FILE: Final = "markers.txt"  # "started|done <token> <pid>" per sleepy task


def sqla_url(workdir: Path) -> str:
    return f"sqla+sqlite:///{workdir / 'broker.db'}"


def append_line(path: Path, line: str) -> None:
    """One write(2) on an O_APPEND descriptor, so lines from several threads never interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def make_app(kind: str, workdir: Path) -> Celery:
    """The project's Celery configuration with the broker `kind` under `workdir`."""
    if kind not in KINDS:
        raise ValueError(f"unknown broker {kind!r}; choose from {', '.join(KINDS)}")
    workdir.mkdir(parents=True, exist_ok=True)
    # broker_url="" explicitly: a CROSSFEED_BROKER_URL in the environment must not leak in.
    settings = Settings(_env_file=None, data_dir=workdir, broker_url="")
    config: dict[str, Any] = celery_config(settings)  # filesystem broker, exactly as the project
    if kind == "sqla":
        from kombu.transport import sqlalchemy  # noqa: PLC0415

        # polling_interval cannot go in broker_transport_options for this transport: its channel
        # hands every transport option to sqlalchemy.create_engine(), which raises TypeError.
        sqlalchemy.Transport.polling_interval = POLLING_INTERVAL
        config.update(broker_url=sqla_url(workdir), broker_transport_options={})
    config.update(
        task_queues=[Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE)],
        task_default_queue=QUEUE,
        task_routes={"bench.*": {"queue": QUEUE}},
        beat_schedule={},
    )
    app = Celery(f"bench-{kind}", set_as_current=False)
    app.conf.update(config)

    latency_file = workdir / LATENCY_FILE
    marker_file = workdir / MARKER_FILE

    @app.task(name="bench.ping")
    def ping(label: str, sent: float) -> None:
        received = time.time()
        append_line(latency_file, f"{label} {sent!r} {received!r}\n")

    @app.task(name="bench.sleepy")
    def sleepy(token: str, seconds: float) -> None:
        append_line(marker_file, f"started {token} {os.getpid()}\n")
        time.sleep(seconds)
        append_line(marker_file, f"done {token} {os.getpid()}\n")

    return app


def _worker_app() -> Celery | None:
    kind = os.environ.get("BENCH_BROKER")
    workdir = os.environ.get("BENCH_DIR")
    if not kind or not workdir:
        return None  # imported by broker.py, which builds its own apps
    ready_file = os.environ.get("BENCH_READY_FILE")

    def _ready(**_kwargs: Any) -> None:
        if ready_file:
            append_line(Path(ready_file), f"{os.getpid()}\n")

    signals.worker_ready.connect(_ready, weak=False)
    return make_app(kind, Path(workdir))


app = _worker_app()
