"""Comparing two texts (translation versions, source revisions) line by line, for people.

HTML is turned into one line per block (paragraph, heading, list item) of plain text, so a
diff shows what a reader would see change rather than markup. difflib is the standard
library's and does this well.
"""

from __future__ import annotations

import difflib
import re

from shared.html import to_text

# Bounds, so a diff of two megabyte bodies of repeated lines cannot hold a worker for seconds:
# difflib is quadratic in the worst case. Past them the diff says what it left out.
MAX_LINES = 2_000
MAX_LINE = 2_000

_BLOCK_END = re.compile(r"</(p|h[1-6]|li|blockquote|pre|figcaption|tr|div)>|<br\s*/?>", re.I)


def html_lines(fragment: str) -> list[str]:
    blocks = _BLOCK_END.sub("\n", fragment or "").split("\n")
    return [line for line in (to_text(block) for block in blocks) if line]


def unified(
    before: dict[str, str], after: dict[str, str], before_name: str, after_name: str
) -> list[str]:
    """A unified diff of named fields (title, dek, body), each field a section of lines."""

    def lines(doc: dict[str, str]) -> list[str]:
        out = []
        for field, value in doc.items():
            out.append(f"## {field}")
            out.extend(html_lines(value) if field == "body" else [value] if value else [])
        return [line[:MAX_LINE] for line in out]

    old, new = lines(before), lines(after)
    cut = len(old) > MAX_LINES or len(new) > MAX_LINES
    diff = list(
        difflib.unified_diff(
            old[:MAX_LINES], new[:MAX_LINES], fromfile=before_name, tofile=after_name, lineterm=""
        )
    )
    if cut:
        diff.append(f"(compared the first {MAX_LINES:,} lines of each; the rest is not shown)")
    return diff
