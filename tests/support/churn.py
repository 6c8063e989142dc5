"""A table none of the shipped use cases has: customer churn, written as a user's monthly Parquet exports.

Used by the test that adds a data set with YAML only (no Python): numeric, categorical,
a timestamp, a text label, missing values and a category that appears only in the last
month. The churn probability is logistic in tickets, tenure and plan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

MONTHS = ("2023-01", "2023-02", "2023-03", "2023-04")


def month_table(month: str, rows: int = 500, seed: int = 3, churn_value: str = "yes") -> pd.DataFrame:
    rng = np.random.default_rng(seed + int(month[-2:]))
    plan = rng.choice(["basic", "pro", "enterprise"], rows, p=[0.5, 0.35, 0.15])
    regions = ["north", "south", "east", "west"] + (["mars"] if month == MONTHS[-1] else [])  # unseen in training
    tenure = rng.integers(1, 60, rows)
    tickets = rng.poisson(1.5, rows)
    logit = -1.0 + 0.8 * tickets - 0.05 * tenure + np.where(plan == "basic", 0.8, np.where(plan == "pro", 0.0, -0.8))
    churned = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), churn_value, "no")
    spend = np.round(rng.gamma(3, 20, rows), 2)
    days = rng.integers(1, 28, rows)
    return pd.DataFrame({
        "event_time": pd.to_datetime([f"{month}-{d:02d} 12:00" for d in days]),  # nanoseconds, as pandas writes
        "plan": plan, "region": rng.choice(regions, rows), "tenure_months": tenure.astype("int32"),
        "support_tickets": tickets, "monthly_spend": np.where(rng.random(rows) < 0.1, np.nan, spend), "churned": churned,
    })


def write_exports(folder: Path, **kwargs) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for month in MONTHS:
        path = folder / f"churn_{month}.parquet"
        month_table(month, **kwargs).to_parquet(path)
        paths.append(path)
    return paths


def churn_yaml(root: Path) -> dict:
    """What a user writes into conf/usecases/customer_churn.yaml: YAML only."""
    return {
        "usecase": "customer_churn", "task": "classification",
        "data": {
            "base_path": str(root / "lake" / "customer_churn"), "target": "churned", "timestamp_column": "event_time",
            "labels": {"positive": "yes", "negative": "no"},
            "columns": {"event_time": "timestamp", "plan": "string", "region": "string", "tenure_months": "int",
                        "support_tickets": "int", "monthly_spend": "double", "churned": "string"},
        },
        "cleaning": {"rules": {"null_target": "churned IS NOT NULL", "tenure_known": "tenure_months > 0"}},
        "features": {"module": "tabular", "params": {
            "numeric": ["tenure_months", "support_tickets", "monthly_spend"], "categorical": ["plan", "region"],
            "date_parts": {"event_time": ["dayofweek"]},
            "derived": {"spend_per_tenure_month": "monthly_spend / tenure_months"}, "encoding": "onehot"}},
        "model": {"type": "logistic_regression", "params": {"regParam": 0.01}, "class_weight": "balanced",
                  "threshold": {"tune": "f1"}},
        "evaluation": {"metrics": ["roc_auc", "pr_auc", "f1"], "error_causes": {"many_tickets": "support_tickets >= 3"}},
        "gates": {"post_train": {"roc_auc": {"min": 0.6}}, "positive_share": {"min": 0.05, "max": 0.9}},
        "paths": {"registry": str(root / "registry"), "reports": str(root / "reports")},
    }


def write_yaml(root: Path, raw: dict | None = None) -> Path:
    path = root / "customer_churn.yaml"
    path.write_text(yaml.safe_dump(raw or churn_yaml(root), sort_keys=False))
    return path
