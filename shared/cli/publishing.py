"""`crossfeed destinations|deliveries ...`: where published articles go, and what failed."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from shared.admin import destinations as destination_ops
from shared.domain.states import DeliveryState, DestinationKind
from shared.publishing import ledger

from .common import (
    console,
    err,
    esc,
    invalid_input,
    load_settings,
    print_last_line,
    unit_of_work,
    when,
)

destinations = typer.Typer(
    help="The newsroom's WordPress site and partners' webhooks.", no_args_is_help=True
)
deliveries = typer.Typer(
    help="The delivery ledger: list deliveries, replay dead ones.", no_args_is_help=True
)


@destinations.command("add")
def destinations_add(
    name: Annotated[str, typer.Argument(help="A name editors recognise, e.g. 'Our site'")],
    kind: Annotated[DestinationKind, typer.Option(help="wordpress or webhook")],
    url: Annotated[str, typer.Option(help="The site's address, or the webhook endpoint")],
    secret: Annotated[
        str | None,
        typer.Option(
            help="wordpress: user:application-password; webhook: whsec_... "
            "(default for a webhook: a new one, printed once)"
        ),
    ] = None,
    partner: Annotated[str | None, typer.Option(help="The partner a webhook is for")] = None,
) -> None:
    """Add a destination; every article published from now on is delivered to it."""
    try:
        data = destination_ops.DestinationCreate(
            name=name, kind=kind, url=url, secret=secret, partner=partner
        )
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    data, generated = destination_ops.with_signing_secret(data)
    with unit_of_work() as uow:
        destination = destination_ops.add_destination(uow, load_settings(), data)
        uow.commit()
        console.print(f"Added {destination.kind} destination [bold]{esc(destination.name)}[/bold] "
                      f"(id {destination.id}).")  # fmt: skip
        if generated:
            console.print("Its signing secret (shown once; give it to the receiver):")
            print_last_line(generated)


@destinations.command("list")
def destinations_list() -> None:
    """Every destination (credentials are never shown)."""
    with unit_of_work() as uow:
        table = Table("id", "name", "kind", "url", "enabled", "since")
        for d in destination_ops.list_destinations(uow):
            enabled = "yes" if d.enabled else f"no: {d.disabled_reason or ''}"
            table.add_row(str(d.id), esc(d.name), d.kind, esc(d.url), esc(enabled),
                          when(d.created_at))  # fmt: skip
        console.print(table)


@deliveries.command("list")
def deliveries_list(
    state: Annotated[DeliveryState | None, typer.Option(help="e.g. dead")] = None,
    article: Annotated[int | None, typer.Option(help="One article's deliveries")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Deliveries, newest first, with their state and last error."""
    with unit_of_work() as uow:
        rows = ledger.listing(uow.session, state=state, article_id=article, limit=limit)
    if not rows:
        console.print("No deliveries.")
        return
    table = Table("id", "article", "rev", "destination", "action", "state", "tries", "next",
                  "error")  # fmt: skip
    for r in rows:
        table.add_row(str(r.id), str(r.article_id), str(r.revision), esc(r.destination),
                      r.action, r.state, str(r.attempts), when(r.next_attempt_at),
                      esc((r.last_error or "")[:120]))  # fmt: skip
    console.print(table)


@deliveries.command("replay")
def deliveries_replay(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Dead deliveries (default: --all)")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead delivery")] = False,
) -> None:
    """Send dead deliveries again, from a fresh count of attempts (fix their cause first)."""
    if not ids and not all_:
        err.print("[red]Error:[/red] name the deliveries to replay, or pass --all")
        raise typer.Exit(2)
    with unit_of_work() as uow:
        count = ledger.replay(uow.session, None if all_ else ids)
        uow.commit()
    console.print(f"{count} deliver{'y' if count == 1 else 'ies'} will be sent again.")
