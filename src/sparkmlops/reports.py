"""Report documents under ``reports/<usecase>/<YYYY-MM>/``, written atomically.

Each document carries ``schema_version``; ``reports/<usecase>/latest.json`` indexes the
newest run. Writes go to a temp file in the same folder and are renamed into place, so
an analyst never reads half a report and a failed run leaves earlier reports intact.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


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
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(json_safe(document), stream, indent=2, sort_keys=False, default=str)
            stream.write("\n")
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


def write_report(reports_dir: str, usecase: str, month: str, kind: str, body: dict) -> Path:
    """Write a report document and point ``latest.json`` at it."""
    document = {"schema_version": SCHEMA_VERSION, "kind": kind, "usecase": usecase, "month": month, **body}
    path = report_path(reports_dir, usecase, month, kind)
    write_json_atomic(path, document)
    index_path = Path(reports_dir) / usecase / "latest.json"
    index = read_json(index_path) or {"schema_version": SCHEMA_VERSION, "usecase": usecase}
    index[kind] = {
        "month": month,
        "run_id": body.get("run_id"),
        "path": str(path.relative_to(Path(reports_dir) / usecase)),
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    index["latest"] = index[kind]
    write_json_atomic(index_path, index)
    return path


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
