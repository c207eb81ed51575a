"""`crossfeed up --demo`: what a new user runs first (through `make run`)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.processes import Processes, run
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e


def free_port_pair() -> int:
    """A port p with p+1 also free (the demo outlets go on the next port)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise AssertionError("no two adjacent free ports")


def children(pid: int) -> dict[int, str]:
    """Direct children of `pid`: their pid and command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, ValueError, IndexError):
            continue
    return found


def worker_pid(up_pid: int) -> int | None:
    return next((p for p, cmd in children(up_pid).items() if "shared.cli worker" in cmd), None)


def test_up_demo_brings_articles_within_a_minute(tmp_path: Path, procs: Processes) -> None:
    port = free_port_pair()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSFEED_")}
    env["CROSSFEED_DATA_DIR"] = str(tmp_path / "var")
    # Started as `make run &` would be, with SIGINT ignored on entry: Ctrl-C must still work.
    up = procs.start("up", ["up", "--demo", "--port", str(port)], env, ignore_sigint=True)

    banner = wait_for(
        lambda: re.search(r"Crossfeed is up\D+([\d.]+)s", up.output()),
        timeout=90,
        what="the ready banner",
    )
    assert float(banner.group(1)) < 60
    output = up.output()
    token = re.search(r"API token\s+(cf_[\w-]+)", output)
    assert token, output
    assert re.search(r"Editor\s+demo-editor / \S+", output)
    assert f"http://127.0.0.1:{port}/" in output
    api = Api(f"http://127.0.0.1:{port}", token.group(1))

    def queued() -> list[dict[str, Any]]:
        items = api.get("/api/v1/articles", params={"limit": 200}).json()["items"]
        return [item for item in items if item["queued_at"]]

    outlets = {"Yarmouk Post", "Northern Compass", "Euphrates Banks", "Damascus Ledger",
               "Coast Lantern"}  # fmt: skip

    def every_outlet_on_the_desk() -> list[dict[str, Any]] | None:
        # Each outlet's stories arrive together (one poll each), in no set order between
        # outlets: wait for all five, and at least 20 stories.
        items = queued()
        names = {item["source"]["name"] for item in items}
        return items if len(items) >= 20 and names == outlets else None

    first = wait_for(
        every_outlet_on_the_desk, timeout=120, what="every demo outlet's articles on the desk"
    )
    status = json.loads(run(["status", "--json"], env).stdout)
    assert status["articles"]["new"] >= 20
    # Healthy: fetched, or (polled again by the time we look) unchanged or not modified.
    healthy = {"ok", "not_modified", "unchanged"}
    assert all(source["last_outcome"] in healthy for source in status["sources"]), status

    # A second `up` on the same data dir is refused rather than run two schedulers.
    second = run(["up", "--port", str(port + 10)], env, timeout=30)
    assert second.returncode == 1
    assert "another `crossfeed up` is using" in second.stderr

    # The supervisor restarts a worker that dies, and work continues.
    old_worker = worker_pid(up.pid)
    assert old_worker is not None
    os.kill(old_worker, signal.SIGKILL)
    wait_for(
        lambda: (pid := worker_pid(up.pid)) is not None and pid != old_worker,
        timeout=30,
        what="the worker to be restarted",
    )
    assert "worker exited with code" in up.output()
    assert run(["sources", "poll", str(status["sources"][0]["id"])], env).returncode == 0

    def more_stories() -> bool:
        # The demo outlets publish a story every 10 s; ask for polls rather than wait a minute.
        for source in status["sources"]:
            assert api.post(f"/api/v1/sources/{source['id']}/poll").status_code == 202
        return len(queued()) > len(first)

    wait_for(more_stories, timeout=120, interval=2, what="new demo stories after the restart")

    # Ctrl-C stops everything.
    running = list(children(up.pid))
    assert len(running) == 5  # demo outlets, web, beat, relay, worker
    os.kill(up.pid, signal.SIGINT)
    assert up.popen.wait(timeout=40) == 0
    assert "Stopped." in up.output()
    assert [pid for pid in running if Path(f"/proc/{pid}").exists()] == []
