"""The Airflow DAGs (dags/sparkmlops_monthly.py) in a real Airflow 3.3.2.

Airflow lives in its own venv (.venv-airflow, scripts/setup_airflow.sh — idempotent, created
here on a clean checkout), so every Airflow call is a subprocess running
tests/support/airflow_probe.py there, which prints JSON: a DagBag's DAGs with their
settings and rendered commands, or the outcome of dag.test() runs (sqlite database in a
temporary AIRFLOW_HOME). The runs use a stub run_pipeline.sh for the exit-code and
marker cases and the real one, on a tiny taxi lake, for one month.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from sparkmlops import cli
from sparkmlops.window import previous_complete_month
from tests.support.configs import small_taxi_config
from tests.support import runs_dir

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
PROBE = REPO / "tests" / "support" / "airflow_probe.py"
USECASES = sorted(path.stem for path in (REPO / "conf" / "usecases").glob("*.yaml"))
pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """The Airflow venv's python; the setup script returns at once when the venv is in place."""
    venv = Path(os.environ.get("SPARKMLOPS_AIRFLOW_VENV", REPO / ".venv-airflow"))
    setup = subprocess.run(["bash", str(REPO / "scripts" / "setup_airflow.sh")], capture_output=True, text=True,
                           timeout=1200)
    assert setup.returncode == 0, setup.stderr[-3000:]
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def airflow_home(airflow_python, tmp_path_factory) -> Path:
    """An AIRFLOW_HOME with a migrated sqlite database, for dag.test()."""
    home = tmp_path_factory.mktemp("airflow_home")
    migrate = subprocess.run([str(airflow_python.parent / "airflow"), "db", "migrate"], env=airflow_env(home),
                             capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, (migrate.stdout + migrate.stderr)[-3000:]
    return home


def airflow_env(airflow_home: Path, **settings: str) -> dict[str, str]:
    """The test's environment without DAG settings of its own, plus Airflow's and the given ones."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AIRFLOW", "SPARKMLOPS_HOME", "SPARKMLOPS_PIPELINE_ARGS", "SPARKMLOPS_AIRFLOW_"))}
    env.update(AIRFLOW_HOME=str(airflow_home), AIRFLOW__CORE__LOAD_EXAMPLES="false",
               AIRFLOW__CORE__DAGS_FOLDER=str(DAGS), SPARK_LOCAL_IP="127.0.0.1", **settings)
    return env


def probe(airflow_python: Path, env: dict[str, str], *args: str, timeout: int = 120) -> tuple[dict, str]:
    result = subprocess.run([str(airflow_python), str(PROBE), *args], env=env, capture_output=True, text=True,
                            timeout=timeout)
    output = result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE-JSON ")]
    assert result.returncode == 0 and lines, output[-4000:]
    return json.loads(lines[-1].removeprefix("PROBE-JSON ")), output


def inspect(airflow_python: Path, home: Path, *starts: str, **settings: str) -> dict:
    return probe(airflow_python, airflow_env(home, **settings), "inspect", str(DAGS), *starts)[0]


# -- the DAGs as parsed ---------------------------------------------------------------------

# interval start -> (the day the scheduler runs it, the month it trains)
RUNS = {
    "2023-06-01": ("2023-07-01", "2023-06"),
    "2023-12-01": ("2024-01-01", "2023-12"),  # the run in January trains December of the year before
    "2024-01-01": ("2024-02-01", "2024-01"),
}


@pytest.fixture(scope="module")
def bag(airflow_python, tmp_path_factory) -> dict:
    """The shipped DAGs as a DagBag loads them, with their runs for the intervals of RUNS."""
    return inspect(airflow_python, tmp_path_factory.mktemp("airflow_inspect"), *RUNS)


def test_one_monthly_dag_per_usecase_yaml(bag):
    assert bag["import_errors"] == {}
    assert bag["venv_has"] == {"sparkmlops": False, "pyspark": False}  # the DAG file needs neither
    assert sorted(bag["dags"]) == [f"sparkmlops_{usecase}" for usecase in USECASES]
    for dag in bag["dags"].values():
        assert dag["timetable"] == "CronDataIntervalTimetable"  # not a trigger timetable: see the DAG's docstring
        assert (dag["schedule"], dag["timezone"], dag["periodic"]) == ("0 0 1 * *", "UTC", True)
        assert dag["max_active_runs"] == 1 and dag["catchup"] is False
        [task] = dag["tasks"]
        assert "BashOperator" in task["classes"]
        assert task["retries"] == 3 and task["retry_delay_seconds"] == 3600
        assert task["depends_on_past"] is True
        assert task["skip_on_exit_code"] == []  # every non-zero exit fails; none skips a month


def test_a_run_trains_the_month_its_interval_covers(bag):
    for usecase in USECASES:
        runs = bag["dags"][f"sparkmlops_{usecase}"]["tasks"][0]["runs"]
        assert [run["interval_start"][:10] for run in runs] == list(RUNS)
        for run, (run_date, month) in zip(runs, RUNS.values()):
            assert run["run_after"] == f"{run_date}T00:00:00+00:00"
            command = run["command"]
            assert f"cd {REPO}" in command
            assert f"./run_pipeline.sh --usecase {usecase} --test-month {month}\n" in command
            assert f"marker=${{SPARKMLOPS_RUNS_DIR:-runs}}/{usecase}/{month}/result.json" in command


def test_settings_come_from_the_environment(airflow_python, tmp_path):
    home = tmp_path / "my checkout"
    (home / "conf" / "usecases").mkdir(parents=True)
    for usecase in ("alpha", "beta"):
        (home / "conf" / "usecases" / f"{usecase}.yaml").write_text("{}\n")
    bag = inspect(airflow_python, tmp_path, "2023-06-01",
                  SPARKMLOPS_HOME=str(home), SPARKMLOPS_PIPELINE_ARGS="--master local[2] --conf spark.x=1",
                  SPARKMLOPS_PIPELINE_ARGS_BETA="--data-base-path '/lakes/my lake'",
                  SPARKMLOPS_AIRFLOW_CATCHUP="true", SPARKMLOPS_AIRFLOW_START="2022-03",
                  SPARKMLOPS_AIRFLOW_RETRIES="1", SPARKMLOPS_AIRFLOW_RETRY_DELAY_MINUTES="5")
    assert bag["import_errors"] == {}
    assert sorted(bag["dags"]) == ["sparkmlops_alpha", "sparkmlops_beta"]
    beta = bag["dags"]["sparkmlops_beta"]
    assert beta["catchup"] is True and beta["start_date"] == "2022-03-01T00:00:00+00:00"
    task = beta["tasks"][0]
    assert task["retries"] == 1 and task["retry_delay_seconds"] == 300
    command = task["runs"][0]["command"]
    assert f"cd {shlex.quote(str(home))} || exit 2" in command
    # re-quoted for the shell: the brackets cannot glob, the space stays inside one argument
    assert ("--test-month 2023-06 --master 'local[2]' --conf spark.x=1 --data-base-path '/lakes/my lake'\n"
            in command)
    alpha = bag["dags"]["sparkmlops_alpha"]["tasks"][0]["runs"][0]["command"]
    assert "--test-month 2023-06 --master 'local[2]' --conf spark.x=1\n" in alpha


def test_a_home_without_usecases_is_an_import_error(airflow_python, tmp_path):
    bag = inspect(airflow_python, tmp_path, SPARKMLOPS_HOME=str(tmp_path / "not a checkout"))
    assert bag["dags"] == {}
    [error] = bag["import_errors"].values()
    assert "No use case YAML in" in error and "set SPARKMLOPS_HOME" in error


def readme_cron() -> tuple[list[str], str]:
    """The README's cron line: its five schedule fields and run_pipeline.sh's arguments."""
    match = re.search(r"^\s*((?:\S+ ){5})cd \S+ && \./run_pipeline\.sh ([^\n`]*)$",
                      (REPO / "README.md").read_text(), re.MULTILINE)
    assert match, "README.md has no cron line running run_pipeline.sh"
    return match.group(1).split(), match.group(2)


def test_readme_cron_and_dag_train_the_same_month(bag):
    """Both run on the 1st: cron with the default test month (the previous complete month
    on that day), the DAG with its interval's month; they must name the same month."""
    fields, args = readme_cron()
    assert fields[2:] == ["1", "*", "*"], fields  # day 1 of every month
    assert "--test-month" not in args
    for dag in bag["dags"].values():
        assert dag["schedule"].split()[2:] == ["1", "*", "*"]
        for run in dag["tasks"][0]["runs"]:
            run_day = date.fromisoformat(run["run_after"][:10])
            assert f"--test-month {previous_complete_month(run_day)}\n" in run["command"]


def test_readme_backfill_command_runs_the_months_oldest_first(airflow_python, airflow_home):
    command = re.search(r"^\s*(airflow backfill create [^\n`]*)$", (REPO / "README.md").read_text(), re.MULTILINE)
    assert command, "README.md has no `airflow backfill create` line"
    airflow, env = str(airflow_python.parent / "airflow"), airflow_env(airflow_home)
    serialize = subprocess.run([airflow, "dags", "reserialize"], env=env, capture_output=True, text=True, timeout=300)
    assert serialize.returncode == 0, serialize.stderr[-3000:]
    dry_run = subprocess.run([airflow, *shlex.split(command.group(1))[1:], "--dry-run"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert dry_run.returncode == 0, (dry_run.stdout + dry_run.stderr)[-3000:]
    logical_dates = re.findall(r"\| (\d{4}-\d{2}-\d{2}) 00:00:00\+00:00 +\|", dry_run.stdout)
    assert logical_dates == [f"2023-{month:02d}-01" for month in range(1, 7)]  # interval starts: Jan..Jun


# -- runs: the task's outcome follows the exit code and the result marker ------------------

STUB = """\
#!/usr/bin/env bash
# Stands in for run_pipeline.sh: the use case name says what to do, e.g. exit4_marker-failed.
cd "$(dirname "$0")"
echo "$*" >> calls.log
usecase=$2 month=$4
code=${usecase#exit}; code=${code%%_*}; marker=${usecase#*_marker-}
runs=${SPARKMLOPS_RUNS_DIR:-runs}  # as run_pipeline.sh does
mkdir -p "$runs/$usecase/$month"
[ "$marker" = none ] || printf '{"status": "%s", "exit_code": %d}\\n' "$marker" "$code" > "$runs/$usecase/$month/result.json"
exit "$code"
"""
# use case -> (task state, tries): 2/4/5 are not retried; 0 with a marker that does not say
# success, 1 and 3 are (retries=1, no delay).
STUB_CASES = {
    "exit0_marker-success": ("success", 1),
    "exit0_marker-failed": ("failed", 2),
    "exit0_marker-none": ("failed", 2),
    "exit3_marker-failed": ("failed", 2),
    "exit1_marker-failed": ("failed", 2),
    "exit4_marker-failed": ("failed", 1),
    "exit2_marker-none": ("failed", 1),
    "exit5_marker-failed": ("failed", 1),
}


def test_exit_codes_and_result_markers_decide_the_task(airflow_python, airflow_home, tmp_path):
    home = tmp_path / "stub"
    (home / "conf" / "usecases").mkdir(parents=True)
    for usecase in STUB_CASES:
        (home / "conf" / "usecases" / f"{usecase}.yaml").write_text("{}\n")
    (home / "run_pipeline.sh").write_text(STUB)
    (home / "run_pipeline.sh").chmod(0o755)
    env = airflow_env(airflow_home, SPARKMLOPS_HOME=str(home), SPARKMLOPS_AIRFLOW_RETRIES="1",
                      SPARKMLOPS_AIRFLOW_RETRY_DELAY_MINUTES="0")
    outcomes, output = probe(airflow_python, env, "run", str(DAGS), "2023-07-01",
                             *[f"sparkmlops_{usecase}" for usecase in STUB_CASES], timeout=600)
    for usecase, (state, tries) in STUB_CASES.items():
        outcome = outcomes[f"sparkmlops_{usecase}"]
        assert outcome["data_interval_start"] == "2023-06-01T00:00:00+00:00"
        assert outcome["tasks"]["run_pipeline"] == {"state": state, "try_number": tries}, usecase
        assert outcome["state"] == state
    calls = (home / "calls.log").read_text().splitlines()
    assert calls.count("--usecase exit0_marker-failed --test-month 2023-06") == 2
    assert calls.count("--usecase exit4_marker-failed --test-month 2023-06") == 1
    assert f"run_pipeline.sh exited 0 but {runs_dir()}/exit0_marker-none/2023-06/result.json does not say success" in output
    assert "run_pipeline.sh exited 4 (a gate failed); not retried" in output


# -- one real month: the DAG runs the real run_pipeline.sh on a tiny taxi lake --------------

def test_the_dag_runs_the_real_pipeline_for_its_month(airflow_python, airflow_home, tmp_path, spark):
    # A checkout of links to this one: run_pipeline.sh writes runs/ next to itself, here in tmp_path.
    home = tmp_path / "sparkmlops"
    home.mkdir()
    for name in ("run_pipeline.sh", "jobs", "conf", "scripts", "spark-defaults.conf", "src", "tests", "pyproject.toml"):
        (home / name).symlink_to(REPO / name)
    config_file, _ = small_taxi_config(tmp_path, str(tmp_path / "config-lake"))
    lake, registry, reports = tmp_path / "lake", tmp_path / "registry", tmp_path / "reports"
    assert cli.main(["generate", "--usecase", "taxi_fare", "--config", str(config_file), "--data-base-path", str(lake),
                     "--months", "2023-03:2023-06", "--rows-per-month", "600", "--seed", "5"]) == 0
    args = (f"--config {config_file} --data-base-path {lake} --model-registry-path {registry} --reports-dir {reports}"
            " --master local[2] --conf spark.sql.shuffle.partitions=2")
    env = airflow_env(airflow_home, SPARKMLOPS_HOME=str(home), SPARKMLOPS_PIPELINE_ARGS_TAXI_FARE=args,
                      SPARKMLOPS_VENV=str(Path(sys.executable).parents[1]))
    outcomes, output = probe(airflow_python, env, "run", str(DAGS), "2023-07-01", "sparkmlops_taxi_fare", timeout=900)
    outcome = outcomes["sparkmlops_taxi_fare"]
    assert outcome["tasks"]["run_pipeline"] == {"state": "success", "try_number": 1}, output[-6000:]
    marker = json.loads((runs_dir() / "taxi_fare" / "2023-06" / "result.json").read_text())
    assert (marker["status"], marker["test_month"], marker["master"]) == ("success", "2023-06", "local[2]")
    history = json.loads((registry / "taxi_fare" / "model_registry.json").read_text())["history"]
    assert [record["test_month"] for record in history] == ["2023-06"]
    assert (reports / "taxi_fare" / "2023-06" / "predict_report.json").exists()
