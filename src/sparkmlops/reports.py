"""Report documents under ``reports/<usecase>/<YYYY-MM>/``, written atomically.

Each document carries ``schema_version`` and ``written_at`` and is checked against the
typed contract (:mod:`sparkmlops.reporting.models`, published under ``schemas/``) before it
is written; ``reports/<usecase>/latest.json`` indexes the newest run. Writes go to a temp
file in the same folder and are renamed into place, so an analyst never reads half a
report and a failed run leaves earlier reports intact.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sparkmlops.reporting import contract
from sparkmlops.reporting.models import SCHEMA_VERSION


def json_safe(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def write_json_atomic(path: Path, document: dict) -> None:
    write_text_atomic(path, json.dumps(json_safe(document), indent=2, sort_keys=False, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def month_dir(reports_dir: str, usecase: str, month: str) -> Path:
    return Path(reports_dir) / usecase / month


def report_path(reports_dir: str, usecase: str, month: str, kind: str) -> Path:
    """``kind`` is ``train`` or ``predict``."""
    return month_dir(reports_dir, usecase, month) / f"{kind}_report.json"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_document(path: Path, kind: str, document: dict) -> None:
    """Stamp ``schema_version`` / ``written_at``, check the contract, write atomically.

    ``kind`` names the document in :data:`sparkmlops.reporting.models.DOCUMENTS`.
    """
    stamped = {"schema_version": SCHEMA_VERSION, **document, "written_at": now()}
    stamped["schema_version"] = SCHEMA_VERSION  # a rewritten older document is now in this schema
    contract.check(kind, json.loads(json.dumps(json_safe(stamped), default=str)))  # exactly what lands on disk
    write_json_atomic(path, stamped)


def write_report(reports_dir: str, usecase: str, month: str, kind: str, body: dict) -> Path:
    """Write a train or predict report and point ``latest.json`` at it."""
    header = {"schema_version": SCHEMA_VERSION, "kind": kind, "usecase": usecase, "month": month}
    path = report_path(reports_dir, usecase, month, kind)
    write_document(path, kind, {**header, **{key: value for key, value in body.items() if key not in header}})
    index_path = Path(reports_dir) / usecase / "latest.json"
    index = read_json(index_path) or {"usecase": usecase}
    index[kind] = {"month": month, "run_id": body.get("run_id"),
                   "path": str(path.relative_to(Path(reports_dir) / usecase)), "written_at": now()}
    index["latest"] = index[kind]
    write_document(index_path, "latest", index)
    return path


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
