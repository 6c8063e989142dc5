"""The S3A connector and the project's settings installed into a Spark folder (spark_install)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkmlops import spark_install
from sparkmlops.errors import EXIT_DATA
from sparkmlops.session import read_spark_defaults

REPO = Path(__file__).resolve().parents[2]
# What spark-submit printed here for an s3a:// lake on a Spark without the connector.
JAVA_TEXT = ("An error occurred while calling o33.getFileSystem.\n"
             ": java.lang.RuntimeException: java.lang.ClassNotFoundException: Class "
             "org.apache.hadoop.fs.s3a.S3AFileSystem not found\n\tat org.apache.hadoop.conf.Configuration.getClass")


@pytest.fixture()
def downloads(tmp_path) -> list[Path]:
    folder = tmp_path / "cache"
    folder.mkdir()
    jars = []
    for name, size in zip(spark_install.JAR_NAMES, (11, 23)):
        (folder / name).write_bytes(b"x" * size)
        jars.append(folder / name)
    return jars


@pytest.fixture()
def home(tmp_path) -> Path:
    (tmp_path / "spark" / "jars").mkdir(parents=True)
    (tmp_path / "spark" / "jars" / "hadoop-client-api-3.4.2.jar").write_bytes(b"api")
    return tmp_path / "spark"


def install(home: Path, jars: list[Path], python: str = "/venv/bin/python") -> list[str]:
    return spark_install.install(home, jars, REPO / "spark-defaults.conf", REPO / "conf/log4j2.properties", python)


def test_install_puts_the_jars_and_settings_into_spark_and_is_idempotent(home, downloads):
    assert not spark_install.has_connector(home)
    changed = install(home, downloads)
    assert changed == [*(f"jars/{name}" for name in spark_install.JAR_NAMES), "conf/spark-defaults.conf", "conf/log4j2.properties"]
    assert [jar.name for jar in spark_install.connector_jars(home)] == list(spark_install.JAR_NAMES)
    placed = home / "jars" / spark_install.JAR_NAMES[1]
    assert placed.read_bytes() == downloads[1].read_bytes()
    assert placed.stat().st_ino == downloads[1].stat().st_ino  # a hard link on the same disk: no 190 MB copy
    assert install(home, downloads) == []  # second run: nothing to do
    assert not list((home / "jars").glob(".*.part"))


def test_installed_defaults_are_the_projects_plus_its_python(home, downloads):
    install(home, downloads, python="/opt/venv/bin/python")
    installed = read_spark_defaults(home / "conf" / "spark-defaults.conf")
    project = read_spark_defaults(REPO / "spark-defaults.conf")
    assert project and installed == {**project, "spark.pyspark.python": "/opt/venv/bin/python",
                                     "spark.pyspark.driver.python": "/opt/venv/bin/python"}
    assert installed["spark.hadoop.fs.s3a.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"  # s3a:// with a bare spark-submit
    assert (home / "conf" / "log4j2.properties").read_text().endswith((REPO / "conf/log4j2.properties").read_text())


def test_a_changed_project_file_is_installed_again(home, downloads, tmp_path):
    defaults = tmp_path / "spark-defaults.conf"
    defaults.write_text("spark.sql.shuffle.partitions 8\n")
    log4j = REPO / "conf/log4j2.properties"
    spark_install.install(home, downloads, defaults, log4j, "/py")
    defaults.write_text("spark.sql.shuffle.partitions 16\n")
    assert spark_install.install(home, downloads, defaults, log4j, "/py") == ["conf/spark-defaults.conf"]
    assert "partitions 16" in (home / "conf" / "spark-defaults.conf").read_text()


def test_a_jar_of_another_size_is_replaced(home, downloads):
    install(home, downloads)
    (home / "jars" / spark_install.JAR_NAMES[0]).unlink()
    (home / "jars" / spark_install.JAR_NAMES[0]).write_bytes(b"truncated")
    assert install(home, downloads) == [f"jars/{spark_install.JAR_NAMES[0]}"]
    assert (home / "jars" / spark_install.JAR_NAMES[0]).stat().st_size == downloads[0].stat().st_size


def test_connector_needs_both_hadoop_aws_and_an_sdk_bundle(home):
    (home / "jars" / "hadoop-aws-3.4.2.jar").write_bytes(b"")
    assert spark_install.connector_jars(home) == []
    (home / "jars" / "bundle-2.29.52.jar").write_bytes(b"")
    assert [jar.name for jar in spark_install.connector_jars(home)] == ["hadoop-aws-3.4.2.jar", "bundle-2.29.52.jar"]


def test_fetch_uses_the_cache_without_downloading(downloads):
    cache = downloads[0].parent
    assert spark_install.fetch_jars(cache) == [cache / name for name in spark_install.JAR_NAMES]


def test_a_failed_download_still_installs_the_settings_and_says_why(home, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(spark_install, "spark_home", lambda: home)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # a machine whose package index is unreachable
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    code = spark_install.main(["--cache", str(tmp_path / "empty-cache"), "--python", "/venv/bin/python",
                               "--defaults", str(REPO / "spark-defaults.conf"), "--log4j", str(REPO / "conf/log4j2.properties")])
    assert code == 1
    err = capsys.readouterr().err
    assert "S3A connector is not installed" in err and "sagemaker-pyspark==1.4.5" in err
    assert (home / "conf" / "spark-defaults.conf").is_file() and not spark_install.has_connector(home)


def test_missing_connector_error_names_the_class_and_the_fix():
    error = spark_install.missing_connector_error(JAVA_TEXT, "s3a://nyc-interim/yellow")
    assert error is not None and error.exit_code == EXIT_DATA
    text = str(error)
    assert text.startswith("Cannot access s3a://nyc-interim/yellow: Spark has no S3A connector")
    assert "org.apache.hadoop.fs.s3a.S3AFileSystem" in text and str(spark_install.spark_home()) in text
    assert "bash scripts/setup.sh" in text and "$SPARK_HOME/jars" in text
    assert "\n" not in text  # one paragraph
    scheme = spark_install.missing_connector_error('org.apache.hadoop.fs.UnsupportedFileSystemException: No FileSystem for scheme "s3a"')
    assert scheme is not None and spark_install.S3A_CLASS in str(scheme)


def test_other_errors_are_not_taken_for_a_missing_connector():
    assert spark_install.missing_connector_error("java.net.ConnectException: Connection refused") is None
    assert spark_install.missing_connector_error("ClassNotFoundException: com.example.Other") is None


def test_the_venv_spark_carries_the_connector_and_settings():
    """What scripts/setup.sh (run by scripts/test.sh) installed into the Spark the tests use."""
    home = spark_install.spark_home()
    assert spark_install.has_connector(home), "run `bash scripts/setup.sh`"
    installed = read_spark_defaults(home / "conf" / "spark-defaults.conf")
    assert read_spark_defaults(REPO / "spark-defaults.conf").items() <= installed.items()
