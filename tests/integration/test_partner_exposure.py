"""Nothing unapproved or withdrawn reaches a partner, and everything a partner's filters choose
does: a property over random articles from random outlets, taken through random workflow steps
by the real workflow code, with the enricher's and the publisher's handlers run after each step
as their consumers run them; then every partner-facing URL is fetched over HTTP (each format,
each page) and every webhook payload received is checked against a model of what editors
approved and published.

Every translation version carries markers of its own in its title, dek and body (MK<n>T,
MK<n>D, MK<n>B), and every source text one too (SRC<n>): a marker of anything but the version
the public sees must never appear in what a partner gets. Markers hold digits, so the keyword
extractor never makes a keyword of them, and they are upper case while slugs are lower case: a
canonical URL keeps the slug of the first published title on purpose.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, Phase, event, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from services.enricher.handlers import Tools, enrich_translation, tools_for
from services.enricher.tasks import TRANSLATION_ACTIONS
from services.publisher import handlers
from shared.admin.destinations import DestinationCreate, add_destination
from shared.admin.partners import (
    ALL_FORMATS,
    FeedFormat,
    PartnerCreate,
    PartnerFilters,
    add_partner,
)
from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.events import ArticlePublished, ArticleTransitioned, ArticleWithdrawn
from shared.domain.states import Role
from shared.editorial import keywords as keyword_edits
from shared.editorial.actions import TranslationInput, take_action
from shared.enrichment import keywords
from shared.errors import CrossfeedError
from shared.html import to_text
from shared.http import SafeClient
from shared.models import Article, Base, OutboxEvent, User, utcnow
from shared.publishing import feeds, ledger
from shared.publishing.render import entity_names, stable_id
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import replace_settings
from tests.support.factories import make_article, make_source, make_user
from tests.support.httpserver import LocalServer, Reply
from tests.support.web import WebServer

PEOPLE = ("translator-a", "translator-b", "editor", "admin", "system")
SOURCES = ("Syria TV", "Enab Baladi", "Orient News")
PLACES = ("Daraa", "Jasim", "Homs", "Idlib", "Aleppo")
TOPICS = {
    "bread": "Bread prices rose again at the market as traders waited for wheat.",
    "shelling": "Shelling killed two civilians and wounded three near the school.",
    "aid": "Aid convoys reached displaced families in the camps before winter.",
    "council": "The local council met residents to discuss the water network.",
}
CATEGORIES = ("Economy", "Security", "Humanitarian", "Daraa", "Homs", "Idlib", "Aleppo")
KEYWORDS = (*PLACES, "bread prices", "local council", "water network", "civilians")
WHSEC = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEYWORDS_STEP = "keywords"  # an editor's Helpful keywords: not a workflow action
STEP_TIME = dt.timedelta(minutes=1)

# Besides its forward step (`_forward`), an article's natural steps by state, so that sequences
# reach publication, corrections and withdrawals often; "assignee" is whoever holds it.
NATURAL: dict[str, list[tuple[str, wf.Action | str]]] = {
    "new": [("translator-a", wf.Action.CLAIM), ("editor", wf.Action.ASSIGN)],
    "translating": [("assignee", wf.Action.SAVE), ("assignee", wf.Action.SUBMIT),
                    ("assignee", wf.Action.SAVE), ("assignee", wf.Action.RELEASE)],
    "in_review": [("editor", wf.Action.APPROVE), ("editor", wf.Action.SAVE),
                  ("editor", wf.Action.REQUEST_CHANGES), ("editor", wf.Action.APPROVE),
                  ("editor", wf.Action.WITHDRAW)],  # a live article, during its correction
    "approved": [("editor", wf.Action.PUBLISH), ("editor", wf.Action.SCHEDULE),
                 ("editor", wf.Action.PUBLISH), ("editor", wf.Action.DISCARD)],
    "scheduled": [("system", wf.Action.PUBLISH_SCHEDULED), ("editor", wf.Action.UNSCHEDULE)],
    "published": [("editor", wf.Action.CORRECT), ("editor", wf.Action.WITHDRAW),
                  ("editor", KEYWORDS_STEP), ("editor", wf.Action.CORRECT),
                  ("editor", wf.Action.WITHDRAW)],
    "withdrawn": [("editor", KEYWORDS_STEP)],
    "discarded": [("editor", wf.Action.RESTORE)],
}  # fmt: skip


# ------------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class PartnerSpec:
    slug: str
    formats: tuple[FeedFormat, ...]
    filters: dict[str, Any]
    active: bool


@dataclass(frozen=True)
class Step:
    article: int  # an index into the scenario's articles
    kind: str  # "forward" (towards publication), "natural" (one of NATURAL) or "any"
    option: int  # which natural step
    who: str  # "any": anyone, taking any action
    action: wf.Action | str
    places: tuple[str, ...]  # what a saved version is about
    topic: str
    machine: bool  # a save is a machine draft
    keywords: tuple[str, ...]  # an editor's keyword edit
    refresh: bool = True  # the publisher renders stale feeds after this step (else later)


@dataclass(frozen=True, repr=False)
class Scenario:
    sources: tuple[str, ...]
    articles: tuple[int, ...]  # each article's source (an index into sources)
    partners: tuple[PartnerSpec, ...]
    steps: tuple[Step, ...]
    look_after: int  # partners' feeds are checked after this step too, not only at the end

    # Hypothesis prints every example's arguments: the short form, and `describe` in a note.
    def __repr__(self) -> str:
        return f"Scenario({len(self.articles)} articles, {len(self.steps)} steps)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def describe(self) -> str:
        """One line per step, for a failure's report."""
        lines = [f"sources {self.sources}, articles from {self.articles}, feeds checked after "
                 f"step {self.look_after} and at the end"]  # fmt: skip
        lines += [repr(partner) for partner in self.partners]
        for step in self.steps:
            what = {"forward": "forward", "natural": f"natural {step.option}"}.get(
                step.kind, f"{step.who} {step.action}"
            )
            lines.append(f"article {step.article}: {what} {step.places} {step.topic}"
                         f"{' machine' if step.machine else ''} {step.keywords}")  # fmt: skip
        return "\n".join(lines)


def _terms(values: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    """One or two of `values`, in any letter case (filters compare case-insensitively)."""
    cased = st.sampled_from(values).flatmap(lambda v: st.sampled_from((v, v.lower(), v.upper())))
    return st.lists(cased, min_size=1, max_size=2)


FILTERS: dict[str, st.SearchStrategy[Any]] = {
    "sources": _terms((*SOURCES, "Unknown Outlet")),
    "categories": _terms(CATEGORIES),
    "places": _terms(PLACES),
    "keywords": _terms(KEYWORDS),
    "language": st.sampled_from(("en", "ar")),
}
# No filter, one or two: with more, a partner would seldom get anything to check.
partner_filters = st.lists(st.sampled_from(sorted(FILTERS)), max_size=2, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({key: FILTERS[key] for key in keys})
)


places = st.lists(st.sampled_from(PLACES), max_size=2, unique=True).map(tuple)
topics = st.sampled_from(sorted(TOPICS))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    sources = tuple(draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3, unique=True)))
    articles = tuple(draw(st.lists(st.integers(0, len(sources) - 1), min_size=1, max_size=3)))
    partners = tuple(
        PartnerSpec(
            slug=f"p{n}",
            formats=tuple(draw(st.lists(st.sampled_from(ALL_FORMATS), min_size=1, unique=True))),
            # The first partner takes everything: each article's every state is checked.
            filters=draw(partner_filters) if n else {},
            active=n == 0 or draw(st.integers(0, 4)) != 0,
        )
        for n in range(draw(st.integers(1, 3)))
    )
    # A head start: each article first takes some forward steps (five reach publication).
    # The first is always published; `steps` then corrects, withdraws and so on.
    head_starts = [draw(st.sampled_from((5, 6, 8) if n == 0 else (0, 2, 4, 5, 6, 8)))
                   for n in range(len(articles))]  # fmt: skip
    steps = draw(
        st.lists(
            st.builds(
                Step,
                article=st.integers(0, len(articles) - 1),
                kind=st.sampled_from(("forward",) * 5 + ("natural",) * 3 + ("any",) * 2),
                option=st.integers(0, 11),
                who=st.sampled_from(PEOPLE),
                action=st.sampled_from([*wf.Action, KEYWORDS_STEP]),
                places=places,
                topic=topics,
                machine=st.integers(0, 5).map(lambda n: n == 0),
                keywords=st.lists(st.sampled_from(KEYWORDS), min_size=1, max_size=2).map(tuple),
                refresh=st.booleans(),
            ),
            min_size=4,
            max_size=20,
        )
    )
    forward = [
        Step(n, "forward", 0, "editor", wf.Action.CLAIM, draw(places), draw(topics), False, ())
        for n, count in enumerate(head_starts)
        for _ in range(count)
    ]
    everything = tuple(forward + steps)
    look_after = draw(st.integers(0, len(everything) - 1))
    return Scenario(sources, articles, partners, everything, look_after)


# ----------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Version:
    number: int  # its markers' number
    title: str
    dek: str
    body_html: str
    machine: bool

    def markers(self) -> dict[str, str]:
        return {part: f"MK{self.number:03d}{part}" for part in "TDB"}

    def text(self) -> str:
        """What the enricher reads of a translation (services/enricher/handlers.py)."""
        return "\n".join((self.title, self.dek, to_text(self.body_html)))


@dataclass(frozen=True)
class Meta:
    places: frozenset[str]
    categories: frozenset[str]
    tags: tuple[str, ...]


@dataclass
class Story:
    """What the model knows of an article, from the actions that succeeded."""

    article_id: int
    source: str
    source_marker: str
    versions: dict[int, Version] = field(default_factory=dict)  # by translation id
    approved: int | None = None
    public: int | None = None  # the version the public sees: approved, then published
    withdrawn: bool = False
    edited: list[str] | None = None  # an editor's keywords replace the computed ones
    saved: bool = False  # a person saved a version since it was claimed or reopened

    def meta(self, kit: Tools, names: dict[str, str]) -> Meta:
        """The metadata of the public version, computed as the enricher computes it."""
        assert self.public is not None
        text = self.versions[self.public].text()
        found = kit.gazetteer.find(text)
        tags = self.edited if self.edited is not None else keywords.keywords(text, "en", found)
        return Meta(
            places=frozenset(names.get(f.id, f.id) for f in found if f.type == "place"),
            categories=frozenset(kit.rules.categorise(text, found)),
            tags=tuple(tags),
        )


def chooses(filters: dict[str, Any], story: Story, meta: Meta, language: str) -> bool:
    """The partner's filters, as documented: every filter given must match, each by any of its
    values, names compared case-insensitively."""

    def any_of(wanted: list[str], have: Any) -> bool:
        return not wanted or bool({w.casefold() for w in wanted} & {h.casefold() for h in have})

    return (
        any_of(filters.get("sources", []), [story.source])
        and any_of(filters.get("categories", []), meta.categories)
        and any_of(filters.get("places", []), meta.places)
        and any_of(filters.get("keywords", []), meta.tags)
        and (not filters.get("language") or filters["language"] == language)
    )


@dataclass
class Room:
    """One example's world: the database, the model, and what the consumers have seen."""

    database: Database
    settings: Settings
    client: SafeClient
    receiver: LocalServer
    kit: Tools
    names: dict[str, str]
    users: dict[str, int]
    stories: list[Story]
    partners: dict[str, tuple[PartnerSpec, str]]  # slug -> (spec, feed token)
    markers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    seen_seq: int = 0
    hooks_read: dict[str, int] = field(default_factory=dict)
    got: dict[str, set[int]] = field(default_factory=dict)  # articles each webhook received

    def visible(self, story: Story, spec: PartnerSpec, ninjs: bool = False) -> bool:
        """The partner's feeds carry the article (NINJS also withdrawn ones, as canceled)."""
        if story.public is None or (story.withdrawn and not ninjs):
            return False
        meta = story.meta(self.kit, self.names)
        return chooses(spec.filters, story, meta, self.settings.mt_target_language)

    def forbidden(self, allowed: set[str]) -> set[str]:
        everything = {s.source_marker for s in self.stories}
        for story in self.stories:
            for version in story.versions.values():
                everything |= set(version.markers().values())
        return everything - allowed


# ---------------------------------------------------------------------------------- driving


def _empty(database: Database) -> None:
    """Every table emptied: each example starts from nothing (DELETE: with a few rows, much
    quicker than PostgreSQL's TRUNCATE of every table)."""
    with database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))


def _setup(world: World, scenario: Scenario) -> Room:
    database, settings = world.database, world.settings
    _empty(database)
    world.receiver.requests.clear()
    users = {
        name: make_user(database, name, role)[0]
        for name, role in zip(
            PEOPLE[:4], (Role.TRANSLATOR, Role.TRANSLATOR, Role.EDITOR, Role.ADMIN), strict=True
        )
    }
    source_ids = [make_source(database, name=name) for name in scenario.sources]
    stories = []
    for n, source in enumerate(scenario.articles, start=1):
        marker = f"SRC{n:03d}"
        article_id = make_article(
            database, source_ids[source], title=f"خبر {marker}", body=f"<p>نص الخبر {marker}</p>"
        )
        stories.append(Story(article_id, scenario.sources[source], marker))
    partners = {}
    with UnitOfWork(database) as uow:
        for spec in scenario.partners:
            partner, token = add_partner(
                uow,
                PartnerCreate(
                    slug=spec.slug,
                    name=spec.slug.upper(),
                    formats=list(spec.formats),
                    filters=PartnerFilters(**spec.filters),
                ),
            )
            partner.active = spec.active
            partners[spec.slug] = (spec, token)
            world.receiver.route(f"/hook/{spec.slug}", Reply(200))
            add_destination(
                uow,
                settings,
                DestinationCreate(
                    name=f"{spec.slug} webhook",
                    kind="webhook",
                    url=world.receiver.url(f"/hook/{spec.slug}"),
                    secret=WHSEC,
                    partner=spec.slug,
                ),
            )
        uow.commit()
    return Room(
        database,
        settings,
        world.client,
        world.receiver,
        world.kit,
        world.names,
        users,
        stories,
        partners,
    )


def _who_and_what(
    room: Room, story: Story, article: Article, step: Step
) -> tuple[str, wf.Action | str]:
    if step.kind == "any":
        return step.who, step.action
    who, action = (
        _forward(story, article.state, step.option)
        if step.kind == "forward"
        else NATURAL[article.state][step.option % len(NATURAL[article.state])]
    )
    if who == "assignee":
        who = next((n for n, i in room.users.items() if i == article.assignee_id), "editor")
    return who, action


def _forward(story: Story, state: str, option: int) -> tuple[str, wf.Action | str]:
    """The step that takes the article on: to publication, a correction, a withdrawal."""
    if state == "translating":
        return "assignee", wf.Action.SUBMIT if story.saved else wf.Action.SAVE
    if state == "in_review" and story.public is not None and not story.saved:
        return "editor", wf.Action.SAVE  # a correction: change the text first
    if state == "published" and story.public != min(story.versions) and option % 2:
        return "editor", wf.Action.WITHDRAW  # corrected once: now and then, the way out
    return {
        "new": ("translator-a", wf.Action.CLAIM),
        "in_review": ("editor", wf.Action.APPROVE),
        "approved": ("editor", wf.Action.PUBLISH),
        "scheduled": ("system", wf.Action.PUBLISH_SCHEDULED),
        "published": ("editor", wf.Action.CORRECT),
        "withdrawn": ("editor", KEYWORDS_STEP),
        "discarded": ("editor", wf.Action.RESTORE),
    }[state]


def _take(room: Room, step: Step, now: dt.datetime) -> str | None:
    """Take the step as the real code does; update the model if it succeeded. The action's
    name, or None when it was refused."""
    story = room.stories[step.article]
    with UnitOfWork(room.database) as uow:
        article = uow.session.get_one(Article, story.article_id)
        who, action = _who_and_what(room, story, article, step)
        user = uow.session.get(User, room.users[who]) if who != "system" else None
        if action == KEYWORDS_STEP:
            if user is None or not Role(user.role).includes(Role.EDITOR):
                return None  # the API refuses it (tests/integration/test_authorization.py)
            story.edited = keyword_edits.set_keywords(
                uow, story.article_id, user, list(step.keywords)
            )
            uow.commit()
            return KEYWORDS_STEP
        assert isinstance(action, wf.Action)
        number = next(room.markers)
        version = Version(
            number,
            title=f"{TOPICS[step.topic].split(' ', 2)[0]} news MK{number:03d}T",
            dek=f"MK{number:03d}D {' and '.join(step.places) or 'Syria'}",
            body_html=f"<p>MK{number:03d}B In {', '.join(step.places) or 'the north'}: "
            f"{TOPICS[step.topic]}</p>",
            machine=step.machine,
        )
        text = TranslationInput(version.title, version.dek, version.body_html, version.machine)
        request = wf.Request(
            action, note="a reason", assignee_id=room.users["translator-b"], at=now + STEP_TIME / 2
        )
        try:
            decided = take_action(
                uow, story.article_id, user, request, room.settings, None, text, now=now
            )
        except CrossfeedError:
            return None
        uow.commit()
        _remember(story, action, decided, version)
        return action.value


def _remember(story: Story, action: wf.Action, article: Article, version: Version) -> None:
    """The model's account of a successful action: which version is approved, which public."""
    live = story.public is not None
    story.saved = (action == wf.Action.SAVE and not version.machine) or (
        story.saved and action not in (wf.Action.CLAIM, wf.Action.CORRECT, wf.Action.ASSIGN)
    )
    if action == wf.Action.SAVE:
        assert article.current_translation_id is not None
        story.versions[article.current_translation_id] = version
        story.approved = None
    elif action == wf.Action.APPROVE:
        story.approved = article.current_translation_id
        if live and not story.withdrawn:  # approving a correction republishes it
            story.public = story.approved
    elif action in (wf.Action.PUBLISH, wf.Action.PUBLISH_SCHEDULED):
        story.public = story.approved
    elif action in (wf.Action.CORRECT, wf.Action.DISCARD):
        story.approved = None
    elif action == wf.Action.WITHDRAW:
        story.withdrawn = True


def _consume(room: Room, refresh: bool = True) -> None:
    """What the enricher's and the publisher's consumers do with the step's events: enrich a
    saved or submitted version, plan deliveries and send them, render the stale feeds (now, or
    after a later step, as when the refresh task waits in its queue)."""
    with UnitOfWork(room.database, read_only=True) as uow:
        events = [
            (e.seq, e.type, dict(e.data))
            for e in uow.session.scalars(
                select(OutboxEvent).where(OutboxEvent.seq > room.seen_seq).order_by(OutboxEvent.seq)
            )
        ]
    deliveries: list[int] = []
    for seq, kind, data in events:
        room.seen_seq = seq
        with UnitOfWork(room.database) as uow:
            if kind == ArticleTransitioned.type:
                if data["action"] in TRANSLATION_ACTIONS and data["translation_id"] is not None:
                    enrich_translation(uow, data["article_id"], room.kit)
            elif kind in (ArticlePublished.type, ArticleWithdrawn.type):
                action = (
                    ledger.Action.WITHDRAW
                    if kind == ArticleWithdrawn.type
                    else ledger.Action.CORRECT
                    if data["correction"]
                    else ledger.Action.PUBLISH
                )
                planned = handlers.plan(
                    uow, room.settings, data["article_id"], data["revision"], action
                )
                deliveries += planned.deliveries
            uow.commit()
    for delivery_id in deliveries:
        assert handlers.deliver(room.database, room.settings, room.client, delivery_id) in (
            "delivered",
            None,
        )
    if refresh:
        handlers.refresh_feeds(room.database, room.settings, None)


# ---------------------------------------------------------------------------------- checking


def _allowed(story: Story, body: bool) -> set[str]:
    """The markers a partner may see of this article: its public version's (title only for a
    withdrawn article, whose NINJS item carries no text)."""
    assert story.public is not None
    markers = story.versions[story.public].markers()
    return {markers["T"], markers["D"], markers["B"]} if body else {markers["T"]}


def _check_webhooks(room: Room, published_now: Story | None) -> None:
    """Each payload received since the last step: the public version only, a withdrawal with
    no text; and a publication the partner's filters choose has arrived."""
    for slug, (spec, _) in room.partners.items():
        hits = room.receiver.hits(f"/hook/{slug}")
        new, room.hooks_read[slug] = hits[room.hooks_read.get(slug, 0) :], len(hits)
        received = room.got.setdefault(slug, set())
        for hit in new:
            payload = json.loads(hit.body)
            data = payload["data"]
            story = next(s for s in room.stories if s.article_id == data["article_id"])
            where = (slug, payload["type"], story.article_id)
            if payload["type"] == "article.withdrawn":
                assert story.withdrawn, where
                assert not {"title", "body_html", "dek", "content_html"} & data.keys(), where
                allowed: set[str] = set()
            else:
                assert story.public is not None and not story.withdrawn, where
                assert spec.active and (
                    story.article_id in received or room.visible(story, spec)
                ), where
                version = story.versions[story.public]
                assert (data["title"], data["dek"]) == (version.title, version.dek), where
                assert version.markers()["B"] in data["body_html"], where
                meta = story.meta(room.kit, room.names)
                assert (
                    frozenset(data["places"]),
                    frozenset(data["categories"]),
                    tuple(data["tags"]),
                ) == (meta.places, meta.categories, meta.tags), where
                allowed = _allowed(story, body=True)
                received.add(story.article_id)
            leaked = {m for m in room.forbidden(allowed) if m in hit.body.decode()}
            assert not leaked, (where, leaked)
        if published_now is not None and spec.active and room.visible(published_now, spec):
            titles = [json.loads(h.body)["data"].get("title") for h in new]
            assert published_now.public is not None
            assert published_now.versions[published_now.public].title in titles, slug


@dataclass(frozen=True)
class Item:
    article_id: int
    title: str
    text: str  # everything else the item says
    tags: frozenset[str]  # categories and keywords (RSS and Atom: categories, NINJS: subjects)
    canceled: bool


def _fetch_all(world: World, room: Room, slug: str, file: str, token: str) -> list[bytes]:
    """Every page of one feed, following its next links."""
    pages: list[bytes] = []
    url: str | None = f"/feeds/{slug}/{file}"
    while url is not None:
        answer = world.web.get(url, token, timeout=30)
        assert answer.status_code == 200, (url, answer.text)
        pages.append(answer.content)
        assert len(pages) <= len(room.stories) + 1, "the next links never end"
        if file.endswith(".json"):
            url = json.loads(answer.content).get("next_url")
        else:
            links = feedparser.parse(answer.content).feed.get("links", [])
            url = next((link.href for link in links if link.rel == "next"), None)
        if url is not None:
            url = url.removeprefix(room.settings.public_url)
    return pages


def _items(room: Room, file: str, page: bytes) -> list[Item]:
    ids = {stable_id(room.settings, s.article_id): s.article_id for s in room.stories}
    if file == "feed.json":
        return [
            Item(
                ids[i["id"]],
                i["title"],
                json.dumps(i, ensure_ascii=False),
                frozenset(i["tags"]),
                canceled=False,
            )
            for i in json.loads(page)["items"]
        ]
    if file == "ninjs.json":
        return [
            Item(
                ids[i["uri"]],
                i["headlines"][0]["value"],
                json.dumps(i, ensure_ascii=False),
                frozenset(s["name"] for s in i["subjects"]),
                canceled=i["pubstatus"] == "canceled",
            )
            for i in json.loads(page)["items"]
        ]
    parsed = feedparser.parse(page)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [
        Item(
            ids[e.id],
            e.title,
            json.dumps(e, default=str, ensure_ascii=False),
            frozenset(t.term for t in e.get("tags", [])),
            canceled=False,
        )
        for e in parsed.entries
    ]


def _check_feeds(world: World, room: Room) -> None:
    """Every partner-facing URL, every page: exactly the articles the partner's filters choose
    among those live (NINJS: and withdrawn, as canceled, without text), each as its public
    version; nothing else, from no version but the public one."""
    for slug, (spec, token) in room.partners.items():
        for fmt, file in feeds.FILES.items():
            if not spec.active:
                assert world.web.get(f"/feeds/{slug}/{file}", token).status_code == 401
                continue
            if fmt not in spec.formats:
                assert world.web.get(f"/feeds/{slug}/{file}", token).status_code == 404
                continue
            ninjs = fmt == "ninjs"
            items: list[Item] = []
            allowed: set[str] = set()
            pages = _fetch_all(world, room, slug, file, token)
            for page in pages:
                items += _items(room, file, page)
            expected = {s.article_id: s for s in room.stories if room.visible(s, spec, ninjs)}
            seen = [item.article_id for item in items]
            assert sorted(seen) == sorted(expected), (slug, file, seen, sorted(expected))
            for item in items:
                story = expected[item.article_id]
                assert story.public is not None
                version = story.versions[story.public]
                meta = story.meta(room.kit, room.names)
                where = (slug, file, item.article_id)
                assert item.title == version.title, where
                assert item.canceled == story.withdrawn, where
                if story.withdrawn:  # NINJS only, as canceled: no body, no summary
                    assert version.markers()["B"] not in item.text, where
                    assert version.markers()["D"] not in item.text, where
                else:
                    assert version.markers()["B"] in item.text, where
                    assert version.markers()["D"] in item.text, where
                assert item.tags == meta.categories | set(meta.tags), where
                allowed |= _allowed(story, body=not story.withdrawn)
            document = b"".join(pages).decode()
            leaked = {m for m in room.forbidden(allowed) if m in document}
            assert not leaked, (slug, file, leaked)


# ------------------------------------------------------------------------------------ test


@dataclass(frozen=True, repr=False)  # Hypothesis repr()s it with each example
class World:
    """What lives across examples: the servers and the settings (the database is emptied)."""

    database: Database
    settings: Settings
    web: WebServer
    receiver: LocalServer
    client: SafeClient
    kit: Tools
    names: dict[str, str]

    def __repr__(self) -> str:
        return f"World({self.settings.database_url})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@pytest.fixture
def world(database: Database, settings: Settings, server: LocalServer) -> Iterator[World]:
    exposure = replace_settings(
        settings,
        site_url="https://news.example",
        feed_page_size=2,  # several pages with a handful of articles
        feeds_cache_seconds=0,
        feeds_rate_limit="",
        fetch_allowed_hosts=[server.host_port],
    )
    web = WebServer(exposure).start()
    client = SafeClient(exposure)
    yield World(
        database,
        exposure,
        web,
        server,
        client,
        tools_for(exposure),
        entity_names(tuple(exposure.gazetteer_files)),
    )
    client.close()
    web.stop()


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    # An example takes up to a second: shrinking a failure would take minutes. A failure is
    # reported as generated, one line per step (Scenario.describe).
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    # The fixtures are the servers and an empty database; each example empties it first.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios())
def test_partners_get_what_was_approved_and_published_and_nothing_else(
    world: World, scenario: Scenario
) -> None:
    note(scenario.describe())
    room = run(world, scenario)
    live = [s for s in room.stories if s.public is not None and not s.withdrawn]
    event(f"live articles: {len(live)}")
    event(f"withdrawn articles: {sum(s.withdrawn for s in room.stories)}")
    drafts = sum(max(s.versions) != s.public for s in live)
    event(f"live articles with a newer draft: {drafts}")
    chosen = sum(room.visible(s, spec) for s in live for spec, _ in room.partners.values())
    event(f"articles in a filtered partner's feeds: {chosen - len(live)}")


def run(world: World, scenario: Scenario) -> Room:
    """Play the scenario: the webhooks checked after each step, every feed after one step
    drawn at random and at the end."""
    room = _setup(world, scenario)
    start = utcnow()
    _consume(room)
    for n, step in enumerate(scenario.steps):
        story = room.stories[step.article]
        public_before = story.public
        taken = _take(room, step, start + STEP_TIME * n)
        _consume(room, step.refresh)
        published = taken is not None and story.public != public_before
        _check_webhooks(room, story if published else None)
        if n == scenario.look_after:
            handlers.refresh_feeds(room.database, room.settings, None)
            _check_feeds(world, room)
    handlers.refresh_feeds(room.database, room.settings, None)  # the beat's sweep, at last
    _check_feeds(world, room)
    return room
