"""taxi_fare through spark-submit on a real standalone cluster (master + 2 workers on 127.0.0.1).

The monthly wrapper runs one month with the package shipped as a wheel on --py-files;
the master's JSON API must show executors of that application on both workers. A fault
test kills one worker by pid while a training job runs: Spark reschedules, the job
completes, and the report and the log say an executor was lost.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from sparkmlops import cli, cluster
from sparkmlops.errors import UsageError
from tests.support.configs import small_taxi_config
from tests.support.s3server import exported, free_port, free_port_run, start_s3_server
from tests.support import runs_dir

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration
SUBMIT_CONF = ["--conf", "spark.executor.memory=768m", "--conf", "spark.driver.memory=1g",
               "--conf", "spark.cores.max=2", "--conf", "spark.sql.shuffle.partitions=4"]


@pytest.fixture(scope="module")
def lake(tmp_path_factory, spark):
    """A tiny generated lake (written by the local test session) the cluster jobs read."""
    root = tmp_path_factory.mktemp("cluster-lake")
    config_file, raw = small_taxi_config(root, str(root / "lake" / "taxi_fare"))
    code = cli.main(["generate", "--usecase", "taxi_fare", "--config", str(config_file),
                     "--months", "2023-01:2023-04", "--rows-per-month", "4000", "--seed", "11"])
    assert code == 0
    return root, config_file, raw


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cluster-run")
    status = cluster.start(run_dir, workers=2, cores=1, memory="1g", master_port=free_port(), webui_port=free_port_run(3))
    try:
        yield run_dir, status
    finally:
        cluster.stop(run_dir)


def pipeline_env() -> dict[str, str]:
    return {**os.environ, "SPARKMLOPS_VENV": str(Path(sys.executable).parents[1]), "SPARK_LOCAL_IP": "127.0.0.1"}


def run_pipeline(config_file: Path, master: str, *extra: str, merged: bool = False) -> subprocess.Popen:
    """The wrapper in a subprocess; ``merged``: stderr into stdout (spark-submit prints the
    Python driver's log on its stdout)."""
    conf = [arg for pair in zip(SUBMIT_CONF[::2], SUBMIT_CONF[1::2]) for arg in pair]
    command = [str(REPO / "run_pipeline.sh"), "--usecase", "taxi_fare", "--config", str(config_file),
               "--master", master, *conf, *extra]
    return subprocess.Popen(command, cwd=REPO, env=pipeline_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT if merged else subprocess.PIPE, text=True)


def app_workers(webui_url: str, app_id: str) -> set[str]:
    """Worker ids that ran executors for ``app_id``, from the master's /json/ answer."""
    return set(cluster.executor_hosts(webui_url, app_id))


def test_status_shows_two_alive_workers_and_a_second_start_is_refused(standalone):
    run_dir, started = standalone
    current = cluster.status(run_dir)
    assert current.alive and current.master_url == started.master_url
    assert [(w.state, w.cores, w.memory_mb) for w in current.workers] == [("ALIVE", 1, 1024)] * 2
    worker_pids = sorted(w.pid for w in current.workers)
    assert worker_pids == sorted(int((run_dir / "pids" / f"worker-{i}.pid").read_text()) for i in (1, 2))
    assert all(_alive(pid) for pid in current.pids) and len(current.pids) == 3
    with pytest.raises(UsageError, match="still running"):
        cluster.start(run_dir, master_port=free_port(), webui_port=free_port_run(3))


def test_month_runs_on_the_cluster_with_executors_on_both_workers(lake, standalone):
    root, config_file, _ = lake
    run_dir, status = standalone
    process = run_pipeline(config_file, status.master_url, "--test-month", "2023-04")
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-4000:]
    outcome = json.loads((runs_dir() / "taxi_fare/2023-04/result.json").read_text())
    assert outcome["status"] == "success" and outcome["master"] == status.master_url

    report = json.loads((root / "reports/taxi_fare/2023-04/train_report.json").read_text())
    assert report["spark"]["master"] == status.master_url
    assert len(report["spark"]["executors"]["seen"]) == 2 and report["spark"]["executors"]["lost"] == []
    assert app_workers(status.webui_url, report["spark"]["app_id"]) == {worker.id for worker in cluster.status(run_dir).workers}
    assert report["decision"]["outcome"] == "first_model"
    registry = json.loads((root / "registry/taxi_fare/model_registry.json").read_text())
    assert registry["current"]["version"] == "v0001"
    predict = json.loads((root / "reports/taxi_fare/2023-04/predict_report.json").read_text())
    assert predict["prediction_stats"]["rows"] > 0 and predict["post_predict_failures"] == []


def test_a_failed_cluster_job_fails_the_wrapper(lake, standalone, tmp_path):
    root, config_file, raw = lake
    _, status = standalone
    registry_file = root / "registry/taxi_fare/model_registry.json"
    before = registry_file.read_text() if registry_file.exists() else None
    process = run_pipeline(config_file, status.master_url, "--test-month", "2023-04", "--skip-tests",
                           "--train-only", "--data-base-path", str(tmp_path / "no-lake"))
    _, err = process.communicate(timeout=600)
    assert process.returncode == 3, err[-3000:]
    outcome = json.loads((runs_dir() / "taxi_fare/2023-04/result.json").read_text())
    assert outcome == {**outcome, "status": "failed", "failed_step": "train", "exit_code": 3}
    marker = json.loads((runs_dir() / "taxi_fare/2023-04/train.result.json").read_text())
    assert marker["status"] == "failed" and "not in the lake" in marker["error"]
    assert (registry_file.read_text() if registry_file.exists() else None) == before


def user_env(**extra: str) -> dict[str, str]:
    """A shell with the venv activated and nothing else of ours: no PYSPARK_*, SPARKMLOPS_* or SPARK_HOME."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYSPARK_", "SPARKMLOPS_")) and key != "SPARK_HOME"}
    venv_bin = Path(sys.executable).parent
    return {**env, "PATH": f"{venv_bin}:{env['PATH']}", "VIRTUAL_ENV": str(venv_bin.parent),
            "SPARK_LOCAL_IP": "127.0.0.1", **extra}


def test_bare_spark_submit_trains_a_month_from_the_s3_lake(standalone, tmp_path, spark):
    """The source project's own command on the 2-worker cluster: no --jars, no --py-files, no
    properties file. The connector and settings come with the venv's Spark."""
    run_dir, status = standalone
    server = start_s3_server(tmp_path / "s3-logs")
    try:
        lake_uri = f"s3a://{server.create_bucket('bare-submit')}/prefix"
        config_file, raw = small_taxi_config(tmp_path, str(tmp_path / "unused-local-lake"))
        with exported(server.env()):
            assert cli.main(["generate", "--usecase", "taxi_fare", "--config", str(config_file), "--data-base-path",
                             lake_uri, "--months", "2023-01:2023-04", "--rows-per-month", "2000", "--seed", "9"]) == 0
        result = subprocess.run(
            ["spark-submit", "--master", status.master_url, str(REPO / "jobs/train.py"), "--usecase", "taxi_fare",
             "--config", str(config_file), "--test-month", "2023-04", "--data-base-path", lake_uri],
            cwd=tmp_path, env=user_env(**server.env(), SPARKMLOPS_TRACKING="off"), capture_output=True, text=True, timeout=900)
    finally:
        server.stop()
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-4000:]
    assert "Traceback" not in console and not re.search(r"^\S+ \S+ (WARN|ERROR) ", console, re.M), console[-3000:]
    report = json.loads((tmp_path / "reports/taxi_fare/2023-04/train_report.json").read_text())
    assert report["spark"]["master"] == status.master_url
    assert len(report["spark"]["executors"]["seen"]) == 2, report["spark"]
    assert app_workers(status.webui_url, report["spark"]["app_id"]) == {w.id for w in cluster.status(run_dir).alive_workers}
    read = [entry["path"] for entry in report["data_fingerprint"]["files"]]
    assert read and all(path.startswith(f"{lake_uri}/2023/") for path in read)
    assert report["config_overrides"]["data.base_path"] == lake_uri
    assert report["decision"]["outcome"] == "first_model" and report["rows_trained_on"] > 0
    assert json.loads((tmp_path / "registry/taxi_fare/model_registry.json").read_text())["current"]["version"] == "v0001"


def test_killing_a_worker_mid_job_still_completes_and_is_reported(lake, standalone, tmp_path):
    root, _, raw = lake
    run_dir, status = standalone
    # A longer fit (more trees) so the worker dies while the job runs; a fresh registry.
    raw = {**raw, "model": {**raw["model"], "params": {**raw["model"]["params"], "maxIter": 25, "maxDepth": 4}},
           "paths": {"registry": str(tmp_path / "registry"), "reports": str(tmp_path / "reports")}}
    config_file = tmp_path / "taxi_fare.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    process = run_pipeline(config_file, status.master_url, "--test-month", "2023-04", "--skip-tests", "--train-only",
                           "--log-format", "json", merged=True)
    lines: list[str] = []
    read_done = threading.Event()

    def follow_log() -> None:  # the job logs "stage=read" once both executors have read the input
        for line in process.stdout:
            lines.append(line)
            if "stage=read" in line:
                read_done.set()

    follower = threading.Thread(target=follow_log, daemon=True)
    follower.start()
    try:
        assert read_done.wait(timeout=300), "".join(lines)[-3000:]
        app_id = wait_for_app_on_both_workers(status.webui_url, timeout=30)
        killed = cluster.kill_worker(run_dir, 1)  # during the fit
        process.wait(timeout=900)
        follower.join(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    err = "".join(lines)
    assert process.returncode == 0, err[-4000:]
    report = json.loads((tmp_path / "reports/taxi_fare/2023-04/train_report.json").read_text())
    assert report["spark"]["app_id"] == app_id
    assert len(report["spark"]["executors"]["lost"]) == 1, report["spark"]
    assert report["decision"]["outcome"] == "first_model" and report["rows_trained_on"] > 0
    lost_lines = [json.loads(line) for line in err.splitlines() if line.startswith("{") and "executor(s) lost" in line]
    assert lost_lines and lost_lines[0]["run_id"] == report["run_id"]
    assert not _alive(killed)


def test_stop_stops_exactly_the_recorded_processes(standalone):
    run_dir, _ = standalone
    recorded = sorted(int(path.read_text()) for path in (run_dir / "pids").glob("*.pid"))
    stopped = cluster.stop(run_dir)
    assert sorted(stopped) == [pid for pid in recorded if pid in stopped] and len(stopped) >= 2
    assert not any(_alive(pid) for pid in recorded)
    assert cluster.stop(run_dir) == []


def wait_for_app_on_both_workers(webui_url: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with_app = cluster.active_apps(webui_url)
        for app_id in with_app:
            if len(cluster.executor_hosts(webui_url, app_id)) == 2:
                return app_id
        time.sleep(0.5)
    raise AssertionError(f"no application with executors on both workers within {timeout} s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_start_right_after_stop_in_a_loop(tmp_path):
    """Sockets of a just-stopped cluster may sit in TIME_WAIT; the next start must not refuse."""
    run_dir, master_port, webui_port = tmp_path / "loop", free_port(), free_port_run(3)
    for _ in range(3):
        started = cluster.start(run_dir, workers=2, cores=1, memory="512m", master_port=master_port, webui_port=webui_port)
        try:
            assert len(started.alive_workers) == 2 and started.master_url.endswith(f":{master_port}")
        finally:
            stopped = cluster.stop(run_dir)
        assert len(stopped) == 3
