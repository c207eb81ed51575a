"""The duplicate index: story bands and clusters."""

from __future__ import annotations

import datetime as dt

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from shared.db import custom_plans, insert_pairs, one_of, serialise, serialise_keys
from shared.enrichment.duplicates import StoryPrint, same_story
from shared.models import Article, Enrichment, StoryBand

log = structlog.get_logger(__name__)

MAX_CANDIDATES = 50  # verified per story, those sharing the most band keys first


def index_story(
    session: Session,
    article: Article,
    enrichment: Enrichment,
    print_: StoryPrint,
    keys: list[str],
    window: dt.timedelta,
) -> None:
    """Store the story's band keys (`keys`) and put it in a cluster with the other outlets'
    stories it duplicates (merging their clusters when it joins two). Call it last in the
    transaction: the locks it takes are held until the commit.

    Two locks keep concurrent workers right without making them take turns on every story:
    - each band key is locked (`serialise_keys`): two tellings enriched at the same moment
      share a key, so the second waits until the first's bands are committed and finds it;
      stories sharing no key cannot be candidates of each other, and go ahead in parallel;
    - a duplicate's cluster id is assigned under one lock, from cluster ids read under it: a
      story joining a cluster that another worker is merging away cannot keep the old id. That
      lock is held only from there to the commit, and only by stories with duplicates.
    """
    serialise_keys(session, "story-band", keys)
    session.execute(delete(StoryBand).where(StoryBand.article_id == article.id))
    # Candidates: other outlets' stories in the window sharing a band key, those sharing the
    # most first (a true retelling shares many bands, a chance collision one or two), at most
    # MAX_CANDIDATES of them: the cost per story stays flat however many stories the window
    # holds.
    custom_plans(session)
    shared = func.count().label("shared")
    ranked = (
        select(StoryBand.article_id, shared)
        .join(Article, Article.id == StoryBand.article_id)
        .where(
            one_of(session, StoryBand.band_key, keys),
            Article.source_id != article.source_id,  # one outlet's repeats are not "also"
            Article.first_seen_at >= article.first_seen_at - window,
            Article.first_seen_at <= article.first_seen_at + window,
        )
        .group_by(StoryBand.article_id)
        .order_by(shared.desc(), StoryBand.article_id)
        .limit(MAX_CANDIDATES)
        .subquery()
    )
    candidates = session.execute(
        select(Enrichment.article_id, Enrichment.story)
        .join(ranked, ranked.c.article_id == Enrichment.article_id)
        .where(Enrichment.subject == "source")
    ).all()
    matches = [
        other for other, story in candidates if same_story(print_, StoryPrint.from_json(story))
    ]
    insert_pairs(session, "story_bands", "band_key", keys, "article_id", article.id)
    clusters: set[int] = set()
    if matches:  # a story alone keeps its own id: nobody else can see it before the commit
        serialise(session, "story-clusters")
        rows = session.execute(
            select(Enrichment.article_id, Enrichment.cluster_id).where(
                Enrichment.subject == "source", Enrichment.article_id.in_(matches)
            )
        )
        clusters = {cluster or other for other, cluster in rows}
    cluster_id = min(clusters | {article.id})
    stale = clusters - {cluster_id}
    if stale:  # this story joins clusters that were apart: they become one
        session.execute(
            update(Enrichment)
            .where(Enrichment.subject == "source", Enrichment.cluster_id.in_(stale))
            .values(cluster_id=cluster_id)
        )
    enrichment.cluster_id = cluster_id
    if matches:
        log.info(
            "duplicate_story",
            article_id=article.id,
            duplicates=sorted(matches),
            cluster_id=cluster_id,
            candidates=len(candidates),
        )
