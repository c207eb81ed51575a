"""Run `crossfeed` commands as real processes, with their output kept for failure reports."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

CROSSFEED = [sys.executable, "-m", "shared.cli"]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Proc:
    """A started `crossfeed ...` process writing to its own log file."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        env: dict[str, str],
        log_dir: Path,
        ignore_sigint: bool = False,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            [*CROSSFEED, *args],
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # As a shell starts a background job (`make run &`): SIGINT ignored on entry.
            preexec_fn=_ignore_sigint if ignore_sigint else None,  # noqa: PLW1509
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, as a crash would leave it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # any grandchildren left behind
        self._log.close()
        return self.popen.returncode


class Processes:
    """Start processes for a test and stop them all afterwards, reporting their logs on failure."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[Proc] = []

    def start(
        self, name: str, args: Sequence[str], env: dict[str, str], ignore_sigint: bool = False
    ) -> Proc:
        proc = Proc(name, args, env, self.log_dir, ignore_sigint)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def report(self) -> str:
        return "\n".join(
            f"===== {proc.name} (pid {proc.pid}) =====\n{proc.output()[-6000:]}"
            for proc in self.procs
        )


def run(
    args: Sequence[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a `crossfeed` command to completion."""
    return subprocess.run(
        [*CROSSFEED, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
