"""Random action sequences against the real handlers and database, checking the invariants:
nothing is published without an editor's approval of that exact translation version, and the
history is complete, ordered and chained."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.states import Role
from shared.editorial.actions import TranslationInput, take_action
from shared.errors import CrossfeedError
from shared.models import Article, OutboxEvent, User, WorkflowEntry
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import replace_settings
from tests.support.factories import make_article, make_source, make_user

START = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=50)  # claims last two steps and a bit; schedules fall due next step
PEOPLE = ("translator-a", "translator-b", "editor", "admin", "system")

# A step is either the article's natural next step (so sequences reach publication often) or
# any action by anyone; either may send a stale version or save a machine draft.
steps = st.lists(
    st.tuples(
        st.booleans(),  # the natural next step
        st.sampled_from(PEOPLE),
        st.sampled_from(list(wf.Action)),
        st.integers(0, 9).map(lambda n: n == 0),  # send a stale version (one in ten)
        st.integers(0, 4).map(lambda n: n == 0),  # a save is a machine draft (one in five)
    ),
    max_size=30,
)
NATURAL = {
    "new": ("translator-a", wf.Action.CLAIM),
    "in_review": ("editor", wf.Action.APPROVE),
    "approved": ("editor", wf.Action.SCHEDULE),
    "scheduled": ("system", wf.Action.PUBLISH_SCHEDULED),
    "published": ("admin", wf.Action.CORRECT),
    "withdrawn": ("editor", wf.Action.RESTORE),
    "discarded": ("editor", wf.Action.RESTORE),
}


def _natural(article: Article, users: dict[str, int], saved: bool) -> tuple[str, wf.Action]:
    if article.state == "translating":
        who = next((n for n, i in users.items() if i == article.assignee_id), "editor")
        return who, wf.Action.SUBMIT if saved else wf.Action.SAVE
    return NATURAL[article.state]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=steps)
def test_random_sequences_keep_the_invariants(
    database: Database,
    settings: Settings,
    sequence: list[tuple[bool, str, wf.Action, bool, bool]],
) -> None:
    settings = replace_settings(settings, claim_minutes=120)
    users = _users(database)
    article_id = make_article(database, make_source(database))
    successes = 0
    saved = False
    for step, (natural, anyone, any_action, stale, machine) in enumerate(sequence):
        now = START + STEP * step
        with UnitOfWork(database) as uow:
            article = uow.session.get_one(Article, article_id)
            who, action = _natural(article, users, saved) if natural else (anyone, any_action)
            user = uow.session.get(User, users[who]) if who != "system" else None
            version = article.lock_version
            request = wf.Request(action, note="a reason", assignee_id=users["translator-b"],
                                 at=now + STEP / 2)  # fmt: skip
            text = TranslationInput(f"Title {step}", body_html=f"<p>{step}</p>", machine=machine)
            try:
                take_action(uow, article_id, user, request, settings,
                            version - 1 if stale else version, text, now=now)  # fmt: skip
            except CrossfeedError:
                continue
            uow.commit()
            successes += 1
            saved = action == wf.Action.SAVE and not machine
            assert not stale, "a stale version was accepted"
    reached = _check(database, users, article_id, successes)
    event(f"reached {reached}")


def _users(database: Database) -> dict[str, int]:
    with UnitOfWork(database, read_only=True) as uow:
        found: dict[str, int] = dict(uow.session.execute(select(User.username, User.id)).all())
    if "editor" in found:
        return found
    roles = (Role.TRANSLATOR, Role.TRANSLATOR, Role.EDITOR, Role.ADMIN)
    return {
        name: make_user(database, name, role)[0]
        for name, role in zip(PEOPLE[:4], roles, strict=True)
    }


def _check(database: Database, users: dict[str, int], article_id: int, successes: int) -> str:
    """Check the invariants; the furthest state the article reached (for the statistics)."""
    editors = {users["editor"], users["admin"]}
    with UnitOfWork(database, read_only=True) as uow:
        article = uow.session.get_one(Article, article_id)
        history = uow.session.scalars(
            select(WorkflowEntry).where(WorkflowEntry.article_id == article_id)
            .order_by(WorkflowEntry.id)
        ).all()  # fmt: skip
        events = uow.session.scalar(
            select(func.count()).where(
                OutboxEvent.type == "article.transitioned",
                OutboxEvent.data["article_id"].as_integer() == article_id,
            )
        )
        # Complete: one entry and one event per successful action, and the version moved with each.
        assert len(history) == successes == events
        assert article.lock_version == 1 + successes
        # Ordered and chained: each entry starts where the last one ended; times never go back.
        state = "new"
        for entry in history:
            assert entry.from_state == state
            state = entry.to_state
        assert article.state == state
        assert [e.at for e in history] == sorted(e.at for e in history)
        # Nothing went out without an editor approving exactly that version, unchanged since.
        approved: int | None = None
        for entry in history:
            if entry.action in {"save", "correct", "discard"}:
                approved = None
            if entry.action == "approve":
                assert entry.actor_id in editors
                approved = entry.translation_id
            if entry.to_state == "published" and entry.from_state != "published":
                assert approved is not None
                assert entry.translation_id == approved
        if article.state == "published":
            assert article.approved_translation_id == article.current_translation_id
        # A published article stays live until withdrawn: never discarded from under readers.
        live = False
        for entry in history:
            if entry.to_state == "published":
                live = True
            if entry.action == "withdraw":
                live = False
            assert not (live and entry.to_state == "discarded"), "a live article was discarded"
        # Every publication and withdrawal told the publisher.
        told = dict(
            uow.session.execute(
                select(OutboxEvent.type, func.count())
                .where(
                    OutboxEvent.type.in_(["article.published", "article.withdrawn"]),
                    OutboxEvent.data["article_id"].as_integer() == article_id,
                )
                .group_by(OutboxEvent.type)
            ).all()
        )
        publications = sum(
            e.to_state == "published" and e.from_state != "published" for e in history
        )
        assert told.get("article.published", 0) == publications
        assert told.get("article.withdrawn", 0) == sum(e.action == "withdraw" for e in history)
        went_out = any(e.to_state == "published" for e in history)
        return "published" if went_out else article.state
