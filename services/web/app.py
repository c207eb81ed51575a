"""The web application factory."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.routing import Match

from shared import __version__, metrics
from shared.celery_app import create_celery_app
from shared.db import get_database
from shared.settings import Settings, get_settings

from . import feeds, health, pages, problems, websub
from .api import admin, articles, deliveries, me, sources


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
    app.include_router(pages.router)
    app.include_router(websub.router)
    app.include_router(feeds.router)
    app.state.feed_cache = feeds.FeedCache(settings.feeds_cache_seconds)
    for router in (articles.router, sources.router, me.router, admin.router, deliveries.router):
        app.include_router(router, prefix="/api/v1")

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        metrics.HTTP_REQUESTS.labels(_route(request), str(response.status_code)).inc()
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    return app


def _route(request: Request) -> str:
    """The route template (/api/v1/articles/{article_id}), not the path: bounded label values."""
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "other"))
    return "unmatched"
