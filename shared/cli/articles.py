"""`crossfeed articles ...`: the main editor actions, for operators and scripts.

Actions are taken as a named user (`--as`), with the same rules, history and events as the API.
`--version` makes an action conditional on the article's lock_version, like the API; without
it the action applies to the article as it is now.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import aliased

from shared.admin.users import find_user
from shared.domain import workflow as wf
from shared.domain.states import ArticleState
from shared.editorial.actions import get_article, history, take_action
from shared.errors import Invalid, NotFound
from shared.models import Article, ArticleRevision, Source, Translation, User

from .common import console, esc, load_settings, unit_of_work, when

articles = typer.Typer(help="List, show and move articles through review.", no_args_is_help=True)

AsUser = Annotated[str, typer.Option("--as", help="The username to act as")]
Version = Annotated[
    int | None, typer.Option(help="Act only if the article's lock_version is still this")
]
Note = Annotated[str | None, typer.Option(help="Why (recorded in the history)")]


@articles.command("list")
def list_articles(
    state: Annotated[ArticleState | None, typer.Option(help="Only this state")] = None,
    assignee: Annotated[str | None, typer.Option(help="Only this translator's")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """The newest articles, one a line."""
    with unit_of_work() as uow:
        person = aliased(User)
        stmt = (
            select(Article, Source.name, ArticleRevision.title, person.username)
            .join(Source, Source.id == Article.source_id)
            .outerjoin(ArticleRevision, ArticleRevision.id == Article.current_revision_id)
            .outerjoin(person, person.id == Article.assignee_id)
            .order_by(Article.id.desc())
            .limit(limit)
        )
        if state is not None:
            stmt = stmt.where(Article.state == state)
        if assignee:
            stmt = stmt.where(person.username == assignee)
        table = Table("id", "state", "v", "source", "title", "assignee", "flag")
        for article, source, title, who in uow.session.execute(stmt):
            table.add_row(str(article.id), article.state, str(article.lock_version), esc(source),
                          esc((title or "")[:60]), esc(who or "-"),
                          "source changed" if article.source_revised else "")  # fmt: skip
        console.print(table)


@articles.command("show")
def show(article_id: Annotated[int, typer.Argument(help="The article's id")]) -> None:
    """One article: state, translation, and its history."""
    with unit_of_work() as uow:
        article = get_article(uow, article_id)
        revision = uow.session.get(ArticleRevision, article.current_revision_id or -1)
        translation = uow.session.get(Translation, article.current_translation_id or -1)
        assignee = uow.session.get(User, article.assignee_id or -1)
        console.print(f"[bold]#{article.id}[/bold] {esc(revision.title if revision else '')}")
        console.print(f"  state        {article.state} (lock_version {article.lock_version})")
        console.print(f"  assignee     {esc(assignee.username if assignee else '-')}")
        if article.source_revised:
            console.print("  [yellow]the outlet changed the story during work[/yellow]")
        if translation is not None:
            machine = " (machine draft)" if translation.machine else ""
            console.print(
                f"  translation  v{translation.number}{machine}: {esc(translation.title)}"
            )
        if article.scheduled_for:
            console.print(f"  scheduled    {when(article.scheduled_for)}")
        table = Table("when", "who", "action", "from", "to", "note")
        for entry, who in history(uow, article.id):
            table.add_row(
                when(entry.at),
                esc(who or "system"),
                entry.action,
                entry.from_state or "-",
                entry.to_state,
                esc(entry.note or ""),
            )
        console.print(table)


def _act(
    article_id: int,
    username: str,
    action: wf.Action,
    version: int | None,
    note: str | None = None,
) -> None:
    settings = load_settings()
    with unit_of_work() as uow:
        try:
            user = find_user(uow, username)
        except NotFound:
            user = None
        if user is None or not user.active:
            raise Invalid(f"no active user {username!r}")
        article = take_action(uow, article_id, user, wf.Request(action, note=note), settings,
                              version)  # fmt: skip
        uow.commit()
        console.print(f"#{article_id}: {action.value} done; the article is now {article.state}")


@articles.command("claim")
def claim(article_id: int, as_user: AsUser, version: Version = None) -> None:
    """Take a new article to translate."""
    _act(article_id, as_user, wf.Action.CLAIM, version)


@articles.command("submit")
def submit(article_id: int, as_user: AsUser, version: Version = None) -> None:
    """Send the translation for review."""
    _act(article_id, as_user, wf.Action.SUBMIT, version)


@articles.command("approve")
def approve(article_id: int, as_user: AsUser, version: Version = None) -> None:
    """Approve the translation in review (editors)."""
    _act(article_id, as_user, wf.Action.APPROVE, version)


@articles.command("publish")
def publish(article_id: int, as_user: AsUser, version: Version = None) -> None:
    """Publish an approved article now (editors)."""
    _act(article_id, as_user, wf.Action.PUBLISH, version)


@articles.command("withdraw")
def withdraw(
    article_id: int,
    as_user: AsUser,
    note: Annotated[str, typer.Option(help="Why it is withdrawn (required)")],
    version: Version = None,
) -> None:
    """Take a published article down everywhere (editors)."""
    _act(article_id, as_user, wf.Action.WITHDRAW, version, note)
