"""How long `crossfeed up --demo` takes to be useful, against a bare Celery worker's start.

For each run, in a fresh data dir: time from the command to the ready banner, to the first demo
article on the review desk (API), to 20 articles, and to a clean exit after SIGINT. The peer,
measured in the same run on the same machine, is the time a bare Celery worker (the project's
configuration, embedded broker, no web, beat or relay) takes to report ready: the floor any
Celery-based `up` stands on.

    .venv/bin/python bench/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two adjacent free ports")


def wait(condition: object, timeout: float, what: str) -> float:
    """Poll `condition()` until true; return the time it became true (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout} s")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CROSSFEED_")}


def queued_articles(port: int, token: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/articles?limit=200",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            items = json.load(response)["items"]
    except OSError:
        return 0
    return sum(1 for item in items if item["queued_at"])


def one_up(workdir: Path) -> dict[str, float]:
    port = free_port_pair()
    env = {**clean_env(), "CROSSFEED_DATA_DIR": str(workdir / "var"), "PYTHONUNBUFFERED": "1"}
    log = (workdir / "up.log").open("w+b")
    started = time.monotonic()
    up = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "up", "--demo", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=workdir,
    )

    def output() -> str:
        log.flush()
        return (workdir / "up.log").read_text(errors="replace")

    try:
        ready = wait(lambda: "Crossfeed is up" in output(), 120, "the ready banner")
        match = re.search(r"API token\s+(cf_[\w-]+)", output())
        if not match:
            raise RuntimeError("no API token in the banner")
        token = match.group(1)
        first = wait(lambda: queued_articles(port, token) >= 1, 120, "the first article")
        twenty = wait(lambda: queued_articles(port, token) >= 20, 120, "20 articles")
        os.kill(up.pid, signal.SIGINT)
        stop_started = time.monotonic()
        code = up.wait(timeout=60)
        stopped = time.monotonic()
        if code != 0:
            raise RuntimeError(f"up exited with {code}:\n{output()[-2000:]}")
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        log.close()
    return {
        "ready": ready - started,
        "first": first - started,
        "twenty": twenty - started,
        "stop": stopped - stop_started,
    }


def bare_worker(workdir: Path) -> float:
    ready_file = workdir / "ready"
    env = {
        **clean_env(),
        "BENCH_BROKER": "filesystem",
        "BENCH_DIR": str(workdir / "broker"),
        "BENCH_READY_FILE": str(ready_file),
        "PYTHONPATH": str(ROOT),
    }
    started = time.monotonic()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench._broker_app",
            "worker",
            "--pool=threads",
            "--concurrency=4",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=ROOT,
    )
    try:
        ready = wait(ready_file.exists, 60, "the bare worker")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    return ready - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ups, peers = [], []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="cf-startup-") as tmp:
            ups.append(one_up(Path(tmp)))
        with tempfile.TemporaryDirectory(prefix="cf-peer-") as tmp:
            peers.append(bare_worker(Path(tmp)))
        print(
            f"run {n + 1}: "
            + ", ".join(f"{k} {v:.2f}s" for k, v in ups[-1].items())
            + f"; bare worker ready {peers[-1]:.2f}s",
            file=sys.stderr,
        )

    def median(key: str) -> float:
        return statistics.median(run[key] for run in ups)

    peer = statistics.median(peers)
    print(f"crossfeed up --demo, median of {args.runs} runs (fresh data dir each time):")
    print(f"  ready banner (migrated, 5 processes up)  {median('ready'):6.2f} s")
    print(f"  first demo article on the desk           {median('first'):6.2f} s")
    print(f"  20 demo articles on the desk             {median('twenty'):6.2f} s")
    print(f"  clean stop after Ctrl-C                  {median('stop'):6.2f} s")
    print(f"peer: bare Celery worker ready             {peer:6.2f} s")
    print(f"ratio up-ready / bare-worker-ready         {median('ready') / peer:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
