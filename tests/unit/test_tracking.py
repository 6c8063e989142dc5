"""MLflow tracking without a server: where it goes, what it logs, and the runs it must leave alone.

The end-to-end behaviour (server, aliases, rollback, server down) is in
tests/integration/test_mlflow_tracking.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from sparkmlops import cli, tracking
from sparkmlops.logs import StageTimer
from sparkmlops.tracking import content, settings

REPO = Path(__file__).resolve().parents[2]


# ---- where tracking goes -----------------------------------------------------------------
def test_precedence_is_cli_then_switch_then_mlflow_variable_then_yaml(tmp_path):
    env = {"MLFLOW_TRACKING_URI": "http://server:5000", "SPARKMLOPS_TRACKING": "off"}
    assert settings.resolve("mlruns", "http://cli:5000", env).uri == "http://cli:5000"
    assert settings.resolve("mlruns", "off", {}).enabled is False
    assert settings.resolve("mlruns", None, env) == settings.Target(False, source="SPARKMLOPS_TRACKING=off")
    assert settings.resolve("mlruns", None, {"MLFLOW_TRACKING_URI": "http://server:5000"}).uri == "http://server:5000"
    assert settings.resolve("off", None, {}).enabled is False
    local = settings.resolve(str(tmp_path / "store"), None, {})
    assert local.uri == f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}" and local.source == "paths.tracking"
    assert local.artifact_root == (tmp_path / "store" / "artifacts").as_uri()
    database = settings.resolve("mlruns", f"sqlite:///{tmp_path}/x/my.db", {})
    assert database.artifact_root == (tmp_path / "x" / "artifacts").as_uri()
    assert settings.resolve("mlruns", "http://server:5000", {}).artifact_root is None  # the server decides


def test_uris_and_errors_never_carry_credentials(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cr3t-pw")
    uri = "https://alice:hunter2@mlflow.example.com:8443/base?token=abc123"
    assert settings.redact_uri(uri) == "https://mlflow.example.com:8443/base"
    assert settings.redact_uri("sqlite:////var/mlruns/mlflow.db") == "sqlite:////var/mlruns/mlflow.db"
    error = RuntimeError(f"API request to {uri}/api failed (auth s3cr3t-pw)\nsecond line")
    line = settings.one_line(error, uri)
    assert line.startswith("RuntimeError: API request to https://") and "\n" not in line
    assert not any(secret in line for secret in ("hunter2", "alice:", "abc123", "s3cr3t-pw"))


def test_http_limits_are_small_for_the_block_and_a_users_own_values_win(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    import os

    with settings.http_limits():
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "1" and os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "60"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ and os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "60"


def test_cli_options_reach_the_config_and_the_report_shows_the_uri_without_credentials():
    args = cli.build_parser().parse_args(["train", "--usecase", "taxi_fare", "--tracking-uri", "http://u:pw@h:5000"])
    config = cli.load_config(args)
    assert config.run.tracking == "http://u:pw@h:5000" and config.overrides["run.tracking"] == "http://h:5000"
    off = cli.load_config(cli.build_parser().parse_args(["predict", "--usecase", "taxi_fare", "--no-tracking"]))
    assert off.run.tracking == "off" and tracking.target_of(off).enabled is False
    assert cli.main(["registry", "show", "--usecase", "taxi_fare", "--no-tracking", "--tracking-uri", "x"]) == 2


def test_run_pipeline_passes_the_tracking_flags_to_every_step():
    wrapper = (REPO / "run_pipeline.sh").read_text()
    two = re.search(r"^\s+(--train-months\|[^)]*)\)\n\s+COMMON\+=\(\"\$1\" \"\$2\"\)", wrapper, re.M).group(1).split("|")
    one = re.search(r"^\s+(--skip-missing\|[^)]*)\) COMMON\+=\(\"\$1\"\)", wrapper, re.M).group(1).split("|")
    assert "--tracking-uri" in two and "--no-tracking" in one


def test_tracking_is_off_in_the_general_test_suite():
    import os

    assert os.environ["SPARKMLOPS_TRACKING"] == "off"


# ---- what is logged -----------------------------------------------------------------------
PREDICT_REPORT = {"run_id": "r", "task": "regression", "model_version": "v0001", "predictions_uri": "lake/predictions",
                  "rows": {"rows_in": 10, "rows_out": 10, "rows_removed": 0}, "prediction_stats": {"rows": 10}}
REPORT = {
    "run_id": "outage_duration-1", "task": "regression", "code_version": "0.1.0+abc",
    "config_file": "conf/usecases/outage_duration.yaml",
    "window": {"test_month": "2023-04", "train_months": ["2023-02", "2023-03"], "missing_train_months": []},
    "data_fingerprint": {"sha256": "f" * 64, "files": [{}, {}]},
    "rows": {"train": {"rows_in": 600, "rows_out": 584, "rows_removed": 16, "retention": 0.97}},
    "rows_trained_on": 584, "rows_tested_on": 293, "promotion_metrics": ["rmse", "mae", "r2"],
    "metrics": {"candidate": {"overall": {"rmse": 5.7, "mae": 4.6, "r2": 0.5, "count": 293, "bias": float("nan")}},
                "current": {"overall": {"rmse": 5.9, "mae": 4.7, "r2": 0.48, "count": 293}}},
    "decision": {"outcome": "rejected", "promoted": False, "reason": "rejected: RMSE worse", "candidate_version": "v0002",
                 "current_version_before": "v0001", "current_version_after": "v0001"},
    "model": {"type": "gbt_regressor", "params": {"maxDepth": 3, "maxIter": 5}, "threshold": None},
    "search": {"method": "train_validation_split", "metric": "rmse", "best_params": {"maxDepth": 3},
               "table": [{"params": {"maxDepth": 2}, "rmse": 6.1}, {"params": {"maxDepth": 3}, "rmse": 5.8}]},
    "timings_seconds": {"fit": 4.2, "report": 0.01},
}


def test_params_metrics_and_tags_come_from_the_report():
    params = content.train_params(REPORT)
    assert params["model.type"] == "gbt_regressor" and params["model.params.maxDepth"] == "3"
    assert params["window.train_months"] == "2023-02,2023-03" and "window.missing_train_months" not in params
    assert params["search.best_params.maxDepth"] == "3" and params["data_fingerprint"] == "f" * 64
    assert params["promotion_metrics"] == "rmse,mae,r2" and params["data_files"] == "2"
    metrics = content.train_metrics(REPORT)
    assert metrics["candidate_rmse"] == 5.7 and metrics["current_rmse"] == 5.9 and "candidate_bias" not in metrics  # NaN
    assert metrics["train_retention"] == 0.97 and metrics["seconds_fit"] == 4.2 and metrics["rows_tested_on"] == 293
    tags = content.train_tags(REPORT, "outage_duration")
    assert tags["decision"] == "rejected" and tags["promoted"] == "false" and tags["test_month"] == "2023-04"
    assert tags["mlflow.note.content"] == "rejected: RMSE worse"


def test_every_grid_point_becomes_a_child_with_its_metric_and_the_best_is_marked():
    children = content.search_children(REPORT)
    assert [c["name"] for c in children] == ["maxDepth=2", "maxDepth=3"]
    assert [c["metrics"] for c in children] == [{"validation_rmse": 6.1}, {"validation_rmse": 5.8}]
    assert [c["best"] for c in children] == [False, True]
    assert content.search_children({"search": None}) == []


def test_long_values_and_odd_keys_are_made_acceptable():
    params = content.flatten("model.params", {"weird key!": "x" * 5000, "nested": {"a": [1, 2]}})
    assert params["model.params.weird key_"].endswith("…") and len(params["model.params.weird key_"]) == 1000
    assert params["model.params.nested.a"] == "1,2"


# ---- runs that must not reach MLflow ---------------------------------------------------------
@pytest.fixture
def small_run(tmp_path, taxi_config):
    from sparkmlops.pipeline import RunContext

    config = taxi_config.model_copy(update={"paths": taxi_config.paths.model_copy(update={
        "reports": str(tmp_path / "reports"), "tracking": str(tmp_path / "mlruns")})})
    ctx = RunContext("taxi_fare-test", str(tmp_path / "registry"), str(tmp_path / "reports"), "0.1.0")
    return config, ctx, json.loads(json.dumps(REPORT, default=str))


def test_tracking_off_imports_nothing_and_says_so_in_the_report(small_run, monkeypatch):
    config, ctx, report = small_run
    monkeypatch.setitem(sys.modules, "mlflow", None)  # any import of mlflow would now fail
    section = tracking.track_train(None, config, ctx, None, None, report, StageTimer())
    assert section == {"status": "off", "reason": "switched off by SPARKMLOPS_TRACKING=off"}
    written = json.loads((Path(ctx.reports_dir) / "taxi_fare/2023-04/train_report.json").read_text())
    assert written["tracking"] == section and not (Path(config.paths.tracking)).exists()


def test_without_mlflow_installed_the_run_completes_and_the_report_says_skipped(small_run, monkeypatch, caplog):
    config, ctx, report = small_run
    monkeypatch.delenv("SPARKMLOPS_TRACKING")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.delitem(sys.modules, "sparkmlops.tracking.store", raising=False)
    monkeypatch.delattr(tracking, "store", raising=False)  # `from package import module` would reuse it
    section = tracking.track_predict(config, ctx, None, "2023-04", dict(PREDICT_REPORT))
    assert section["status"] == "skipped" and "pip install 'sparkmlops[tracking]'" in section["reason"]
    written = json.loads((Path(ctx.reports_dir) / "taxi_fare/2023-04/predict_report.json").read_text())
    assert written["tracking"]["status"] == "skipped"


def test_a_uri_mlflow_cannot_use_fails_the_tracking_not_the_run(small_run):
    config, ctx, _ = small_run
    config = config.model_copy(update={"run": config.run.model_copy(update={"tracking": "htp://user:pw@nowhere"})})
    section = tracking.track_predict(config, ctx, None, "2023-04", dict(PREDICT_REPORT))
    assert section["status"] == "failed" and section["uri"] == "htp://nowhere"
    assert "\n" not in section["error"] and "pw" not in section["error"]
    written = json.loads((Path(ctx.reports_dir) / "taxi_fare/2023-04/predict_report.json").read_text())
    assert written["tracking"]["status"] == "failed"


# ---- the forecasting artifact (a Parquet table per series, not a Spark pipeline) ----------------
def test_a_series_table_model_is_logged_and_registered(spark, tmp_path, mlflow_db_template):
    import shutil

    from mlflow import MlflowClient

    from sparkmlops.models.artifact import ModelArtifact
    from sparkmlops.tracking import store

    folder = tmp_path / "registry" / "archive" / "v0001" / "model"
    table = spark.createDataFrame([("goat-1", "ok", [0.1, 0.2])], "series_id string, status string, params array<double>")
    ModelArtifact(table, {"series": {"count": 1}}).save(spark, str(folder))
    (tmp_path / "mlruns").mkdir()
    shutil.copy(mlflow_db_template, tmp_path / "mlruns" / settings.DB_FILE)
    target = settings.resolve(str(tmp_path / "mlruns"), None, {})
    tracker = store.Tracker(target, "goat_posture")
    run_id = tracker.start_run(tracker.experiment_id(), "goat_posture 2023-06", {})
    tracker.log_folder_model(run_id, spark, str(folder), {"sparkmlops": {"artifact_kind": "series_table"}}, "series_table")
    version = tracker.register(run_id, {store.VERSION_TAG: "v0001", store.RUN_TAG: "goat-run"}, "first model")
    assert tracker.sync_aliases({"current": {"version": "v0001", "run_id": "goat-run"}, "candidate": None}) == {
        "aliases": {"champion": {"version": version, "sparkmlops_version": "v0001"}, "challenger": None}}
    client = MlflowClient(target.uri)
    files = {a.path for a in client.list_artifacts(run_id, "model")}
    assert {"model/MLmodel", "model/series", "model/sparkmlops_model.json"} <= files
    local = Path(client.download_artifacts(run_id, "model"))
    assert ModelArtifact.load(spark, str(local)).model.count() == 1  # what the MLmodel file says to do


# ---- docker: the runner logs to the compose MLflow service ------------------------------------
def test_the_compose_runner_reaches_the_mlflow_service_and_the_image_installs_the_client():
    import yaml

    services = yaml.safe_load((REPO / "docker/docker-compose.yml").read_text())["services"]
    command = services["mlflow"]["command"]
    uri = services["runner"]["environment"]["MLFLOW_TRACKING_URI"]
    assert uri == f"http://mlflow:{command[command.index('--port') + 1]}"
    assert "mlflow:5000" in command[command.index("--allowed-hosts") + 1].split(",")  # MLflow 3 checks Host
    assert "--artifacts-destination" in command and "--default-artifact-root" not in command  # proxied uploads
    assert services["runner"]["depends_on"]["mlflow"] == {"condition": "service_healthy"}
    assert re.search(r'pip install [^\n]*"\.\[[^\]]*tracking[^\]]*\]"', (REPO / "docker/Dockerfile").read_text())
    pinned = re.search(r'tracking = \["mlflow>=([\d.]+),<([\d.]+)"\]', (REPO / "pyproject.toml").read_text())
    server = services["mlflow"]["image"].rsplit(":v", 1)[1]
    assert server.startswith(pinned.group(1).rsplit(".", 1)[0] + ".")  # server and client on the same minor
