"""Private PostgreSQL and Redis servers that a fault test may stop, restart or flush.

The machine's shared servers carry every other test of the run (xdist runs them beside the
fault suite), so a test that restarts a server starts its own: the same binaries, on a free
loopback port, in a temporary folder, removed afterwards.
"""

from __future__ import annotations

import contextlib
import getpass
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.wait import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version_key)
    if not found:
        raise RuntimeError("PostgreSQL's pg_ctl is not installed; `make test` installs it")
    return Path(found[-1]).parent


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parents[1].name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own. PostgreSQL refuses to run as root, so as root
    the server runs as the `postgres` user; the superuser is named after the caller, whom
    loopback connections trust, as on the shared server."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="crossfeed-pg-"))
        self.data = self.folder / "data"
        self.user = getpass.getuser()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.folder, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=check)

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        return self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options,
            "-w", "-t", "60", *args, check=check,
        )  # fmt: skip

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            self._run(
                "initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8",
                "--no-sync", "--locale=C.UTF-8",
            )  # fmt: skip
        self._ctl("start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session at once, as a restart by an operator or a host does;
        `immediate` is a crash."""
        self._ctl("-m", mode, "stop", check=False)

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)  # the outage itself: clients find nothing listening
        self._ctl("start")

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.folder / "server.log").read_text(errors="replace")
        return ""

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """A Redis server of the test's own, configured as docker-compose.yml runs it (an
    append-only file, `noeviction`), so that a restart keeps what was queued."""

    def __init__(self, appendonly: bool = True) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="crossfeed-redis-"))
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; `make test` installs it")
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
             "--save", "", "--appendonly", "yes" if self.appendonly else "no",
             "--appendfsync", "always", "--maxmemory-policy", "noeviction",
             "--logfile", str(self.folder / "server.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: _answers(self.port), timeout=30, what=f"redis on {self.port}")
        return self

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        """SIGTERM, as `docker compose restart redis` sends: Redis flushes its append-only
        file and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)  # the outage: connections are refused meanwhile
        self.start()

    def flush(self) -> None:
        """Every key gone: queued messages, unacknowledged ones, beat's schedule and lock."""
        client = self.client()
        try:
            client.flushall()
        finally:
            client.close()

    def remove(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)
