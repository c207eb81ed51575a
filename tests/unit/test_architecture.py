"""The layering rules in docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute names of every module `path` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
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


def test_relative_imports_are_resolved() -> None:
    path = ROOT / "services" / "poller" / "tasks.py"
    assert "services.poller.handlers" in imports(path)


def test_nothing_reads_the_environment_but_settings() -> None:
    # The supervisor builds its children's environment; nothing else reads or writes it.
    allowed = {ROOT / "shared" / "settings.py", ROOT / "shared" / "cli" / "up.py"}
    for folder in ("shared", "services"):
        for path in files(ROOT / folder):
            if path in allowed:
                continue
            text = path.read_text(encoding="utf-8")
            for needle in ("os.environ", "getenv", "environ["):
                assert needle not in text, f"{path} reads the environment ({needle})"


def test_only_the_safe_client_uses_requests() -> None:
    for folder in ("shared", "services"):
        for path in files(ROOT / folder):
            if ROOT / "shared" / "http" not in path.parents:
                assert "requests" not in {m.split(".")[0] for m in imports(path)}, path
