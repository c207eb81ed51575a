"""`crossfeed sources|users|partners ...`: the admin operations, for operators and scripts."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from shared.admin import partners as partner_ops
from shared.admin import sources as source_ops
from shared.admin import users as user_ops
from shared.domain.states import Role

from .common import console, err, esc, invalid_input, print_last_line, unit_of_work, when

sources = typer.Typer(
    help="Add, inspect, pause, resume and poll the outlets' feeds.", no_args_is_help=True
)
users = typer.Typer(help="Create users of the editor API and UI.", no_args_is_help=True)
partners = typer.Typer(help="Partners who pull the outbound feeds.", no_args_is_help=True)


@sources.command("add")
def sources_add(
    name: Annotated[str, typer.Option(help="A name editors recognise, e.g. 'Syria TV'")],
    url: Annotated[str, typer.Option(help="The feed URL (RSS, Atom or JSON Feed)")],
    language: Annotated[str, typer.Option(help="BCP 47 language of the outlet")] = "ar",
    interval: Annotated[
        int | None,
        typer.Option(help="Pin the poll interval in minutes (default: adapts to the outlet)"),
    ] = None,
    attribution: Annotated[
        str | None, typer.Option(help="Credit line, e.g. 'Syria TV says' (default: '<name> says')")
    ] = None,
    full_text: Annotated[
        bool, typer.Option("--full-text", help="Summary-only feed: fetch each article's page")
    ] = False,
) -> None:
    """Add a source; prints its id alone on the last line."""
    try:
        data = source_ops.SourceCreate(
            name=name,
            url=url,
            language=language,
            interval_minutes=interval,
            attribution=attribution,
            full_text=full_text,
        )
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    with unit_of_work() as uow:
        source = source_ops.add_source(uow, data)
        uow.commit()
        console.print(f"Added source [bold]{esc(source.name)}[/bold]; its first poll is due now.")
        print_last_line(source.id)


@sources.command("update")
def sources_update(
    source: Annotated[str, typer.Argument(help="Id or name")],
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    interval: Annotated[int | None, typer.Option(help="Pin the poll interval in minutes")] = None,
    adaptive: Annotated[
        bool, typer.Option("--adaptive", help="Unpin: let the interval follow the outlet")
    ] = False,
    attribution: Annotated[str | None, typer.Option(help="A new credit line")] = None,
    full_text: Annotated[
        bool | None, typer.Option("--full-text/--no-full-text", help="Fetch article pages")
    ] = None,
) -> None:
    """Change a source's name, interval, credit line or full-text option."""
    if interval is not None and adaptive:
        err.print("[red]Error:[/red] --interval and --adaptive contradict each other")
        raise typer.Exit(2)
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = name
    if interval is not None or adaptive:
        changes["interval_minutes"] = interval
    if attribution is not None:
        changes["attribution"] = attribution
    if full_text is not None:
        changes["full_text"] = full_text
    if not changes:
        err.print("[red]Error:[/red] nothing to change; see --help")
        raise typer.Exit(2)
    try:
        data = source_ops.SourceUpdate.model_validate(changes)
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    with unit_of_work() as uow:
        s = source_ops.update_source(uow, source, data)
        uow.commit()
        console.print(f"Updated [bold]{esc(s.name)}[/bold].")


@sources.command("list")
def sources_list() -> None:
    """Every source with its health."""
    with unit_of_work() as uow:
        table = Table(
            "id", "name", "status", "last poll", "outcome", "failures", "next poll", "url"
        )
        for s in source_ops.list_sources(uow):
            table.add_row(
                str(s.id),
                esc(s.name),
                s.status,
                when(s.last_polled_at),
                s.last_outcome or "-",
                str(s.consecutive_failures),
                when(s.next_poll_at),
                esc(s.url),
            )
        console.print(table)


@sources.command("show")
def sources_show(source: Annotated[str, typer.Argument(help="Id or name")]) -> None:
    """One source in full, with its last error."""
    with unit_of_work() as uow:
        s = source_ops.find_source(uow, source)
        table = Table(show_header=False, box=None)
        for label, value in (
            ("id", s.id),
            ("name", s.name),
            ("url", s.url),
            ("language", s.language),
            ("attribution", s.attribution),
            ("status", s.status),
            ("paused because", s.paused_reason),
            ("host", s.host),
            (
                "interval (min)",
                f"{s.interval_minutes} (pinned)" if s.interval_minutes else "adaptive",
            ),
            ("full text", "yes" if s.full_text else "no"),
            ("identity", s.identity_rule + (f" ({s.identity_note})" if s.identity_note else "")),
            ("WebSub", s.websub_state + (f" via {s.websub_hub}" if s.websub_hub else "")),
            ("WebSub error", s.websub_error),
            ("previous URL", s.previous_url),
            ("last poll", when(s.last_polled_at)),
            ("last success", when(s.last_success_at)),
            ("last outcome", s.last_outcome),
            ("last HTTP status", s.last_status_code),
            ("last error", s.last_error),
            ("consecutive failures", s.consecutive_failures),
            ("next poll", when(s.next_poll_at)),
            ("ETag", s.etag),
            ("Last-Modified", s.last_modified),
            ("notes", s.last_notes),
            ("failed body kept", f"{len(s.last_failed_body)} bytes" if s.last_failed_body else "-"),
        ):
            table.add_row(f"[bold]{label}[/bold]", "-" if value is None else esc(value))
        console.print(table)


@sources.command("pause")
def sources_pause(
    source: Annotated[str, typer.Argument(help="Id or name")],
    reason: Annotated[str, typer.Option(help="Shown in source health")] = "paused by an operator",
) -> None:
    """Stop polling a source."""
    with unit_of_work() as uow:
        s = source_ops.pause_source(uow, source, reason)
        uow.commit()
        console.print(f"Paused [bold]{esc(s.name)}[/bold].")


@sources.command("resume")
def sources_resume(source: Annotated[str, typer.Argument(help="Id or name")]) -> None:
    """Resume polling (now), forgetting past failures."""
    with unit_of_work() as uow:
        s = source_ops.resume_source(uow, source)
        uow.commit()
        console.print(f"Resumed [bold]{esc(s.name)}[/bold]; polling now.")


@sources.command("poll")
def sources_poll(source: Annotated[str, typer.Argument(help="Id or name")]) -> None:
    """Poll a source now (the running workers pick it up)."""
    with unit_of_work() as uow:
        s = source_ops.request_poll(uow, source)
        uow.commit()
        console.print(f"Asked the poller to poll [bold]{esc(s.name)}[/bold] now.")


@users.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Login name")],
    role: Annotated[Role, typer.Option(help="What the user may do")],
    password: Annotated[
        str | None, typer.Option(help="For the web UI login (API tokens need none)")
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="Shown in the history")] = None,
) -> None:
    """Create a user; prints a new API token alone on the last line (shown once)."""
    try:
        data = user_ops.UserCreate(
            username=username, role=role, password=password, display_name=display_name
        )
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    with unit_of_work() as uow:
        user, token = user_ops.create_user(uow, data)
        uow.commit()
        console.print(f"Created {user.role} [bold]{user.username}[/bold]. API token (shown once):")
        print_last_line(token)


FilterOption = Annotated[str | None, typer.Option(help="Comma-separated; empty: any")]
LanguageOption = Annotated[str | None, typer.Option(help="Only articles in this language")]
FILTERS = ("sources", "categories", "places", "keywords")


def _filters(current: dict[str, object], **given: str | None) -> partner_ops.PartnerFilters:
    """The partner's filters with those given on the command line replaced ("" clears one)."""
    merged = dict(current)
    for name, value in given.items():
        if value is None:
            continue
        if name == "language":
            merged[name] = value.strip() or None
        else:
            merged[name] = [v.strip() for v in value.split(",") if v.strip()]
    return partner_ops.PartnerFilters.model_validate(merged)


def _formats(value: str) -> list[str]:
    return [f.strip() for f in value.split(",") if f.strip()]


@partners.command("add")
def partners_add(
    slug: Annotated[str, typer.Argument(help="Lower-case id used in feed URLs")],
    name: Annotated[str, typer.Option(help="The partner's name")],
    formats: Annotated[
        str, typer.Option(help="Comma-separated: rss,atom,jsonfeed,ninjs")
    ] = "rss,atom,jsonfeed,ninjs",
    sources: FilterOption = None,
    categories: FilterOption = None,
    places: FilterOption = None,
    keywords: FilterOption = None,
    language: LanguageOption = None,
) -> None:
    """Add a partner; prints its feed token alone on the last line (shown once)."""
    try:
        filters = _filters({}, sources=sources, categories=categories, places=places,
                           keywords=keywords, language=language)  # fmt: skip
        data = partner_ops.PartnerCreate(
            slug=slug, name=name, formats=_formats(formats), filters=filters
        )
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    with unit_of_work() as uow:
        partner, token = partner_ops.add_partner(uow, data)
        uow.commit()
        console.print(f"Added partner [bold]{partner.slug}[/bold]. Feed token (shown once):")
        print_last_line(token)


@partners.command("update")
def partners_update(
    slug: Annotated[str, typer.Argument(help="The partner's slug")],
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    formats: Annotated[str | None, typer.Option(help="Comma-separated formats")] = None,
    sources: FilterOption = None,
    categories: FilterOption = None,
    places: FilterOption = None,
    keywords: FilterOption = None,
    language: LanguageOption = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="--inactive closes its feeds")
    ] = None,
) -> None:
    """Change a partner's name, formats, filters (each given one replaced) or standing."""
    with unit_of_work() as uow:
        current = partner_ops.find_partner(uow, slug)
        given = {"sources": sources, "categories": categories, "places": places,
                 "keywords": keywords, "language": language}  # fmt: skip
        try:
            data = partner_ops.PartnerUpdate(
                name=name,
                formats=_formats(formats) if formats is not None else None,
                filters=_filters(current.filters, **given)
                if any(v is not None for v in given.values())
                else None,
                active=active,
            )
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        partner = partner_ops.update_partner(uow, slug, data)
        uow.commit()
        shown = ", ".join(f"{k}: {','.join(v) if isinstance(v, list) else v}"
                          for k, v in partner.filters.items()) or "everything"  # fmt: skip
        console.print(
            f"Partner [bold]{partner.slug}[/bold]: {'active' if partner.active else 'inactive'}, "
            f"formats {','.join(partner.formats)}, filters {esc(shown)}."
        )


@partners.command("token")
def partners_token(slug: Annotated[str, typer.Argument(help="The partner's slug")]) -> None:
    """A new feed token (shown once, alone on the last line); the old one stops working."""
    with unit_of_work() as uow:
        partner, token = partner_ops.rotate_token(uow, slug)
        uow.commit()
        console.print(f"New feed token for [bold]{partner.slug}[/bold] (shown once; the old "
                      "one no longer opens its feeds):")  # fmt: skip
        print_last_line(token)


@partners.command("list")
def partners_list() -> None:
    """Every partner (tokens are never shown again; only their first characters)."""
    with unit_of_work() as uow:
        table = Table("slug", "name", "formats", "token", "active", "since")
        for p in partner_ops.list_partners(uow):
            table.add_row(
                p.slug,
                esc(p.name),
                ",".join(p.formats),
                f"{p.token_prefix}...",
                "yes" if p.active else "no",
                when(p.created_at),
            )
        console.print(table)
