"""The web application factory."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import __version__, metrics, ratelimit
from shared.celery_app import create_celery_app
from shared.db import get_database
from shared.settings import Settings, get_settings

from . import feeds, health, pages, problems, websub
from .api import admin, articles, deliveries, desk, me, sources
from .api.storable import storable_input
from .limits import BodyLimit


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Crossfeed",
        version=__version__,
        description="The editor API: articles, their translation workflow, sources and users.",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.database = get_database(settings)
    app.state.celery = create_celery_app(settings)
    app.state.system_registry = health.system_registry(app)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(pages.router, dependencies=[Depends(storable_input)])
    pages.install(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(websub.router)
    app.state.feed_cache = feeds.FeedCache(settings.feeds_cache_seconds)
    app.state.login_limiter = ratelimit.login_limiter(settings)
    app.state.feeds_limiter = ratelimit.feeds_limiter(settings)
    api_routers = (articles.router, sources.router, me.router, admin.router, deliveries.router,
                   desk.router)  # fmt: skip
    for router in api_routers:
        app.include_router(router, prefix="/api/v1", dependencies=[Depends(storable_input)])

    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(RequestMetrics)
    return app


def create_server(settings: Settings | None = None) -> ASGIApp:
    """What `crossfeed web` serves: partner feeds answered ahead of FastAPI (see
    feeds.FeedServer), everything else by the app."""
    return feeds.FeedServer(create_app(settings))


class RequestMetrics:
    """Counts requests by route template and status, and adds a Server-Timing header.

    Plain ASGI rather than `@app.middleware("http")`, whose per-request wrapping cost more
    than most answers; the route template (/api/v1/articles/{article_id}, bounded label values)
    is the one Starlette's router put in the scope.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                took = (time.perf_counter() - started) * 1000
                MutableHeaders(scope=message).append("Server-Timing", f"app;dur={took:.1f}")
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            route = scope.get("route")
            label = str(getattr(route, "path", "other")) if route is not None else "unmatched"
            metrics.HTTP_REQUESTS.labels(label, str(status)).inc()
