"""The duplicate index: story bands and clusters."""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from dataclasses import dataclass

import structlog
from sqlalchemy import (
    Select,
    String,
    Text,
    bindparam,
    cast,
    delete,
    func,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from shared.db import any_of, backend, insert_pairs, serialise, serialise_keys
from shared.enrichment.duplicates import StoryPrint, same_story
from shared.models import Article, Enrichment, StoryBand, table_of

log = structlog.get_logger(__name__)

MAX_CANDIDATES = 50  # verified per story, those sharing the most band keys first
PER_KEY = 30  # stories read per band key, the newest (PostgreSQL; see `_candidates`)

ARTICLES = table_of(Article)
ENRICHMENTS = table_of(Enrichment)
BANDS = table_of(StoryBand)


@dataclass(frozen=True)
class Story:
    """The article whose story is indexed: what candidates are chosen by, and the input hash
    of its enrichment (which determines its print)."""

    article_id: int
    source_id: int
    first_seen_at: dt.datetime
    input_hash: str


class _Prints:
    """Stored prints, decoded once per process: a story is a candidate of many that follow
    it in the window, and decoding its print each time cost more than verifying it (0.7 ms of
    a story's 50 candidates). Keyed by the enrichment's input hash, which determines the print
    (text, gazetteer and enricher version), so an entry never goes stale; the least recently
    used go first. A decoded print of a five-sentence story takes about 10 KiB."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._prints: dict[str, StoryPrint] = {}  # least recently used first
        self._lock = threading.Lock()  # the threads pool shares one cache

    def get(self, input_hash: str, stored: str) -> StoryPrint:
        with self._lock:
            found = self._prints.pop(input_hash, None)
        if found is None:
            found = StoryPrint.from_json(json.loads(stored))
        self.put(input_hash, found)
        return found

    def put(self, input_hash: str, print_: StoryPrint) -> None:
        with self._lock:
            self._prints.pop(input_hash, None)
            self._prints[input_hash] = print_
            if len(self._prints) > self.size:
                del self._prints[next(iter(self._prints))]


PRINTS = _Prints(2048)


_DELETE_BANDS = delete(BANDS).where(BANDS.c.article_id == bindparam("article_id"))
_CLUSTERS = select(ENRICHMENTS.c.article_id, ENRICHMENTS.c.cluster_id).where(
    ENRICHMENTS.c.subject == "source",
    ENRICHMENTS.c.article_id.in_(bindparam("matches", expanding=True)),
)
_MERGE = (
    update(ENRICHMENTS)
    .where(
        ENRICHMENTS.c.subject == "source",
        ENRICHMENTS.c.cluster_id.in_(bindparam("stale", expanding=True)),
    )
    .values(cluster_id=bindparam("cluster"))
)


@functools.cache
def _candidates(dialect: str) -> Select[int, str, str]:
    """Other outlets' stories in the window sharing a band key, those sharing the most first
    (a true retelling shares many bands, a chance collision one or two), at most
    MAX_CANDIDATES of them: the cost per story stays flat however many stories the window
    holds.

    On PostgreSQL each key gives at most PER_KEY stories, its newest, whatever their outlet or
    date, and only then are they counted and kept to the window: a key many stories share (a
    sentence outlets all repeat) tells them apart poorly, and reading all its stories made the
    lookup grow with the table. The window is applied after counting on purpose: new stories
    are past the end of the planner's statistics on `first_seen_at` (or there are none yet), so
    it took the window for a handful of rows, read the articles first and probed every key for
    each of them (3,320 articles x 51 keys: 360 ms a story, the enricher falling from 48 to 4
    stories a second after 2,000 stories). Reading at most PER_KEY rows per key, then each of
    those stories by its id, leaves it no such plan: about 3 ms, statistics or not. A
    retelling shares many keys, most of them rare, so it is still found. SQLite (the embedded
    mode, a small newsroom) reads every story of each key."""
    shared = func.count().label("shared")
    in_window = (
        ARTICLES.c.source_id != bindparam("source_id"),  # one outlet's repeats: not "also"
        ARTICLES.c.first_seen_at >= bindparam("since"),
        ARTICLES.c.first_seen_at <= bindparam("until"),
    )
    if dialect == "postgresql":
        keys = func.unnest(bindparam("keys", type_=ARRAY(String))).table_valued("key")
        key = keys.render_derived(name="k")
        hits = (
            select(BANDS.c.article_id)
            .where(BANDS.c.band_key == key.c.key)
            .order_by(BANDS.c.article_id.desc())  # the band index, read backwards
            .limit(PER_KEY)
            .lateral("hits")
        )
        counted = (
            select(hits.c.article_id, shared)
            .select_from(key)
            .join(hits, true())
            .group_by(hits.c.article_id)
            .subquery("counted")
        )
        # Each counted story looked up by its id (a LATERAL with a LIMIT is never flattened
        # into a join the planner could reorder: see above).
        kept = (
            select(ARTICLES.c.id)
            .where(ARTICLES.c.id == counted.c.article_id, *in_window)
            .limit(1)
            .lateral("kept")
        )
        best = (
            select(counted.c.article_id)
            .join(kept, true())
            .order_by(counted.c.shared.desc(), counted.c.article_id)
            .limit(MAX_CANDIDATES)
            .subquery()
        )
    else:
        best = (
            select(BANDS.c.article_id, shared)
            .join(ARTICLES, ARTICLES.c.id == BANDS.c.article_id)
            .where(any_of(dialect, BANDS.c.band_key, "keys"), *in_window)
            .group_by(BANDS.c.article_id)
            .order_by(shared.desc(), BANDS.c.article_id)
            .limit(MAX_CANDIDATES)
            .subquery()
        )
    return (
        # The print as text: decoded only when it is not in PRINTS.
        select(ENRICHMENTS.c.article_id, ENRICHMENTS.c.input_hash, cast(ENRICHMENTS.c.story, Text))
        .join(best, best.c.article_id == ENRICHMENTS.c.article_id)
        .where(ENRICHMENTS.c.subject == "source")
    )


def index_story(
    session: Session,
    story: Story,
    print_: StoryPrint,
    keys: list[str],
    window: dt.timedelta,
    indexed_before: bool = True,
) -> int:
    """Store the story's band keys (`keys`), find the other outlets' stories it duplicates and
    return its cluster id (merging their clusters when it joins two); the caller stores that id
    on the story's enrichment in the same transaction. Call it late in the transaction: the
    locks it takes are held until the commit. `indexed_before=False` (the article's first
    enrichment) skips removing bands it cannot have.

    Two locks keep concurrent workers right without making them take turns on every story:
    - each band key is locked (`serialise_keys`): two tellings enriched at the same moment
      share a key, so the second waits until the first's bands are committed and finds it;
      stories sharing no key cannot be candidates of each other, and go ahead in parallel;
    - a duplicate's cluster id is assigned under one lock, from cluster ids read under it: a
      story joining a cluster that another worker is merging away cannot keep the old id. That
      lock is held only from there to the commit, and only by stories with duplicates.
    """
    # With the locks: plan the candidates' lookup for its actual keys (see `custom_plans`).
    serialise_keys(session, "story-band", keys, custom_plans=True)
    if indexed_before:
        session.execute(_DELETE_BANDS, {"article_id": story.article_id})
    candidates = session.execute(
        _candidates(backend(session)),
        {
            "keys": keys,
            "source_id": story.source_id,
            "since": story.first_seen_at - window,
            "until": story.first_seen_at + window,
        },
    ).all()
    PRINTS.put(story.input_hash, print_)
    matches = [
        other
        for other, input_hash, stored in candidates
        if same_story(print_, PRINTS.get(input_hash, stored))
    ]
    insert_pairs(session, "story_bands", "band_key", keys, "article_id", story.article_id)
    clusters: set[int] = set()
    if matches:  # a story alone keeps its own id: nobody else can see it before the commit
        serialise(session, "story-clusters")
        rows = session.execute(_CLUSTERS, {"matches": matches})
        clusters = {cluster or other for other, cluster in rows}
    cluster_id = min(clusters | {story.article_id})
    stale = clusters - {cluster_id}
    if stale:  # this story joins clusters that were apart: they become one
        session.execute(_MERGE, {"stale": sorted(stale), "cluster": cluster_id})
    if matches:
        log.info(
            "duplicate_story",
            article_id=story.article_id,
            duplicates=sorted(matches),
            cluster_id=cluster_id,
            candidates=len(candidates),
        )
    return cluster_id
