"""Structured logging: one JSON object a line (or readable lines on a terminal).

Every process calls `configure_logging` once. Library logs (Celery, uvicorn, SQLAlchemy) go
through the same formatter, and ids bound with `bind_context` (article_id, source_id, event_id,
task) appear on every line logged while they are bound.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any
from urllib.parse import unquote_plus

import structlog

from shared.settings import Settings


def configure_logging(settings: Settings, service: str) -> None:
    """Route structlog and the standard library through one formatter for this process."""
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("sqlalchemy.engine", "urllib3", "kombu", "amqp", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())


class RedactTokens(logging.Filter):
    """Secrets that travel in URLs stay out of the access log: a partner's feed token
    (`?token=`, however its name is percent-encoded: the feed server decodes it) and a WebSub
    callback's token (`/websub/<token>`)."""

    PARAMETER = re.compile(r"([?&;])([^=&;\s\"]*)=([^&;\s\"]*)")
    CALLBACK = re.compile(r"(/websub/)[^/?#\s\"]+")

    @classmethod
    def redact(cls, line: str) -> str:
        def parameter(match: re.Match[str]) -> str:
            if unquote_plus(match.group(2)).strip().lower() != "token":
                return match.group(0)
            return f"{match.group(1)}{match.group(2)}=[redacted]"

        return cls.CALLBACK.sub(r"\1[redacted]", cls.PARAMETER.sub(parameter, line))

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        return True


def _add_service(service: str) -> Any:
    def processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    return processor


def bind_context(**values: Any) -> None:
    """Attach ids to every log line of the current task or request."""
    structlog.contextvars.bind_contextvars(**values)


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()
