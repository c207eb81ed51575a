"""The enricher on real databases: what it stores for a source text and a translation, the
duplicate clusters and related articles it indexes, and idempotent re-runs."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from services.enricher import stories
from services.enricher.handlers import Tools, enrich_source, enrich_translation, tools
from shared.db import Database
from shared.domain.states import ArticleState, Role
from shared.enrichment import related
from shared.enrichment.duplicates import band_keys, signature, story_print
from shared.models import Article, ArticleTerm, Enrichment, OutboxEvent, Source, StoryBand
from shared.uow import UnitOfWork
from tests.support.factories import make_article, make_source, make_translation, make_user

DISCLAIMER = "Translated and edited by {newsroom}; the views are {author}'s."

# One story told by two outlets in their own words, and another story from the same town.
STORY_1 = (
    "مقتل مدنيين اثنين وإصابة خمسة بقصف مدفعي على مدينة جاسم في ريف درعا الشمالي",
    "<p>قتل مدنيان اثنان وأصيب خمسة آخرون، صباح الثلاثاء، جراء قصف مدفعي استهدف الحي الشرقي "
    "من مدينة جاسم في ريف درعا الشمالي، بحسب ما أفاد الدفاع المدني السوري. وقال الدفاع المدني "
    "إن فرقه نقلت المصابين الخمسة إلى مستشفى نوى الوطني، وإن القصف دمر منزلين.</p>",
)
STORY_1_RETOLD = (
    "قصف مدفعي يقتل مدنيين اثنين ويصيب خمسة في جاسم شمالي درعا",
    "<p>أفاد الدفاع المدني السوري بمقتل مدنيين اثنين وإصابة خمسة آخرين بقصف مدفعي طال الحي "
    "الشرقي لمدينة جاسم شمالي درعا صباح الثلاثاء. ونقلت فرق الدفاع المدني المصابين الخمسة إلى "
    "مستشفى نوى الوطني، فيما دمر القصف منزلين في الحي.</p>",
)
OTHER_STORY = (
    "افتتاح سوق شعبي جديد في مدينة نوى بريف درعا",
    "<p>افتتح المجلس المحلي في مدينة نوى بريف درعا الغربي سوقا شعبيا جديدا يضم 300 محل، "
    "وقال رئيس المجلس إن السوق سيخفض أسعار الخضار بنسبة 20 بالمئة.</p>",
)

# A story sharing nothing with STORY_1: another place, other figures, other words.
FAR_STORY = (
    "ميناء اللاذقية يستقبل أول شحنة قمح هذا الشتاء",
    "<p>وصلت إلى ميناء اللاذقية باخرة تحمل 27 ألف طن من القمح، وقالت إدارة الميناء إن تفريغ "
    "الشحنة يستغرق أسبوعا وإن الطحين سيوزع على المخابز في الساحل.</p>",
)


def _band_keys(story: tuple[str, str]) -> set[str]:
    text = f"{story[0]}\n{story[1]}"
    gazetteer = kit().gazetteer
    return set(band_keys(signature(story_print(text, gazetteer, gazetteer.find(text)))))


def kit(gazetteer: list[Path] | None = None, window_hours: int = 72) -> Tools:
    return tools(
        gazetteer_files=tuple(gazetteer or ()),
        newsroom="The Levant Desk",
        disclaimer=DISCLAIMER,
        window_hours=window_hours,
    )


def _enrich(database: Database, article_id: int, tools_: Tools | None = None) -> bool:
    with UnitOfWork(database) as uow:
        changed = enrich_source(uow, article_id, tools_ or kit())
        uow.commit()
        return changed


def _enrich_translation(database: Database, article_id: int) -> bool:
    with UnitOfWork(database) as uow:
        changed = enrich_translation(uow, article_id, kit())
        uow.commit()
        return changed


def _row(database: Database, article_id: int, subject: str = "source") -> Enrichment:
    with UnitOfWork(database, read_only=True) as uow:
        row = uow.session.scalar(
            select(Enrichment).where(
                Enrichment.article_id == article_id, Enrichment.subject == subject
            )
        )
        assert row is not None, f"no {subject} enrichment for article {article_id}"
        uow.session.expunge(row)
        return row


def _story(database: Database, source_id: int, story: tuple[str, str]) -> int:
    return make_article(database, source_id, title=story[0], body=story[1])


def test_entities_are_stored_and_a_rerun_changes_nothing(
    database: Database, tmp_path: Path
) -> None:
    body = "<p>قالت قسد إن الهلال الأحمر السوري وصل إلى جاسم.</p>"
    article_id = make_article(database, make_source(database), title="قصف على جاسم", body=body)
    assert _enrich(database, article_id) is True
    assert _row(database, article_id).entities == {
        "places": ["jasim", "daraa"],
        "organisations": ["sarc", "sdf"],
        "mentions": {"jasim": 2, "sarc": 1, "sdf": 1, "daraa": 0},
        "governorates": ["daraa"],
    }
    assert _enrich(database, article_id) is False  # same input: nothing stored, no event
    with UnitOfWork(database, read_only=True) as uow:
        events = uow.session.scalar(
            select(func.count()).where(OutboxEvent.type == "article.enriched")
        )
        bands = uow.session.scalar(select(func.count()).select_from(StoryBand))
    assert events == 1
    assert bands and bands > 1  # the story is in the duplicate index

    extra = tmp_path / "ours.toml"  # a changed gazetteer is a changed input
    extra.write_text('[[place]]\nid = "qasf"\nen = "Qasf"\nar = ["قصف"]\nkind = "area"\n',
                     encoding="utf-8")  # fmt: skip
    assert _enrich(database, article_id, kit([extra])) is True
    assert "qasf" in _row(database, article_id).entities["places"]


def test_language_keywords_and_categories_of_a_source_text(database: Database) -> None:
    article_id = _story(database, make_source(database), STORY_1)
    with UnitOfWork(database) as uow:  # the feed claims English, as CMS defaults often do
        uow.session.execute(update(Article).values(language="en"))
        uow.commit()
    _enrich(database, article_id)
    row = _row(database, article_id)
    assert row.language == "ar"
    assert row.language_confidence is not None and row.language_confidence > 0.9
    assert (row.script, row.direction) == ("Arab", "rtl")
    assert row.keywords and all(isinstance(k, str) and k for k in row.keywords)
    assert {"مقتل مدنيين", "مدينة جاسم"} <= set(row.keywords)  # YAKE: the source language's
    assert not any(ch.isdigit() for k in row.keywords for ch in k)
    assert row.categories == ["Daraa", "Security"]

    short = make_article(database, make_source(database), title="عاجل", body="")
    _enrich(database, short)
    assert (_row(database, short).language, _row(database, short).language_confidence) == (
        "ar",
        None,
    )  # too little to tell: the declared language stands


def test_a_translation_gets_keywords_slug_attribution_and_disclaimer(
    database: Database,
) -> None:
    source_id = make_source(database, "Syria TV")
    with UnitOfWork(database) as uow:
        uow.session.get_one(Source, source_id).attribution = "Syria TV says"
        uow.commit()
    article_id = _story(database, source_id, STORY_1)
    translator_id, _ = make_user(database, "layla", Role.TRANSLATOR)
    make_translation(
        database,
        article_id,
        "Two civilians killed in shelling on Jasim",
        "<p>Two civilians were killed and five wounded on Tuesday when artillery shells hit the "
        "eastern quarter of Jasim in the northern Daraa countryside, the Syrian Civil Defence "
        "said. Civil Defence teams took the wounded to the national hospital in Nawa.</p>",
        translator_id,
    )
    assert _enrich_translation(database, article_id) is True
    row = _row(database, article_id, "translation")
    assert row.language == "en"
    assert row.slug == "two-civilians-killed-in-shelling-on-jasim"
    assert row.attribution == "Two civilians killed in shelling on Jasim, Syria TV says"
    assert row.disclaimer == "Translated and edited by The Levant Desk; the views are Syria TV's."
    assert row.keywords[:2] == ["Jasim", "Daraa"] or row.keywords[:2] == ["Daraa", "Jasim"]
    assert "Syrian Civil Defence" in row.keywords
    assert set(row.entities["places"]) >= {"jasim", "daraa", "nawa"}
    assert "Security" in row.categories
    assert _enrich_translation(database, article_id) is False  # same version: nothing new


def test_an_editors_keywords_survive_recomputation(database: Database) -> None:
    from shared.editorial.keywords import set_keywords  # noqa: PLC0415
    from shared.models import User  # noqa: PLC0415

    article_id = _story(database, make_source(database), STORY_1)
    editor_id, _ = make_user(database, "hala", Role.EDITOR)
    with UnitOfWork(database) as uow:  # before any translation: the row is made for them
        editor = uow.session.get_one(User, editor_id)
        stored = set_keywords(uow, article_id, editor, [" Daraa ", "shelling", "daraa", ""])
        uow.commit()
    assert stored == ["Daraa", "shelling"]
    make_translation(database, article_id, "Shelling on Jasim", "<p>Jasim was shelled.</p>")
    assert _enrich_translation(database, article_id) is True
    row = _row(database, article_id, "translation")
    assert (row.keywords, row.keywords_edited) == (["Daraa", "shelling"], True)
    assert row.slug == "shelling-on-jasim"  # the rest was computed
    make_translation(database, article_id, "Shelling on Jasim kills two")
    assert _enrich_translation(database, article_id) is True
    assert _row(database, article_id, "translation").keywords == ["Daraa", "shelling"]
    with UnitOfWork(database, read_only=True) as uow:
        terms = set(uow.session.scalars(select(ArticleTerm.term)))
    assert {"k:daraa", "k:shelling"} <= terms


def test_the_same_story_from_two_outlets_is_one_cluster(database: Database) -> None:
    first, second = make_source(database, "Horan Free"), make_source(database, "Syria TV")
    original = _story(database, first, STORY_1)
    other = _story(database, second, OTHER_STORY)
    retold = _story(database, second, STORY_1_RETOLD)
    for article_id in (original, other, retold):
        _enrich(database, article_id)
    assert _row(database, retold).cluster_id == _row(database, original).cluster_id == original
    assert _row(database, other).cluster_id == other
    with UnitOfWork(database, read_only=True) as uow:
        also = related.also_reported_by(uow.session, original)
        assert [(s.article_id, s.source) for s in also] == [(retold, "Syria TV")]
        assert related.also_reported_by(uow.session, other) == []

    # The outlet's own follow-up repeats its story: not "also reported by" the same outlet...
    follow_up = _story(database, first, (STORY_1[0] + " (محدث)", STORY_1[1]))
    _enrich(database, follow_up)
    assert _row(database, follow_up).cluster_id == original  # ...but it joins via the retold one


def test_a_story_joining_two_clusters_merges_them(database: Database) -> None:
    first, second = make_source(database), make_source(database)
    a = _story(database, first, STORY_1)
    b = _story(database, first, STORY_1_RETOLD)  # same outlet: never clustered together
    _enrich(database, a)
    _enrich(database, b)
    assert (_row(database, a).cluster_id, _row(database, b).cluster_id) == (a, b)
    c = _story(database, second, STORY_1)  # another outlet tells it: all three are one story
    _enrich(database, c)
    assert {_row(database, x).cluster_id for x in (a, b, c)} == {a}


def test_stories_far_apart_in_time_are_not_compared(database: Database) -> None:
    first, second = make_source(database), make_source(database)
    old = _story(database, first, STORY_1)
    with UnitOfWork(database) as uow:
        uow.session.get_one(Article, old).first_seen_at -= dt.timedelta(days=10)
        uow.commit()
    new = _story(database, second, STORY_1_RETOLD)
    _enrich(database, old)
    _enrich(database, new, kit(window_hours=72))
    assert _row(database, new).cluster_id == new


def test_related_articles_are_published_ones_sharing_entities(database: Database) -> None:
    first, second = make_source(database), make_source(database)
    published = make_article(
        database,
        first,
        title="الدفاع المدني يخمد حريقا في جاسم",
        body="<p>أخمد الدفاع المدني السوري حريقا في أرض زراعية قرب جاسم بريف درعا.</p>",
        state=ArticleState.PUBLISHED,
    )
    unpublished = make_article(
        database,
        first,
        title="الدفاع المدني يفتح مركزا في جاسم",
        body="<p>افتتح الدفاع المدني السوري مركزا جديدا في جاسم بريف درعا.</p>",
    )
    unrelated = make_article(
        database,
        first,
        title="انقطاع الكهرباء في اللاذقية",
        body="<p>انقطعت الكهرباء عن أحياء في اللاذقية.</p>",
        state=ArticleState.PUBLISHED,
    )
    article_id = _story(database, second, STORY_1)
    for x in (published, unpublished, unrelated, article_id):
        _enrich(database, x)
    with UnitOfWork(database, read_only=True) as uow:
        found = related.related(uow.session, article_id)
    assert [r.article_id for r in found] == [published]
    assert {"jasim", "syrian-civil-defence"} <= set(found[0].shared)
    assert found[0].score > 0


@pytest.mark.postgres
def test_a_retelling_is_found_past_band_keys_that_many_newer_stories_share(
    pg_database: Database,
) -> None:
    """On PostgreSQL each band key gives only its newest stories (stories.PER_KEY): keys that
    crowds of stories share (a sentence every outlet repeats) must not hide a retelling, which
    is still found through the keys that only it shares."""
    database = pg_database
    original = _story(database, make_source(database), STORY_1)
    _enrich(database, original)
    shared = sorted(_band_keys(STORY_1) & _band_keys(STORY_1_RETOLD))
    assert len(shared) >= 4
    crowded = shared[: len(shared) // 2]
    crowd_source = make_source(database)
    crowd = [make_article(database, crowd_source) for _ in range(stories.PER_KEY + 10)]
    with UnitOfWork(database) as uow:
        uow.session.add_all(StoryBand(band_key=k, article_id=a) for k in crowded for a in crowd)
        uow.commit()
    retold = _story(database, make_source(database), STORY_1_RETOLD)
    _enrich(database, retold)
    assert _row(database, retold).cluster_id == original


@pytest.mark.postgres
def test_duplicates_enriched_at_once_still_find_each_other(pg_database: Database) -> None:
    """Two workers enriching the two tellings at the same moment: the second waits for the
    first's story to be indexed (the `stories` lock), so neither misses the other."""
    database = pg_database
    a = _story(database, make_source(database), STORY_1)
    b = _story(database, make_source(database), STORY_1_RETOLD)
    first_indexed = threading.Event()

    def slow_first() -> None:
        try:
            with UnitOfWork(database) as uow:
                enrich_source(uow, a, kit())
                first_indexed.set()
                # Hold the transaction open while the second starts: without the lock, it
                # would read the index now and miss this uncommitted story.
                threading.Event().wait(0.5)
                uow.commit()
        finally:
            first_indexed.set()

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(slow_first)
        assert first_indexed.wait(30)
        _enrich(database, b)
        first.result()  # its error, if any, raised here
    assert _row(database, b).cluster_id == a


@pytest.mark.postgres
def test_unrelated_stories_are_indexed_in_parallel(pg_database: Database) -> None:
    """Stories that share no band key do not take turns: a worker indexing one does not wait
    for another worker's unrelated story to commit (the index's locks are per band key)."""
    database = pg_database
    a = _story(database, make_source(database), STORY_1)
    b = _story(database, make_source(database), FAR_STORY)
    # Precondition: no band key in common (a chance collision would rightly make them wait).
    assert not _band_keys(STORY_1) & _band_keys(FAR_STORY)
    first_indexed, second_done = threading.Event(), threading.Event()

    def first_holds_its_locks() -> bool:
        try:
            with UnitOfWork(database) as uow:
                enrich_source(uow, a, kit())
                first_indexed.set()
                waited = second_done.wait(30)  # False: the second was stuck behind this one
                uow.commit()
                return waited
        finally:
            first_indexed.set()

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(first_holds_its_locks)
        assert first_indexed.wait(30)
        assert _enrich(database, b)
        second_done.set()
        assert first.result(), "the unrelated story waited for the first one's commit"
    assert _row(database, a).cluster_id == a
    assert _row(database, b).cluster_id == b
