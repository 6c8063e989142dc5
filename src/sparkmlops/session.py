"""The one place a SparkSession is built: spark-defaults.conf + lake credentials.

Entry points (CLI, jobs/, tests' fixture) call :func:`build_session`; library code takes
``spark`` as an argument and never creates one.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from pyspark.sql import SparkSession

from sparkmlops.spark_logs import route_spark_logs

DEFAULTS_FILE_ENV = "SPARKMLOPS_SPARK_DEFAULTS"


def read_spark_defaults(path: Path) -> dict[str, str]:
    """Parse a spark-defaults.conf file (``key value`` lines, ``#`` comments)."""
    settings: dict[str, str] = {}
    if not path.is_file():
        return settings
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        settings[key] = value.strip()
    return settings


def defaults_path() -> Path:
    return Path(os.environ.get(DEFAULTS_FILE_ENV, "spark-defaults.conf"))


CHECKPOINT_DIR_ENV = "SPARKMLOPS_CHECKPOINT_DIR"


def s3_endpoint_settings() -> dict[str, str]:
    """Hadoop (not Spark) keys for the S3 endpoint and credentials from MINIO_* variables.

    They are applied to the running session's Hadoop configuration, never passed as
    ``--conf``, so the keys do not show up in the Spark UI, event logs or process lists.
    """
    endpoint = os.environ.get("MINIO_ENDPOINT")
    if not endpoint:
        return {}
    settings = {
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.connection.ssl.enabled": str(endpoint.startswith("https")).lower(),
    }
    if os.environ.get("MINIO_ACCESS_KEY"):
        settings["fs.s3a.access.key"] = os.environ["MINIO_ACCESS_KEY"]
    if os.environ.get("MINIO_SECRET_KEY"):
        settings["fs.s3a.secret.key"] = os.environ["MINIO_SECRET_KEY"]
    return settings


def apply_s3_settings(spark: SparkSession) -> None:
    """Point the session's S3A client at MINIO_ENDPOINT with the MINIO_* keys (if set).

    DataFrame reads and writes copy the driver's Hadoop configuration into their tasks,
    so executors use the same endpoint and keys.
    """
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in s3_endpoint_settings().items():
        hadoop_conf.set(key, value)


def build_session(
    app_name: str,
    master: str | None = None,
    extra: dict[str, str] | None = None,
    log_file: Path | None = None,
    verbose: bool = False,
) -> SparkSession:
    """Build (or reuse) the SparkSession for this process.

    The S3A connector and the installation-wide settings come with the Spark that
    ``scripts/setup.sh`` installed (:mod:`sparkmlops.spark_install`), so nothing here
    adds jars: a session built here and a bare ``spark-submit`` see the same classpath.

    Args:
        app_name: shown in the Spark UI and master.
        master: e.g. ``local[2]`` or ``spark://host:7077``; None keeps what spark-submit
            or spark-defaults set, else ``local[*]``.
        extra: settings that win over spark-defaults.conf (tests use this).
        log_file: where the driver's Spark log lines go (the run's log next to its report).
        verbose: also show Spark's log lines on the console.
    """
    # Python workers must run this interpreter (the project's venv), not the system one.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    # Under spark-submit the JVM already runs with --properties-file and --master.
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ
    settings = {} if under_submit else read_spark_defaults(defaults_path())
    settings.update(extra or {})
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif not under_submit and "spark.master" not in settings:
        builder = builder.master("local[*]")
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if log_file is not None:
        route_spark_logs(spark, log_file, verbose)
    apply_s3_settings(spark)
    if not spark.sparkContext.getCheckpointDir():
        # GBT checkpoints its lineage every checkpointInterval trees (SPARK-19063). On a
        # multi-host cluster the folder must be shared by all nodes: SPARKMLOPS_CHECKPOINT_DIR.
        shared = os.environ.get(CHECKPOINT_DIR_ENV)
        spark.sparkContext.setCheckpointDir(shared or tempfile.mkdtemp(prefix="sparkmlops-checkpoints-"))
    return spark
