"""The web desk: server-rendered pages over the API's own functions.

Pages read through the same functions the JSON API answers with (`article_detail`,
`list_articles`, the desk and status queries) and render them with Jinja; every action on a
page is a call from the page's script to the JSON API, authenticated by the session cookie and
its CSRF token (session.py). The desk therefore has no rules of its own: what the API refuses,
the desk cannot do, and buttons are shown from the API's `allowed_actions`.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import select

from shared import __version__
from shared.admin import destinations as destination_ops
from shared.admin import partners as partner_ops
from shared.admin import users as user_ops
from shared.domain.states import ArticleState, Role
from shared.editorial import desk
from shared.enrichment import entities
from shared.errors import CrossfeedError
from shared.html import sanitize_html
from shared.models import MAX_ID, Source, User
from shared.publishing import render
from shared.settings import Settings
from shared.status import source_health
from shared.uow import UnitOfWork

from . import session
from .api.articles import ArticleId, article_detail, list_articles
from .deps import UoW, get_settings

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Stored HTML is sanitised on the way in; it is sanitised again on the way out to the page.
templates.env.filters["clean"] = lambda fragment: Markup(sanitize_html(fragment or ""))  # noqa: S704 - sanitised by nh3
AppSettings = Annotated[Settings, Depends(get_settings)]
RTL_LANGUAGES = frozenset(("ar", "fa", "he", "ur", "ps", "ku"))
STATE_LABELS = {
    "new": "New",
    "translating": "Translating",
    "in_review": "In review",
    "approved": "Approved",
    "scheduled": "Scheduled",
    "published": "Published",
    "withdrawn": "Withdrawn",
    "discarded": "Discarded",
}


class SignIn(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""

    def __init__(self, back_to: str) -> None:
        self.back_to = back_to


def install(app: FastAPI) -> None:
    @app.exception_handler(SignIn)
    async def _sign_in(_request: Request, exc: SignIn) -> Response:
        return RedirectResponse(f"/login?{urlencode({'next': exc.back_to})}", status_code=303)


def desk_user(request: Request, uow: UoW) -> User:
    token = session.session_token(request)
    found = user_ops.user_for_token(uow, token) if token else None
    if found is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignIn(path)
    return found[0]


DeskUser = Annotated[User, Depends(desk_user)]


def _page(
    request: Request, name: str, user: User | None, status: int = 200, **context: Any
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    token = session.session_token(request)
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf": session.csrf_token(settings, token) if token and user else "",
            "labels": STATE_LABELS,
            "version": __version__,
            "status_code": status,
            "is_editor": user is not None and Role(user.role).includes(Role.EDITOR),
            "is_admin": user is not None and Role(user.role).includes(Role.ADMIN),
            **context,
        },
        status_code=status,
    )


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would let a link send users elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/desk"


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> Response:
    # The newsroom's workload and its sources' health are for people signed in (the desk):
    # anyone who reaches the web service (partners fetch their feeds from it) sees no more
    # than the way in.
    if session.session_token(request):
        return RedirectResponse("/desk", status_code=303)
    return _page(request, "index.html", None)


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = _page(request, "login.html", None, next=_safe_next(next), login_csrf=nonce)
    settings: Settings = request.app.state.settings
    response.set_cookie(session.LOGIN_COOKIE, nonce, max_age=3600, httponly=True,
                        samesite="strict", secure=session.secure(settings))  # fmt: skip
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    settings: AppSettings,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=2000)] = "/desk",
) -> Response:
    target = _safe_next(next)
    expected = request.cookies.get(session.LOGIN_COOKIE)
    if not expected or not secrets.compare_digest(expected, csrf):
        return _page(request, "login.html", None, status=400, next=target, login_csrf=csrf,
                     error="The form expired; please sign in again.")  # fmt: skip
    try:
        _, token, expires_at = session.sign_in(request, username, password)
    except session.TooManySignIns as too_many:
        minutes = max(1, round(too_many.wait / 60))
        refused = _page(request, "login.html", None, status=429, next=target, login_csrf=csrf,
                        username=username, error=f"Too many failed sign-ins. Try again in "
                        f"{minutes} minute{'s' if minutes > 1 else ''}.")  # fmt: skip
        refused.headers["Retry-After"] = str(too_many.wait)
        return refused
    except CrossfeedError:
        return _page(request, "login.html", None, status=401, next=target, login_csrf=csrf,
                     username=username, error="Wrong username or password.")  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    max_age = int((expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    session.set_session(response, settings, token, max_age)
    response.delete_cookie(session.LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request,
    settings: AppSettings,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    token = session.session_token(request)
    if token and session.csrf_valid(settings, token, csrf):
        with UnitOfWork(request.app.state.database) as uow:
            user_ops.revoke_token(uow, token)
            uow.commit()
    response = RedirectResponse("/login", status_code=303)
    session.clear_session(response, settings)
    return response


@router.get("/desk", response_class=HTMLResponse)
def desk_page(
    request: Request,
    uow: UoW,
    user: DeskUser,
    settings: AppSettings,
    state: Annotated[ArticleState | None, Query()] = None,
    source: Annotated[str | None, Query(alias="source_id", max_length=20)] = None,
    place: Annotated[str | None, Query(max_length=100)] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    flagged: Annotated[bool | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    # A filter form sends its empty fields too: "" means no filter, not a wrong value.
    source_id = int(source) if source and source.isdigit() and 0 < int(source) <= MAX_ID else None
    filters = {
        "state": state.value if state else None,
        "source_id": source_id,
        "place": place or None,
        "assignee": assignee or None,
        "language": language or None,
        "flagged": flagged,
        "q": q or None,
    }
    page = list_articles(uow, user, state=state, source_id=source_id, language=language or None,
                         flagged=flagged, place=place or None, assignee=assignee or None,
                         q=q or None, limit=50, cursor=cursor)  # fmt: skip
    active = {k: v for k, v in filters.items() if v is not None}
    return _page(
        request,
        "desk.html",
        user,
        counts=desk.counts(uow.session),
        attention=vars(desk.attention(uow.session)),
        page=page,
        filters=filters,
        query=lambda **changes: urlencode(
            {k: v for k, v in {**active, **changes}.items() if v is not None}
        ),
        # The filter's choices only: source_health would count every source's articles.
        sources=uow.session.execute(select(Source.id, Source.name).order_by(Source.name)).all(),
        places=_governorates(tuple(settings.gazetteer_files)),
    )


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_page(request: Request, article_id: ArticleId, uow: UoW, user: DeskUser) -> Response:
    try:
        article = article_detail(uow, article_id, user)
    except CrossfeedError as exc:
        if exc.status != 404:
            raise
        return _page(request, "missing.html", user, status=404, what=f"article {article_id}")
    names = render.entity_names(tuple(request.app.state.settings.gazetteer_files))
    return _page(
        request,
        "article.html",
        user,
        article=article,
        rtl=article.language in RTL_LANGUAGES,
        names=names,
        editable="save" in article.allowed_actions,
        delivery_states=[d.model_dump(mode="json") for d in article.deliveries],
    )


@router.get("/articles/{article_id}/preview", response_class=HTMLResponse)
def preview_page(
    request: Request, article_id: ArticleId, uow: UoW, user: DeskUser, settings: AppSettings
) -> Response:
    try:
        published = render.preview(uow.session, settings, article_id)
    except render.NotPublished as exc:
        return _page(request, "missing.html", user, status=404, what=str(exc))
    return _page(request, "preview.html", user, published=published)


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, uow: UoW, user: DeskUser) -> Response:
    return _page(request, "sources.html", user, sources=source_health(uow.database))


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, uow: UoW, user: DeskUser) -> Response:
    if not Role(user.role).includes(Role.ADMIN):
        return _page(request, "missing.html", user, status=403, what="the admin pages")
    return _page(
        request,
        "admin.html",
        user,
        partners=partner_ops.list_partners(uow),
        destinations=destination_ops.list_destinations(uow),
        feed_files=("rss.xml", "atom.xml", "feed.json", "ninjs.json"),
    )


@functools.cache
def _governorates(gazetteer_files: tuple[Path, ...]) -> list[tuple[str, str]]:
    gazetteer = entities.default(gazetteer_files)
    return sorted(
        ((entity_id, entry.en) for entity_id, (_, entry) in gazetteer.entries.items()
         if getattr(entry, "kind", None) == "governorate"),
        key=lambda pair: pair[1],
    )  # fmt: skip
