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


JARS_DIR_ENV = "SPARKMLOPS_JARS_DIR"
CHECKPOINT_DIR_ENV = "SPARKMLOPS_CHECKPOINT_DIR"
S3A_JAR_PREFIXES = ("hadoop-aws-", "aws-java-sdk-bundle-", "bundle-")
_REPO_ROOT = Path(__file__).resolve().parents[2]


def jars_dir() -> Path:
    """Folder holding the S3A connector jars: $SPARKMLOPS_JARS_DIR, else the checkout's .jars/."""
    return Path(os.environ.get(JARS_DIR_ENV, _REPO_ROOT / ".jars"))


def s3a_classpath() -> str:
    """``a.jar:b.jar`` of the S3A jars (hadoop-aws + AWS SDK bundle), or '' when not installed.

    The jars go on ``spark.{driver,executor}.extraClassPath`` instead of ``--jars``:
    executors on the same hosts read them in place rather than copying the 190 MB SDK
    bundle into every application's work dir.
    """
    folder = jars_dir()
    if not folder.is_dir():
        return ""
    jars = sorted(str(jar) for jar in folder.glob("*.jar") if jar.name.startswith(S3A_JAR_PREFIXES))
    return ":".join(jars) if any("hadoop-aws-" in jar for jar in jars) else ""


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
    classpath = s3a_classpath()
    if classpath and not under_submit:
        settings.setdefault("spark.driver.extraClassPath", classpath)
        settings.setdefault("spark.executor.extraClassPath", classpath)
    settings.update(extra or {})
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif not under_submit and "spark.master" not in settings:
        builder = builder.master("local[*]")
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    apply_s3_settings(spark)
    if not spark.sparkContext.getCheckpointDir():
        # GBT checkpoints its lineage every checkpointInterval trees (SPARK-19063). On a
        # multi-host cluster the folder must be shared by all nodes: SPARKMLOPS_CHECKPOINT_DIR.
        shared = os.environ.get(CHECKPOINT_DIR_ENV)
        spark.sparkContext.setCheckpointDir(shared or tempfile.mkdtemp(prefix="sparkmlops-checkpoints-"))
    return spark
