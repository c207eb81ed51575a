"""docker-compose.yml as the tests read it: its services, their commands and environment.

No Docker engine runs here, so tests start each service's command as a local process with the
environment compose would give it (tests/e2e/test_compose_wiring.py, tests/faults/).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.conftest import SECRET

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
INFRA = {"postgres", "redis"}
# Third-party services behind a profile, off unless asked for (machine translation).
OPTIONAL = {"libretranslate"}
APP_SERVICES = sorted(set(COMPOSE["services"]) - INFRA - OPTIONAL)
# What `.env` provides in production; the values here only have to be valid.
COMPOSE_VARIABLES = {"CROSSFEED_SECRET_KEY": SECRET, "POSTGRES_PASSWORD": "unused-locally"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} substitution."""

    def replace(match: re.Match[str]) -> str:
        name, kind, arg = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if kind == "-":
            return arg
        raise AssertionError(f"compose needs {name}: {arg}")

    return _VARIABLE.sub(replace, value)


def service_env(name: str) -> dict[str, str]:
    raw = COMPOSE["services"][name].get("environment", {})
    return {key: interpolate(str(value), COMPOSE_VARIABLES) for key, value in raw.items()}


def command(name: str) -> list[str]:
    """The service's `crossfeed` arguments."""
    argv = [str(part) for part in COMPOSE["services"][name]["command"]]
    assert argv[0] == "crossfeed", f"{name} does not run the crossfeed command"
    return argv[1:]
