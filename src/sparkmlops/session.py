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


def _s3_settings() -> dict[str, str]:
    """S3A settings from MINIO_* variables; keys never leave the process environment."""
    endpoint = os.environ.get("MINIO_ENDPOINT")
    if not endpoint:
        return {}
    settings = {
        "spark.hadoop.fs.s3a.endpoint": endpoint,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": str(endpoint.startswith("https")).lower(),
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
    }
    if os.environ.get("MINIO_ACCESS_KEY"):
        settings["spark.hadoop.fs.s3a.access.key"] = os.environ["MINIO_ACCESS_KEY"]
    if os.environ.get("MINIO_SECRET_KEY"):
        settings["spark.hadoop.fs.s3a.secret.key"] = os.environ["MINIO_SECRET_KEY"]
    return settings


def build_session(app_name: str, master: str | None = None, extra: dict[str, str] | None = None) -> SparkSession:
    """Build (or reuse) the SparkSession for this process.

    Args:
        app_name: shown in the Spark UI and master.
        master: e.g. ``local[2]`` or ``spark://host:7077``; None keeps what spark-submit
            or spark-defaults set, else ``local[*]``.
        extra: settings that win over spark-defaults.conf (tests use this).
    """
    # Python workers must run this interpreter (the project's venv), not the system one.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    # Under spark-submit the JVM already runs with --properties-file and --master.
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ
    settings = {} if under_submit else read_spark_defaults(defaults_path())
    settings.update(_s3_settings())
    settings.update(extra or {})
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif not under_submit and "spark.master" not in settings:
        builder = builder.master("local[*]")
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if not spark.sparkContext.getCheckpointDir():
        # GBT checkpoints its lineage every checkpointInterval trees (SPARK-19063).
        spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="sparkmlops-checkpoints-"))
    return spark
