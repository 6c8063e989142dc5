"""MLflow tracking end to end against a real `mlflow server` (and the default local store).

A tiny outage_duration lake (grid search of two parameter sets, two train months) trains
two test months: the first candidate is promoted, the second fails an impossible gate.
The MLflow side must then mirror the JSON registry: runs with candidate and current
metrics, nested search runs, report artifacts, a model version per candidate, aliases
champion / challenger that follow decisions, forced promotions and rollbacks, and nothing
new for a rerun. A server that is down costs the run nothing but a warning.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from sparkmlops import cli

REPO = Path(__file__).resolve().parents[2]
USECASE = "outage_duration"
MODEL = f"sparkmlops-{USECASE}"
pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # bind as servers do (TIME_WAIT is free)
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_process(tmp_path_factory):
    """A real tracking server on 127.0.0.1 (sqlite backend, proxied artifacts in tmp), stopped by its pid.

    Started before the lake is generated (it boots meanwhile); :func:`mlflow_server` waits for it.
    """
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job-runner process to start
    command = [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
               "--artifacts-destination", str(root / "artifacts")]
    with open(root / "server.log", "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        yield server, f"http://127.0.0.1:{port}", root / "server.log"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # its own session: the server and the uvicorn worker it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="module")
def mlflow_server(server_process):
    server, uri, log = server_process
    for _ in range(240):  # the first start migrates the database (~15 s here)
        if server.poll() is not None:
            pytest.fail(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                if answer.status == 200:
                    return uri
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server did not answer /health: {log.read_text()[-2000:]}")


def write_config(root: Path, name: str = "outage.yaml", **changes) -> Path:
    raw = yaml.safe_load((REPO / f"conf/usecases/{USECASE}.yaml").read_text())
    raw["data"]["base_path"] = str(root / "lake")
    raw["window"]["train_months"] = 2
    raw["model"]["params"].update({"maxIter": 5, "maxDepth": 2})
    raw["model"]["search"]["grid"] = {"maxDepth": [2, 3], "maxIter": [5]}
    raw["paths"] = {"registry": str(root / "registry"), "reports": str(root / "reports"),
                    "tracking": str(root / "mlruns")}
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    path = root / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(config_file: Path, *args: str) -> int:
    return cli.main([args[0], "--usecase", USECASE, "--config", str(config_file), *args[1:]])


def report(root: Path, month: str, kind: str = "train") -> dict:
    return json.loads((root / "reports" / USECASE / month / f"{kind}_report.json").read_text())


def client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(uri, registry_uri=uri)


def runs(uri: str, kind: str | None = None) -> list:
    mlflow_client = client(uri)
    experiment = mlflow_client.get_experiment_by_name(f"sparkmlops/{USECASE}")
    if experiment is None:
        return []
    found = mlflow_client.search_runs([experiment.experiment_id], max_results=1000)
    return [r for r in found if kind is None or r.data.tags.get("sparkmlops.kind") == kind]


def alias_version(uri: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        version = client(uri).get_model_version_by_alias(MODEL, alias)
    except MlflowException:
        return None
    return version.tags.get("sparkmlops_version")


@pytest.fixture(scope="module")
def lake(tmp_path_factory, spark, server_process):
    root = tmp_path_factory.mktemp("tracking")
    config_file = write_config(root)
    assert run(config_file, "generate", "--months", "2023-01:2023-04", "--rows-per-month", "300") == 0
    return root


@pytest.fixture(scope="module")
def two_months(lake, mlflow_server):
    """2023-03 promoted (first model), 2023-04 rejected by a gate no model can pass."""
    strict = write_config(lake, "outage-strict-gate.yaml", **{"gates.post_train.rmse": {"max": 0.001}, "model.search": None})
    codes = [run(write_config(lake), "train", "--test-month", "2023-03", "--tracking-uri", mlflow_server),
             run(strict, "train", "--test-month", "2023-04", "--tracking-uri", mlflow_server)]
    return lake, mlflow_server, strict, codes


def test_a_train_run_logs_params_both_models_metrics_reports_and_the_model(two_months):
    root, uri, _, codes = two_months
    assert codes == [0, 0]
    march, april = report(root, "2023-03"), report(root, "2023-04")
    assert march["decision"]["promoted"] is True and april["decision"]["promoted"] is False
    tracking = april["tracking"]
    assert tracking["status"] == "ok" and tracking["uri"] == uri and tracking["model_name"] == MODEL
    logged = client(uri).get_run(tracking["run_id"])
    assert logged.info.run_name == f"{USECASE} 2023-04" and logged.info.status == "FINISHED"
    assert logged.info.experiment_id == tracking["experiment_id"]
    params, metrics, tags = logged.data.params, logged.data.metrics, logged.data.tags
    assert params["model.type"] == "gbt_regressor" and params["window.test_month"] == "2023-04"
    assert params["window.train_months"] == "2023-02,2023-03" and params["promotion_metrics"] == "rmse,mae,r2"
    assert params["config_file"].endswith("outage-strict-gate.yaml") and params["code_version"] == april["code_version"]
    assert params["data_fingerprint"] == april["data_fingerprint"]["sha256"]
    for side in ("candidate", "current"):
        for metric in ("rmse", "mae", "r2", "bias"):
            assert metrics[f"{side}_{metric}"] == pytest.approx(april["metrics"][side]["overall"][metric])
    assert tags["sparkmlops.run_id"] == april["run_id"] and tags["test_month"] == "2023-04"
    assert tags["decision"] == april["decision"]["outcome"] and tags["mlflow.note.content"] == april["decision"]["reason"]
    artifacts = {a.path for a in client(uri).list_artifacts(tracking["run_id"], "reports")}
    assert artifacts == {"reports/train_report.json", "reports/train.log"}
    model_files = {a.path for a in client(uri).list_artifacts(tracking["run_id"], "model")}
    assert {"model/MLmodel", "model/sparkml", "model/requirements.txt"} <= model_files
    local = client(uri).download_artifacts(tracking["run_id"], "reports/train_report.json")
    assert json.loads(Path(local).read_text())["tracking"]["run_id"] == tracking["run_id"]  # the copy has the section
    version = client(uri).get_model_version(MODEL, tracking["model_version"])
    assert version.tags["sparkmlops_version"] == april["decision"]["candidate_version"] == "v0002"
    assert version.run_id == tracking["run_id"]


def test_the_grid_search_is_logged_as_one_nested_run_per_parameter_set(two_months):
    root, uri, _, _ = two_months
    march = report(root, "2023-03")
    table = march["search"]["table"]
    children = [r for r in runs(uri, "search") if r.data.tags.get("mlflow.parentRunId") == march["tracking"]["run_id"]]
    assert len(children) == len(table) == 2
    logged = sorted((r.data.params["maxDepth"], r.data.metrics["validation_rmse"]) for r in children)
    assert logged == sorted((str(row["params"]["maxDepth"]), pytest.approx(row["rmse"])) for row in table)
    best = [r for r in children if r.data.tags["best"] == "true"]
    assert len(best) == 1 and best[0].data.params["maxDepth"] == str(march["search"]["best_params"]["maxDepth"])


def test_aliases_follow_the_registry_through_rerun_forced_promotion_and_rollback(two_months):
    root, uri, strict, _ = two_months
    assert report(root, "2023-04")["tracking"]["aliases"] == {
        "champion": {"version": "1", "sparkmlops_version": "v0001"},
        "challenger": {"version": "2", "sparkmlops_version": "v0002"}}
    assert (alias_version(uri, "champion"), alias_version(uri, "challenger")) == ("v0001", "v0002")
    before = len(runs(uri))

    assert run(strict, "train", "--test-month", "2023-04", "--tracking-uri", uri) == 0  # rerun: already decided
    assert len(runs(uri)) == before and len(client(uri).search_model_versions(f"name='{MODEL}'")) == 2

    assert run(strict, "registry", "promote", "--force", "--tracking-uri", uri) == 0
    assert (alias_version(uri, "champion"), alias_version(uri, "challenger")) == ("v0002", None)
    assert run(strict, "registry", "rollback", "--tracking-uri", uri) == 0
    state = json.loads((root / "registry" / USECASE / "model_registry.json").read_text())
    assert state["current"]["version"] == alias_version(uri, "champion") == "v0001"
    assert alias_version(uri, "challenger") == "v0002"  # the candidate slot again holds a model that is not current


def test_predict_logs_a_small_run_with_its_statistics_and_report(two_months):
    root, uri, strict, _ = two_months
    assert run(strict, "predict", "--test-month", "2023-04", "--tracking-uri", uri) == 0
    predicted = report(root, "2023-04", "predict")
    tracking = predicted["tracking"]
    assert tracking["status"] == "ok" and tracking["model_version"] == "1"  # the champion after the rollback
    logged = client(uri).get_run(tracking["run_id"])
    assert logged.data.tags["sparkmlops.kind"] == "predict" and logged.info.run_name == f"{USECASE} 2023-04 predict"
    assert logged.data.metrics["prediction_rows"] == predicted["prediction_stats"]["rows"]
    assert logged.data.params["model_version"] == predicted["model_version"]
    assert {a.path for a in client(uri).list_artifacts(tracking["run_id"], "reports")} == {
        "reports/predict_report.json", "reports/predict.log"}


def test_a_tracking_server_that_is_down_costs_a_warning_line_not_the_run(lake, capfd):
    closed = f"http://user:hunter2@127.0.0.1:{free_port()}"
    config_file = write_config(lake, "outage-down.yaml", **{"paths.registry": str(lake / "registry-down"),
                                                          "paths.reports": str(lake / "reports-down"), "model.search": None})
    capfd.readouterr()
    assert run(config_file, "train", "--test-month", "2023-04", "--tracking-uri", closed) == 0
    err = capfd.readouterr().err
    written = json.loads((lake / "reports-down" / USECASE / "2023-04" / "train_report.json").read_text())
    tracking = written["tracking"]
    assert tracking["status"] == "failed" and tracking["uri"] == closed.replace("user:hunter2@", "")
    assert "\n" not in tracking["error"] and tracking["error"]
    assert written["decision"]["promoted"] is True  # the registry went on as usual
    assert [line for line in err.splitlines() if "MLflow tracking" in line] and "Traceback" not in err
    assert len([line for line in err.splitlines() if "MLflow tracking" in line]) == 1
    text = json.dumps(written) + err + (lake / "reports-down" / USECASE / "2023-04" / "train.log").read_text()
    assert "hunter2" not in text


def test_the_default_local_store_needs_no_server(lake, monkeypatch, mlflow_db_template):
    monkeypatch.delenv("SPARKMLOPS_TRACKING", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store = lake / "local" / "mlruns"
    store.mkdir(parents=True)
    shutil.copy(mlflow_db_template, store / "mlflow.db")  # an empty store (its schema takes ~9 s to create)
    config_file = write_config(lake, "outage-local.yaml", **{
        "paths.registry": str(lake / "local" / "registry"), "paths.reports": str(lake / "local" / "reports"),
        "paths.tracking": str(store), "model.search": None})
    assert run(config_file, "train", "--test-month", "2023-04") == 0
    tracking = json.loads((lake / "local" / "reports" / USECASE / "2023-04" / "train_report.json").read_text())["tracking"]
    uri = f"sqlite:///{store / 'mlflow.db'}"
    assert tracking["status"] == "ok" and tracking["uri"] == uri
    assert tracking["aliases"]["champion"] == {"version": "1", "sparkmlops_version": "v0001"}
    assert (store / "artifacts" / USECASE / tracking["run_id"] / "artifacts" / "model" / "MLmodel").is_file()

    import mlflow.spark

    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.spark.load_model(f"models:/{MODEL}@champion")  # what a consumer of the alias does
    finally:
        mlflow.set_tracking_uri(None)
    assert type(model).__name__ == "PipelineModel"
