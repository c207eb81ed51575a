"""The one settings object. Read from CROSSFEED_* environment variables and `.env`.

Defaults are the embedded mode (SQLite and a filesystem broker under the data dir) so that
`crossfeed up` needs no server. Production points the URLs at PostgreSQL and Redis.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Values shipped in examples and defaults; refusing them outside development means a deploy
# that forgot to set a secret stops at start-up instead of running with a public key.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev", "development"})

Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    """Everything an operator can configure; see `.env.example` for each variable."""

    model_config = SettingsConfigDict(
        env_prefix="CROSSFEED_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # `CROSSFEED_X=` (as in .env.example) means "the default", not an empty value.
        env_ignore_empty=True,
    )

    environment: Environment = "development"
    data_dir: Path = Path("./var")
    database_url: str = ""  # empty: SQLite file in the data dir
    broker_url: str = ""  # empty: the embedded filesystem broker in the data dir
    redis_prefix: str = "crossfeed:"
    secret_key: SecretStr = SecretStr("change-me")

    # Web
    web_host: str = "127.0.0.1"
    web_port: int = Field(8000, ge=1, le=65535)
    public_url: str = ""  # empty: http://{web_host}:{web_port}
    # The largest request body: a translation of 1,000,000 characters fits even with every
    # character JSON-escaped (\uXXXX, 6 bytes).
    web_max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    # How long an idle client connection is kept open. Longer than a reverse proxy's own
    # (nginx upstream keepalive, a load balancer's idle timeout: 60 s), or the proxy may send
    # a request on a connection the web is closing and answer its client 502.
    web_keepalive_seconds: int = Field(75, ge=1, le=3600)

    # Logging and metrics
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    # prometheus-client's own variable (it is read when the library is imported): a folder the
    # processes of one host share, so that /metrics on the web process shows the workers' too.
    metrics_dir: Path | None = Field(
        None, validation_alias=AliasChoices("PROMETHEUS_MULTIPROC_DIR")
    )
    # Where a worker, beat or relay serves its own /metrics (0: off). For containers, which
    # cannot share the folder above: process ids collide between containers.
    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"  # compose sets 0.0.0.0 so Prometheus can reach the container
    # When set, the web's /metrics asks for `Authorization: Bearer <token>`.
    metrics_token: SecretStr | None = None

    # Outbound fetching (sources, article pages, webhooks)
    fetch_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    fetch_connect_timeout: float = Field(5.0, gt=0)
    fetch_read_timeout: float = Field(15.0, gt=0)
    fetch_deadline: float = Field(30.0, gt=0)
    fetch_max_bytes: int = Field(16 * 1024 * 1024, gt=0)
    fetch_max_redirects: int = Field(5, ge=0, le=20)
    fetch_contact_url: str = "https://github.com/crossfeed/crossfeed"

    # Polling
    poll_sweep_seconds: float = Field(30.0, gt=0)
    poll_default_interval_minutes: int = Field(15, ge=1)
    poll_min_interval_minutes: int = Field(5, ge=1)
    poll_max_interval_minutes: int = Field(240, ge=1)
    # Adaptive interval: poll this many times more often than stories arrive on average.
    poll_frequency_factor: float = Field(3.0, gt=0)
    # At most this many polls of one host at a time (a host with a port counts separately).
    poll_per_host: int = Field(2, ge=1)
    # Entries read from one document; the rest of a 20,000-item feed is left (and noted).
    poll_max_entries: int = Field(500, ge=1)
    # Feed bytes parsed at once per process (parsing takes about 6x a document's size).
    poll_parse_budget_mib: int = Field(32, ge=1)
    # Summary-only sources: article pages fetched per poll, at most.
    full_text_per_poll: int = Field(10, ge=0)
    # WebSub: lease asked of hubs, and how often a pushed-to source is still polled.
    websub_lease_seconds: int = Field(7 * 24 * 3600, ge=300)
    websub_safety_poll_minutes: int = Field(240, ge=1)
    poll_max_failures: int = Field(10, ge=1)
    poll_lease_seconds: int = Field(600, ge=10)

    # Review: a translator's claim lapses after this long without a save; timers (claim
    # expiry, scheduled publication) are swept this often.
    claim_minutes: int = Field(24 * 60, ge=1)
    # A token from `POST /api/v1/login` (the web UI's sign-in) lasts this long.
    login_token_hours: int = Field(12, ge=1, le=24 * 90)
    # Failed sign-ins allowed per username and per client address (a `limits` rate such as
    # "10/5minutes"); more are answered 429 with Retry-After until the window moves on.
    login_rate_limit: str = "10/5minutes"
    review_sweep_seconds: float = Field(30.0, gt=0)

    # Enrichment: gazetteer files of the operator's own, read after the built-in one
    # (comma-separated paths; format in shared/enrichment/gazetteer.toml).
    gazetteer_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # Category rules of the operator's own (format in shared/enrichment/categories.toml).
    category_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # Languages the detector chooses among (ISO 639-1): fewer is faster and more accurate.
    enrich_languages: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["ar", "en", "fr", "tr", "fa", "ru", "he", "de"]
    )
    # The newsroom's name and the disclaimer closing every translated article; placeholders:
    # {newsroom}, {source} (the outlet), {author} (the source article's), {translator}.
    newsroom_name: str = Field("Crossfeed Newsroom", min_length=1, max_length=200)
    disclaimer: str = Field(
        "This article was translated and edited by {newsroom}. Responsibility for the "
        "information and views set out in this article lies entirely with the author.",
        max_length=2000,
    )
    # Two outlets' stories are compared as duplicates when first seen this close together.
    duplicate_window_hours: int = Field(72, ge=1, le=24 * 60)

    # Publishing. The newsroom's public site: canonical URLs are {site_url}/{slug}/ (WordPress's
    # /%postname%/ permalinks); empty: the public URL.
    site_url: str = ""
    # A delivery that failed is retried after base x 2^(attempt-1) seconds (capped, with
    # jitter, or when the destination's Retry-After says), and is dead after the last attempt.
    delivery_max_attempts: int = Field(10, ge=1, le=100)
    delivery_backoff_seconds: float = Field(30.0, gt=0)
    delivery_backoff_max_seconds: float = Field(3600.0, gt=0)
    # A delivery being sent is leased this long: a publisher killed mid-send is retried after.
    delivery_lease_seconds: int = Field(600, ge=10)
    publish_sweep_seconds: float = Field(15.0, gt=0)
    # A WebSub hub partners' feeds advertise (rel="hub"); the publisher pings it when a feed
    # changes. Empty: none (partners poll, with ETags).
    feeds_websub_hub: str = ""
    # Items on a partner feed's page; older ones are on the next pages (rel="next", next_url).
    feed_page_size: int = Field(50, ge=1, le=500)
    # Each web process serves feeds from memory this long before reading the database again:
    # a new document or a revoked partner token takes effect within it.
    feeds_cache_seconds: float = Field(1.0, ge=0, le=60)
    # Feed requests allowed per partner token, counted by each web process ("600/minute");
    # more are answered 429 with Retry-After. Empty: no limit.
    feeds_rate_limit: str = "600/minute"

    # Machine-translation drafts: none, or a LibreTranslate server (its host:port must be in
    # FETCH_ALLOWED_HOSTS when it runs on a private address, as in docker compose).
    mt_provider: Literal["none", "libretranslate"] = "none"
    mt_url: str = "http://127.0.0.1:5000"
    mt_api_key: str | None = None
    mt_target_language: str = "en"

    # Outbox relay: dispatch, and redispatch of events a consumer never acknowledged
    relay_interval_seconds: float = Field(0.2, gt=0)
    relay_batch_size: int = Field(200, ge=1)
    relay_housekeeping_seconds: float = Field(30.0, gt=0)  # redelivery scan and pruning
    redelivery_after_seconds: int = Field(900, ge=1)
    redelivery_max_attempts: int = Field(8, ge=1)
    outbox_retention_days: int = Field(14, ge=1)

    # Workers
    worker_concurrency: int = Field(4, ge=1)
    task_soft_time_limit: int = Field(240, ge=1)
    task_time_limit: int = Field(300, ge=1)
    broker_visibility_timeout: int = Field(3600, ge=60)

    @field_validator(
        "fetch_allowed_hosts",
        "gazetteer_files",
        "category_files",
        "enrich_languages",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """The environment gives a list as one comma-separated string."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("gazetteer_files", "category_files")
    @classmethod
    def _check_data_files(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        if value:
            from shared.enrichment import categories, entities  # noqa: PLC0415
            from shared.enrichment.datafiles import DataFileError  # noqa: PLC0415

            load = entities.load if info.field_name == "gazetteer_files" else categories.load
            try:  # a broken file stops every process at start, with the reason, not mid-task
                load(value)
            except DataFileError as exc:
                raise ValueError(str(exc)) from exc
        return value

    @field_validator("enrich_languages")
    @classmethod
    def _check_languages(cls, value: list[str]) -> list[str]:
        from shared.enrichment.language import UnknownLanguage, language_of  # noqa: PLC0415

        for code in value:
            try:
                language_of(code)
            except UnknownLanguage as exc:
                raise ValueError(str(exc)) from exc
        return [code.strip().lower() for code in value]

    @field_validator("login_rate_limit", "feeds_rate_limit")
    @classmethod
    def _check_rate(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip() and info.field_name == "feeds_rate_limit":
            return ""
        from limits import parse  # noqa: PLC0415 - only to check the value here

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"not a rate like '10/minute' or '100/5minutes': {value!r}") from exc
        return value.strip()

    @field_validator("disclaimer")
    @classmethod
    def _check_disclaimer(cls, value: str) -> str:
        from shared.enrichment.standing import (  # noqa: PLC0415
            DISCLAIMER_FIELDS,
            TemplateError,
            check_template,
        )

        try:
            check_template(value, DISCLAIMER_FIELDS)
        except TemplateError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("fetch_allowed_hosts")
    @classmethod
    def _check_hosts(cls, value: list[str]) -> list[str]:
        for item in value:
            host, _, port = item.rpartition(":")
            if not host.strip("[]") or not port.isdigit():
                raise ValueError(f"{item!r} is not host:port")
        return [item.lower() for item in value]

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _derive_and_check(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'crossfeed.db'}"
        self.database_url = normalise_database_url(self.database_url)
        if not self.public_url:
            self.public_url = f"http://{self.web_host}:{self.web_port}"
        if not self.site_url:
            self.site_url = self.public_url
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError("task_soft_time_limit must be below task_time_limit")
        # A Redis broker redelivers an unacknowledged task after the visibility timeout; a task
        # still running then would run twice at once.
        if self.broker_visibility_timeout <= self.task_time_limit:
            raise ValueError("broker_visibility_timeout must exceed task_time_limit")
        if self.redelivery_after_seconds <= self.task_time_limit:
            raise ValueError("redelivery_after_seconds must exceed task_time_limit")
        # A delivery's lease must outlive its task, or two workers could send it at once.
        if self.delivery_lease_seconds <= self.task_time_limit:
            raise ValueError("delivery_lease_seconds must exceed task_time_limit")
        # The poll lock must outlive a poll, or a slow poll and the next one could overlap.
        if self.poll_lease_seconds < 2 * self.fetch_deadline:
            raise ValueError("poll_lease_seconds must be at least twice fetch_deadline")
        # Development means the embedded mode on one machine. A server database or broker is a
        # deployment, whatever CROSSFEED_ENVIRONMENT says (it is easy to forget).
        deployed = not (self.is_sqlite and self.embedded_broker)
        if self.environment != "development" or deployed:
            where = self.environment if not deployed else "a deployment on PostgreSQL or Redis"
            if self.secret_key.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    f"CROSSFEED_SECRET_KEY is a placeholder; set a real secret for {where}"
                )
            if len(self.secret_key.get_secret_value()) < 32:
                raise ValueError("CROSSFEED_SECRET_KEY must be at least 32 characters")
        return self

    @property
    def embedded_broker(self) -> bool:
        """True when no broker server is configured: the filesystem transport is used."""
        return not self.broker_url or self.broker_url.startswith("filesystem:")

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def normalise_database_url(url: str) -> str:
    """Point bare postgres URLs at the psycopg 3 driver, the one we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
