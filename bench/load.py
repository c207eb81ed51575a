"""Load: 200 partner pollers, an ingest burst of 5,000 articles and editors publishing, at once,
on Crossfeed as deployed, for a bounded time; against nginx and an unloaded pipeline.

Crossfeed runs as docker-compose.yml runs it, on PostgreSQL and Redis: `crossfeed web`, relay,
beat and one worker per queue (poll, enrich, review, publish; prefork, default concurrency),
with the production defaults (sweeps, caches, rate limits, INFO logs as JSON). On loopback:

- outlets (bench/_outlets.py): 50 RSS feeds of 100 distinct Arabic stories each, one port
  each, and a trickle outlet publishing one story at a time;
- partners (bench/_pollers.py, its own process, asyncio): 200, each with its own token and
  filters (none, places or categories) and one of the four formats, revalidating every
  `--poll-every` seconds with If-None-Match, every request's status and time noted;
- editors (bench/_editors.py): 4 desks taking queued articles to publication through the API
  (open, claim, save, submit, approve, publish), so partner feeds and a webhook keep changing;
- a webhook receiver (a destination for every published article).

The run: an unloaded trickle (stories published one at a time, each polled at once); then for
`--seconds` the pollers and editors at work, the trickle going on, and `--burst-after` seconds
in, an editor's "poll now" for every outlet (the burst); then a bounded drain, and the audit.

Printed: errors (target 0: pollers' non-200/304, editors' API errors, poll-now refusals, failed
polls, dead deliveries, stuck events, processes that died); feed latency p50/p95/p99; pipeline
latency from ingest (first_seen_at) to the desk (queued_at) for the burst, and how long the
burst took to reach the desk; publications, and how long after its publish call each
reached the webhook and an unfiltered partner's feed (bench/_freshness.py); CPU and memory of
each service. Peers measured in the same run: (a) nginx serving the same bytes as static files
to the same 200 pollers (same client, cadence, time); (b) the unloaded trickle's pipeline
latency.

    .venv/bin/python bench/load.py [--seconds 150] [--pollers 200] [--articles 5000] [--quick]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import func, select, text, update  # noqa: E402

from bench._editors import Editors  # noqa: E402
from bench._freshness import FeedWatcher  # noqa: E402
from bench._load_report import report  # noqa: E402
from bench._machine import CpuWatch, load_average  # noqa: E402
from bench._outlets import Outlets  # noqa: E402
from bench._pollers import Record  # noqa: E402
from bench._publishing import Desk  # noqa: E402
from bench._stack import SECRET, Stack, peak_rss_mib, process_tree, tree_cpu_seconds  # noqa: E402
from bench.feeds import free_port, nginx, wait_listening  # noqa: E402
from bench.publish import Receiver  # noqa: E402
from shared.admin.destinations import (  # noqa: E402
    DestinationCreate,
    add_destination,
    new_webhook_secret,
)
from shared.admin.partners import ALL_FORMATS, PartnerCreate, PartnerFilters, add_partner  # noqa: E402
from shared.admin.users import UserCreate, create_user  # noqa: E402
from shared.domain.states import DeliveryState, Role  # noqa: E402
from shared.models import (  # noqa: E402
    Article,
    Delivery,
    FeedDocument,
    OutboxEvent,
    Source,
    utcnow,
)
from shared.publishing.feeds import FILES  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.uow import UnitOfWork  # noqa: E402
from tests.support.api import Api  # noqa: E402

ROLES: dict[str, tuple[str, ...]] = {
    "web": ("web",),
    "relay": ("relay",),
    "beat": ("beat",),
    "poller": ("worker", "--queues", "poll"),
    "enricher": ("worker", "--queues", "enrich"),
    "review": ("worker", "--queues", "review"),
    "publisher": ("worker", "--queues", "publish"),
}
FILTERS = [
    PartnerFilters(),
    PartnerFilters(),
    PartnerFilters(places=["Daraa"]),
    PartnerFilters(categories=["Economy"]),
    PartnerFilters(places=["Idlib", "Aleppo"]),
]
SEEDED = 50  # articles published before the run, so partners' feeds start full
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


class Run:
    """Everything one run starts, all removed by `close`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="cf-bench-load-"))
        self.workdir.chmod(0o755)  # nginx's workers run as nobody
        per = args.articles // args.outlets
        self.outlets = Outlets(args.outlets, per).start()
        self.receiver = Receiver()
        self.port = free_port()
        hook_host = self.receiver.url.removeprefix("http://").split("/")[0]
        self.allowed = [*self.outlets.host_ports, hook_host]
        self.stack = Stack(
            self.workdir,
            environment="production",
            log_level="INFO",
            log_format="json",
            web_port=str(self.port),
            site_url="https://news.example",
            fetch_allowed_hosts=",".join(self.allowed),
        )
        self.database = self.stack.database
        self.settings = Settings(
            _env_file=None,
            database_url=self.stack.url,
            environment="test",
            secret_key=SECRET,
            data_dir=self.workdir / "var",
            site_url="https://news.example",
            fetch_allowed_hosts=self.allowed,
        )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.died: dict[str, int] = {}
        self.nginx: subprocess.Popen[bytes] | None = None
        self.pollers: subprocess.Popen[str] | None = None
        self.editors: Editors | None = None
        self.watcher: FeedWatcher | None = None

    def close(self) -> None:
        if self.editors is not None:
            self.editors.stop()
        if self.watcher is not None:
            self.watcher.stop()
        for process in (self.pollers, self.nginx):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)
        self.stack.close()
        self.outlets.stop()
        self.receiver.close()
        if self.args.keep:
            print(f"kept {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ setting up

    def seed(self) -> tuple[list[dict[str, str]], list[int], int, Api]:
        """Partners, sources, the webhook, a chief editor and published articles; returns
        the pollers' targets, the burst's source ids, the trickle's and the chief's API."""
        targets = []
        with UnitOfWork(self.database) as uow:
            for n in range(self.args.pollers):
                slug = f"partner-{n:03d}"
                _, token = add_partner(
                    uow,
                    PartnerCreate(
                        slug=slug, name=f"Partner {n}", filters=FILTERS[n % len(FILTERS)]
                    ),
                )
                targets.append(
                    {"slug": slug, "token": token, "file": FILES[ALL_FORMATS[n % len(ALL_FORMATS)]]}
                )
            add_destination(
                uow,
                self.settings,
                DestinationCreate(
                    name="partner hook",
                    kind="webhook",
                    url=self.receiver.url,
                    secret=new_webhook_secret(),
                ),
            )
            sources = [
                Source(name=f"Outlet {n}", url=self.outlets.url(n), language="ar", next_poll_at=FAR)
                for n in range(self.outlets.count)
            ]
            uow.session.add_all(sources)
            chief = create_user(uow, UserCreate(username="load-chief", role=Role.EDITOR))[1]
            uow.commit()
            ids = [s.id for s in sources]
        desk = Desk(self.database, self.settings)
        for n in range(SEEDED):
            desk.publish(desk.approved(f"Shelling in Jasim, Daraa: report {n}"))
        with UnitOfWork(self.database) as uow:  # the seeding desk's outlet is never polled
            uow.session.execute(
                update(Source).where(Source.id == desk.source).values(next_poll_at=FAR)
            )
            uow.commit()
        return targets, ids[:-1], ids[-1], Api(f"http://127.0.0.1:{self.port}", chief)

    def start_services(self) -> None:
        for role, args in ROLES.items():
            extra = ("--port", str(self.port)) if role == "web" else ()
            self.processes[role] = self.stack.start(role, *args, *extra)
        wait_listening(self.port)

    def backends(self) -> list[int]:
        """The PostgreSQL processes serving this run's database now."""
        with self.stack.admin.connect() as conn:
            rows = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                {"name": self.stack.name},
            )
            return [int(pid) for (pid,) in rows]

    def check(self) -> None:
        for role, process in self.processes.items():
            if process.poll() is not None and role not in self.died:
                self.died[role] = process.returncode
                print(f"!! {role} exited with {process.returncode}", file=sys.stderr)

    def wait(self, what: str, done: Any, timeout: float, interval: float = 0.5) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            self.check()
            if time.monotonic() > deadline:
                print(f"!! gave up waiting for {what} after {timeout:.0f} s", file=sys.stderr)
                return False
            time.sleep(interval)
        return True

    def warmed_up(self) -> bool:
        """The seeded articles reached the webhook and every partner's feeds are rendered."""
        with self.database.session() as session:
            documents = session.scalar(
                select(func.count()).select_from(FeedDocument).where(FeedDocument.stale.is_(False))
            )
        wanted = self.args.pollers * len(ALL_FORMATS)
        return len(self.receiver.arrived) >= SEEDED and (documents or 0) >= wanted

    def start_nginx(self) -> int:
        port = free_port()
        (self.workdir / "nginx" / "www").mkdir(parents=True)
        self.nginx = nginx(self.workdir / "nginx", port)
        wait_listening(port)
        return port

    # ------------------------------------------------------------------ the pipeline

    def queued_of(self, source_ids: list[int]) -> int:
        with self.database.session() as session:
            return int(
                session.scalar(
                    select(func.count()).where(
                        Article.source_id.in_(source_ids), Article.queued_at.is_not(None)
                    )
                )
                or 0
            )

    def latencies(
        self, source_ids: list[int], since: dt.datetime, until: dt.datetime | None = None
    ) -> list[float]:
        """first_seen_at -> queued_at of the sources' articles first seen in the window."""
        query = select(Article.first_seen_at, Article.queued_at).where(
            Article.source_id.in_(source_ids),
            Article.queued_at.is_not(None),
            Article.first_seen_at >= since,
        )
        if until is not None:
            query = query.where(Article.first_seen_at < until)
        with self.database.session() as session:
            return [(q - f).total_seconds() for f, q in session.execute(query) if q is not None]

    def trickle(self, api: Api, source_id: int, stories: int, pause: float) -> list[str]:
        """Publish `stories` on the trickle outlet one at a time, each polled now and waited
        for on the desk; returns the errors."""
        errors = []
        for _ in range(stories):
            before = self.queued_of([source_id])
            self.outlets.release()
            refused = ask_poll(api, source_id)
            if refused:
                errors.append(f"poll now: {refused}")
            elif not self.wait(
                "a trickle story",
                lambda b=before: self.queued_of([source_id]) > b,
                60,
                interval=0.05,
            ):
                errors.append("a trickle story did not reach the desk in 60 s")
            time.sleep(pause)
        return errors

    def settled(self, burst: list[int]) -> bool:
        with self.database.session() as session:
            open_events = session.scalar(
                select(func.count()).where(
                    OutboxEvent.completed_at.is_(None), OutboxEvent.stuck_reason.is_(None)
                )
            )
            moving = session.scalar(
                select(func.count()).where(
                    Delivery.state.in_(
                        [DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.FAILED]
                    )
                )
            )
        return self.queued_of(burst) >= self.outlets.stories and not open_events and not moving


def ask_poll(api: Api, source_id: int) -> str | None:
    """An editor's "poll now" (a new connection, as a browser makes after a while idle: the
    web closes idle ones after 5 s); None, or what went wrong."""
    try:
        answer = api.post(
            f"/api/v1/sources/{source_id}/poll", timeout=60, headers={"Connection": "close"}
        )
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if answer.status_code == 202 else f"{answer.status_code} {answer.text[:200]}"


def poll_now(api: Api, source_ids: list[int]) -> list[str]:
    """An editor's "poll now" for each source, ten at a time; the refusals."""
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        return [e for e in pool.map(lambda s: ask_poll(api, s), source_ids) if e]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=150, help="length of the load")
    parser.add_argument("--pollers", type=int, default=200)
    parser.add_argument("--articles", type=int, default=5000, help="the burst's stories")
    parser.add_argument("--outlets", type=int, default=50)
    parser.add_argument("--poll-every", type=float, default=15, help="each partner's cadence")
    parser.add_argument("--desks", type=int, default=4)
    parser.add_argument("--think", type=float, default=1.0, help="editors' pause between steps")
    parser.add_argument("--burst-after", type=float, default=10)
    parser.add_argument("--trickle", type=int, default=10, help="unloaded trickle stories")
    parser.add_argument("--trickle-every", type=float, default=5, help="during the load")
    parser.add_argument("--drain", type=float, default=300, help="bound on the wait after")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke check: 20 pollers, 10 outlets x 20 stories, 30 s",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.pollers, args.articles, args.outlets = 30, 20, 200, 10
        args.trickle, args.burst_after, args.drain = 3, 5, 60
    if shutil.which("nginx") is None:
        print("nginx is missing: scripts/ensure-services.sh --bench installs it", file=sys.stderr)
        return 2
    load_before = load_average()
    print(f"load average before: {load_before}", file=sys.stderr)
    run = Run(args)
    try:
        return measure(run, args, load_before)
    finally:
        run.close()


def measure(run: Run, args: argparse.Namespace, load_before: str) -> int:
    targets, burst, trickle_id, chief = run.seed()
    run.start_services()
    if not run.wait("the warm-up (seeded articles delivered, feeds rendered)", run.warmed_up, 300):
        return 1
    nginx_port = run.start_nginx()
    print("warm; unloaded trickle", file=sys.stderr)

    # Peer (b): the pipeline with nothing else going on.
    quiet_from = utcnow()
    trickle_errors = run.trickle(chief, trickle_id, args.trickle, pause=0.5)
    unloaded = run.latencies([trickle_id], quiet_from)

    # The load.
    config = {
        "targets": targets,
        "crossfeed_port": run.port,
        "nginx_port": nginx_port,
        "www": str(run.workdir / "nginx" / "www"),
        "interval": args.poll_every,
        "seconds": args.seconds,
        "seed": 7,
    }
    (run.workdir / "pollers.json").write_text(json.dumps(config))
    run.pollers = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bench._pollers import main; main()",
            str(run.workdir / "pollers.json"),
            str(run.workdir / "records.json"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert run.pollers.stdout is not None
    if run.pollers.stdout.readline().strip() != "ready":
        raise RuntimeError("the pollers did not start")
    print(f"load for {args.seconds:.0f} s", file=sys.stderr)
    started, load_from = time.monotonic(), utcnow()
    cpu_before = {role: tree_cpu_seconds(p.pid) for role, p in run.processes.items()}
    backends = run.backends()
    watch = CpuWatch()
    trees: dict[int, set[int]] = {}  # each service's processes seen (pool processes come, go)
    own_before = os.times()
    run.editors = Editors(
        f"http://127.0.0.1:{run.port}", run.database, args.desks, args.think
    ).start()
    unfiltered = targets[0]  # FILTERS[0]: every article
    run.watcher = FeedWatcher(
        f"http://127.0.0.1:{run.port}/feeds/{unfiltered['slug']}/feed.json", unfiltered["token"]
    ).start()
    stop_trickle = threading.Event()
    loaded_errors: list[str] = []

    def keep_trickling() -> None:
        while not stop_trickle.wait(args.trickle_every):
            run.outlets.release()
            refused = ask_poll(chief, trickle_id)
            if refused:
                loaded_errors.append(f"poll now: {refused}")

    trickler = threading.Thread(target=keep_trickling, daemon=True)
    trickler.start()
    time.sleep(args.burst_after)
    burst_at = utcnow()
    burst_wall = time.time()
    refused = poll_now(chief, burst)
    while time.monotonic() - started < args.seconds:
        run.check()
        backends += run.backends()
        for process in run.processes.values():
            trees.setdefault(process.pid, set()).update(process_tree(process.pid))
        watch.sample()
        time.sleep(1)
    stop_trickle.set()
    trickler.join(timeout=60)
    run.editors.stop()
    load_to = utcnow()
    cpu = {role: tree_cpu_seconds(p.pid) - cpu_before[role] for role, p in run.processes.items()}
    rss = {
        role: max((peak_rss_mib(pid) for pid in process_tree(p.pid)), default=0.0)
        for role, p in run.processes.items()
    }
    watch.stop()
    backends += run.backends()
    elapsed = time.monotonic() - started
    load_after = load_average()
    run.pollers.wait(timeout=120)
    own_after = os.times()
    records = [
        cast(Record, tuple(r)) for r in json.loads((run.workdir / "records.json").read_text())
    ]
    pollers_cpu = _child_cpu(own_before, own_after)
    print("draining", file=sys.stderr)
    drained = run.wait(
        "the burst and deliveries to settle", lambda: run.settled(burst), args.drain, interval=1
    )
    run.watcher.stop()
    reached = None  # when the burst's last story reached the review queue (wall clock)
    if run.queued_of(burst) >= run.outlets.stories:
        with run.database.session() as session:
            last = session.scalar(
                select(func.max(Article.queued_at)).where(Article.source_id.in_(burst))
            )
        if last is not None:
            reached = burst_wall + (last - burst_at).total_seconds()
    run.check()

    report(
        run,
        args,
        records,
        burst,
        trickle_id,
        {
            "unloaded": unloaded,
            "trickle_errors": trickle_errors + loaded_errors,
            "refused": refused,
            "burst_at": burst_at,
            "burst_wall": burst_wall,
            "reached": reached,
            "load_from": load_from,
            "load_to": load_to,
            "cpu": cpu,
            "rss": rss,
            "trees": trees,
            "elapsed": elapsed,
            "load_before": load_before,
            "watch": watch,
            "backends": backends,
            "load_after": load_after,
            "pollers_cpu": pollers_cpu,
            "drained": drained,
            "bench_cpu": (own_after.user - own_before.user)
            + (own_after.system - own_before.system),
        },
    )
    return 0


def _child_cpu(before: os.times_result, after: os.times_result) -> float:
    """CPU of this process's waited-for children (the pollers) between two os.times()."""
    return (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


if __name__ == "__main__":
    raise SystemExit(main())
