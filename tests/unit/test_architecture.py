"""The layering rules in docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_there_are_five_services() -> None:
    assert SERVICES == ["enricher", "poller", "publisher", "review", "web"]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_only_shared_and_itself(service: str) -> None:
    for path in files(ROOT / "services" / service):
        for module in imports(path):
            if module.startswith("services."):
                assert module.startswith(f"services.{service}"), f"{path} imports {module}"


def test_shared_never_imports_a_service() -> None:
    for path in files(ROOT / "shared"):
        for module in imports(path):
            assert not module.startswith("services"), f"{path} imports {module}"


def test_the_domain_is_pure() -> None:
    forbidden = ("sqlalchemy", "celery", "kombu", "requests", "fastapi", "redis", "shared.db")
    for path in files(ROOT / "shared" / "domain"):
        for module in imports(path):
            assert not module.startswith(forbidden), f"{path} imports {module}"


def test_nothing_reads_the_environment_but_settings() -> None:
    allowed = {ROOT / "shared" / "settings.py", ROOT / "shared" / "cli" / "up.py"}
    for folder in ("shared", "services"):
        for path in files(ROOT / folder):
            if path not in allowed:
                assert "os.environ" not in path.read_text(encoding="utf-8"), path


def test_only_the_safe_client_uses_requests() -> None:
    for folder in ("shared", "services"):
        for path in files(ROOT / folder):
            if ROOT / "shared" / "http" not in path.parents:
                assert "requests" not in {m.split(".")[0] for m in imports(path)}, path
