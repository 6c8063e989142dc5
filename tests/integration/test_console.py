"""A console a person can read: Spark's log lines go to the run's log file, not the screen.

In-process tests check the driver's log4j routing; the subprocess tests read the console
of a real `sparkmlops train` as a user sees it (a JVM's output cannot be captured in-process).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sparkmlops import cli
from sparkmlops.executors import ExecutorWatch, has_cluster_manager
from sparkmlops.spark_logs import CONSOLE_APPENDER, FILE_APPENDER, route_spark_logs
from tests.support.configs import small_taxi_config

REPO = Path(__file__).resolve().parents[2]
SPARK_LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (WARN|ERROR) ")  # conf/log4j2.properties' pattern
JAVA_STACK = re.compile(r"^\s+at [\w$.]+\(")
pytestmark = pytest.mark.integration


def root_appenders(spark) -> set[str]:
    context = spark.sparkContext._jvm.org.apache.logging.log4j.LogManager.getContext(False)
    return set(context.getConfiguration().getRootLogger().getAppenders().keySet())


def jvm_warn(spark, text: str) -> None:
    spark.sparkContext._jvm.org.apache.logging.log4j.LogManager.getLogger("sparkmlops.test").warn(text)


def wait_for(path: Path, text: str, seconds: float = 5) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.is_file() and text in path.read_text():
            break
        time.sleep(0.05)
    return path.read_text() if path.is_file() else ""


def test_spark_lines_go_to_the_run_file_and_leave_the_console(spark, tmp_path):
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    try:
        route_spark_logs(spark, first)
        assert FILE_APPENDER in root_appenders(spark) and CONSOLE_APPENDER not in root_appenders(spark)
        jvm_warn(spark, "to the first run's file")
        assert "WARN test: to the first run's file" in wait_for(first, "first run")
        route_spark_logs(spark, second, verbose=True)  # the next run in the same process, with --verbose
        assert {FILE_APPENDER, CONSOLE_APPENDER} <= root_appenders(spark)
        jvm_warn(spark, "to the second run's file")
        assert "second run" in wait_for(second, "second run") and "second run" not in first.read_text()
    finally:
        route_spark_logs(spark, tmp_path / "after.log", verbose=True)  # leave the console as other tests expect


def test_local_mode_has_no_executors_to_watch_and_logs_nothing(spark, tmp_path):
    log = tmp_path / "watch.log"
    route_spark_logs(spark, log)
    try:
        assert not has_cluster_manager(spark)
        with ExecutorWatch(spark, interval=0.05) as watch:
            time.sleep(0.3)
        assert watch.summary() == {"watched": False, "seen": [], "at_end": [], "lost": []}
        assert "Requesting executors" not in wait_for(log, "never", seconds=0.5)
        spark.sparkContext._jsc.sc().getExecutorIds()  # what the watch used to poll every second
        assert "Requesting executors is not supported" in wait_for(log, "Requesting executors")
    finally:
        route_spark_logs(spark, tmp_path / "after.log", verbose=True)


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("console")
    config_file, raw = small_taxi_config(root, str(root / "lake" / "taxi_fare"))
    assert cli.main(["generate", "--usecase", "taxi_fare", "--config", str(config_file),
                     "--months", "2023-01:2023-03", "--rows-per-month", "600", "--seed", "4"]) == 0
    return root, raw


def user_command(*argv: str) -> subprocess.CompletedProcess:
    """`sparkmlops …` in a fresh process, as a user's shell runs it."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.run([str(Path(sys.executable).parent / "sparkmlops"), *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def spark_noise(console: str) -> list[str]:
    return [line for line in console.splitlines() if SPARK_LINE.match(line) or JAVA_STACK.match(line)
            or "Requesting executors" in line]


def test_a_failing_task_shows_one_paragraph_and_logs_the_stack(small_lake, tmp_path):
    root, raw = small_lake
    # A rule that fails inside Spark tasks at run time (ANSI cast of 'N' / 'Y' to INT).
    broken = {**raw, "cleaning": {**raw["cleaning"], "rules": {**raw["cleaning"]["rules"],
                                                               "flag_is_number": "CAST(store_and_fwd_flag AS INT) >= 0"}}}
    config_file = tmp_path / "taxi_fare.yaml"
    config_file.write_text(yaml.safe_dump(broken))
    result = user_command("train", "--usecase", "taxi_fare", "--config", str(config_file), "--test-month", "2023-03",
                          "--train-months", "2023-01,2023-02")
    console = result.stdout + result.stderr
    assert result.returncode == 1
    assert spark_noise(console) == [], spark_noise(console)[:5]
    assert "Traceback" not in console
    errors = [line for line in console.splitlines() if line.startswith("error:")]
    log_file = Path(raw["paths"]["reports"]) / "taxi_fare" / "2023-03" / "train.log"
    assert len(errors) == 1 and f"the traceback is in {log_file}" in errors[0] and "--verbose" in errors[0]
    written = log_file.read_text()
    assert "CAST_INVALID_INPUT" in written and any(JAVA_STACK.match(line) for line in written.splitlines())
    assert any(SPARK_LINE.match(line) for line in written.splitlines())  # Spark's own lines are kept there
    assert "Traceback (most recent call last)" in written


def test_a_good_run_shows_stage_lines_and_the_result_only(small_lake):
    root, raw = small_lake
    config_file = root / "taxi_fare.yaml"
    result = user_command("train", "--usecase", "taxi_fare", "--config", str(config_file), "--test-month", "2023-03",
                          "--train-months", "2023-01,2023-02")
    assert result.returncode == 0, result.stderr[-2000:]
    console = result.stdout + result.stderr
    assert spark_noise(console) == [], spark_noise(console)[:5]
    lines = [line for line in console.splitlines() if line.strip()]
    unexpected = [line for line in lines if " INFO [taxi_fare-" not in line and not line.startswith("2023-03: ")
                  and "Using incubator modules" not in line]  # the JVM's own start-up line
    assert unexpected == []
    assert any("stage=fit" in line for line in lines) and result.stdout.startswith("2023-03: ")
    log_file = Path(raw["paths"]["reports"]) / "taxi_fare" / "2023-03" / "train.log"
    assert "stage=fit" in log_file.read_text()
