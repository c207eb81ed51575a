"""docs/guarantees.md names the tests that prove each promise: every one named must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_the_guarantees_name_exists() -> None:
    doc = (ROOT / "docs" / "guarantees.md").read_text()
    named, missing = 0, []
    current: list[Path] = []
    for token in re.findall(r"`([^`]+)`", doc):
        test_file = re.match(r"(?:tests/\w+/)?(test_\w+)\.py(?:::(test_\w+))?$", token)
        if test_file:
            current = list((ROOT / "tests").rglob(f"{test_file.group(1)}.py"))
            if not current:
                missing.append(token)
            name = test_file.group(2)
        elif token.startswith("::test_"):
            name = token[2:]
        else:
            continue
        if name:
            named += 1
            if not any(f"def {name}(" in path.read_text() for path in current):
                missing.append(token)
    assert named >= 30
    assert missing == []
