"""Polling N feeds: cold, unchanged, 10% changed; against newsboat in the same run.

Feeds (2,000 by default, 30 Arabic items each) come from bench/_feeds.py on 50 loopback ports
with 20 ms of added latency. Crossfeed runs as in production: PostgreSQL, Redis, and poll
workers with as many concurrent polls in all as newsboat has reload threads (20). Printed:
wall time of each phase, newsboat's cold reload on the same feeds and the ratio, the share
of unchanged polls that ended without parsing, CPU per unchanged feed, and worker memory.

    .venv/bin/python bench/poll.py [--feeds 2000] [--threads 20] [--newsboat-unchanged]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._feeds import FeedFarm  # noqa: E402
from bench._stack import Stack, cpu_seconds, peak_rss_mib  # noqa: E402
from shared.models import Article, Source, utcnow  # noqa: E402


def run_newsboat(farm: FeedFarm, threads: int, workdir: Path, reloads: int) -> list[float]:
    urls = workdir / "urls"
    urls.write_text("\n".join(farm.url(n) for n in range(farm.count)) + "\n")
    config = workdir / "config"
    config.write_text(f"reload-threads {threads}\nmax-items 0\nshow-read-feeds yes\n")
    times = []
    for _ in range(reloads):
        started = time.monotonic()
        subprocess.run(
            ["newsboat", "-x", "reload", "-u", str(urls), "-C", str(config),
             "-c", str(workdir / "cache.db")],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800,
        )  # fmt: skip
        times.append(time.monotonic() - started)
    return times


class Crossfeed:
    """The poller as deployed: a fresh PostgreSQL database, Redis, poll workers and beat."""

    def __init__(self, farm: FeedFarm, threads: int, workdir: Path) -> None:
        self.farm = farm
        self.stack = Stack(
            workdir,
            fetch_allowed_hosts=",".join(farm.host_ports),
            poll_sweep_seconds="1",
            poll_per_host="4",
        )
        self.database = self.stack.database
        processes = 2  # one per core: parsing is CPU work and the GIL keeps it to one core each
        concurrency = str(max(1, threads // processes))
        self.workers = [
            self.stack.start(f"worker{i}", "worker", "--queues", "poll", "--pool", "threads",
                             "--concurrency", concurrency)
            for i in range(processes)
        ]  # fmt: skip
        self.beat = self.stack.start("beat", "beat")

    def add_sources(self) -> None:
        with self.database.session() as session:
            far = utcnow().replace(year=2100)
            session.add_all(
                Source(name=f"feed {n}", url=self.farm.url(n), language="ar", next_poll_at=far)
                for n in range(self.farm.count)
            )
            session.commit()

    def cpu(self) -> float:
        return sum(cpu_seconds(worker.pid) for worker in self.workers)

    def poll_all(self) -> float:
        """Make every source due and wait until each has been polled; the wall time."""
        started_at = utcnow()
        started = time.monotonic()
        with self.database.session() as session:
            session.execute(update(Source).values(next_poll_at=started_at, poll_lease_until=None,
                                                  poll_lease_token=None))  # fmt: skip
            session.commit()
        while True:
            with self.database.session() as session:
                done = (
                    session.scalar(select(func.count()).where(Source.last_polled_at >= started_at))
                    or 0
                )
            if done >= self.farm.count:
                return time.monotonic() - started
            self.stack.check_alive()
            time.sleep(0.2)

    def outcomes(self) -> dict[str, int]:
        with self.database.session() as session:
            rows = session.execute(
                select(Source.last_outcome, func.count()).group_by(Source.last_outcome)
            )
            return {outcome or "-": int(count) for outcome, count in rows}

    def outcomes_of(self, feeds: range) -> dict[str, int]:
        urls = [self.farm.url(n) for n in feeds]
        with self.database.session() as session:
            rows = session.execute(
                select(Source.last_outcome, func.count())
                .where(Source.url.in_(urls))
                .group_by(Source.last_outcome)
            )
            return {outcome or "-": int(count) for outcome, count in rows}

    def articles(self) -> int:
        with self.database.session() as session:
            return int(session.scalar(select(func.count()).select_from(Article)) or 0)

    def close(self) -> None:
        self.stack.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument(
        "--newsboat-unchanged",
        action="store_true",
        help="also time newsboat's second reload (slow: minutes)",
    )
    args = parser.parse_args()
    if shutil.which("newsboat") is None:
        print(
            "newsboat is missing: apt-get install newsboat (make bench installs it)",
            file=sys.stderr,
        )
        return 2
    farm = FeedFarm(args.feeds).start()
    workdir = Path(tempfile.mkdtemp(prefix="cf-bench-poll-"))
    crossfeed = None
    try:
        feed_kib = len(farm.document(0)[0]) / 1024
        print(
            f"{args.feeds} feeds x {farm.items} items ({feed_kib:.0f} KiB each) on "
            f"{len(farm.servers)} ports, {farm.latency * 1000:.0f} ms added latency; "
            f"{args.threads} concurrent polls each",
            file=sys.stderr,
        )
        (workdir / "newsboat").mkdir()
        boat = run_newsboat(
            farm, args.threads, workdir / "newsboat", 2 if args.newsboat_unchanged else 1
        )
        crossfeed = Crossfeed(farm, args.threads, workdir)
        crossfeed.add_sources()
        time.sleep(3)  # workers and beat start (not timed; the polls are)
        cold = crossfeed.poll_all()
        stored = crossfeed.articles()
        requests_before = farm.requests
        cpu_before = crossfeed.cpu()
        unchanged = crossfeed.poll_all()
        unchanged_cpu = crossfeed.cpu() - cpu_before
        skipped = crossfeed.outcomes()
        unchanged_requests = farm.requests - requests_before
        changed_feeds = farm.change(0.10)
        changed = crossfeed.poll_all()
        new = crossfeed.articles() - stored
        peak = max(peak_rss_mib(worker.pid) for worker in crossfeed.workers)
        # Memory bound: huge feeds, one under the body cap (parsed, entries capped) and one
        # over it (refused while streaming), several at once on every worker.
        sizes = {}
        for items, feeds in ((5000, range(0, 40, 2)), (20000, range(1, 40, 2))):
            farm.grow(feeds, items)
            sizes[items] = len(farm.document(feeds[0])[0]) / 2**20
        crossfeed.poll_all()
        big_outcomes = crossfeed.outcomes_of(range(40))
        big_peak = max(peak_rss_mib(worker.pid) for worker in crossfeed.workers)
    finally:
        if crossfeed is not None:
            crossfeed.close()
        farm.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    without_parse = skipped.get("not_modified", 0) + skipped.get("unchanged", 0)
    print(f"{'phase':34} {'crossfeed':>11} {'newsboat':>10} {'ratio':>7}")
    print(
        f"{'cold poll (' + str(args.feeds) + ' feeds, ' + str(stored) + ' stories)':34} "
        f"{cold:10.1f}s {boat[0]:9.1f}s {boat[0] / cold:6.2f}x"
    )
    second = (
        f"{boat[1]:9.1f}s {boat[1] / unchanged:6.2f}x" if len(boat) > 1 else f"{'-':>10} {'-':>7}"
    )
    print(f"{'nothing changed':34} {unchanged:10.1f}s {second}")
    label = f"10% changed ({changed_feeds} feeds, {new} new)"
    print(f"{label:34} {changed:10.1f}s")
    print(
        f"unchanged polls ended without parsing: {without_parse}/{unchanged_requests} "
        f"({100 * without_parse / max(1, unchanged_requests):.1f}%)"
    )
    print(
        f"CPU per unchanged feed: {1000 * unchanged_cpu / args.feeds:.2f} ms "
        f"(poll workers, {unchanged_cpu:.1f} s in all)"
    )
    print(f"worker peak memory: {peak:.0f} MiB per process")
    print(
        f"with 20 feeds of 5,000 items ({sizes[5000]:.1f} MiB) and 20 of 20,000 items "
        f"({sizes[20000]:.1f} MiB, over the body cap) polled at once: peak {big_peak:.0f} MiB "
        f"per process (bounded by threads x body cap + 6 x POLL_PARSE_BUDGET_MIB); "
        f"outcomes {big_outcomes}"
    )
    print(
        f"conclusion: cold poll {boat[0] / cold:.1f}x newsboat's speed "
        f"({'meets' if cold <= boat[0] else 'misses'} the target of no slower)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
