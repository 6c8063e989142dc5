"""Drift between a model's training window and a scored month: PSI per feature, category
share shifts and unseen values, missing-rate shifts, and the shift of the predictions.

A train run builds the candidate's reference profile (stored with the model) and compares
it with the test month; a predict run compares the month it scores with the current
model's stored reference, reading nothing but that month. The math on counts is plain
Python (bounded by bins and categories); the counting is :mod:`.profile`'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkmlops.config import DriftConfig
from sparkmlops.monitoring.profile import (
    MISSING, OTHER, PREDICTION, UNSEEN, DriftColumns, KeyCounts, build_reference, count_against, numeric_shares,
)
from sparkmlops.monitoring.spark_jobs import counted_jobs

EPSILON = 1e-4  # share given to an empty bin so PSI stays finite
SHIFTS_LISTED = 5  # largest category share changes a report lists per feature
REFERENCE_PREDICTION = "_drift_reference_prediction"
SAMPLE_SEED = 17  # the same rows every run: a rerun of a month profiles the same sample
_DIGITS = 6


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index: sum of (actual - expected) * ln(actual / expected) over bins."""
    total = 0.0
    for e, a in zip(expected, actual):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _DIGITS)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def numeric_drift(reference: dict, counts: KeyCounts) -> dict:
    """PSI over the reference's bins and the missing rates of one numeric column."""
    cuts = reference["cut_points"]
    scored = numeric_shares(counts, cuts)
    value = psi(reference["shares"], scored) if scored is not None and reference["shares"] is not None else None
    return {"kind": "numeric", "psi": _round(value), "missing_rate_train": _round(reference["missing_rate"]),
            "missing_rate_scored": _round(_rate(counts.counts.get(MISSING, 0), counts.rows)), "rows_scored": counts.rows,
            "cut_points": cuts, "train_shares": [_round(s) for s in reference["shares"] or []],
            "scored_shares": [_round(s) for s in scored or []]}


def categorical_drift(reference: dict, counts: KeyCounts) -> dict:
    """PSI over the top categories + other + unseen, the largest share changes, unseen values."""
    present = counts.rows - counts.counts.get(MISSING, 0)
    labels = [*reference["shares"], OTHER, UNSEEN]
    train = [*reference["shares"].values(), reference["other_share"], 0.0]
    scored = None
    if present:
        scored = [counts.counts.get(c, 0) / present for c in reference["shares"]]
        scored += [counts.counts.get(OTHER, 0) / present, counts.unseen_rows / present]
    comparable = scored is not None and reference["other_share"] is not None
    shifts = sorted(
        ({"value": label, "train_share": _round(t), "scored_share": _round(s), "change": _round(s - t)}
         for label, t, s in zip(labels, train, scored or []) if comparable and t != s),
        key=lambda shift: -abs(shift["change"]))[:SHIFTS_LISTED]
    return {"kind": "categorical", "psi": _round(psi(train, scored)) if comparable else None,
            "missing_rate_train": _round(reference["missing_rate"]),
            "missing_rate_scored": _round(_rate(counts.counts.get(MISSING, 0), counts.rows)), "rows_scored": counts.rows,
            "top_shifts": shifts, "unseen_share": _round(_rate(counts.unseen_rows, present)),
            "unseen_values": [value for value, _ in counts.unseen_top],
            "unseen_known": reference["known_complete"]}


def flags(details: dict[str, dict], prediction: dict | None, settings: DriftConfig) -> list[dict]:
    """Every threshold a feature (or the predictions) crosses: feature, kind, reason, value, threshold."""
    found = []

    def flag(feature: str, kind: str, reason: str, value: float | None, threshold: float) -> None:
        if value is not None and abs(value) > threshold:
            found.append({"feature": feature, "kind": kind, "reason": reason, "value": _round(value), "threshold": threshold})

    for name, detail in details.items():
        flag(name, detail["kind"], "psi", detail["psi"], settings.psi_threshold)
        train, scored = detail["missing_rate_train"], detail["missing_rate_scored"]
        if train is not None and scored is not None:
            flag(name, detail["kind"], "missing_rate", scored - train, settings.missing_rate_threshold)
        if detail["kind"] == "categorical":
            largest = detail["top_shifts"][0]["change"] if detail["top_shifts"] else None
            flag(name, "categorical", "category_share", largest, settings.category_share_threshold)
            if detail["unseen_known"]:
                flag(name, "categorical", "unseen_share", detail["unseen_share"], settings.unseen_share_threshold)
    if prediction is not None:
        flag("prediction", "prediction", "prediction_psi", prediction["psi"], settings.prediction_psi_threshold)
    return found


def compare(reference: dict, counted: dict[str, KeyCounts], settings: DriftConfig) -> dict:
    """The report's drift section: every feature's PSI compactly, details for flagged ones.

    String features keep their (bounded) category details whether flagged or not.
    """
    details = {name: numeric_drift(reference["numeric"][name], counts)
               for name, counts in counted.items() if name in reference["numeric"]}
    details |= {name: categorical_drift(reference["categorical"][name], counts)
                for name, counts in counted.items() if name in reference["categorical"]}
    prediction = None
    if PREDICTION in counted and reference.get("prediction"):
        prediction = numeric_drift(reference["prediction"], counted[PREDICTION])
        prediction.pop("kind")
    flagged = flags(details, prediction, settings)
    flagged_names = sorted({item["feature"] for item in flagged})
    scored_rows = max((counts.rows for name, counts in counted.items() if name != PREDICTION), default=0)
    return {
        "status": "ok",
        "reference": {"window": reference.get("window"), "rows": reference.get("rows"),
                      "model_version": reference.get("model_version")},
        "scored_rows": scored_rows,
        "thresholds": settings.model_dump(exclude={"enabled"}),
        "flagged_features": len(flagged_names),
        "flagged": flagged,
        "psi": {name: detail["psi"] for name, detail in details.items()},
        "missing_rates": {name: [detail["missing_rate_train"], detail["missing_rate_scored"]]
                          for name, detail in details.items()
                          if detail["missing_rate_train"] or detail["missing_rate_scored"]},
        "features": {name: details[name] for name in flagged_names if name in details and details[name]["kind"] == "numeric"},
        "categories": {name: {k: v for k, v in detail.items() if k != "kind"}
                       for name, detail in details.items() if detail["kind"] == "categorical"},
        "prediction": prediction,
    }


def _timed(report: dict, jobs) -> dict:
    return {**report, "spark_jobs": jobs.jobs, "seconds": jobs.seconds}


def measure_at_train(spark: SparkSession, task, candidate, train_rows: DataFrame, test_rows: DataFrame,
                     scored: DataFrame, window: dict, settings: DriftConfig,
                     train_row_count: int | None = None) -> tuple[dict | None, dict]:
    """The candidate's reference profile of its training window, and the test month's drift.

    The features are profiled over every training row. The reference prediction
    distribution needs the window scored by the candidate, which cost most of the step at
    realistic sizes (benchmarks/monitoring), so it comes from a seeded sample of about
    ``settings.prediction_reference_rows`` rows; a quantile profile of 10 bins from
    200,000 rows moves each share by well under a percent.

    Returns ``(reference, report section)``; the reference is stored with the model so a
    predict run needs only the month it scores. ``(None, disabled)`` when drift is off.
    """
    if not settings.enabled:
        return None, {"status": "disabled"}
    columns = task.drift_columns()
    with counted_jobs(spark, "drift: reference of the training window and the test month") as jobs:
        # two passes over the features: keep their few columns instead of reading the window twice
        features = train_rows.select(*[F.col(f"`{name}`") for name in (*columns.numeric, *columns.categorical)]).persist()
        try:
            reference = build_reference(features, columns, None, settings.bins, settings.max_categories)
        finally:
            features.unpersist()
        fraction = _sample_fraction(settings.prediction_reference_rows, train_row_count)
        sampled = train_rows if fraction >= 1 else train_rows.sample(fraction=fraction, seed=SAMPLE_SEED)
        predictions = task.drift_reference_rows(candidate, sampled, REFERENCE_PREDICTION).select(REFERENCE_PREDICTION).persist()
        try:
            profile = build_reference(predictions, DriftColumns(), REFERENCE_PREDICTION, settings.bins, settings.max_categories)
        finally:
            predictions.unpersist()
        reference["prediction"] = {**profile["prediction"], "sampled_fraction": round(fraction, 6)}
        reference["window"] = window
        counted = count_against(test_rows, reference, list(columns.numeric), list(columns.categorical))
        counted |= count_against(scored, reference, [], [], prediction=task.drift_prediction_column())
    return reference, _timed(compare(reference, counted, settings), jobs)


def _sample_fraction(target_rows: int, rows: int | None) -> float:
    """The share of the training window to score for the prediction reference (1: all of it)."""
    return 1.0 if not rows or rows <= target_rows else target_rows / rows


def measure_at_predict(spark: SparkSession, task, reference: dict | None, month_rows: DataFrame, written: DataFrame,
                       settings: DriftConfig, model_version: str) -> dict:
    """The scored month against the current model's stored reference (one pass over the month)."""
    if not settings.enabled:
        return {"status": "disabled"}
    if reference is None:
        return {"status": "no_reference", "model_version": model_version,
                "reason": f"model {model_version} was saved without a drift reference (trained before drift "
                          "monitoring existed); the next model a train run registers carries one"}
    columns = task.drift_columns()
    numeric = [name for name in columns.numeric if name in reference["numeric"]]
    categorical = [name for name in columns.categorical if name in reference["categorical"]]
    with counted_jobs(spark, "drift: the scored month against the model's reference") as jobs:
        counted = count_against(month_rows, reference, numeric, categorical)
        if reference.get("prediction"):
            counted |= count_against(written, reference, [], [], prediction=task.written_prediction_column())
    report = _timed(compare(reference, counted, settings), jobs)
    report["reference"]["model_version"] = model_version
    not_profiled = sorted({*columns.numeric, *columns.categorical} - {*numeric, *categorical})
    if not_profiled:
        report["not_in_reference"] = not_profiled
    return report
