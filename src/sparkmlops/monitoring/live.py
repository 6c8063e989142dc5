"""The current model's performance on months it never saw, one entry per test month.

Each train run scores the current model on the new test month before deciding; the entry
(version, the promotion metrics and the task's overall metrics, when it was promoted, for
how many months it has served) goes into ``reports/<usecase>/live_performance.json``,
sorted by month; a rerun of a month replaces its entry.
"""

from __future__ import annotations

from pathlib import Path

from sparkmlops import reports

LIVE_FILE = "live_performance.json"


def months_between(first: str, last: str) -> int:
    (y1, m1), (y2, m2) = (map(int, first.split("-")), map(int, last.split("-")))
    return (y2 * 12 + m2) - (y1 * 12 + m1)


def live_entry(month: str, state: dict, current_evaluation: dict | None, metrics: list[str], run_id: str) -> dict:
    """This month's entry, from the registry state before the decision and the current model's evaluation."""
    current = state.get("current")
    if not current or current_evaluation is None:
        return {"month": month, "status": "no_current_model", "model_version": None, "run_id": run_id}
    version = current["version"]
    promotion = next((r for r in reversed(state["history"]) if r.get("version") == version and r.get("promoted")), {})
    promoted_in = promotion.get("test_month")  # an operator's promotion or rollback has none
    overall = current_evaluation["overall"]
    return {
        "month": month, "status": "scored", "model_version": version, "run_id": run_id,
        "promoted_in_month": promoted_in, "promoted_at": current.get("promoted_at"), "promoted_by": promotion.get("outcome"),
        "months_in_production": months_between(promoted_in, month) if promoted_in else None,
        "metrics": {name: overall.get(name) for name in metrics},
        "overall": {key: value for key, value in overall.items() if isinstance(value, (int, float))},
        "undefined": current_evaluation.get("undefined", {}),
    }


def out_of_order(entry: dict) -> dict:
    """The entry of a month older than the newest decided one: not live, so not in the series.

    The current model was chosen after that month and may have trained on it, so its
    score there says nothing about how it performs on months it has never seen.
    """
    return {"month": entry["month"], "status": "out_of_order", "model_version": entry.get("model_version"),
            "run_id": entry.get("run_id")}


def read(reports_dir: str, usecase: str) -> list[dict]:
    """The series as recorded so far (empty before the first train run)."""
    document = reports.read_json(Path(reports_dir) / usecase / LIVE_FILE) or {}
    return document.get("entries", [])


def record(reports_dir: str, usecase: str, entry: dict) -> list[dict]:
    """Add (or replace) the month's entry in the use case's series; returns the series, by month."""
    path = Path(reports_dir) / usecase / LIVE_FILE
    document = reports.read_json(path) or {"usecase": usecase, "entries": []}
    entries = sorted([e for e in document["entries"] if e["month"] != entry["month"]] + [entry], key=lambda e: e["month"])
    reports.write_document(path, "live_performance", {**document, "entries": entries})
    return entries
