"""Classification metrics from the score histogram against brute-force definitions on the same rows."""

from __future__ import annotations

import math
import random

import pytest

from sparkmlops.tasks import binary_metrics as bm


def histogram(rows: list[tuple[int, float]], threshold: float = 0.5) -> bm.Histogram:
    """What the Spark aggregation builds, built row by row."""
    hist = bm.Histogram(threshold=threshold)
    for label, score in rows:
        b = min(max(math.floor(score * bm.BINS), 0), bm.BINS - 1)
        hist.count[label][b] += 1
        hist.score_sum[label][b] += score
        hist.score_sq_sum[label][b] += score * score
        p = min(max(score, 1e-15), 1 - 1e-15)
        hist.log_loss_sum += -(label * math.log(p) + (1 - label) * math.log(1 - p))
        hist.predicted_positive[label] += score >= threshold
    return hist


def brute_auc(rows):
    pos = [s for y, s in rows if y == 1]
    neg = [s for y, s in rows if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def brute_average_precision(rows):
    ranked = sorted(rows, key=lambda r: -r[1])
    positives = sum(y for y, _ in rows)
    total, tp = 0.0, 0
    for i, (y, _) in enumerate(ranked, start=1):
        if y:
            tp += 1
            total += tp / i
    return total / positives


@pytest.fixture(scope="module")
def rows():
    rng = random.Random(5)
    data = []
    for _ in range(400):
        y = 1 if rng.random() < 0.3 else 0
        score = round(min(max(rng.gauss(0.62 if y else 0.38, 0.18), 0.0), 1.0), 3)  # 3 decimals: one score per bin
        data.append((y, score))
    return data


def test_auc_and_average_precision_match_the_definitions(rows):
    hist = histogram(rows)
    assert bm.roc_auc(hist) == pytest.approx(brute_auc(rows), abs=1e-12)
    assert bm.average_precision(hist) == pytest.approx(brute_average_precision(rows), rel=0.02)


def test_threshold_metrics_brier_and_log_loss(rows):
    result = bm.metrics(histogram(rows, threshold=0.55), calibration_groups=10)
    overall, confusion = result["overall"], result["confusion_matrix"]
    tp = sum(1 for y, s in rows if y and s >= 0.55)
    fp = sum(1 for y, s in rows if not y and s >= 0.55)
    positives = sum(y for y, _ in rows)
    assert confusion == {"tp": tp, "fp": fp, "fn": positives - tp, "tn": len(rows) - positives - fp}
    precision, recall = tp / (tp + fp), tp / positives
    assert overall["precision"] == pytest.approx(precision)
    assert overall["recall"] == pytest.approx(recall)
    assert overall["f1"] == pytest.approx(2 * precision * recall / (precision + recall))
    specificity = (len(rows) - positives - fp) / (len(rows) - positives)
    assert overall["balanced_accuracy"] == pytest.approx((recall + specificity) / 2)
    assert overall["brier"] == pytest.approx(sum((s - y) ** 2 for y, s in rows) / len(rows))
    expected_loss = -sum(y * math.log(max(s, 1e-15)) + (1 - y) * math.log(max(1 - s, 1e-15)) for y, s in rows) / len(rows)
    assert overall["log_loss"] == pytest.approx(expected_loss)
    assert result["undefined"] == {}
    table = result["calibration"]
    assert sum(row["rows"] for row in table) == len(rows)
    first = [s for _, s in rows if s < 0.1]
    assert table[0]["mean_score"] == pytest.approx(sum(first) / len(first))


def test_best_threshold_maximises_the_objective(rows):
    hist = histogram(rows)
    threshold, value = bm.best_threshold(hist, "f1")

    def f1_at(t):
        tp = sum(1 for y, s in rows if y and s >= t)
        fp = sum(1 for y, s in rows if not y and s >= t)
        fn = sum(1 for y, s in rows if y and s < t)
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    assert value == pytest.approx(f1_at(threshold))
    assert value >= max(f1_at(k / 100) for k in range(1, 100)) - 1e-12
    threshold_ba, value_ba = bm.best_threshold(hist, "balanced_accuracy")
    assert 0 < threshold_ba < 1 and value_ba > 0.5


def test_one_class_leaves_ranking_metrics_undefined():
    result = bm.metrics(histogram([(0, 0.2), (0, 0.7), (0, 0.4)]))
    assert math.isnan(result["overall"]["roc_auc"]) and math.isnan(result["overall"]["pr_auc"])
    assert result["undefined"]["roc_auc"] == "only one class in the rows"
    assert result["undefined"]["recall"] == "no positive row"
    assert "f1" in result["undefined"] and "balanced_accuracy" in result["undefined"]


def test_nothing_predicted_positive_makes_precision_undefined():
    result = bm.metrics(histogram([(1, 0.2), (0, 0.1), (1, 0.3)], threshold=0.9))
    assert result["undefined"]["precision"] == "no row is predicted positive"
    assert result["overall"]["recall"] == 0.0 and math.isnan(result["overall"]["f1"])
    assert result["overall"]["roc_auc"] == pytest.approx(1.0)
