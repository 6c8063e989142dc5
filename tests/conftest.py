"""Shared fixtures: one local[2] SparkSession for the whole test run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("SPARKMLOPS_CONF_DIR", str(REPO / "conf"))
os.environ.setdefault("SPARKMLOPS_SPARK_DEFAULTS", str(REPO / "spark-defaults.conf"))
# Most tests train many times: MLflow tracking is off for them (and for the run_pipeline.sh
# they start, which inherits this); tests/integration/test_mlflow_tracking.py switches it on per run.
os.environ["SPARKMLOPS_TRACKING"] = "off"
# run_pipeline.sh's markers go to a folder of this test process, not the checkout's runs/:
# parallel test workers running the same use case and month must not share them.
os.environ["SPARKMLOPS_RUNS_DIR"] = tempfile.mkdtemp(prefix="sparkmlops-test-runs-")


# The longest files first. scripts/test.sh runs `--dist loadfile --no-loadscope-reorder`, so
# the workers take files in collection order (xdist's default puts files with many tests
# first; these have few, and were left to one worker at the end). Each of the 3 workers
# starts with two files: the 1st-3rd here pair with the 4th-6th. Measured seconds per file
# (full suite, 3 workers, a busy 2-core machine): secom 683, cluster 661, monthly 499,
# goat 362, rain 317, outage 288, airflow 278; everything else under 150.
LONG_FILES_FIRST = tuple(f"tests/integration/{name}.py" for name in (
    "test_usecase_secom_defect", "test_cluster_pipeline", "test_monthly_runs",
    "test_usecase_outage_duration", "test_usecase_rain_tomorrow", "test_goat", "test_airflow_dags"))


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        return next((n for n, prefix in enumerate(LONG_FILES_FIRST) if item.nodeid.startswith(prefix)),
                    len(LONG_FILES_FIRST))

    items.sort(key=rank)  # stable: every other file keeps its place


@pytest.fixture(scope="session")
def spark():
    from sparkmlops.session import build_session

    session = build_session(
        "sparkmlops-tests",
        master="local[2]",
        extra={
            "spark.sql.shuffle.partitions": "2",
            "spark.driver.memory": "2g",
            "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={REPO / 'conf' / 'log4j2.properties'}",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def taxi_config():
    from sparkmlops import config

    return config.load("taxi_fare")


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory):
    """An empty MLflow sqlite store with its schema: creating one runs MLflow's ~100 schema
    migrations (~9 s here), so tests that need a fresh local store copy this file instead."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    SqlAlchemyStore(f"sqlite:///{path}", (path.parent / "artifacts").as_uri()).engine.dispose()
    return path


def pytest_terminal_summary(terminalreporter):
    """Print what tests measured (``record_property("measured: …", value)``), also from xdist workers."""
    measured = [(report.nodeid, name, value) for key in ("passed", "failed") for report in terminalreporter.stats.get(key, [])
                if getattr(report, "when", "") == "call" for name, value in getattr(report, "user_properties", [])
                if name.startswith("measured: ")]
    if measured:
        terminalreporter.section("measured")
        for nodeid, name, value in measured:
            terminalreporter.write_line(f"{name[len('measured: '):]}: {value}  ({nodeid.split('::')[-1]})")
