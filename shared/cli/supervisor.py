"""Run child processes, restart the ones that die, and stop them all on request.

Children run in their own sessions (a Ctrl-C on the terminal reaches only the supervisor, which
decides how to stop them) and are asked by the kernel to exit if the supervisor itself is killed
(PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

from .common import err

PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: collections.deque[float] = field(default_factory=collections.deque)
    next_start: float = 0.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Start, watch and stop a fixed set of children."""

    def __init__(
        self,
        children: list[Child],
        env: dict[str, str],
        grace: float = 15.0,
        max_restarts: int = 5,
        restart_window: float = 120.0,
    ) -> None:
        self.children = children
        self.env = env
        self.grace = grace  # seconds for a child to finish its current work after SIGTERM
        self.max_restarts = max_restarts  # within the window, before giving up
        self.restart_window = restart_window
        self.stopping = False

    def start(self, child: Child) -> None:
        child.process = subprocess.Popen(  # noqa: S603 - argv is our own interpreter and module
            child.argv,
            env=self.env,
            start_new_session=True,
            # The supervisor has no other threads, so preexec_fn is safe here.
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )

    def start_all(self) -> None:
        for child in self.children:
            self.start(child)

    def pids(self) -> list[int]:
        return [c.process.pid for c in self.children if c.process and c.process.poll() is None]

    def check(self) -> str | None:
        """Restart children that exited (1, 2, 4 ... 30 s later); a reason to give up, if any."""
        now = time.monotonic()
        for child in self.children:
            process = child.process
            if self.stopping:
                return None
            if process is None:
                if now >= child.next_start:
                    self.start(child)
                continue
            if process.poll() is None:
                continue
            code = process.returncode
            while child.restarts and now - child.restarts[0] > self.restart_window:
                child.restarts.popleft()
            if len(child.restarts) >= self.max_restarts:
                return (
                    f"{child.name} exited {len(child.restarts) + 1} times in "
                    f"{self.restart_window:.0f}s (last code {code})"
                )
            delay = min(30.0, 2.0 ** len(child.restarts))
            child.restarts.append(now)
            child.process = None
            child.next_start = now + delay
            err.print(
                f"[yellow]{child.name} exited with code {code}; restarting in {delay:.0f}s[/yellow]"
            )
        return None

    def stop(self) -> None:
        """SIGTERM every child at once (the worker finishes its tasks), then SIGKILL what is
        still running after the grace period."""
        self.stopping = True
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                err.print(
                    f"[yellow]{child.name} did not stop in {self.grace:.0f}s; killing it[/yellow]"
                )
                self._kill(child)
            # Whatever it started (a prefork pool) goes with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)

    def kill_all(self) -> None:
        """SIGKILL every child now (a second Ctrl-C: the user does not want to wait).

        Safe in a signal handler: it only sends signals; `stop()` reaps the children. (Waiting
        here could deadlock on the lock Popen.wait holds in the interrupted main thread.)
        """
        self.stopping = True
        for child in self.children:
            if child.process is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.process.pid, signal.SIGKILL)

    def _kill(self, child: Child) -> None:
        if child.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait()
