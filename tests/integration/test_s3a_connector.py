"""Someone else's Spark without the S3A connector: one paragraph, exit 3, no traceback.

The Spark here is the venv's own with every jar but the connector's (symlinks), which is
what a plain Spark download or another pip pyspark looks like to an s3a:// job.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparkmlops import spark_install
from tests.support.configs import small_taxi_config
from tests.support.s3server import free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


@pytest.fixture()
def spark_without_connector(tmp_path) -> Path:
    real = spark_install.spark_home()
    home = tmp_path / "other-spark"
    (home / "jars").mkdir(parents=True)
    connector = {jar.name for jar in spark_install.connector_jars(real)}
    assert connector, "the venv's Spark should carry the connector (scripts/setup.sh)"
    for jar in (real / "jars").glob("*.jar"):
        if jar.name not in connector:
            (home / "jars" / jar.name).symlink_to(jar)
    for name in ("bin", "conf", "python"):
        (home / name).symlink_to(real / name)
    assert not spark_install.has_connector(home)
    return home


def test_a_spark_without_the_connector_gets_one_paragraph_and_exit_3(spark_without_connector, tmp_path):
    config_file, _ = small_taxi_config(tmp_path, "s3a://some-bucket/yellow")
    env = {**os.environ, "SPARK_HOME": str(spark_without_connector), "SPARK_LOCAL_IP": "127.0.0.1",
           "MINIO_ENDPOINT": f"http://127.0.0.1:{free_port()}", "MINIO_ACCESS_KEY": "test-access",
           "MINIO_SECRET_KEY": "test-secret", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["spark-submit", str(REPO / "jobs/train.py"), "--usecase", "taxi_fare",
                             "--config", str(config_file), "--test-month", "2023-04"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    console = result.stdout + result.stderr
    assert result.returncode == 3, console[-3000:]
    errors = [line for line in console.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, console[-3000:]
    assert "Cannot access s3a://some-bucket/yellow: Spark has no S3A connector" in errors[0]
    assert "class org.apache.hadoop.fs.s3a.S3AFileSystem is not on its classpath" in errors[0]
    assert str(spark_without_connector) in errors[0] and "bash scripts/setup.sh" in errors[0]
    assert "Traceback" not in console and "\tat " not in console and "test-secret" not in console
    assert not (tmp_path / "registry").exists() and not (tmp_path / "reports" / "taxi_fare" / "2023-04" / "train_report.json").exists()
