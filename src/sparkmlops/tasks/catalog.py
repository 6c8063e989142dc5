"""What each task offers, as plain data: its metrics and their direction.

Kept free of Spark so the config can validate metric names against the use case's task
at load time. The tasks' code (:mod:`sparkmlops.tasks`) computes exactly these metrics.
"""

from __future__ import annotations

REGRESSION, CLASSIFICATION, FORECASTING = "regression", "classification", "forecasting"
TASKS = (REGRESSION, CLASSIFICATION, FORECASTING)

#: task -> metric -> higher is better
METRICS: dict[str, dict[str, bool]] = {
    REGRESSION: {"rmse": False, "mae": False, "r2": True},
    CLASSIFICATION: {
        "roc_auc": True, "pr_auc": True, "f1": True, "precision": True, "recall": True,
        "balanced_accuracy": True, "accuracy": True, "log_loss": False, "brier": False,
    },
    # herd-level: over the series' own RMSE / MAE on the same test days
    FORECASTING: {"mean_rmse": False, "median_rmse": False, "mean_mae": False, "p90_rmse": False},
}

#: how reports and reasons name a metric
DISPLAY = {
    "rmse": "RMSE", "mae": "MAE", "r2": "R²", "roc_auc": "ROC AUC", "pr_auc": "PR AUC", "f1": "F1",
    "precision": "precision", "recall": "recall", "balanced_accuracy": "balanced accuracy",
    "accuracy": "accuracy", "log_loss": "log loss", "brier": "Brier score",
    "mean_rmse": "mean RMSE", "median_rmse": "median RMSE", "mean_mae": "mean MAE", "p90_rmse": "90th percentile RMSE",
}


def higher_is_better(task: str, metric: str) -> bool:
    """Direction of ``metric`` for ``task`` (KeyError for an unknown pair)."""
    return METRICS[task][metric]


def display(metric: str) -> str:
    return DISPLAY.get(metric, metric.upper())
