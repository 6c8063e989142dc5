"""The shipped tabular use cases end to end on generated data: outage_duration (regression,
GBT + grid search), rain_tomorrow (classification, random forest, tuned threshold) and
secom_defect (imbalanced classification, 590 sensors, class weights).

Each: four generated months, a month trained through the CLI, the next through
run_pipeline.sh (spark-submit, gates included). The YAML is the shipped one with a
smaller model and window so the suite stays fast; nothing else changes.

One test file per use case (tests/integration/test_usecase_<name>.py) runs these checks,
so parallel test workers can take the three use cases at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sparkmlops import cli
from tests.support import assert_tracked_in_mlflow
from tests.support.predictions import assert_target_is_the_lakes
from tests.support.report_pages import check_dashboard, check_html_report

REPO = Path(__file__).resolve().parents[2]

SMALL = {  # use case -> (rows per month, model params that keep the test quick, search grid)
    "outage_duration": (400, {"maxIter": 15, "maxDepth": 3}, {"maxDepth": [2, 3]}),
    "rain_tomorrow": (100, {"numTrees": 15, "maxDepth": 6}, None),
    "secom_defect": (800, {"numTrees": 30, "maxDepth": 5}, None),  # fewer rows leave ~20 fails a month: chance level
}


def small_config(root: Path, usecase: str) -> Path:
    raw = yaml.safe_load((REPO / f"conf/usecases/{usecase}.yaml").read_text())
    _, params, grid = SMALL[usecase]
    raw["data"]["base_path"] = str(root / "lake" / usecase)
    raw["window"]["train_months"] = 2
    raw["model"]["params"].update(params)
    if grid:
        raw["model"]["search"]["grid"] = grid
    raw["paths"] = {"registry": str(root / "registry"), "reports": str(root / "reports")}
    path = root / f"{usecase}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(usecase: str, config_file: Path, *args: str) -> int:
    return cli.main([args[0], "--usecase", usecase, "--config", str(config_file), *args[1:]])


def usecase_fixture(usecase: str):
    """The module fixture of one use case's test file: its months run once, checked by several tests."""

    @pytest.fixture(scope="module")
    def usecase_run(tmp_path_factory, spark, mlflow_db_template):
        return run_usecase(usecase, tmp_path_factory, mlflow_db_template)

    return usecase_run


def run_usecase(usecase: str, tmp_path_factory, mlflow_db_template):
    root = tmp_path_factory.mktemp(usecase)
    (root / "mlruns").mkdir()
    shutil.copy(mlflow_db_template, root / "mlruns" / "mlflow.db")  # MLflow tracking on for the pipeline month
    config_file = small_config(root, usecase)
    rows = SMALL[usecase][0]
    codes = {"generate": run(usecase, config_file, "generate", "--months", "2023-01:2023-04", "--rows-per-month", str(rows)),
             "train": run(usecase, config_file, "train", "--test-month", "2023-03")}
    env = {**os.environ, "SPARKMLOPS_VENV": str(Path(sys.executable).parents[1]), "SPARK_LOCAL_IP": "127.0.0.1"}
    pipeline = subprocess.run([str(REPO / "run_pipeline.sh"), "--usecase", usecase, "--config", str(config_file),
                               "--test-month", "2023-04", "--master", "local[2]", "--conf", "spark.sql.shuffle.partitions=2",
                               "--tracking-uri", str(root / "mlruns")],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return usecase, root, codes, pipeline


def read(root: Path, usecase: str, month: str, kind: str) -> dict:
    return json.loads((root / "reports" / usecase / month / f"{kind}_report.json").read_text())


def check_cli_month_and_monthly_pipeline_run_with_gates(usecase_run) -> None:
    usecase, root, codes, pipeline = usecase_run
    assert codes == {"generate": 0, "train": 0}
    assert pipeline.returncode == 0, (pipeline.stdout + pipeline.stderr)[-4000:]
    for step in ("pre-train gate", "train", "post-train gate", "predict", "post-predict gate", "html report"):
        assert f"== {step}" in pipeline.stderr
    history = json.loads((root / "registry" / usecase / "model_registry.json").read_text())["history"]
    assert [record["test_month"] for record in history] == ["2023-03", "2023-04"]
    april = read(root, usecase, "2023-04", "train")
    assert april["metrics"]["current"] is not None  # the March model was scored on April too
    assert_tracked_in_mlflow(root / "mlruns", usecase, april)
    assert read(root, usecase, "2023-04", "predict")["tracking"]["status"] == "ok"
    assert set(april["decision"]["comparison"]) == set(april["promotion_metrics"])
    assert read(root, usecase, "2023-04", "predict")["post_predict_failures"] == []


def check_reports_carry_the_tasks_figures(usecase_run) -> None:
    usecase, root, _, _ = usecase_run
    report = read(root, usecase, "2023-04", "train")
    overall = report["metrics"]["candidate"]["overall"]
    manifest = json.loads((root / "lake" / usecase / "_manifests" / "2023-04.json").read_text())
    assert report["feature_importance"] and report["model"]["features"]["numeric"]
    if report["task"] == "regression":
        assert report["search"]["best_params"] in [entry["params"] for entry in report["search"]["table"]]
        assert len(report["search"]["table"]) == 2
        assert overall["rmse"] >= manifest["best_possible"]["rmse"] * 0.8  # no model beats the noise floor by much
    else:
        assert sum(report["error_analysis"]["confusion_matrix"].values()) == overall["count"]
        assert 0 < report["model"]["threshold"] < 1 and "threshold_tuning" in report["model"]
        assert overall["roc_auc"] <= manifest["best_possible"]["roc_auc"] + 0.05
        assert overall["majority_class_accuracy"] == max(overall["positives"], overall["negatives"]) / overall["count"]
    assert_drift_and_live_performance(root, usecase)
    if usecase == "secom_defect":
        dropped = report["model"]["features"]["dropped"]
        assert any("constant" in why for why in dropped.values()) and any("missing" in why for why in dropped.values())
        assert set(report["model"]["class_weights"]) == {"positive", "negative"}


def assert_drift_and_live_performance(root: Path, usecase: str) -> None:
    """Drift in both April reports over the task's input columns, the policy, the live series."""
    from sparkmlops import config as config_module
    from sparkmlops.tasks import get_task

    columns = get_task(config_module.load(usecase, str(root / f"{usecase}.yaml"))).drift_columns()
    for kind in ("train", "predict"):
        report = read(root, usecase, "2023-04", kind)
        drift = report["drift"]
        assert drift["status"] == "ok" and drift["spark_jobs"] > 0, drift
        assert set(drift["psi"]) == {*columns.numeric, *columns.categorical} and set(drift["categories"]) == set(columns.categorical)
        assert drift["prediction"]["psi"] is not None and report["policy"]["stage"] == kind
        assert len(json.dumps(drift)) < 150_000  # SECOM's 590 sensors: compact PSI, details for flagged ones only
    assert read(root, usecase, "2023-04", "predict")["drift"]["reference"]["window"]["test_month"] in ("2023-03", "2023-04")
    series = json.loads((root / "reports" / usecase / "live_performance.json").read_text())["entries"]
    assert [entry["month"] for entry in series] == ["2023-03", "2023-04"]
    assert series[1]["model_version"] == "v0001" and series[1]["months_in_production"] == 1


def check_predictions_carry_the_target_and_its_errors(usecase_run, spark) -> None:
    """April's predictions (written by run_pipeline.sh) hold the lake's target, every row
    scored (null targets included), and largest_errors ranks them by the task's error."""
    import numpy as np
    import pandas as pd

    from sparkmlops import config as config_module
    from sparkmlops.reporting.prediction_sample import largest_errors
    from sparkmlops.tasks import get_task

    usecase, root, _, _ = usecase_run
    config = config_module.load(usecase, str(root / f"{usecase}.yaml"))
    target, report = config.data.target, read(root, usecase, "2023-04", "predict")
    written = spark.read.parquet(report["predictions_uri"])
    assert written.count() == report["rows"]["rows_out"] == report["prediction_stats"]["rows"]
    assert_target_is_the_lakes(written, spark.read.parquet(str(root / "lake" / usecase / "2023" / "04")), target)

    spec = get_task(config).prediction_error_spec()
    sample = largest_errors(report["predictions_uri"], spec, limit=20, batch_rows=64)
    every = pd.read_parquet(report["predictions_uri"].removeprefix("file://"), columns=[target, spec.prediction])
    observed = every[target]
    if config.data.labels is not None:  # |probability − 1{target is the positive label}|
        positive = config.data.labels.positive
        hit = observed == float(positive) if pd.api.types.is_numeric_dtype(observed) else observed == positive
        observed = hit.astype(float).where(every[target].notna())
    errors = (every[spec.prediction] - observed).abs().dropna()
    assert len(sample) == min(20, len(errors)) and sample["error"].notna().all()
    np.testing.assert_allclose(sample["error"], errors.nlargest(len(sample)).to_numpy())


def check_html_report_and_dashboard(usecase_run, screenshot_dir: Path, record_property) -> None:
    """The page run_pipeline.sh rendered for April, in Chromium, and every dashboard view (AppTest)."""
    usecase, root, _, _ = usecase_run
    measured = check_html_report(root / "reports", usecase, screenshot_dir)
    record_property(f"measured: {usecase} report.html (bytes)", measured["bytes"])
    check_dashboard(root / "reports", root / "registry", usecase)
