"""`crossfeed status`: queue depths, outbox backlog, source health, articles, deliveries."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.table import Table

from shared.celery_app import create_celery_app
from shared.status import collect_status

from .common import console, database, esc, load_settings, user_errors


def _ago(value: dt.datetime | None) -> str:
    if value is None:
        return "never"
    seconds = (dt.datetime.now(dt.UTC) - value).total_seconds()
    if seconds < 0:
        return f"in {_span(-seconds)}"
    return f"{_span(seconds)} ago"


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """What the system is doing now."""
    settings = load_settings()
    with user_errors():
        report = collect_status(database(), create_celery_app(settings))
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "articles": report.articles_by_state,
                    "queued_for_review": report.queued_for_review,
                    "queues": report.queues,
                    "broker_error": report.broker_error,
                    "outbox": vars(report.outbox),
                    "sources": [
                        {
                            **vars(s),
                            "last_polled_at": s.last_polled_at and s.last_polled_at.isoformat(),
                            "next_poll_at": s.next_poll_at.isoformat(),
                        }
                        for s in report.sources
                    ],
                }
            )
        )
        return
    console.print(
        f"[bold]Articles[/bold]: {report.articles} "
        f"({report.queued_for_review} new on the desk for translators)"
    )
    console.print(
        "  " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.articles_by_state.items())
    )
    if report.queues is None:
        console.print(
            f"[bold]Queues[/bold]: [red]broker unreachable[/red] ({esc(report.broker_error)})"
        )
    else:
        console.print(
            "[bold]Queues[/bold]: " + ", ".join(f"{k} {v}" for k, v in report.queues.items())
        )
    box = report.outbox
    oldest = f", oldest {box.oldest_pending_seconds:.0f}s" if box.oldest_pending_seconds else ""
    stuck = f", [red]{box.stuck} stuck[/red]" if box.stuck else ""
    console.print(
        f"[bold]Outbox[/bold]: {box.pending} to send{oldest}, "
        f"{box.in_flight} awaiting consumers{stuck}"
    )
    table = Table(
        "source",
        "status",
        "last poll",
        "outcome",
        "articles",
        "next poll",
        "error",
        title="Sources",
    )
    for s in report.sources:
        style = "red" if s.status == "paused" or s.consecutive_failures else None
        table.add_row(
            esc(s.name),
            s.status,
            _ago(s.last_polled_at),
            s.last_outcome or "-",
            str(s.articles),
            _ago(s.next_poll_at),
            esc((s.paused_reason or s.last_error or "")[:80]),
            style=style,
        )
    console.print(table)
    if report.deliveries:
        deliveries = Table(
            "article",
            "destination",
            "action",
            "state",
            "attempts",
            "error",
            title="Recent deliveries",
        )
        for d in report.deliveries:
            deliveries.add_row(
                str(d.article_id),
                esc(d.destination),
                d.action,
                d.state,
                str(d.attempts),
                esc((d.last_error or "")[:60]),
            )
        console.print(deliveries)
    else:
        console.print("[bold]Deliveries[/bold]: none yet")
