"""Benchmark the embedded broker (kombu's filesystem transport) against kombu's SQLAlchemy
transport on a SQLite file, with the project's worker settings.

For each transport: start a real worker (threads pool, concurrency 4, no mingle/gossip/heartbeat),
send a burst of tiny tasks that carry their send time, then a few paced ones, and report the send
cost, the pick-up latency, the time to drain and the worker's RSS. Then send a task that sleeps,
SIGKILL the worker's process group while the task runs, start a fresh worker and see whether the
unacknowledged task is delivered again.

    .venv/bin/python bench/broker.py [--tasks 300]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: make `bench` and `shared` importable

CONCURRENCY = 4
SLEEPY_SECONDS = 10.0
READY_TIMEOUT = 30.0
STARTED_TIMEOUT = 15.0
LABELS = {"filesystem": "filesystem", "sqla": "sqla+sqlite"}


class BenchError(RuntimeError):
    """A run failed: a worker did not start, or tasks did not arrive in time."""


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mib(self) -> float | None:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return None

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the whole process group (the worker runs in a session of its own)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def stop(self, grace: float = 3.0) -> None:
        if self.alive():
            self.kill(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        self.kill(signal.SIGKILL)  # and whatever the worker left in its group
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Result:
    kind: str
    tasks: int
    send_ms: float
    median_ms: float
    p95_ms: float
    drain_s: float
    paced_median_ms: float | None
    rss_mib: float | None
    after_kill: str  # "redelivered" or "lost"
    broker_after_kill: str


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    worker: Worker | None = None,
    interval: float = 0.02,
) -> None:
    """Poll `condition` until it holds; BenchError at the deadline or if `worker` dies."""
    deadline = time.monotonic() + timeout
    while not condition():
        if worker is not None and not worker.alive():
            raise BenchError(
                f"worker {worker.name} exited ({worker.proc.returncode}) "
                f"while waiting for {what}:\n{worker.log_tail()}"
            )
        if time.monotonic() >= deadline:
            tail = f":\n{worker.log_tail()}" if worker is not None else ""
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(interval)


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


class Bench:
    def __init__(self, base: Path, mod: ModuleType) -> None:
        self.base = base
        self.mod = mod
        self.workers: list[Worker] = []

    def start_worker(self, kind: str, workdir: Path, name: str) -> Worker:
        ready = workdir / f"ready-{name}"
        log = workdir / f"worker-{name}.log"
        env = {
            **os.environ,
            "BENCH_BROKER": kind,
            "BENCH_DIR": str(workdir),
            "BENCH_READY_FILE": str(ready),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        cmd = [
            sys.executable, "-m", "celery", "-A", "bench._broker_app", "worker",
            f"--queues={self.mod.QUEUE}",
            "--pool=threads",
            f"--concurrency={CONCURRENCY}",
            "--loglevel=WARNING",
            f"--hostname={name}@%h",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(name, proc, log)
        self.workers.append(worker)
        wait_for(ready.exists, READY_TIMEOUT, f"worker {name} to be ready", worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    def run(self, kind: str, tasks: int, paced: int, redelivery_wait: float) -> Result:
        workdir = self.base / kind
        app: Any = self.mod.make_app(kind, workdir)
        latency_file = workdir / self.mod.LATENCY_FILE
        marker_file = workdir / self.mod.MARKER_FILE

        def samples(label: str) -> list[tuple[float, float]]:
            rows = (line.split() for line in read_lines(latency_file))
            return [(float(sent), float(got)) for lab, sent, got in rows if lab == label]

        def send(name: str, *args: object) -> None:
            app.send_task(name, args=list(args))

        try:
            first = self.start_worker(kind, workdir, f"{kind}-1")

            # Warm-up: the producer connection, the queue declaration, the worker's consumer.
            send("bench.ping", "warm", time.time())
            wait_for(lambda: len(samples("warm")) == 1, 20, "the warm-up task", first)

            start = time.time()
            t0 = time.perf_counter()
            for _ in range(tasks):
                send("bench.ping", "burst", time.time())
            send_s = time.perf_counter() - t0
            wait_for(
                lambda: len(samples("burst")) >= tasks,
                max(30.0, tasks * 0.1),
                f"{tasks} tasks to drain",
                first,
            )
            burst = samples("burst")
            latencies = sorted((got - sent) * 1000 for sent, got in burst)
            drain_s = max(got for _, got in burst) - start

            # Paced: one task every 100 ms, the pick-up latency of an idle worker.
            paced_median: float | None = None
            if paced:
                t_next = time.monotonic()
                for _ in range(paced):
                    send("bench.ping", "paced", time.time())
                    t_next += 0.1
                    time.sleep(max(0.0, t_next - time.monotonic()))
                wait_for(lambda: len(samples("paced")) >= paced, 20, "paced tasks", first)
                paced_median = statistics.median(
                    (got - sent) * 1000 for sent, got in samples("paced")
                )
            rss = first.rss_mib()

            # An unacknowledged task, and a worker that dies with SIGKILL.
            token = uuid.uuid4().hex

            def runs() -> int:
                return sum(
                    1 for line in read_lines(marker_file) if line.split()[:2] == ["started", token]
                )

            send("bench.sleepy", token, SLEEPY_SECONDS)
            wait_for(lambda: runs() >= 1, STARTED_TIMEOUT, "the sleepy task to start", first)
            first.kill(signal.SIGKILL)
            first.proc.wait(timeout=10)
            state = self.broker_state(kind, workdir)
            second = self.start_worker(kind, workdir, f"{kind}-2")
            deadline = time.monotonic() + redelivery_wait
            while runs() < 2 and time.monotonic() < deadline and second.alive():
                time.sleep(0.05)
            if not second.alive():
                raise BenchError(f"worker {second.name} exited:\n{second.log_tail()}")
            after_kill = "redelivered" if runs() >= 2 else "lost"
        finally:
            self.stop_all()
            with contextlib.suppress(Exception):
                app.close()

        return Result(
            kind=kind,
            tasks=tasks,
            send_ms=send_s / tasks * 1000,
            median_ms=statistics.median(latencies),
            p95_ms=percentile(latencies, 95),
            drain_s=drain_s,
            paced_median_ms=paced_median,
            rss_mib=rss,
            after_kill=after_kill,
            broker_after_kill=state,
        )

    def broker_state(self, kind: str, workdir: Path) -> str:
        """What the broker holds for the queue right after the kill."""
        if kind == "filesystem":
            queue = workdir / "broker" / "queue"
            waiting = sum(1 for p in queue.iterdir() if p.name.endswith(f".{self.mod.QUEUE}.msg"))
            return f"{waiting} message file(s) left in the queue folder"
        db = sqlite3.connect(f"file:{workdir / 'broker.db'}?mode=ro", uri=True, timeout=5)
        try:
            visible, hidden = db.execute(
                "SELECT COALESCE(SUM(visible = 1), 0), COALESCE(SUM(visible = 0), 0) "
                "FROM kombu_message"
            ).fetchone()
        finally:
            db.close()
        return f"{visible} visible row(s), {hidden} delivered row(s) kept with visible=0"


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def table(results: list[Result]) -> Iterator[str]:
    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    header = (
        f"{'transport':<13} {'send ms/task':>12} {'median ms':>10} {'p95 ms':>9} "
        f"{'drain s':>8} {'paced med ms':>12} {'RSS MiB':>8}  after SIGKILL"
    )
    yield header
    yield "-" * len(header)
    for r in results:
        yield (
            f"{LABELS[r.kind]:<13} {r.send_ms:>12.3f} {r.median_ms:>10.1f} {r.p95_ms:>9.1f} "
            f"{r.drain_s:>8.2f} {fmt(r.paced_median_ms, '.1f'):>12} "
            f"{fmt(r.rss_mib, '.1f'):>8}  {r.after_kill}"
        )
    fs, peer = results
    yield (
        f"{'fs/peer':<13} {ratio(fs.send_ms, peer.send_ms):>12} "
        f"{ratio(fs.median_ms, peer.median_ms):>10} {ratio(fs.p95_ms, peer.p95_ms):>9} "
        f"{ratio(fs.drain_s, peer.drain_s):>8} "
        f"{ratio(fs.paced_median_ms or 0, peer.paced_median_ms or 0):>12}"
    )


def compare(a: float | None, b: float | None) -> str:
    """How time `a` compares with time `b` (lower is better)."""
    if not a or not b:
        return "n/a"
    return f"{b / a:.1f}x faster" if a <= b else f"{a / b:.1f}x slower"


def conclusion(fs: Result, peer: Result) -> str:
    if fs.after_kill == peer.after_kill:
        kill = f"after SIGKILL the unacked task was {fs.after_kill} on both"
    else:
        kill = (
            f"after SIGKILL the unacked task was {fs.after_kill} on filesystem, "
            f"{peer.after_kill} on sqla+sqlite"
        )
    return (
        f"Conclusion: vs sqla+sqlite, filesystem sends {compare(fs.send_ms, peer.send_ms)}, "
        f"picks up {compare(fs.paced_median_ms, peer.paced_median_ms)} when idle and "
        f"{compare(fs.median_ms, peer.median_ms)} in a burst (median); {kill}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=300, help="tasks per burst (default 300)")
    parser.add_argument("--paced", type=int, default=20, help="paced tasks, 100 ms apart")
    parser.add_argument(
        "--redelivery-wait", type=float, default=20.0, help="seconds to wait for a redelivery"
    )
    args = parser.parse_args(argv)
    if args.tasks < 1 or args.paced < 0:
        parser.error("--tasks must be >= 1 and --paced >= 0")

    # SIGTERM ends the benchmark through the finally blocks, which stop the workers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    mod = importlib.import_module("bench._broker_app")
    started = time.monotonic()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="crossfeed-broker-bench-") as tmp:
        bench = Bench(Path(tmp), mod)
        try:
            for kind in mod.KINDS:
                print(f"running {LABELS[kind]} ...", file=sys.stderr, flush=True)
                result = bench.run(kind, args.tasks, args.paced, args.redelivery_wait)
                results.append(result)
        except BenchError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        finally:
            bench.stop_all()

    print(
        f"{args.tasks} tasks per burst, {args.paced} paced; threads pool x{CONCURRENCY}, "
        f"acks_late, prefetch 1, polling 50 ms; {time.monotonic() - started:.0f} s in all"
    )
    for line in table(results):
        print(line)
    for r in results:
        print(f"{LABELS[r.kind]} right after SIGKILL: {r.broker_after_kill}")
    print(
        "note: burst latency is mostly queueing. A virtual-transport worker that holds its "
        f"{CONCURRENCY} prefetched messages sleeps a whole polling interval before fetching "
        "more, and each sqla send waits for a SQLite commit, which paces that sender."
    )
    print(conclusion(*results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
