"""End to end through the CLI: generate a tiny lake, run six consecutive months (train then
predict, as the monthly loop does), backfill them again, an out-of-order month, then bad
input. Runs in-process on the shared local[2] session (the CLI reuses it)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from sparkmlops import cli
from sparkmlops.registry import Registry
from tests.support.configs import small_taxi_config
from tests.support.predictions import assert_target_is_the_lakes
from tests.support.report_pages import check_dashboard, check_html_report
from tests.support import runs_dir

REPO = Path(__file__).resolve().parents[2]
MONTHS = ["2023-04", "2023-05", "2023-06", "2023-07", "2023-08", "2023-09"]
LAST = MONTHS[-1]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, spark):
    """A tiny taxi YAML (small GBT) pointing at a fresh lake, registry and reports."""
    root = tmp_path_factory.mktemp("monthly")
    config_file, _ = small_taxi_config(root, str(root / "lake" / "taxi_fare"))
    assert run(config_file, "generate", "--months", "2023-01:2023-09", "--rows-per-month", "3000", "--seed", "3") == 0
    return root, config_file


def run(config_file: Path, *args: str) -> int:
    return cli.main([args[0], "--usecase", "taxi_fare", "--config", str(config_file), *args[1:]])


def registry_json(root: Path) -> str:
    path = root / "registry" / "taxi_fare" / "model_registry.json"
    return path.read_text() if path.exists() else ""


def reports_snapshot(root: Path) -> dict[str, str]:
    return {str(p): p.read_text() for p in sorted((root / "reports").rglob("*.json"))}


def predictions_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted((root / "lake" / "predictions").rglob("*"))}


@pytest.fixture(scope="module")
def four_months(workspace):
    """Six months in order, each trained then predicted (the name is historical)."""
    root, config_file = workspace
    codes = []
    for month in MONTHS:
        codes += [run(config_file, "train", "--test-month", month), run(config_file, "predict", "--test-month", month)]
    return root, config_file, codes


def test_consecutive_months_record_one_decision_each(four_months):
    root, _, codes = four_months
    assert codes == [0] * 2 * len(MONTHS)
    state = json.loads(registry_json(root))
    history = state["history"]
    assert [record["test_month"] for record in history] == MONTHS
    assert history[0]["outcome"] == "first_model" and history[0]["promoted"] is True
    assert [record["version"] for record in history] == [f"v{n:04d}" for n in range(1, 7)]
    promoted = [record["version"] for record in history if record["promoted"]]
    assert state["current"]["version"] == promoted[-1]
    assert state["candidate"]["version"] == "v0006"
    for record in history:
        assert record["reason"] and record["code_version"] and record["data_fingerprint"]["sha256"]
        assert set(record["metrics"]["candidate"]) == {"rmse", "mae", "r2"}
    # from the second month on, the current model was scored on the same test month
    assert all(record["metrics"]["current"] is not None for record in history[1:])
    registry_dir = root / "registry" / "taxi_fare"
    assert (registry_dir / "current" / "VERSION").read_text().strip() == state["current"]["version"]
    assert sorted(p.name for p in (registry_dir / "archive").iterdir() if not p.name.startswith(".")) == [
        *(f"v{n:04d}" for n in range(1, 7))]


def test_reports_hold_counts_metrics_decision_and_analysis(four_months):
    root, _, _ = four_months
    reports_dir = root / "reports" / "taxi_fare"
    history = json.loads(registry_json(root))["history"]
    for month, record in zip(MONTHS, history):
        report = json.loads((reports_dir / month / "train_report.json").read_text())
        assert report["schema_version"] == 2 and report["written_at"] and report["run_id"] == record["run_id"]
        assert report["window"]["test_month"] == month and len(report["window"]["train_months"]) == 3
        for split in ("train", "test"):
            rows = report["rows"][split]
            assert rows["rows_in"] - rows["rows_removed"] == rows["rows_out"] > 0
            assert max(rows["failures_by_rule"].values()) <= rows["rows_removed"] <= sum(rows["failures_by_rule"].values())
        assert report["rows_trained_on"] == report["rows"]["train"]["rows_out"]
        assert report["decision"]["reason"] == record["reason"]
        assert report["metrics"]["candidate"]["overall"]["rmse"] == pytest.approx(record["metrics"]["candidate"]["rmse"])
        assert set(report["error_analysis"]["by_bucket"]) <= {"low", "medium", "high", "very_high", "other"}
        assert report["error_analysis"]["large_errors"]["causes"]
        assert len(report["feature_importance"]) == 20
        assert abs(sum(item["importance"] for item in report["feature_importance"]) - 1.0) < 1e-3
        assert {"read", "fit", "evaluate_candidate", "drift", "register"} <= set(report["timings_seconds"])
        drift = report["drift"]
        assert drift["status"] == "ok" and drift["reference"]["window"]["test_month"] == month
        assert set(drift["psi"]) == {"VendorID", "passenger_count", "trip_distance", "RatecodeID", "PULocationID",
                                     "DOLocationID", "payment_type"}  # numeric inputs; timestamps are skipped
        assert drift["prediction"]["psi"] is not None and 0 < drift["spark_jobs"] <= 20
        assert report["policy"]["stage"] == "train" and not report["policy"]["failed"]
        assert report["live_performance"]["this_month"]["month"] == month
    latest = json.loads((reports_dir / "latest.json").read_text())
    assert latest["train"]["month"] == MONTHS[-1]
    series = json.loads((reports_dir / "live_performance.json").read_text())["entries"]
    assert [entry["month"] for entry in series] == MONTHS  # one entry per test month, grown month by month
    assert series[0]["status"] == "no_current_model"
    for entry, record in zip(series[1:], history[1:]):
        assert entry["model_version"] == record["previous_current"] and entry["months_in_production"] >= 1
        assert entry["metrics"] == pytest.approx(record["metrics"]["current"])


def test_rerunning_a_month_changes_nothing(four_months):
    root, config_file, _ = four_months
    before_registry, before_reports = registry_json(root), reports_snapshot(root)
    assert run(config_file, "train", "--test-month", MONTHS[-1]) == 0
    assert registry_json(root) == before_registry
    assert reports_snapshot(root) == before_reports


def test_predict_writes_predictions_and_passes_the_post_predict_gate(four_months, spark):
    root, config_file, _ = four_months
    report = json.loads((root / "reports" / "taxi_fare" / LAST / "predict_report.json").read_text())
    version = json.loads(registry_json(root))["current"]["version"]
    assert report["model_version"] == version
    drift = report["drift"]  # the month against the current model's stored reference
    assert drift["status"] == "ok" and drift["reference"]["model_version"] == version
    assert drift["scored_rows"] == report["rows"]["rows_out"] and drift["prediction"]["psi"] is not None
    written = spark.read.parquet(report["predictions_uri"])
    assert written.count() == report["prediction_stats"]["rows"] == report["rows"]["rows_out"]
    assert {row.model_version for row in written.select("model_version").distinct().collect()} == {version}
    assert dict(written.dtypes)["total_amount"] == "double"  # the observed target, typed as in data.columns
    assert_target_is_the_lakes(written, spark.read.parquet(str(root / "lake" / "taxi_fare" / "2023" / "09")), "total_amount")
    assert run(config_file, "gate", "--stage", "post_predict", "--test-month", LAST) == 0
    assert run(config_file, "gate", "--stage", "post_train", "--test-month", LAST) == 0


def test_largest_errors_of_a_written_month_are_its_absolute_errors(four_months, spark):
    from pyspark.sql import functions as F

    from sparkmlops import config
    from sparkmlops.reporting.prediction_sample import largest_errors
    from sparkmlops.tasks import get_task

    root, config_file, _ = four_months
    report = json.loads((root / "reports" / "taxi_fare" / LAST / "predict_report.json").read_text())
    spec = get_task(config.load("taxi_fare", str(config_file))).prediction_error_spec()
    sample = largest_errors(report["predictions_uri"], spec, limit=25, batch_rows=500)
    assert len(sample) == 25 and sample["error"].is_monotonic_decreasing
    assert (sample["error"] - (sample["prediction"] - sample["total_amount"]).abs()).abs().max() < 1e-9
    error = F.abs(F.col("prediction") - F.col("total_amount"))
    top = spark.read.parquet(report["predictions_uri"]).where(error.isNotNull()).orderBy(error.desc()).limit(25)
    assert sample["error"].tolist() == pytest.approx([row[0] for row in top.select(error).collect()])


def test_backfilling_the_six_months_again_changes_nothing(four_months):
    """Airflow's backfill (or cron catching up) runs every month again, in order."""
    root, config_file, _ = four_months
    before = registry_json(root), reports_snapshot(root), predictions_snapshot(root)
    for month in MONTHS:
        assert run(config_file, "train", "--test-month", month) == 0
        assert run(config_file, "predict", "--test-month", month) == 0
    assert (registry_json(root), reports_snapshot(root), predictions_snapshot(root)) == before


def test_each_month_was_predicted_by_the_model_current_after_its_own_decision(four_months):
    root, _, _ = four_months
    history = json.loads(registry_json(root))["history"]
    for month, record in zip(MONTHS, history):
        report = json.loads((root / "reports" / "taxi_fare" / month / "predict_report.json").read_text())
        assert report["model_version"] == (record["version"] if record["promoted"] else record["previous_current"])


def test_an_old_month_after_newer_ones_is_recorded_without_changing_the_current_model(four_months, capsys):
    root, config_file, _ = four_months
    state = json.loads(registry_json(root))
    assert run(config_file, "train", "--test-month", "2023-03", "--skip-missing") == 0  # the lake starts in 2023-01
    after = json.loads(registry_json(root))
    record = after["history"][-1]
    assert record["test_month"] == "2023-03" and record["outcome"] == "out_of_order" and record["promoted"] is False
    assert "older than " + LAST in record["reason"] and "older than" in capsys.readouterr().out
    assert after["current"] == state["current"] and after["candidate"] == state["candidate"]
    report = json.loads((root / "reports" / "taxi_fare" / "2023-03" / "train_report.json").read_text())
    assert report["decision"]["outcome"] == "out_of_order"
    assert report["decision"]["current_version_after"] == state["current"]["version"]
    assert report["live_performance"]["this_month"]["status"] == "out_of_order"  # scored, but not live
    live_months = [e["month"] for e in json.loads((root / "reports/taxi_fare/live_performance.json").read_text())["entries"]]
    assert "2023-03" not in live_months and live_months == sorted(live_months)
    latest = json.loads((root / "reports" / "taxi_fare" / "latest.json").read_text())
    assert latest["train"]["month"] == "2023-03"  # the newest *run*; the registry says what is current


def test_force_promote_then_rollback_restores_the_previous_current(four_months):
    root, config_file, _ = four_months
    registry = Registry(root / "registry", "taxi_fare")
    state = registry.state()
    if state["current"]["version"] != state["candidate"]["version"]:
        assert run(config_file, "registry", "promote") == 2  # --force is required
        assert run(config_file, "registry", "promote", "--force") == 0
        assert registry.state()["current"]["version"] == state["candidate"]["version"]
        assert registry.history()[-1]["outcome"] == "forced"
    before = registry.state()["current"]["version"]
    assert run(config_file, "registry", "rollback") == 0
    after = registry.state()["current"]["version"]
    assert after != before and after in [r["version"] for r in registry.history() if r.get("promoted")]
    assert registry.history()[-1]["outcome"] == "rolled_back"
    assert (root / "registry" / "taxi_fare" / "current" / "VERSION").read_text().strip() == after


def test_json_logs_carry_the_run_id(workspace, capsys):
    _, config_file = workspace
    assert run(config_file, "train", "--test-month", "2023-04", "--dry-run", "--log-format", "json") == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    documents = [json.loads(line) for line in lines]
    assert documents and all(doc["run_id"].startswith("taxi_fare-") for doc in documents)
    assert any(doc.get("stage") == "read" and doc.get("rows", 0) > 0 for doc in documents)


# --- bad input: clear error, documented exit code, registry and reports untouched ---

def _assert_nothing_changed(root, before_registry, before_reports):
    assert registry_json(root) == before_registry
    assert reports_snapshot(root) == before_reports


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--test-month", "2023-12"), 3, "Test month 2023-12 is not in the lake"),
        (("--test-month", "2023-03", "--train-months", "2023-02"), 2, "at least 2 train months"),
        (("--test-month", "2023-02", "--skip-missing"), 3, "Only 1 of the requested train months"),
        (("--test-month", "2023-02"), 3, "--skip-missing"),
        (("--test-month", "2023-13"), 2, "is not a month"),
    ],
)
def test_window_errors(four_months, capsys, args, code, message):
    root, config_file, _ = four_months
    before = registry_json(root), reports_snapshot(root)
    assert run(config_file, "train", *args) == code
    assert message in capsys.readouterr().err
    _assert_nothing_changed(root, *before)


def test_unknown_usecase_and_bad_yaml(four_months, capsys, tmp_path):
    root, config_file, _ = four_months
    before = registry_json(root), reports_snapshot(root)
    assert cli.main(["train", "--usecase", "no_such_case", "--test-month", "2023-07"]) == 2
    assert "Unknown use case 'no_such_case'" in capsys.readouterr().err
    raw = yaml.safe_load(config_file.read_text())
    raw["cleaning"]["min_retension"] = 0.5
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    assert cli.main(["train", "--usecase", "taxi_fare", "--config", str(bad), "--test-month", "2023-07"]) == 2
    assert "cleaning.min_retension" in capsys.readouterr().err
    _assert_nothing_changed(root, *before)


@pytest.fixture()
def damaged_month(four_months, spark):
    """Copy the lake, then let a test damage month 2023-07 of the copy."""
    root, config_file, _ = four_months
    lake_copy = root / "lake_copy"
    shutil.rmtree(lake_copy, ignore_errors=True)
    shutil.copytree(root / "lake" / "taxi_fare", lake_copy)
    return root, config_file, lake_copy, lake_copy / "2023" / "07"


def _rewrite(spark, month_dir, transform):
    """Replace a month folder with transform(its rows) (written aside first: reads are lazy)."""
    aside = month_dir.with_name(month_dir.name + "_new")
    transform(spark.read.parquet(str(month_dir))).write.parquet(str(aside))
    shutil.rmtree(month_dir)
    aside.rename(month_dir)


def _train_on(config_file, lake_copy):
    return run(config_file, "train", "--test-month", "2023-07", "--data-base-path", str(lake_copy))


def test_corrupt_parquet_names_the_file(damaged_month, capsys):
    root, config_file, lake_copy, month_dir = damaged_month
    before = registry_json(root), reports_snapshot(root)
    victim = sorted(month_dir.glob("*.parquet"))[0]
    victim.write_bytes(b"this is not parquet")
    assert _train_on(config_file, lake_copy) == 3
    err = capsys.readouterr().err
    assert victim.name in err and "not readable Parquet" in err
    _assert_nothing_changed(root, *before)


def test_missing_column_names_file_and_column(damaged_month, capsys, spark):
    root, config_file, lake_copy, month_dir = damaged_month
    before = registry_json(root), reports_snapshot(root)
    _rewrite(spark, month_dir, lambda frame: frame.drop("trip_distance"))
    assert _train_on(config_file, lake_copy) == 3
    err = capsys.readouterr().err
    assert "misses required column(s) trip_distance" in err and str(month_dir) in err
    _assert_nothing_changed(root, *before)


def test_empty_month_is_a_data_error(damaged_month, capsys, spark):
    root, config_file, lake_copy, month_dir = damaged_month
    before = registry_json(root), reports_snapshot(root)
    _rewrite(spark, month_dir, lambda frame: frame.limit(0))
    assert _train_on(config_file, lake_copy) == 3
    assert "The test data has no rows" in capsys.readouterr().err
    _assert_nothing_changed(root, *before)


def _predict_on(config_file, lake_copy, reports: Path) -> dict:
    """Predict 2023-07 of the lake copy into its own reports folder; the predict report."""
    assert run(config_file, "predict", "--test-month", "2023-07", "--data-base-path", str(lake_copy),
               "--reports-dir", str(reports)) == 0
    return json.loads((reports / "taxi_fare" / "2023-07" / "predict_report.json").read_text())


def test_predict_scores_rows_without_a_target_and_writes_it_null(damaged_month, spark, tmp_path):
    """null_target is a training rule: at predict time a missing fare must not drop the trip."""
    from pyspark.sql import functions as F

    root, config_file, lake_copy, month_dir = damaged_month
    before = json.loads((root / "reports" / "taxi_fare" / "2023-07" / "predict_report.json").read_text())
    unlabeled = F.col("PULocationID") % 5 == 0
    _rewrite(spark, month_dir, lambda frame: frame.withColumn(
        "total_amount", F.when(unlabeled, F.lit(None).cast("double")).otherwise(F.col("total_amount"))))
    report = _predict_on(config_file, lake_copy, tmp_path / "reports")
    assert report["rows"] == before["rows"]  # same rows in and out, same rule failures
    written = spark.read.parquet(report["predictions_uri"])
    assert written.count() == before["prediction_stats"]["rows"]
    assert written.filter(unlabeled & F.col("total_amount").isNotNull()).count() == 0
    assert written.filter(unlabeled).count() > 0
    assert_target_is_the_lakes(written, spark.read.parquet(str(month_dir)), "total_amount")


def test_predict_on_a_month_without_the_target_column_writes_it_all_null(damaged_month, spark, tmp_path):
    from pyspark.sql import functions as F

    root, config_file, lake_copy, month_dir = damaged_month
    before = json.loads((root / "reports" / "taxi_fare" / "2023-07" / "predict_report.json").read_text())
    _rewrite(spark, month_dir, lambda frame: frame.drop("total_amount"))
    report = _predict_on(config_file, lake_copy, tmp_path / "reports")
    assert report["rows"] == before["rows"]
    written = spark.read.parquet(report["predictions_uri"])
    assert dict(written.dtypes)["total_amount"] == "double"  # the schema does not depend on the data
    assert written.count() == before["prediction_stats"]["rows"] == written.filter(F.col("total_amount").isNull()).count()


def test_cleaning_removing_too_much_stops_before_training(damaged_month, capsys, spark):
    from pyspark.sql import functions as F

    root, config_file, lake_copy, month_dir = damaged_month
    before = registry_json(root), reports_snapshot(root)
    _rewrite(spark, month_dir, lambda frame: frame.withColumn("trip_distance", F.lit(0.0)))
    assert _train_on(config_file, lake_copy) == 3
    err = capsys.readouterr().err
    assert "below the minimum of 80%" in err and "impossible_distance" in err
    _assert_nothing_changed(root, *before)


def test_a_second_writer_is_refused_while_the_lock_is_held(four_months, capsys):
    root, config_file, _ = four_months
    before = registry_json(root), reports_snapshot(root)
    with Registry(root / "registry", "taxi_fare").lock("holder-run"):
        assert run(config_file, "train", "--test-month", "2023-06", "--train-months", "2023-02,2023-03") == 1
    assert "holder-run" in capsys.readouterr().err
    _assert_nothing_changed(root, *before)


def test_run_pipeline_sh_runs_every_step_through_spark_submit(four_months):
    """The cron/Airflow entry point: gates + spark-submit jobs, exit codes propagate."""
    import os
    import subprocess

    root, config_file, _ = four_months
    env = {**os.environ, "SPARKMLOPS_VENV": str(Path(os.sys.executable).parents[1])}
    common = ["--usecase", "taxi_fare", "--config", str(config_file), "--master", "local[2]"]
    ok = subprocess.run([str(REPO / "run_pipeline.sh"), *common, "--test-month", "2023-07"],
                        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr[-3000:]
    for step in ("pre-train gate", "train", "post-train gate", "predict", "post-predict gate", "html report"):
        assert f"== {step}" in ok.stderr
    console = ok.stdout + ok.stderr  # Spark's own lines went to the runs' log files
    assert not re.search(r"^\S+ \S+ (WARN|ERROR) |Requesting executors|^\s+at [\w$.]+\(", console, re.M), console[-3000:]
    assert (root / "reports/taxi_fare/2023-07/train.log").is_file() and (root / "reports/taxi_fare/2023-07/predict.log").is_file()
    assert (root / "reports/taxi_fare/2023-07/report.html").is_file() and (root / "reports/index.html").is_file()
    run_dir = runs_dir() / "taxi_fare"
    outcome = json.loads((run_dir / "2023-07" / "result.json").read_text())
    assert outcome["status"] == "success" and outcome["exit_code"] == 0 and outcome["failed_step"] is None
    train_marker = json.loads((run_dir / "2023-07" / "train.result.json").read_text())
    assert train_marker["status"] == "success" and train_marker["command"] == "train"
    before = registry_json(root)
    bad = subprocess.run([str(REPO / "run_pipeline.sh"), *common, "--test-month", "2023-12"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 3 and "step 'pre-train checks' failed with exit code 3" in bad.stderr
    assert "== train" not in bad.stderr and registry_json(root) == before
    outcome = json.loads((run_dir / "2023-12" / "result.json").read_text())
    assert outcome == {**outcome, "status": "failed", "exit_code": 3, "failed_step": "pre-train checks"}


def test_the_html_report_and_the_dashboard_show_the_monthly_runs(four_months, tmp_path, record_property):
    """What run_pipeline.sh rendered for taxi_fare, in Chromium, and every dashboard view (AppTest)."""
    root, config_file, _ = four_months
    assert cli.main(["report", "html", "--usecase", "taxi_fare", "--config", str(config_file)]) == 0  # every month so far
    measured = check_html_report(root / "reports", "taxi_fare", tmp_path)
    record_property("measured: taxi_fare report.html (bytes)", measured["bytes"])
    check_dashboard(root / "reports", root / "registry", "taxi_fare")


def test_run_pipeline_sh_fails_when_a_job_exits_0_without_recording_success(four_months, tmp_path):
    """A cluster driver that dies after spark-submit returned 0 must not read as success."""
    import os
    import subprocess

    root, config_file, _ = four_months
    fake_submit = tmp_path / "spark-submit"
    fake_submit.write_text("#!/bin/sh\nexit 0\n")  # accepts the job, never runs it
    fake_submit.chmod(0o755)
    env = {**os.environ, "SPARKMLOPS_VENV": str(Path(os.sys.executable).parents[1]), "SPARK_SUBMIT": str(fake_submit)}
    before = registry_json(root)
    result = subprocess.run([str(REPO / "run_pipeline.sh"), "--usecase", "taxi_fare", "--config", str(config_file),
                             "--test-month", "2023-06", "--skip-tests", "--train-only"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "exited 0 but its result marker" in result.stderr
    outcome = json.loads((runs_dir() / "taxi_fare" / "2023-06" / "result.json").read_text())
    assert outcome["status"] == "failed" and outcome["failed_step"] == "train"
    assert registry_json(root) == before


# --- monitoring policy: consider_candidate and fail (after the runs above: they change the current model) ---

def _with_monitoring(root: Path, config_file: Path, name: str, monitoring: dict, **sections) -> Path:
    raw = yaml.safe_load(config_file.read_text())
    raw["monitoring"] = monitoring
    raw.update(sections)
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_consider_candidate_promotes_a_candidate_the_rule_keeps_out(four_months):
    root, config_file, _ = four_months
    impossible = {"min_improved": 3, "min_delta": {"rmse": 1e6, "mae": 1e6, "r2": 1e6}}  # every metric ties
    consider = _with_monitoring(root, config_file, "consider", {"policy": {"live_metrics": {
        "thresholds": {"r2": {"min": 0.999}}, "action": "consider_candidate"}}}, promotion=impossible)
    assert run(consider, "train", "--test-month", LAST) == 0
    record = Registry(root / "registry", "taxi_fare").history()[-1]
    assert record["outcome"] == "policy_promoted" and record["promoted"]
    assert record["reason"].startswith("promoted by policy: current model's R² ") and "<= min 0.999 on " + LAST in record["reason"]
    assert "the rule alone would keep the current model" in record["reason"]
    report = json.loads((root / "reports" / "taxi_fare" / LAST / "train_report.json").read_text())
    assert report["decision"]["outcome"] == "policy_promoted" and report["policy"]["consider_candidate"]


def test_a_failing_policy_exits_5_after_writing_the_decision_and_reruns_fail_alike(four_months, capsys):
    root, config_file, _ = four_months
    fail = _with_monitoring(root, config_file, "fail", {
        "drift": {"psi_threshold": 1e-9, "prediction_psi_threshold": 1e-9},  # any shift at all is flagged
        "policy": {"drift": {"max_flagged_features": 0, "action": "fail"}}})
    registry = Registry(root / "registry", "taxi_fare")
    current_before = registry.state()["current"]["version"]
    other_months = {k: v for k, v in reports_snapshot(root).items() if f"/{LAST}/" not in k and not k.endswith(("live_performance.json", "latest.json"))}
    assert run(fail, "train", "--test-month", LAST) == 5
    assert "The monitoring policy of taxi_fare failed the train run of " + LAST in capsys.readouterr().err
    record = registry.history()[-1]
    assert record["outcome"] == "policy_failed" and not record["promoted"] and record["policy"]["failed"]
    assert registry.state()["current"]["version"] == current_before  # nothing promoted
    report = json.loads((root / "reports" / "taxi_fare" / LAST / "train_report.json").read_text())
    assert report["policy"]["failed"] and report["decision"]["outcome"] == "policy_failed" and report["drift"]["flagged"]
    assert {k: v for k, v in reports_snapshot(root).items() if k in other_months} == other_months
    before = registry_json(root)
    assert run(fail, "train", "--test-month", LAST) == 5  # a rerun does not turn the failure into success
    assert registry_json(root) == before
    assert run(fail, "predict", "--test-month", LAST) == 5  # predict applies the drift policy too
    predict = json.loads((root / "reports" / "taxi_fare" / LAST / "predict_report.json").read_text())
    assert predict["policy"]["failed"] and predict["drift"]["status"] == "ok"


def test_predict_with_a_model_saved_without_a_reference_reports_no_reference(four_months):
    from sparkmlops.monitoring.reference_store import REFERENCE_FILE

    root, config_file, _ = four_months
    registry_dir = root / "registry" / "taxi_fare"
    version = Registry(root / "registry", "taxi_fare").state()["current"]["version"]
    for folder in (registry_dir / "current" / "model", registry_dir / "archive" / version / "model"):
        (folder / REFERENCE_FILE).unlink()
    (root / "reports" / "taxi_fare" / LAST / "predict_report.json").unlink()  # else an identical rerun is skipped
    assert run(config_file, "predict", "--test-month", LAST) == 0
    report = json.loads((root / "reports" / "taxi_fare" / LAST / "predict_report.json").read_text())
    assert report["drift"]["status"] == "no_reference" and version in report["drift"]["reason"]


def test_run_pipeline_sh_passes_the_policy_exit_code_through(four_months, tmp_path):
    import os
    import subprocess

    _, config_file, _ = four_months
    fake_submit = tmp_path / "spark-submit"
    fake_submit.write_text("#!/bin/sh\nexit 5\n")  # a job that ended on a failed policy
    fake_submit.chmod(0o755)
    env = {**os.environ, "SPARKMLOPS_VENV": str(Path(os.sys.executable).parents[1]), "SPARK_SUBMIT": str(fake_submit)}
    result = subprocess.run([str(REPO / "run_pipeline.sh"), "--usecase", "taxi_fare", "--config", str(config_file),
                             "--test-month", "2023-06", "--skip-tests", "--train-only"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 5 and "failed with exit code 5" in result.stderr
    assert json.loads((runs_dir() / "taxi_fare" / "2023-06" / "result.json").read_text())["exit_code"] == 5
