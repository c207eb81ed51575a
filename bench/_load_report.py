"""bench/load.py's audit of a run and its printed figures."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from shared.domain.states import DeliveryState, PollOutcome
from shared.models import Article, Delivery, Enrichment, OutboxEvent, Source
from shared.publishing.render import stable_id

if TYPE_CHECKING:
    import argparse

    from bench._machine import CpuWatch
    from bench._pollers import Record
    from bench.load import Run


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.01 else f"{seconds * 1000:,.0f} ms"


def spread(values: list[float]) -> str:
    """Percentiles of times in seconds, in milliseconds."""
    if not values:
        return "none"
    return (
        f"p50 {ms(pct(values, 0.5))}, p95 {ms(pct(values, 0.95))}, p99 {ms(pct(values, 0.99))}, "
        f"max {ms(max(values))} (n={len(values):,})"
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "-"


# Celery's warning that the bench's workers run as root (this machine's user), not the product's.
ROOT_WARNING = (
    "SecurityWarning: You're running the worker with superuser",
    "absolutely not recommended",
    "specify a different user using the --uid",
    "User information: uid=0",
    "_warn_or_raise_security_error",
)


def log_problems(workdir: Path) -> dict[str, Counter[str]]:
    """Per service log, the lines at warning level or above, by event (JSON lines), and the
    lines that are not JSON (tracebacks, libraries writing to stderr)."""
    found: dict[str, Counter[str]] = {}
    for path in sorted(workdir.glob("*.log")):
        counts: Counter[str] = Counter()
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                if line.strip() and not any(known in line for known in ROOT_WARNING):
                    counts["(not JSON) " + line.strip()[:80]] += 1
                continue
            level = str(entry.get("level", "")).lower() if isinstance(entry, dict) else ""
            if level in ("warning", "error", "critical", "exception"):
                counts[f"{level}: {str(entry.get('event', ''))[:100]}"] += 1
        if counts:
            found[path.stem] = counts
    return found


WATCHED = ("poller.poll_source", "review.article_ingested", "enricher.article_ingested",
           "enricher.article_transitioned", "publisher.deliver",
           "publisher.refresh_feeds")  # fmt: skip
TASK_LINE = re.compile(r"Task (\S+)\[\S+\] succeeded in ([\d.]+)s")


def task_times(workdir: Path) -> dict[str, list[float]]:
    """Every task that succeeded, by name: its run time as Celery logged it."""
    times: dict[str, list[float]] = {}
    for path in sorted(workdir.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            found = TASK_LINE.search(line)
            if found:
                times.setdefault(found.group(1), []).append(float(found.group(2)))
    return times


def cpu_table(run: Run, m: dict[str, Any], requests: int) -> list[tuple[str, float, str]]:
    """CPU seconds during the load: each service (with its exited pool processes), this run's
    PostgreSQL backends, the rest of PostgreSQL, Redis, nginx, the load generator, and what
    is left of the machine's busy time (other work on the machine; processes that exited)."""
    watch: CpuWatch = m["watch"]
    rows = [(role, used, f"{m['rss'][role]:5.0f} MiB") for role, used in m["cpu"].items()]
    ours = set(m["backends"])
    postgres = [pid for pid in watch.pids_named("postgres") if pid not in ours]
    rows += [
        ("postgres, this database", watch.used(ours), "its backends, sampled each second"),
        ("postgres, the rest", watch.used(postgres), "its own processes; other databases"),
        ("redis-server", watch.used(watch.pids_named("redis-server")), "shared"),
        ("nginx (peer)", watch.used(watch.pids_named("nginx")), ""),
        ("pollers", m["pollers_cpu"], f"the load generator, {requests:,} requests"),
        ("bench", m["bench_cpu"], "outlets, editors, webhook receiver, audit"),
    ]
    mine = ours | set(postgres) | set(watch.pids_named("redis-server"))
    mine |= set(watch.pids_named("nginx")) | {os.getpid()}
    for process in [*run.processes.values(), run.pollers]:
        if process is not None:
            mine |= {process.pid, *m["trees"].get(process.pid, [])}
    heaviest = ", ".join(f"{name} {used:.0f} s" for name, used in watch.heaviest(mine))
    rows.append(("everything else", watch.busy - sum(r[1] for r in rows), f"e.g. {heaviest}"))
    return rows


def report(
    run: Run,
    args: argparse.Namespace,
    records: list[Record],
    burst: list[int],
    trickle_id: int,
    m: dict[str, Any],
) -> None:
    assert run.editors is not None
    editors = run.editors
    seconds = m["elapsed"]
    with run.database.session() as session:
        deliveries = Counter(
            dict(
                session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
            )
        )
        stuck = session.scalar(select(func.count()).where(OutboxEvent.stuck_reason.is_not(None)))
        open_events = Counter(
            dict(
                session.execute(
                    select(OutboxEvent.type, func.count())
                    .where(OutboxEvent.completed_at.is_(None))
                    .group_by(OutboxEvent.type)
                ).all()
            )
        )
        resent = session.scalar(select(func.count()).where(OutboxEvent.dispatch_count > 1))
        outcomes = Counter(
            dict(
                session.execute(
                    select(Source.last_outcome, func.count())
                    .where(Source.id.in_([*burst, trickle_id]))
                    .group_by(Source.last_outcome)
                ).all()
            )
        )
        poll_errors = list(
            session.scalars(
                select(Source.last_error).where(
                    Source.id.in_([*burst, trickle_id]), Source.last_outcome == PollOutcome.ERROR
                )
            )
        )
        ingested = session.scalar(select(func.count()).where(Article.source_id.in_(burst)))
        enriched = session.execute(
            select(func.count(), func.max(Enrichment.computed_at))
            .join(Article, Article.id == Enrichment.article_id)
            .where(Article.source_id.in_(burst), Enrichment.subject == "source")
        ).one()
        published = session.scalar(
            select(func.count()).where(Article.published_at >= m["load_from"])
        )
    burst_latency = run.latencies(burst, m["burst_at"])
    loaded_trickle = run.latencies([trickle_id], m["load_from"], m["load_to"])
    fleets = {f: [r for r in records if r[0] == f] for f in ("crossfeed", "nginx")}
    feed_errors = {f: [r for r in rs if r[4] not in (200, 304)] for f, rs in fleets.items()}
    editor_calls = sum(len(v) for v in editors.calls.values())
    editor_errors = sum(editors.errors.values())
    dead = deliveries.get(DeliveryState.DEAD, 0)
    failed_polls = outcomes.get(PollOutcome.ERROR, 0)
    errors = {
        "poller requests": len(feed_errors["crossfeed"]),
        "editor API calls": editor_errors,
        "poll-now refused": len(m["refused"]),
        "trickle": len(m["trickle_errors"]),
        "failed polls": failed_polls,
        "dead deliveries": dead,
        "stuck events": stuck or 0,
        "processes died": len(run.died),
        "feed watcher": run.watcher.errors if run.watcher else 0,
    }
    total = sum(errors.values())
    cores = os.cpu_count() or 1

    print(
        f"Crossfeed as deployed on PostgreSQL and Redis (web, relay, beat, a prefork worker "
        f"per queue), {cores} cores shared with PostgreSQL, Redis, nginx and the load "
        f"generator; load for {seconds:.0f} s"
    )
    print(
        f"  {args.pollers} partners (each its token; formats rss/atom/jsonfeed/ninjs in turn; "
        f"2 in 5 unfiltered), each polled every {args.poll_every:g} s with If-None-Match; "
        f"{args.outlets} outlets x {run.outlets.items} stories released at once "
        f"{args.burst_after:g} s in; {args.desks} desks publishing through the API; "
        f"1 webhook"
    )
    watch = m["watch"]
    print(
        f"  machine: load average {m['load_before']} before, {m['load_after']} at the end "
        f"of the load; CPU busy {watch.busy / (watch.wall * cores):.0%} of {cores} cores "
        f"during it ({cpu_table(run, m, len(records))[-1][1]:.0f} s of it not this run's)"
    )
    print(f"\nerrors: {total} (target 0): " + ", ".join(f"{k} {v}" for k, v in errors.items()))
    for sample in [*m["refused"][:2], *m["trickle_errors"][:2], *poll_errors[:2]]:
        print(f"  e.g. {sample}")
    for kind, sample in list(editors.samples.items())[:4]:
        print(f"  editors, {kind} x{editors.errors[kind]}: {sample}")
    for record in feed_errors["crossfeed"][:3]:
        print(f"  poller {record[1]}: status {record[4]} {record[6]} after {record[3]:.1f} s")
    if run.died:
        print(f"  died: {run.died}")
    print(
        f"  also: nginx answered {len(feed_errors['nginx'])} errors; events still open "
        f"{sum(open_events.values())} {dict(open_events) or ''}; events sent again {resent}; "
        f"deliveries {dict(deliveries)}; drained within {args.drain:g} s: "
        f"{'yes' if m['drained'] else 'NO'}"
    )

    print(f"\nfeeds, {args.pollers} pollers, each request a new connection:")
    window = (m["burst_wall"], m["reached"] or float("inf"))
    for fleet, rs in fleets.items():
        statuses = Counter(r[4] for r in rs)
        during = [r[3] for r in rs if window[0] <= r[2] <= window[1]]
        print(
            f"  {fleet + (' (peer)' if fleet == 'nginx' else ''):16} {len(rs):,} requests "
            f"({statuses.get(200, 0):,} 200, {statuses.get(304, 0):,} 304): "
            f"{spread([r[3] for r in rs])}"
        )
        by_status = "; ".join(
            f"{code}: p50 {ms(pct(v, 0.5))}, p95 {ms(pct(v, 0.95))}"
            for code in (200, 304)
            if (v := [r[3] for r in rs if r[4] == code])
        )
        print(f"  {'':16} {by_status}")
        print(f"  {'':16} while the burst went to the desk: {spread(during)}")
    ours, theirs = ([r[3] for r in fleets[f]] for f in ("crossfeed", "nginx"))
    print(
        f"  ratio crossfeed/nginx: p95 {_ratio(pct(ours, 0.95), pct(theirs, 0.95))}, "
        f"p50 {_ratio(pct(ours, 0.5), pct(theirs, 0.5))}"
    )

    print(
        "\npipeline, ingest (first_seen_at) to the review queue (queued_at; the desk's list "
        "shows an article from ingest on):"
    )
    print(
        f"  burst: {ingested:,} of {run.outlets.stories:,} stories ingested, "
        f"{len(burst_latency):,} on the desk: {spread(burst_latency)}"
    )
    reached = f"{m['reached'] - m['burst_wall']:.1f} s" if m["reached"] else "not all"
    stamp = enriched[1]
    last = f", the last {(stamp - m['burst_at']).total_seconds():.1f} s after" if stamp else ""
    print(
        f"  burst: poll now -> last story on the desk {reached}; {enriched[0]:,} of "
        f"{run.outlets.stories:,} enriched by the end{last}"
    )
    print(f"  trickle, unloaded (peer): {spread(m['unloaded'])}")
    print(f"  trickle, under the load:  {spread(loaded_trickle)}")
    base = pct(m["unloaded"], 0.95)
    print(
        f"  ratio loaded/unloaded p95: burst {_ratio(pct(burst_latency, 0.95), base)}, "
        f"trickle {_ratio(pct(loaded_trickle, 0.95), base)}"
    )

    arrivals = [
        run.receiver.arrived[a] - t
        for a, t in editors.published.items()
        if a in run.receiver.arrived
    ]
    calls = [v for values in editors.calls.values() for v in values]
    print(
        f"\ndesk: {len(editors.published)} articles published by {args.desks} desks "
        f"({published} in the database), {editor_calls:,} API calls: {spread(calls)}"
    )
    slowest = max(editors.calls.items(), key=lambda kv: pct(kv[1], 0.95), default=None)
    if slowest:
        print(f"  slowest call: {slowest[0]} p95 {ms(pct(slowest[1], 0.95))}")
    print(
        f"  webhook: {len(arrivals)} of {len(editors.published)} arrived; publish -> webhook "
        f"{spread(arrivals)}"
    )
    if run.watcher is not None:
        ids = {a: stable_id(run.settings, a) for a in editors.published}
        shown = [
            run.watcher.first_seen[ids[a]] - t
            for a, t in editors.published.items()
            if ids[a] in run.watcher.first_seen
        ]
        print(
            f"  partner feed (an unfiltered partner's JSON Feed, read every "
            f"{run.watcher.interval:g} s): {len(shown)} of {len(editors.published)} shown; "
            f"publish -> in the feed {spread(shown)}"
        )

    print(
        f"\nCPU during the {seconds:.0f} s of load (share of one core), and peak memory of "
        f"the largest process:"
    )
    for name, used, note in cpu_table(run, m, len(records)):
        print(f"  {name:22} {used:7.1f} s ({used / seconds:4.0%})  {note}")
    print("\ntasks, from the services' logs (wall time, queue wait excluded):")
    for name, times in task_times(run.workdir).items():
        if name in WATCHED:
            print(
                f"  {name:30} {len(times):6,}  p50 {pct(times, 0.5):6.2f} s, p95 "
                f"{pct(times, 0.95):6.2f} s, max {max(times):6.2f} s"
            )
    problems = log_problems(run.workdir)
    print(
        f"\nlog lines at warning or above (and not JSON), by service: {'' if problems else 'none'}"
    )
    for service, counts in problems.items():
        top = ", ".join(f"{k} x{n}" for k, n in counts.most_common(4))
        print(f"  {service}: {top}")
