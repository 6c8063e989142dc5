"""Gate thresholds as plain functions; tests/gates/*.py assert them on run artifacts.

The promotion decision calls :func:`post_train_failures` too, so a candidate that would
fail the post-train gate is never promoted.
"""

from __future__ import annotations

import math

from sparkmlops.config import GatesConfig
from sparkmlops.promotion import display


def post_train_failures(metrics: dict[str, float], gates: GatesConfig) -> list[str]:
    """Human-readable threshold violations of a model's test-month metrics ([] = pass)."""
    failures = []
    for name, threshold in gates.post_train.items():
        value = metrics.get(name)
        label = display(name)
        if value is None or not math.isfinite(value):
            failures.append(f"{label} is not a finite number")
            continue
        if threshold.max is not None and not value < threshold.max:
            failures.append(f"{label} {value:.4g} >= max {threshold.max:g}")
        if threshold.min is not None and not value > threshold.min:
            failures.append(f"{label} {value:.4g} <= min {threshold.min:g}")
    mae, rmse = metrics.get("mae"), metrics.get("rmse")
    if gates.mae_at_most_rmse and mae is not None and rmse is not None and mae > rmse + 1e-9:
        failures.append(f"MAE {mae:.4g} > RMSE {rmse:.4g}, which is impossible for one set of errors")
    return failures


def post_predict_failures(stats: dict, gates: GatesConfig) -> list[str]:
    """Violations of the prediction bounds, from the predict report's statistics."""
    failures = []
    if stats.get("rows", 0) == 0:
        failures.append("no predictions were written")
    if stats.get("non_finite", 0):
        failures.append(f"{stats['non_finite']} predictions are NaN or infinite")
    if stats.get("below_min", 0):
        failures.append(f"{stats['below_min']} predictions are below {gates.prediction_min:g}")
    if stats.get("above_max", 0):
        failures.append(f"{stats['above_max']} predictions are at or above {gates.prediction_max:g}")
    return failures


def pre_train_failures(checks: dict, min_retention: float) -> list[str]:
    """Violations in a dry run's input checks (window complete enough, rows retained)."""
    failures = []
    if len(checks.get("window", {}).get("train_months", [])) < 2:
        failures.append("fewer than 2 train months")
    for split, stats in checks.get("rows", {}).items():
        if stats.get("rows_in", 0) == 0:
            failures.append(f"{split} data is empty")
        elif stats.get("retention", 0) < min_retention:
            failures.append(f"{split} retention {stats['retention']:.1%} < {min_retention:.0%}")
    return failures
