"""`crossfeed outbox stuck|retry`: events the relay gave up redelivering, for an operator."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from shared.outbox import retry_stuck, stuck_events

from .common import console, database, err, esc, user_errors, when

outbox = typer.Typer(
    help="Events that no consumer acknowledged: list and retry them.", no_args_is_help=True
)


@outbox.command("stuck")
def stuck() -> None:
    """Events redelivery gave up on, with the reason."""
    with user_errors():
        events = stuck_events(database())
    if not events:
        console.print("No stuck events.")
        return
    table = Table("event", "type", "created", "dispatches", "reason")
    for event in events:
        table.add_row(
            event.id,
            event.type,
            when(event.created_at),
            str(event.dispatch_count),
            esc(event.stuck_reason or ""),
        )
    console.print(table)


@outbox.command("retry")
def retry(
    event_ids: Annotated[
        list[str] | None, typer.Argument(help="Event ids (default: --all)")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Retry every stuck event")] = False,
) -> None:
    """Send stuck events again to every consumer (those that processed them ignore them)."""
    if not event_ids and not all_:
        err.print("[red]Error:[/red] name the events to retry, or pass --all")
        raise typer.Exit(2)
    with user_errors():
        count = retry_stuck(database(), None if all_ else event_ids)
    console.print(f"{count} event(s) will be sent again.")
