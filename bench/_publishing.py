"""Published articles for the publishing benchmarks, made through the real workflow."""

from __future__ import annotations

import itertools

from shared.admin.partners import PartnerCreate, add_partner
from shared.admin.sources import SourceCreate, add_source
from shared.admin.users import UserCreate, create_user
from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.states import Role
from shared.editorial.actions import TranslationInput, take_action
from shared.models import Article, ArticleRevision, User, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork

BODY = (
    "<p>Two civilians were killed and five wounded on Tuesday by artillery shelling on the "
    "eastern quarter of Jasim in the northern Daraa countryside, the Syrian Civil Defence said."
    "</p><p>Its teams took the wounded to the national hospital in Nawa.</p>"
)
_serial = itertools.count()


class Desk:
    """A translator and an editor, and one outlet, taking articles to approval."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        n = next(_serial)
        with UnitOfWork(database) as uow:
            self.translator = create_user(uow, UserCreate(username=f"bench-t{n}",
                                                          role=Role.TRANSLATOR))[0].id  # fmt: skip
            self.editor = create_user(uow, UserCreate(username=f"bench-e{n}",
                                                      role=Role.EDITOR))[0].id  # fmt: skip
            self.source = add_source(uow, SourceCreate(
                name=f"Bench outlet {n}", url=f"https://bench{n}.example/feed", language="ar",
            )).id  # fmt: skip
            uow.commit()

    def act(self, article_id: int, user_id: int, action: wf.Action,
            translation: TranslationInput | None = None) -> None:  # fmt: skip
        with UnitOfWork(self.database) as uow:
            user = uow.session.get_one(User, user_id)
            take_action(uow, article_id, user, wf.Request(action), self.settings, None,
                        translation)  # fmt: skip
            uow.commit()

    def approved(self, title: str) -> int:
        """A new article, translated and approved: ready to publish."""
        with UnitOfWork(self.database) as uow:
            n = next(_serial)
            article = Article(source_id=self.source, identity_key=f"bench:{n}", language="ar",
                              url=f"https://bench.example/{n}", first_seen_at=utcnow())  # fmt: skip
            uow.session.add(article)
            uow.session.flush()
            revision = ArticleRevision(article_id=article.id, number=1, title="خبر",
                                       content_html="<p>نص</p>", content_hash=str(n))  # fmt: skip
            uow.session.add(revision)
            uow.session.flush()
            article.current_revision_id = revision.id
            uow.commit()
            article_id = article.id
        self.act(article_id, self.translator, wf.Action.CLAIM)
        self.act(article_id, self.translator, wf.Action.SAVE, TranslationInput(title, "", BODY))
        self.act(article_id, self.translator, wf.Action.SUBMIT)
        self.act(article_id, self.editor, wf.Action.APPROVE)
        return article_id

    def publish(self, article_id: int) -> None:
        self.act(article_id, self.editor, wf.Action.PUBLISH)


def partner(database: Database, slug: str) -> str:
    """A partner taking every format; its token."""
    with UnitOfWork(database) as uow:
        _, token = add_partner(uow, PartnerCreate(slug=slug, name=slug.title()))
        uow.commit()
        return token
