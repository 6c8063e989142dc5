"""What a train or predict run logs, taken from its report (plain Python, no MLflow).

The report is the source: MLflow holds a searchable copy of its parameters, metrics and
tags, so the two can never disagree on what a run did.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

PARAM_LIMIT = 1000  # MLflow accepts 6000; longer values are in the report artifact anyway
_KEY_CHARS = re.compile(r"[^0-9A-Za-z_\-. /]")


def experiment_name(usecase: str) -> str:
    return f"sparkmlops/{usecase}"


def model_name(usecase: str) -> str:
    return f"sparkmlops-{usecase}"


def key(name: str) -> str:
    """An MLflow-safe key (letters, digits, ``_ - . / space``)."""
    return _KEY_CHARS.sub("_", str(name))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= PARAM_LIMIT else text[: PARAM_LIMIT - 1] + "…"


def flatten(prefix: str, value: Any) -> dict[str, str]:
    """Nested dicts as dotted keys; lists and scalars as text."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for name, item in value.items():
            out.update(flatten(f"{prefix}.{name}" if prefix else str(name), item))
        return out
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value)) if all(isinstance(v, (str, int, float)) for v in value) else value
    return {key(prefix): _text(value)}


def train_params(report: dict) -> dict[str, str]:
    """Model type and parameters, search, window, promotion metrics, config file, code version, data."""
    model = report.get("model") or {}
    window = report.get("window") or {}
    params = {"model.type": _text(model.get("type"))}
    params.update(flatten("model.params", model.get("params") or {}))
    search = report.get("search") or {}
    if search:
        params.update({"search.method": _text(search.get("method")), "search.metric": _text(search.get("metric"))})
        params.update(flatten("search.best_params", search.get("best_params") or {}))
    for name in ("test_month", "train_months", "missing_train_months", "unit", "test_days", "train_days",
                 "missing_train_days"):
        if window.get(name):
            params.update(flatten(f"window.{name}", window[name]))
    fingerprint = report.get("data_fingerprint") or {}
    params.update({
        "promotion_metrics": _text(",".join(report.get("promotion_metrics") or [])),
        "config_file": _text(report.get("config_file") or ""),
        "code_version": _text(report.get("code_version") or ""),
        "data_fingerprint": _text(fingerprint.get("sha256") or ""),
        "data_files": _text(len(fingerprint.get("files") or [])),
    })
    return params


def train_metrics(report: dict) -> dict[str, float]:
    """``candidate_<m>`` and ``current_<m>`` for every overall metric, row counts, stage seconds."""
    metrics: dict[str, float] = {}
    for side in ("candidate", "current"):
        overall = ((report.get("metrics") or {}).get(side) or {}).get("overall") or {}
        for name, value in overall.items():
            number = _number(value)
            if number is not None:
                metrics[key(f"{side}_{name}")] = number
    for name in ("rows_trained_on", "rows_tested_on"):
        if _number(report.get(name)) is not None:
            metrics[name] = float(report[name])
    for split, counts in (report.get("rows") or {}).items():
        for name in ("rows_in", "rows_out", "retention"):
            if _number((counts or {}).get(name)) is not None:
                metrics[key(f"{split}_{name}")] = float(counts[name])
    for stage, seconds in (report.get("timings_seconds") or {}).items():
        if _number(seconds) is not None:
            metrics[key(f"seconds_{stage}")] = float(seconds)
    return metrics


def train_tags(report: dict, usecase: str) -> dict[str, str]:
    decision = report.get("decision") or {}
    tags = {
        "sparkmlops.kind": "train", "sparkmlops.usecase": usecase, "sparkmlops.run_id": report.get("run_id"),
        "test_month": (report.get("window") or {}).get("test_month"), "decision": decision.get("outcome"),
        "promoted": str(bool(decision.get("promoted"))).lower(), "candidate_version": decision.get("candidate_version"),
        "current_version_before": decision.get("current_version_before"),
        "current_version_after": decision.get("current_version_after"),
        "mlflow.note.content": decision.get("reason"),  # the run's description in the MLflow UI
    }
    return {name: _text(value) for name, value in tags.items() if value is not None}


def search_children(report: dict) -> list[dict]:
    """One entry per parameter set the grid search tried: its name, params, metric, best or not."""
    search = report.get("search") or {}
    metric, best = search.get("metric"), search.get("best_params")
    children = []
    for row in search.get("table") or []:
        params = row.get("params") or {}
        value = _number(row.get(metric))
        children.append({
            "name": " ".join(f"{name}={value}" for name, value in params.items()) or "default",
            "params": {key(name): _text(value) for name, value in params.items()},
            "metrics": {} if value is None else {key(f"validation_{metric}"): value},
            "best": params == best,
        })
    return children


def predict_metrics(report: dict) -> dict[str, float]:
    """The numeric prediction statistics and input row counts of a predict report."""
    metrics = {key(f"prediction_{name}"): float(value) for name, value in (report.get("prediction_stats") or {}).items()
               if _number(value) is not None}
    rows = report.get("rows") or {}
    metrics.update({key(f"input_{name}"): float(rows[name]) for name in ("rows_in", "rows_out", "retention")
                    if _number(rows.get(name)) is not None})
    metrics["post_predict_failures"] = float(len(report.get("post_predict_failures") or []))
    return metrics


def predict_tags(report: dict, usecase: str, month: str) -> dict[str, str]:
    tags = {"sparkmlops.kind": "predict", "sparkmlops.usecase": usecase, "sparkmlops.run_id": report.get("run_id"),
            "test_month": month, "model_version": report.get("model_version"),
            "predictions_uri": report.get("predictions_uri")}
    return {name: _text(value) for name, value in tags.items() if value is not None}
