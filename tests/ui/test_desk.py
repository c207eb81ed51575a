"""The desk end to end in Chromium, on the system as deployed: the web app, PostgreSQL, Redis,
the relay and a real publisher worker sending to a webhook receiver on 127.0.0.1.

A translator signs in, claims an article, saves a translation and submits it; an editor asks
for changes; the translator revises; the editor approves and publishes, and the page shows the
delivery turn `delivered` without a reload. A translator never sees the approve button, and the
server refuses the approval anyway. Screenshots of the desk and the article page are saved
under var/screenshots/ (the README shows them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

from services.enricher.handlers import enrich_source, tools_for
from services.web.session import COOKIE
from shared.admin.destinations import DestinationCreate, add_destination
from shared.admin.users import UserCreate, create_user
from shared.db import Database
from shared.domain.states import Role
from shared.models import Article, ArticleRevision
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import REDIS_URL, make_settings, settings_env
from tests.support.factories import make_article, make_source
from tests.support.httpserver import LocalServer, Reply
from tests.support.processes import Processes
from tests.support.web import WebServer

# Every browser test on one xdist worker (`make test` runs --dist loadgroup): one Chromium a run.
pytestmark = pytest.mark.xdist_group("browser")
PASSWORD = "correct horse battery"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ORIGINAL = (
    "<p>قال مسؤولون محليون إن أسعار الخبز ارتفعت في مدينة جاسم بريف درعا للمرة الثالثة هذا "
    "الشهر، وسط نقص في الطحين.</p><p>وأضافوا أن الأفران تعمل لساعات أقل.</p>"
)


@dataclass
class Desk:
    url: str
    article_id: int
    database: Database
    hook: LocalServer


@pytest.fixture
def desk(
    tmp_path: Path, pg_url: str, pg_database: Database, redis_prefix: str,
    server: LocalServer, procs: Processes,
) -> Iterator[Desk]:  # fmt: skip
    settings: Settings = make_settings(
        tmp_path / "var", database_url=pg_url, broker_url=REDIS_URL, redis_prefix=redis_prefix,
        fetch_allowed_hosts=[server.host_port], relay_interval_seconds=0.1,
        publish_sweep_seconds=0.5, site_url="https://news.example",
    )  # fmt: skip
    server.route("/hook", Reply(204))
    with UnitOfWork(pg_database) as uow:
        for name, role in (("tara", Role.TRANSLATOR), ("eddie", Role.EDITOR), ("ada", Role.ADMIN)):
            create_user(uow, UserCreate(username=name, role=role, password=PASSWORD,
                                        display_name=name.title()))  # fmt: skip
        add_destination(uow, settings, DestinationCreate(
            name="partner-hook", kind="webhook", url=server.url("/hook"), secret=SECRET,
        ))  # fmt: skip
        uow.commit()
    source = make_source(pg_database, name="Syria TV")
    make_article(pg_database, source, title="خبر قديم عن حلب")
    article_id = make_article(pg_database, source, title="ارتفاع أسعار الخبز في جاسم",
                              body=ORIGINAL)  # fmt: skip
    with UnitOfWork(pg_database) as uow:  # as the enricher does on ingest
        enrich_source(uow, article_id, tools_for(settings))
        uow.commit()
    env = settings_env(settings)
    procs.start("worker", ["worker", "--queues", "publish,review,enrich"], env)
    procs.start("relay", ["relay"], env)
    web = WebServer(settings).start()
    try:
        yield Desk(web.url, article_id, pg_database, server)
    finally:
        web.stop()


def sign_in(context: BrowserContext, desk: Desk, username: str) -> Page:
    page = context.new_page()
    page.goto(f"{desk.url}/desk")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fdesk$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{desk.url}/desk")
    return page


def open_article(page: Page, desk: Desk) -> None:
    page.goto(f"{desk.url}/articles/{desk.article_id}")
    expect(page.locator("#article")).to_be_visible()


def act(page: Page, name: str) -> None:
    page.locator("#actions").get_by_role("button", name=name, exact=True).click()


def test_translator_and_editor_take_an_article_to_publication(
    desk: Desk, context: BrowserContext, browser: Browser, screenshots: Path
) -> None:
    translator = sign_in(context, desk, "tara")
    row = translator.get_by_role("link", name="ارتفاع أسعار الخبز في جاسم")
    expect(row).to_have_attribute("dir", "rtl")
    translator.screenshot(path=str(screenshots / "desk.png"), full_page=True)
    row.click()
    original = translator.locator("article.source-text")
    expect(original).to_have_attribute("dir", "rtl")
    expect(original).to_contain_text("جاسم")
    expect(translator.locator("#actions").get_by_role("button", name="Approve")).to_have_count(0)

    act(translator, "Claim")
    expect(translator.locator("#state")).to_have_text("Translating")
    translator.get_by_label("Title").fill("Bread prices rise in Jasim for the third time")
    translator.get_by_label("Dek").fill("Flour is short, local officials say.")
    translator.locator("#t-body").fill("Local officials said bread prices rose in Jasim.")
    translator.get_by_role("button", name="Save version").click()
    expect(translator.locator("#autosave")).to_contain_text("Saved as version 1")
    act(translator, "Submit")
    expect(translator.locator("#state")).to_have_text("In review")
    expect(translator.locator("#actions").get_by_role("button", name="Approve")).to_have_count(0)

    # The button is hidden, and the server refuses the action anyway (same session, CSRF ok).
    csrf = translator.locator('meta[name="csrf-token"]').get_attribute("content")
    lock = translator.locator("#article").get_attribute("data-lock")
    refused = translator.request.post(
        f"{desk.url}/api/v1/articles/{desk.article_id}/actions/approve",
        data=json.dumps({"lock_version": int(lock or 0)}),
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf or ""},
    )
    assert refused.status == 403, refused.text()
    forged = translator.request.post(
        f"{desk.url}/api/v1/articles/{desk.article_id}/actions/release",
        data=json.dumps({"lock_version": int(lock or 0)}),
        headers={"Content-Type": "application/json"},
    )
    assert forged.status == 403 and "CSRF" in forged.text()

    editor_context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        editor = sign_in(editor_context, desk, "eddie")
        open_article(editor, desk)
        expect(editor.get_by_label("Title")).to_have_value(
            "Bread prices rise in Jasim for the third time"
        )
        editor.get_by_text("Request changes…").click()
        editor.locator("#note-request_changes").fill("Name the officials' council.")
        editor.locator('form[data-action="request_changes"]').get_by_role("button").click()
        expect(editor.locator("#state")).to_have_text("Translating")
        expect(editor.locator(".history")).to_contain_text("Name the officials' council.")

        open_article(translator, desk)
        translator.locator("#t-body").fill(
            "The Jasim local council said bread prices rose for the third time this month."
        )
        translator.keyboard.press("Control+s")
        expect(translator.locator("#autosave")).to_contain_text("Saved as version 2")
        act(translator, "Submit")
        expect(translator.locator("#state")).to_have_text("In review")

        open_article(editor, desk)
        act(editor, "Approve")
        expect(editor.locator("#state")).to_have_text("Approved")
        act(editor, "Publish")
        expect(editor.locator("#state")).to_have_text("Published")
        # The page was loaded once after publishing; the delivery state changes under it.
        delivery = editor.locator("#deliveries tbody tr").filter(has_text="partner-hook")
        expect(delivery.locator(".badge")).to_have_text("delivered", timeout=60_000)
        assert len(desk.hook.hits("/hook")) == 1
        editor.screenshot(path=str(screenshots / "article.png"), full_page=True)

        preview = editor_context.new_page()
        preview.goto(f"{desk.url}/articles/{desk.article_id}/preview")
        expect(preview.locator("h1")).to_have_text("Bread prices rise in Jasim for the third time")
        expect(preview.locator(".attribution")).to_contain_text("Syria TV")
        expect(preview.locator(".disclaimer")).to_contain_text("Responsibility for the information")
    finally:
        editor_context.close()


def test_signing_out_ends_the_session_everywhere(desk: Desk, context: BrowserContext) -> None:
    page = sign_in(context, desk, "tara")
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    # The old token is revoked on the server, not only forgotten by this browser.
    bearer = {"Authorization": f"Bearer {cookie['value']}"}
    replayed = context.request.get(f"{desk.url}/api/v1/me", headers=bearer)
    assert replayed.status == 401


def test_a_wrong_password_is_told_and_the_keyboard_reaches_everything(
    desk: Desk, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(f"{desk.url}/login")
    page.get_by_label("Username").fill("tara")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{desk.url}/desk")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/articles/\d+$"))
    page.goto(f"{desk.url}/desk")
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("جاسم")
    page.keyboard.press("Enter")
    expect(page.locator("table.articles tbody tr")).to_have_count(1)


def _violations(page: Page) -> list[str]:
    """axe-core's WCAG 2 A and AA failures on the page (labels, contrast, names, landmarks)."""
    tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": tags},
                                       "resultTypes": ["violations"]})  # fmt: skip
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]


def test_every_page_passes_axe_for_wcag_2_aa(desk: Desk, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{desk.url}/login")
        assert _violations(page) == []
        page = sign_in(context, desk, "ada")
        for path in ("/desk", f"/articles/{desk.article_id}", "/sources", "/admin",
                     "/desk?state=in_review&q=nothing"):  # fmt: skip
            page.goto(desk.url + path)
            assert _violations(page) == [], path
        open_article(page, desk)
        act(page, "Claim")
        expect(page.locator("#state")).to_have_text("Translating")
        assert _violations(page) == [], "the article being translated"
        # Focus order: from the top, the skip link comes first and leads to the content.
        page.goto(f"{desk.url}/desk")
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    finally:
        context.close()


def test_an_admin_adds_a_partner_whose_token_is_shown_once_and_opens_its_feed(
    desk: Desk, browser: Browser
) -> None:
    context = browser.new_context()
    try:
        page = sign_in(context, desk, "ada")
        page.get_by_role("link", name="Partners & destinations").click()
        page.get_by_text("Add a partner…").click()
        page.get_by_label("Slug (in the feed URLs)").fill("levant-wire")
        page.get_by_label("Partner name").fill("Levant Wire")
        page.get_by_role("button", name="Add partner").click()
        secret = page.locator("#secret-value")
        expect(secret).to_have_text(re.compile(r"^cfp_"))
        token = secret.text_content() or ""
        page.get_by_role("button", name="Done").click()
        row = page.locator('tr[data-partner="levant-wire"]')
        expect(row).to_contain_text("Levant Wire")
        # Shown once: the page lists only the token's first characters from now on.
        assert token not in page.content()
        feed = context.request.get(f"{desk.url}/feeds/levant-wire/rss.xml",
                                   headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert feed.status == 200 and b"<rss" in feed.body()
        row.get_by_role("button", name="Switch off").click()
        expect(row).to_contain_text("off")
    finally:
        context.close()


def test_a_revised_source_shows_what_the_outlet_changed(
    desk: Desk, context: BrowserContext
) -> None:
    page = sign_in(context, desk, "tara")
    open_article(page, desk)
    act(page, "Claim")
    expect(page.locator("#state")).to_have_text("Translating")
    with UnitOfWork(desk.database) as uow:  # as the poller does when the outlet edits it
        article = uow.session.get_one(Article, desk.article_id)
        revision = ArticleRevision(
            article_id=article.id, number=2, title="ارتفاع أسعار الخبز في جاسم",
            content_html=ORIGINAL.replace("للمرة الثالثة", "للمرة الرابعة"), content_hash="r2",
        )  # fmt: skip
        uow.session.add(revision)
        uow.session.flush()
        article.current_revision_id = revision.id
        article.source_revised = True
        uow.commit()
    page.goto(f"{desk.url}/desk")
    expect(page.locator(".attention")).to_contain_text("ارتفاع أسعار الخبز في جاسم")
    open_article(page, desk)
    expect(page.locator(".article-head")).to_contain_text("the source changed during work")
    page.get_by_role("button", name="what changed").click()
    expect(page.locator("#source-diff ins")).to_contain_text("الرابعة")
    expect(page.locator("#source-diff del")).to_contain_text("الثالثة")


def test_an_admin_pauses_resumes_and_polls_a_source_and_adds_a_webhook(
    desk: Desk, browser: Browser
) -> None:
    context = browser.new_context()
    try:
        page = sign_in(context, desk, "ada")
        page.get_by_role("link", name="Sources").click()
        row = page.locator("tr[data-source]").filter(has_text="Syria TV")
        row.get_by_role("button", name="Pause").click()
        expect(row.locator(".badge")).to_have_text("paused")
        expect(row).to_contain_text("paused from the desk")
        row.get_by_role("button", name="Resume").click()
        expect(row.locator(".badge")).to_have_text("active")
        row.get_by_role("button", name="Poll now").click()
        expect(page.locator("#toast")).to_have_text("Polling now")

        page.get_by_role("link", name="Partners & destinations").click()
        page.get_by_text("Add a webhook…").click()
        page.get_by_label("Webhook name").fill("newsroom app")
        page.get_by_label("Webhook URL").fill(desk.hook.url("/app"))
        page.get_by_role("button", name="Add webhook").click()
        secret = page.locator("#secret-value")
        expect(secret).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/=]{40,}$"))
        page.get_by_role("button", name="Done").click()
        expect(page.get_by_role("table", name="Destinations")).to_contain_text("newsroom app")
    finally:
        context.close()
