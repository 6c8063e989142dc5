"""Binary classification metrics from a score histogram per class (pure Python, no Spark).

One Spark aggregation over the scored rows gives, per class and per score bin of width
1/``BINS``, the row count, the sum and sum of squares of the score and the summed log
loss, plus the exact confusion counts at the model's threshold. From that alone come
ROC AUC, PR AUC (average precision), every threshold metric, the best threshold for a
tuning objective, the Brier score, the log loss and a calibration table — so 590
features or 10 million rows still cost one pass. Scores in the same bin count as tied,
which changes ROC AUC by at most the share of pairs tied within a bin.

A metric that is undefined on the rows (one class only, nothing predicted positive) is
NaN and its reason is listed under ``undefined``; it never counts as an improvement or a
gate pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BINS = 1000


@dataclass
class Histogram:
    """Per-bin sums for the negative (0) and positive (1) class, and exact counts at the threshold.

    Attributes:
        count: ``count[c][b]`` rows of class c whose score falls in bin b.
        score_sum, score_sq_sum: sum of scores and of squared scores per class and bin.
        log_loss_sum: summed log loss over all rows.
        predicted_positive: rows of each class with score >= threshold (exact, not binned).
        threshold: the threshold the predicted counts use.
        non_finite: rows whose score is NaN or missing (not in the bins).
    """

    count: list[list[int]] = field(default_factory=lambda: [[0] * BINS, [0] * BINS])
    score_sum: list[list[float]] = field(default_factory=lambda: [[0.0] * BINS, [0.0] * BINS])
    score_sq_sum: list[list[float]] = field(default_factory=lambda: [[0.0] * BINS, [0.0] * BINS])
    log_loss_sum: float = 0.0
    predicted_positive: list[int] = field(default_factory=lambda: [0, 0])
    threshold: float = 0.5
    non_finite: int = 0

    def totals(self) -> tuple[int, int]:
        """(negatives, positives)."""
        return sum(self.count[0]), sum(self.count[1])


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def roc_auc(hist: Histogram) -> float:
    """Area under the ROC curve, ties within a bin counted as half (trapezoid)."""
    negatives, positives = hist.totals()
    if not negatives or not positives:
        return math.nan
    area, true_positives_above = 0.0, 0
    for b in range(BINS - 1, -1, -1):
        pos, neg = hist.count[1][b], hist.count[0][b]
        area += neg * (true_positives_above + pos / 2.0)
        true_positives_above += pos
    return area / (negatives * positives)


def average_precision(hist: Histogram) -> float:
    """PR AUC as average precision: sum over score bins (high to low) of recall gained × precision there."""
    negatives, positives = hist.totals()
    if not positives or not negatives:
        return math.nan
    total, tp, fp = 0.0, 0, 0
    for b in range(BINS - 1, -1, -1):
        pos, neg = hist.count[1][b], hist.count[0][b]
        tp, fp = tp + pos, fp + neg
        if pos:
            total += (pos / positives) * (tp / (tp + fp))
    return total


def confusion_at_bin(hist: Histogram, first_positive_bin: int) -> dict[str, int]:
    """Confusion counts when every bin >= ``first_positive_bin`` is predicted positive."""
    tp = sum(hist.count[1][first_positive_bin:])
    fp = sum(hist.count[0][first_positive_bin:])
    negatives, positives = hist.totals()
    return {"tp": tp, "fp": fp, "fn": positives - tp, "tn": negatives - fp}


def threshold_metrics(confusion: dict[str, int]) -> tuple[dict[str, float], dict[str, str]]:
    """Precision, recall, F1, balanced accuracy and accuracy of a confusion matrix, with reasons for undefined ones."""
    tp, fp, fn, tn = (confusion[k] for k in ("tp", "fp", "fn", "tn"))
    positives, negatives, predicted = tp + fn, fp + tn, tp + fp
    undefined = {}
    if not predicted:
        undefined["precision"] = "no row is predicted positive"
    if not positives:
        undefined["recall"] = undefined["balanced_accuracy"] = "no positive row"
    if not negatives:
        undefined["balanced_accuracy"] = "no negative row"
    precision, recall = _ratio(tp, predicted), _ratio(tp, positives)
    if "precision" in undefined or "recall" in undefined:
        undefined["f1"] = undefined.get("precision") or undefined["recall"]
        f1 = math.nan
    else:
        f1 = _ratio(2 * precision * recall, precision + recall) if precision + recall else 0.0
    balanced = (recall + _ratio(tn, negatives)) / 2 if "balanced_accuracy" not in undefined else math.nan
    metrics = {"precision": precision, "recall": recall, "f1": f1, "balanced_accuracy": balanced,
               "accuracy": _ratio(tp + tn, positives + negatives)}
    return metrics, undefined


def best_threshold(hist: Histogram, objective: str) -> tuple[float, float]:
    """The bin boundary k/BINS maximising ``objective`` (f1 or balanced_accuracy); ties go to the one nearest 0.5.

    Returns:
        (threshold, the objective's value there). (0.5, NaN) when it is undefined everywhere.
    """
    negatives, positives = hist.totals()
    best = (math.nan, 0.5)
    tp = fp = 0
    for k in range(BINS - 1, 0, -1):  # bins >= k predicted positive; walk down accumulating
        tp, fp = tp + hist.count[1][k], fp + hist.count[0][k]
        metrics, undefined = threshold_metrics({"tp": tp, "fp": fp, "fn": positives - tp, "tn": negatives - fp})
        if objective in undefined:
            continue
        value, threshold = metrics[objective], k / BINS
        if math.isnan(best[0]) or value > best[0] + 1e-12 or (
                abs(value - best[0]) <= 1e-12 and abs(threshold - 0.5) < abs(best[1] - 0.5)):
            best = (value, threshold)
    return best[1], best[0]


def calibration(hist: Histogram, groups: int) -> list[dict]:
    """Mean score against the observed positive rate in ``groups`` equal-width score ranges."""
    per_group = BINS // groups
    table = []
    for g in range(groups):
        bins = range(g * per_group, BINS if g == groups - 1 else (g + 1) * per_group)
        n = sum(hist.count[c][b] for c in (0, 1) for b in bins)
        if not n:
            continue
        scores = sum(hist.score_sum[c][b] for c in (0, 1) for b in bins)
        table.append({"score_from": round(bins.start / BINS, 4), "score_to": round(bins.stop / BINS, 4), "rows": n,
                      "mean_score": scores / n, "positive_rate": sum(hist.count[1][b] for b in bins) / n})
    return table


def metrics(hist: Histogram, calibration_groups: int = 10) -> dict:
    """Every classification metric of the catalog, the confusion matrix at the threshold and a calibration table."""
    negatives, positives = hist.totals()
    n = negatives + positives
    confusion = {"tp": hist.predicted_positive[1], "fp": hist.predicted_positive[0],
                 "fn": positives - hist.predicted_positive[1], "tn": negatives - hist.predicted_positive[0]}
    at_threshold, undefined = threshold_metrics(confusion)
    if not positives or not negatives:
        reason = "only one class in the rows" if n else "no rows"
        undefined.update(roc_auc=reason, pr_auc=reason)
    squared_error = sum(hist.score_sq_sum[0]) + sum(hist.score_sq_sum[1]) - 2 * sum(hist.score_sum[1]) + positives
    overall = {
        "count": n, "positives": positives, "negatives": negatives, "positive_rate": _ratio(positives, n),
        "threshold": hist.threshold, "predicted_positive_share": _ratio(confusion["tp"] + confusion["fp"], n),
        "roc_auc": roc_auc(hist), "pr_auc": average_precision(hist), **at_threshold,
        "log_loss": _ratio(hist.log_loss_sum, n), "brier": _ratio(squared_error, n), "non_finite_scores": hist.non_finite,
    }
    return {"overall": overall, "undefined": undefined, "confusion_matrix": confusion,
            "calibration": calibration(hist, calibration_groups)}
