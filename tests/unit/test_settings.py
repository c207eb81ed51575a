from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import Settings, normalise_database_url


def build(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_defaults_are_the_embedded_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = build()
    assert settings.environment == "development"
    assert settings.data_dir == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'crossfeed.db'}"
    assert settings.embedded_broker
    assert settings.public_url == "http://127.0.0.1:8000"


def test_database_follows_the_data_dir(tmp_path: Path) -> None:
    settings = build(data_dir=tmp_path / "other")
    assert settings.database_url == f"sqlite:///{tmp_path / 'other' / 'crossfeed.db'}"
    assert settings.broker_dir == tmp_path / "other" / "broker"


@pytest.mark.parametrize("environment", ["production", "test"])
@pytest.mark.parametrize("secret", ["change-me", "", "secret", "CHANGE-ME "])
def test_placeholder_secrets_are_refused_outside_development(environment: str, secret: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        build(environment=environment, secret_key=secret)


def test_short_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        build(environment="production", secret_key="x" * 20)


def test_development_accepts_the_placeholder() -> None:
    assert build(environment="development").secret_key.get_secret_value() == "change-me"


@pytest.mark.parametrize(
    "servers",
    [
        {"database_url": "postgresql://db.internal/crossfeed"},
        {"broker_url": "redis://redis:6379/0"},
    ],
)
def test_a_server_database_or_broker_needs_a_real_secret_even_in_development(
    servers: dict[str, str],
) -> None:
    with pytest.raises(ValidationError, match="a deployment on PostgreSQL or Redis"):
        build(environment="development", **servers)
    assert build(environment="development", secret_key="k" * 40, **servers).environment


def test_allowed_hosts_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSFEED_FETCH_ALLOWED_HOSTS", "127.0.0.1:8001, LOCALHOST:9000,")
    assert build().fetch_allowed_hosts == ["127.0.0.1:8001", "localhost:9000"]


@pytest.mark.parametrize("bad", ["127.0.0.1", "host:", ":80", "host:port"])
def test_allowed_hosts_need_host_and_port(bad: str) -> None:
    with pytest.raises(ValidationError, match="host:port"):
        build(fetch_allowed_hosts=bad)


def test_visibility_timeout_must_exceed_the_longest_task() -> None:
    with pytest.raises(ValidationError, match="visibility_timeout"):
        build(task_time_limit=4000, task_soft_time_limit=3000, redelivery_after_seconds=5000)


def test_a_delivery_lease_must_outlive_the_longest_task() -> None:
    with pytest.raises(ValidationError, match="delivery_lease_seconds"):
        build(delivery_lease_seconds=300)  # the default task_time_limit is 300


def test_redelivery_must_wait_for_the_longest_task() -> None:
    with pytest.raises(ValidationError, match="redelivery_after_seconds"):
        build(redelivery_after_seconds=100)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgres_urls_use_psycopg(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_redis_broker_is_not_embedded() -> None:
    assert not build(broker_url="redis://127.0.0.1:6379/0", secret_key="k" * 40).embedded_broker


def test_the_poll_lease_must_outlive_a_fetch() -> None:
    with pytest.raises(ValidationError, match="poll_lease_seconds"):
        build(fetch_deadline=60, poll_lease_seconds=100)
    assert build(fetch_deadline=50, poll_lease_seconds=100).poll_lease_seconds == 100


def test_enrichment_settings_are_checked_at_load(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"unknown placeholder\(s\) \{editor\}"):
        build(disclaimer="Translated by {editor}.")
    with pytest.raises(ValidationError, match="'xx' is not a language code"):
        build(enrich_languages="ar,xx")
    rules = tmp_path / "rules.toml"
    rules.write_text('[[category]]\nname = "Sport"\nmin_words = 0\n', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"rules.toml: category #1: min_words"):
        build(category_files=str(rules))
    settings = build(enrich_languages="AR, en", disclaimer="By {newsroom} from {source}.")
    assert settings.enrich_languages == ["ar", "en"]
