"""Test helpers shared by unit and integration tests (servers started and stopped by pid)."""

import os
from pathlib import Path


def runs_dir() -> Path:
    """Where run_pipeline.sh writes its result markers in tests (tests/conftest.py sets it per process)."""
    return Path(os.environ["SPARKMLOPS_RUNS_DIR"])


def assert_tracked_in_mlflow(store: Path, usecase: str, train_report: dict) -> None:
    """The month's train run is in the local MLflow store, its candidate registered, and the
    alias the JSON decision implies (champion if promoted, else challenger) points at it."""
    from mlflow import MlflowClient

    tracking = train_report["tracking"]
    assert tracking["status"] == "ok", tracking
    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    run = client.get_run(tracking["run_id"])
    assert run.data.tags["test_month"] == train_report["window"]["test_month"]
    assert {f"candidate_{m}" for m in train_report["promotion_metrics"]} <= set(run.data.metrics)
    alias = "champion" if train_report["decision"]["promoted"] else "challenger"
    version = client.get_model_version_by_alias(f"sparkmlops-{usecase}", alias)
    assert version.tags["sparkmlops_version"] == train_report["decision"]["candidate_version"]
