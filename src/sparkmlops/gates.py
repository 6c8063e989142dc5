"""Gate checks as plain functions; tests/gates/*.py assert them on run artifacts.

Each task picks its checks (:mod:`sparkmlops.tasks`): every task has the post-train
thresholds; regression adds MAE <= RMSE and the prediction range, classification the
probability checks. The promotion decision uses the same post-train checks, so a
candidate that would fail the post-train gate is never promoted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sparkmlops.config import GatesConfig, Threshold
from sparkmlops.tasks.catalog import display


def threshold_failures(metrics: Mapping[str, float | None], gates: GatesConfig,
                       undefined: Mapping[str, str] | None = None) -> list[str]:
    """Violations of ``gates.post_train`` ([] = pass); min and max are exclusive.

    A metric that is undefined on the test month (e.g. no positive row for recall) never
    passes a threshold: the message says why it is undefined.
    """
    return metric_threshold_failures(metrics, gates.post_train, undefined)


def metric_threshold_failures(metrics: Mapping[str, float | None], thresholds: Mapping[str, Threshold],
                              undefined: Mapping[str, str] | None = None) -> list[str]:
    """Violations of metric -> min / max thresholds (exclusive); also the live-metrics policy's check."""
    failures = []
    undefined = undefined or {}
    for name, threshold in thresholds.items():
        value = metrics.get(name)
        label = display(name)
        if name in undefined:
            failures.append(f"{label} is undefined on the test month ({undefined[name]})")
            continue
        if value is None or not math.isfinite(value):
            failures.append(f"{label} is not a finite number")
            continue
        if threshold.max is not None and not value < threshold.max:
            failures.append(f"{label} {value:.4g} >= max {threshold.max:g}")
        if threshold.min is not None and not value > threshold.min:
            failures.append(f"{label} {value:.4g} <= min {threshold.min:g}")
    return failures


def error_consistency_failures(metrics: Mapping[str, float | None], gates: GatesConfig) -> list[str]:
    """Regression: MAE can never exceed RMSE for one set of errors."""
    mae, rmse = metrics.get("mae"), metrics.get("rmse")
    if gates.mae_at_most_rmse and mae is not None and rmse is not None and mae > rmse + 1e-9:
        return [f"MAE {mae:.4g} > RMSE {rmse:.4g}, which is impossible for one set of errors"]
    return []


def range_predict_failures(stats: dict, gates: GatesConfig) -> list[str]:
    """Regression: every post-predict violation, from the predict report's ``prediction_stats`` ([] = pass)."""
    return [*finite_failures(stats), *out_of_range_failures(stats, gates), *clipping_failures(stats, gates)]


def finite_failures(stats: dict) -> list[str]:
    """No predictions, or any NaN/infinite one: a broken model, so no tolerance applies."""
    rows = stats.get("rows", 0)
    if rows == 0:
        return ["no predictions were written"]
    if stats.get("non_finite", 0):
        return [f"{stats['non_finite']:,} of {rows:,} predictions are NaN or infinite: the model is broken "
                "(no tolerance applies to non-finite predictions)"]
    return []


def out_of_range_count(stats: dict) -> int:
    """Finite raw predictions outside the range (reports older than the tolerance lack the total)."""
    return stats.get("out_of_range", stats.get("below_min", 0) + stats.get("above_max", 0))


def out_of_range_summary(stats: dict, gates: GatesConfig) -> str:
    """E.g. '3 of 4,911 predictions (0.061 %) are outside [0, 500) (3 below 0, 0 at or above 500)'."""
    rows, out = stats.get("rows", 0), out_of_range_count(stats)
    share = out / rows if rows else 0.0
    return (f"{out:,} of {rows:,} predictions ({percent(share)}) are outside "
            f"[{gates.prediction_min:g}, {gates.prediction_max:g}) ({stats.get('below_min', 0):,} below "
            f"{gates.prediction_min:g}, {stats.get('above_max', 0):,} at or above {gates.prediction_max:g})")


def out_of_range_failures(stats: dict, gates: GatesConfig, worst_shown: int = 3) -> list[str]:
    """The out-of-range share of the raw output against ``gates.prediction_out_of_range_tolerance``.

    The message carries the figures and the farthest rows (prediction and inputs), so an
    operator sees why without opening the report.
    """
    rows, out = stats.get("rows", 0), out_of_range_count(stats)
    if not rows or out / rows <= gates.prediction_out_of_range_tolerance:
        return []
    message = (f"{out_of_range_summary(stats, gates)}; the tolerance is "
               f"{percent(gates.prediction_out_of_range_tolerance)} (gates.prediction_out_of_range_tolerance)")
    worst = stats.get("worst_out_of_range") or []
    if worst:
        message += "; worst: " + ", ".join(_describe(item) for item in worst[:worst_shown])
        if len(worst) > worst_shown:
            message += f" (+{len(worst) - worst_shown} more in the report's prediction_stats.worst_out_of_range)"
    return [message]


def clipping_failures(stats: dict, gates: GatesConfig) -> list[str]:
    """Clipped rows match the config: every out-of-range row when clipping is on, none when off."""
    if "clipped" not in stats:  # a report from before clipping existed
        return []
    expected = out_of_range_count(stats) if gates.prediction_clip else 0
    if stats["clipped"] == expected:
        return []
    setting = "on" if gates.prediction_clip else "off"
    return [f"{stats['clipped']:,} written predictions are flagged as clipped, but with gates.prediction_clip {setting} "
            f"{expected:,} should be (was the YAML changed after predict ran?)"]


def percent(share: float) -> str:
    """A share as a percentage with 3 decimals: 0.0002 -> "0.020 %"."""
    return f"{share * 100:.3f} %"


def _describe(item: dict) -> str:
    raw = item.get("prediction_raw")
    value = f"{raw:.2f}" if isinstance(raw, (int, float)) else str(raw)
    inputs = ", ".join(f"{name}={item_value}" for name, item_value in (item.get("inputs") or {}).items())
    return f"{value} ({inputs})"


def probability_predict_failures(stats: dict, gates: GatesConfig) -> list[str]:
    """Classification: probabilities written, finite and in [0, 1], predicted-positive share within bounds."""
    failures = finite_failures(stats)
    if failures:
        return failures
    rows = stats["rows"]
    if stats.get("outside_unit_interval", 0):
        failures.append(f"{stats['outside_unit_interval']:,} of {rows:,} probabilities are outside [0, 1]")
    share, bounds = stats.get("positive_share", 0.0), gates.positive_share
    if bounds.min is not None and share < bounds.min:
        failures.append(f"{percent(share)} of rows are predicted positive, below gates.positive_share.min {percent(bounds.min)}")
    if bounds.max is not None and share > bounds.max:
        failures.append(f"{percent(share)} of rows are predicted positive, above gates.positive_share.max {percent(bounds.max)}")
    return failures


def pre_train_failures(checks: dict, min_retention: float) -> list[str]:
    """Violations in a dry run's input checks (window complete enough, rows retained)."""
    failures = []
    window = checks.get("window", {})
    if window.get("unit") == "day":
        if len(window.get("train_days", [])) < 2:
            failures.append("fewer than 2 train days")
    elif len(window.get("train_months", [])) < 2:
        failures.append("fewer than 2 train months")
    for split, stats in checks.get("rows", {}).items():
        if stats.get("rows_in", 0) == 0:
            failures.append(f"{split} data is empty")
        elif stats.get("retention", 0) < min_retention:
            failures.append(f"{split} retention {stats['retention']:.1%} < {min_retention:.0%}")
    return failures
