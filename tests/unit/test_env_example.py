"""`.env.example` documents every setting, and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices

from shared.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}


def documented() -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", EXAMPLE.read_text(encoding="utf-8"), re.M))


def expected() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.add(str(alias.choices[0]))
        else:
            names.add(f"CROSSFEED_{name.upper()}")
    return names


def test_every_setting_is_documented() -> None:
    assert expected() - documented() == set()


def test_nothing_documented_is_unknown() -> None:
    assert documented() - expected() - COMPOSE_ONLY == set()


def test_the_example_loads_as_development_settings(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    settings = Settings(_env_file=env)
    assert settings.environment == "development"
    assert settings.embedded_broker and settings.is_sqlite
    assert settings.metrics_dir is None
