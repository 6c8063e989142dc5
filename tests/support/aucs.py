"""ROC AUC and average precision computed in pandas (rank-based), independently of the code under test."""

from __future__ import annotations

import pandas as pd


def roc_auc(score: pd.Series, positive: pd.Series) -> float:
    """Mann-Whitney: P(a positive outranks a negative), ties counted half (average ranks)."""
    ranks = score.rank(method="average")
    positives = int(positive.sum())
    negatives = len(score) - positives
    return float((ranks[positive.astype(bool)].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(score: pd.Series, positive: pd.Series) -> float:
    """Σ over distinct scores, highest first, of (positives there / all positives) × precision at that score."""
    groups = pd.DataFrame({"score": score, "pos": positive.astype(int)}).groupby("score")["pos"].agg(["sum", "count"])
    groups = groups.sort_index(ascending=False)
    true_positives, predicted = groups["sum"].cumsum(), groups["count"].cumsum()
    return float((groups["sum"] * true_positives / predicted).sum() / groups["sum"].sum())
