"""The `up` supervisor with real child processes that misbehave."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from shared.cli.supervisor import Child, Supervisor
from tests.support.wait import wait_for

PY = sys.executable


def stubborn(ready: Path) -> list[str]:
    """A child that ignores SIGTERM, as a worker stuck in a task would; `ready` once it does."""
    code = (
        "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "pathlib.Path(sys.argv[1]).touch(); time.sleep(600)"
    )
    return [PY, "-c", code, str(ready)]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


def test_a_child_that_dies_is_restarted_with_backoff() -> None:
    child = Child("flaky", [PY, "-c", "raise SystemExit(3)"])
    supervisor = Supervisor([child], dict(os.environ), max_restarts=2, restart_window=60)
    supervisor.start_all()
    first = child.process
    assert first is not None
    first.wait()
    assert supervisor.check() is None
    assert child.process is None and len(child.restarts) == 1  # waits 1 s, then starts again
    reason = wait_for(supervisor.check, timeout=30, what="the supervisor to give up")
    assert reason == "flaky exited 3 times in 60s (last code 3)"
    assert len(child.restarts) == 2  # the first exit and the second restarted it; the third not


def test_stop_kills_what_ignores_sigterm_after_the_grace(tmp_path: Path) -> None:
    polite = Child("polite", [PY, "-c", "import time; time.sleep(600)"])
    hard = Child("stubborn", stubborn(tmp_path / "ready"))
    supervisor = Supervisor([polite, hard], dict(os.environ), grace=1.0)
    supervisor.start_all()
    pids = supervisor.pids()
    wait_for((tmp_path / "ready").exists, timeout=10, what="the child to ignore SIGTERM")
    supervisor.stop()
    assert all(gone(pid) for pid in pids)
    assert polite.process is not None and polite.process.returncode == -15  # SIGTERM
    assert hard.process is not None and hard.process.returncode == -9  # SIGKILL


def test_a_second_interrupt_does_not_wait_for_the_grace(tmp_path: Path) -> None:
    supervisor = Supervisor(
        [Child("stubborn", stubborn(tmp_path / "ready"))], dict(os.environ), grace=600.0
    )
    supervisor.start_all()
    [pid] = supervisor.pids()
    wait_for((tmp_path / "ready").exists, timeout=10, what="the child to ignore SIGTERM")
    stopper = threading.Thread(target=supervisor.stop)
    stopper.start()
    wait_for(lambda: supervisor.stopping, timeout=5)
    supervisor.kill_all()
    stopper.join(timeout=30)
    assert not stopper.is_alive()
    assert gone(pid)
