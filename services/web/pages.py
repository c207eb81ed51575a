"""The front page: what is running and where to go next. The editor desk builds on this."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from shared import __version__
from shared.status import article_counts, source_health

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    database = request.app.state.database
    by_state, queued = article_counts(database)
    sources = source_health(database)
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "version": __version__,
            "by_state": by_state,
            "queued": queued,
            "sources": len(sources),
            "failing": sum(1 for s in sources if s.consecutive_failures),
            "paused": sum(1 for s in sources if s.status == "paused"),
        },
    )
