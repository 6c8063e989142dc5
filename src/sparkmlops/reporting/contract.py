"""Reading and checking report documents against the contract in :mod:`.models`.

Writers call :func:`check` before a document reaches ``reports/``; readers (the HTML
report, the dashboard, ``sparkmlops report``) call :func:`parse`, which reads the current
``schema_version``, upgrades an older one it knows, and refuses anything else with one
paragraph that says which file, why, and what to do.

Schema history:
  1  the documents written before the contract was typed (no ``written_at``; reports
     from before monitoring also lack ``drift``, ``live_performance``, ``policy`` and
     ``tracking``, which the models treat as optional).
  2  the typed contract; every document carries ``written_at``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sparkmlops.errors import DataError
from sparkmlops.reporting.models import DOCUMENTS, SCHEMA_VERSION

OLDEST_READABLE = 1


class ReportSchemaError(DataError):
    """A report document this version cannot read (exit 3)."""


@lru_cache(maxsize=None)
def _adapter(kind: str) -> TypeAdapter:
    return TypeAdapter(DOCUMENTS[kind])


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "the document"
    return f"{where}: {problem['msg']}" + (f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else "")


def check(kind: str, document: dict) -> None:
    """Raise ``ValueError`` when a document about to be written breaks the contract.

    A failure here is a bug in the writer, not bad input: the test suite writes every
    document of every task through this check.
    """
    try:
        _adapter(kind).validate_python(document)
    except ValidationError as error:
        raise ValueError(f"The {kind} document breaks the report contract (schema {SCHEMA_VERSION}): "
                         f"{_first_problem(error)}") from error


def _upgrade_from_1(document: dict) -> dict:
    """Schema 1 -> 2: only ``written_at`` is new; schema 1 never recorded it."""
    return {**document, "schema_version": 2, "written_at": None}


UPGRADES = {1: _upgrade_from_1}  # version -> the step to the next version


def parse(kind: str, document: Any, source: str | Path) -> Any:
    """The typed model of a document read from ``source`` (a path, for the messages).

    Raises:
        ReportSchemaError: not a sparkmlops document of this kind, a ``schema_version``
            newer than this code or older than the oldest it reads, or content that does
            not match its version's contract.
    """
    version = document.get("schema_version") if isinstance(document, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise ReportSchemaError(
            f"{source} is not a sparkmlops {kind} document: it has no integer schema_version.",
            "Reports are read through a versioned contract and this file does not name its version.",
            "Point the command at the reports folder sparkmlops wrote (paths.reports / --reports-dir).")
    if version > SCHEMA_VERSION:
        raise ReportSchemaError(
            f"{source} uses report schema {version}, newer than the {SCHEMA_VERSION} this sparkmlops reads.",
            "It was written by a newer version of sparkmlops.",
            "Upgrade sparkmlops (pip install -U, or pull the repository) to read it.")
    if version < OLDEST_READABLE:
        raise ReportSchemaError(
            f"{source} uses report schema {version}; this sparkmlops reads schemas {OLDEST_READABLE} to {SCHEMA_VERSION}.",
            "Its layout predates the versioned contract.",
            "Rerun that month (train / predict) to write it again in the current schema.")
    while version < SCHEMA_VERSION:
        document = UPGRADES[version](document)
        version = document["schema_version"]
    try:
        return _adapter(kind).validate_python(document)
    except ValidationError as error:
        raise ReportSchemaError(
            f"{source} does not match report schema {version}: {_first_problem(error)}.",
            "The file was edited or written by other software.",
            f"Check it against schemas/{kind}.schema.json, or rerun that month to write it again.") from error


def read(kind: str, path: Path) -> Any | None:
    """The parsed document at ``path`` (None when there is none)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportSchemaError(f"{path} is not valid JSON ({error.msg}, line {error.lineno}).",
                                "The file is damaged or was cut short.",
                                "Rerun that month to write it again.") from error
    return parse(kind, document, path)
