"""Crossfeed as deployed, for benchmarks: a fresh PostgreSQL database, Redis, and processes
(workers, beat, relay) started by the `crossfeed` command, all removed on close."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared import migrate
from shared.db import Database

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "bench-secret-" + "x" * 40
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime; with `children`, also that of its exited children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_tree(pid: int) -> list[int]:
    """The process and its live descendants (a prefork worker's pool processes)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [pid] + [p for child in children for p in process_tree(int(child))]


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children, live and exited (a prefork worker replaces
    its pool processes now and then)."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):  # it exited meanwhile: its parent counts it now
            total += cpu_seconds(member, children=True)
    return total


class Stack:
    def __init__(self, workdir: Path, **settings: str) -> None:
        self.workdir = workdir
        self.name = f"crossfeed_bench_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(PG_ADMIN).set(database=self.name).render_as_string(hide_password=False)
        migrate.upgrade(self.url)
        self.database = Database(self.url)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CROSSFEED_")},
            "CROSSFEED_ENVIRONMENT": "test",
            "CROSSFEED_SECRET_KEY": SECRET,
            "CROSSFEED_DATA_DIR": str(workdir / "var"),
            "CROSSFEED_DATABASE_URL": self.url,
            "CROSSFEED_BROKER_URL": REDIS,
            "CROSSFEED_REDIS_PREFIX": f"{self.name}:",
            "CROSSFEED_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **{f"CROSSFEED_{k.upper()}": v for k, v in settings.items()},
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / f"{name}.log").open("w"),
            start_new_session=True,
            cwd=ROOT,
        )
        self.processes.append(process)
        return process

    def check_alive(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"a crossfeed process exited with {process.returncode}")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.database.dispose()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()
        import redis  # noqa: PLC0415

        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"{self.name}:*"))
        if keys:
            client.delete(*keys)
