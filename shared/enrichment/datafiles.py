"""The enricher's data files (gazetteer, category rules): the shipped TOML file, then the
operator's own, read in order, with one fingerprint over all of them."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class DataFileError(ValueError):
    """A data file that cannot be read; the message names the file and the entry."""


def read(
    paths: Iterable[Path], error: type[DataFileError]
) -> tuple[list[tuple[Path, dict[str, Any]]], str]:
    """Each file parsed, in order, and a fingerprint of their text (part of the enricher's
    input: a changed file recomputes). A file that cannot be read raises `error`."""
    digest = hashlib.sha256()
    documents = []
    for path in paths:
        try:
            raw_text = Path(path).read_text(encoding="utf-8")
            documents.append((Path(path), tomllib.loads(raw_text)))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise error(f"{path}: {exc}") from exc
        digest.update(raw_text.encode())
    return documents, digest.hexdigest()[:16]


def entries(
    path: Path, data: dict[str, Any], table: str, model: type[M], error: type[DataFileError]
) -> Iterable[M]:
    """The `[[table]]` entries of one file, validated; the first error (raised as `error`)
    names the entry."""
    for n, raw in enumerate(data.get(table, []), 1):
        try:
            yield model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "entry"
            raise error(f"{path}: {table} #{n}: {where}: {first['msg']}") from exc
