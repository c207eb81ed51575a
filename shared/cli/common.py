"""What every command shares: settings, console output, and turning errors into messages."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Iterator

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import OperationalError, ProgrammingError

from shared.db import Database, get_database
from shared.errors import CrossfeedError
from shared.settings import Settings, get_settings
from shared.uow import UnitOfWork

console = Console()
err = Console(stderr=True)


def esc(value: object) -> str:
    """User data shown through Rich: brackets in a name are text, not markup."""
    return escape(str(value))


def when(value: dt.datetime | None) -> str:
    """A time as the CLI's tables show it."""
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def invalid_input(exc: ValidationError) -> typer.Exit:
    """Each invalid field on its own line on stderr; the exit (2) to raise."""
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "input"
        err.print(f"[red]Invalid {esc(field)}:[/red] {esc(error['msg'])}")
    return typer.Exit(2)


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        err.print("[red]Configuration error[/red] (CROSSFEED_* variables or .env):")
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            err.print(f"  {esc(where)}: {esc(error['msg'])}")
        raise typer.Exit(2) from exc


def database() -> Database:
    return get_database(load_settings())


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show expected failures as one clear line on stderr and exit non-zero."""
    try:
        yield
    except CrossfeedError as exc:
        err.print(f"[red]Error:[/red] {esc(exc.detail)}")
        raise typer.Exit(1) from exc
    except (OperationalError, ProgrammingError) as exc:
        message = str(exc.orig) if exc.orig else str(exc)
        if "no such table" in message or "does not exist" in message:
            err.print("[red]Error:[/red] the database has no schema yet; run `crossfeed migrate`")
        else:
            err.print(f"[red]Error:[/red] cannot use the database: {esc(message.splitlines()[0])}")
        raise typer.Exit(1) from exc


@contextlib.contextmanager
def unit_of_work() -> Iterator[UnitOfWork]:
    with user_errors(), UnitOfWork(database()) as uow:
        yield uow


def print_last_line(value: object) -> None:
    """Scripts read the new id or token from the last line of output: keep it alone there."""
    console.file.flush()
    sys.stdout.write(f"{value}\n")
    sys.stdout.flush()
