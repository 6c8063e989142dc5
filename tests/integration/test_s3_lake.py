"""The lake on a real S3 server (moto on 127.0.0.1; the S3A connector that scripts/setup.sh installs).

generate and ingest write to ``s3a://``; train and predict read from it; the known store
failures (server down, wrong keys, missing bucket, empty prefix, half-written month)
end with exit code 3, one paragraph naming endpoint and bucket, no secret, and nothing
changed in the registry or the reports.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from sparkmlops import cli, lake
from sparkmlops.spark_install import has_connector
from tests.support.configs import small_taxi_config
from tests.support.s3server import exported, free_port, start_s3_server

REPO = Path(__file__).resolve().parents[2]
LAKE_BUCKET = "nyc-interim"
REGISTRY_BUCKET = "sparkmlops"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3(tmp_path_factory, spark):
    """One S3 server for the module, MINIO_* pointing at it; stopped by pid at the end."""
    if not has_connector():
        pytest.fail("The venv's Spark has no S3A connector: run `bash scripts/setup.sh` (scripts/test.sh does).")
    server = start_s3_server(tmp_path_factory.mktemp("s3-logs"))
    server.create_bucket(LAKE_BUCKET)
    server.create_bucket(REGISTRY_BUCKET)
    try:
        with exported(server.env()):
            yield server
    finally:
        server.stop()


@pytest.fixture()
def use_env():
    """Set MINIO_* for one test and restore the module's values afterwards."""
    saved = dict(os.environ)

    def apply(values: dict[str, str]) -> None:
        os.environ.update(values)

    yield apply
    for key in ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"):
        if key in saved:
            os.environ[key] = saved[key]
        else:
            os.environ.pop(key, None)


def write_config(root: Path, base_path: str, registry: str | None = None) -> Path:
    return small_taxi_config(root, base_path, registry)[0]


def run(config_file: Path, *args: str) -> int:
    return cli.main([args[0], "--usecase", "taxi_fare", "--config", str(config_file), *args[1:]])


def keys_under(server, bucket: str, prefix: str) -> list[str]:
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def snapshot(root: Path, s3=None) -> dict[str, str]:
    """Reports under root, and the S3 registry's objects when ``s3`` is given."""
    files = {str(p): p.read_text() for p in sorted(root.rglob("*.json")) if "registry" in p.parts or "reports" in p.parts}
    if s3 is not None:
        for key in keys_under(s3, REGISTRY_BUCKET, "registry/"):
            files[f"s3://{key}"] = s3.client().get_object(Bucket=REGISTRY_BUCKET, Key=key)["ETag"]
    return files


@pytest.fixture(scope="module")
def s3_run(s3, tmp_path_factory):
    """Generate 4 months into s3a://nyc-interim/yellow, then train and predict 2023-04 from
    there, with the registry on s3a://sparkmlops/registry."""
    root = tmp_path_factory.mktemp("s3-lake")
    config_file = write_config(root, f"s3a://{LAKE_BUCKET}/yellow", registry=f"s3a://{REGISTRY_BUCKET}/registry")
    codes = {
        "generate": run(config_file, "generate", "--months", "2023-01:2023-04", "--rows-per-month", "3000", "--seed", "5"),
        "train": run(config_file, "train", "--test-month", "2023-04"),
        "predict": run(config_file, "predict", "--test-month", "2023-04"),
    }
    return root, config_file, codes


def test_generate_train_predict_through_s3(s3_run, s3):
    root, _, codes = s3_run
    assert codes == {"generate": 0, "train": 0, "predict": 0}
    stored = keys_under(s3, LAKE_BUCKET, "yellow/")
    for month in ("2023/01", "2023/02", "2023/03", "2023/04"):
        assert f"yellow/{month}/_SUCCESS" in stored
        assert any(key.startswith(f"yellow/{month}/") and key.endswith(".parquet") for key in stored)
    assert "yellow/_manifests/2023-04.json" in stored

    report = json.loads((root / "reports/taxi_fare/2023-04/train_report.json").read_text())
    read_paths = [entry["path"] for entry in report["data_fingerprint"]["files"]]
    assert read_paths and all(path.startswith(f"s3a://{LAKE_BUCKET}/yellow/") for path in read_paths)
    assert report["window"]["train_months"] == ["2023-01", "2023-02", "2023-03"]
    assert report["rows_trained_on"] > 0 and report["decision"]["outcome"] == "first_model"

    registry = json.loads(s3.client().get_object(Bucket=REGISTRY_BUCKET, Key="registry/taxi_fare/model_registry.json")["Body"].read())
    assert registry["current"]["version"] == "v0001" and registry["history"][0]["run_id"] == report["run_id"]
    model_keys = keys_under(s3, REGISTRY_BUCKET, "registry/taxi_fare/")
    assert any(key.startswith("registry/taxi_fare/archive/v0001/model/stages/") for key in model_keys)
    assert "registry/taxi_fare/current/VERSION" in model_keys

    predict = json.loads((root / "reports/taxi_fare/2023-04/predict_report.json").read_text())
    assert predict["model_version"] == "v0001"
    assert predict["predictions_uri"] == f"s3a://{LAKE_BUCKET}/predictions/taxi_fare/2023/04"
    written = keys_under(s3, LAKE_BUCKET, "predictions/taxi_fare/2023/04/")
    assert any(key.endswith(".parquet") for key in written)
    assert "predictions/taxi_fare/2023/04/_SUCCESS" in written
    assert predict["prediction_stats"]["rows"] == predict["rows"]["rows_out"] > 0


def test_s3_lake_rows_match_the_manifest(s3_run, s3, spark):
    root, config_file, _ = s3_run
    manifest = json.loads(s3.client().get_object(Bucket=LAKE_BUCKET, Key="yellow/_manifests/2023-02.json")["Body"].read())
    rows = spark.read.parquet(lake.month_uri(f"s3a://{LAKE_BUCKET}/yellow", "2023-02")).count()
    assert rows == manifest["rows"]


def test_month_without_success_marker_is_incomplete(s3_run, s3, capsys):
    root, config_file, _ = s3_run
    before = snapshot(root, s3)
    s3.client().delete_object(Bucket=LAKE_BUCKET, Key="yellow/2023/03/_SUCCESS")
    try:
        assert run(config_file, "train", "--test-month", "2023-03") == 3
        err = capsys.readouterr().err
        assert "Test month 2023-03 is incomplete" in err and "_SUCCESS" in err
        # as a train month (strict): the error names it as incomplete
        assert run(config_file, "train", "--test-month", "2023-04", "--train-months", "2023-02,2023-03") == 3
        err = capsys.readouterr().err
        assert "2023-03 is incomplete" in err and "--skip-missing" in err
        # predict reads the month directly: the marker is checked there too
        assert run(config_file, "predict", "--test-month", "2023-03") == 3
        assert "incomplete" in capsys.readouterr().err
    finally:
        s3.client().put_object(Bucket=LAKE_BUCKET, Key="yellow/2023/03/_SUCCESS", Body=b"")
    assert snapshot(root, s3) == before


def test_prefix_without_months_is_a_data_error(s3_run, s3, tmp_path, capsys):
    s3.client().put_object(Bucket=LAKE_BUCKET, Key="empty/README.txt", Body=b"no months here")
    config_file = write_config(tmp_path, f"s3a://{LAKE_BUCKET}/empty")
    assert run(config_file, "train", "--test-month", "2023-04") == 3
    err = capsys.readouterr().err
    assert "Test month 2023-04 is not in the lake" in err and "Available months: none" in err
    assert not (tmp_path / "registry").exists() and not list((tmp_path / "reports").rglob("*.json"))
    assert "not in the lake" in (tmp_path / "reports/taxi_fare/2023-04/train.log").read_text()  # the failed run's log


def test_missing_bucket_is_named(s3_run, tmp_path, capsys):
    config_file = write_config(tmp_path, "s3a://no-such-bucket/yellow")
    assert run(config_file, "train", "--test-month", "2023-04") == 3
    err = capsys.readouterr().err
    assert "bucket does not exist" in err and "'no-such-bucket'" in err and "Create the bucket" in err
    assert run(config_file, "generate", "--months", "2023-01", "--rows-per-month", "200") == 3
    assert "no-such-bucket" in capsys.readouterr().err


def test_server_down_fails_fast_naming_endpoint_and_bucket(s3_run, tmp_path, use_env, capsys):
    dead = f"http://127.0.0.1:{free_port()}"
    use_env({"MINIO_ENDPOINT": dead})
    config_file = write_config(tmp_path, "s3a://lake-down/yellow")  # own bucket: S3A caches a client per bucket
    started = time.monotonic()
    assert run(config_file, "train", "--test-month", "2023-04") == 3
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert "did not answer" in err and dead in err and "'lake-down'" in err and "MINIO_ENDPOINT" in err
    assert elapsed < 60, f"bounded retries should give up quickly, took {elapsed:.0f} s"
    assert not (tmp_path / "registry").exists()


def test_wrong_credentials_are_rejected_without_leaking_them(s3_run, tmp_path, use_env, capsys):
    """A second server that checks signatures (as MinIO does)."""
    guarded = start_s3_server(tmp_path / "logs", auth=True)
    try:
        guarded.create_bucket("lake-guarded")
        # the server's own key pair is accepted
        assert guarded.client().list_objects_v2(Bucket="lake-guarded")["KeyCount"] == 0
        secret = "wrong-secret-never-printed"
        use_env(guarded.env(("AKIAWRONGKEY0000", secret)))
        config_file = write_config(tmp_path, "s3a://lake-guarded/yellow")
        assert run(config_file, "train", "--test-month", "2023-04") == 3
        out, err = capsys.readouterr()
        assert "rejected the credentials" in err and guarded.endpoint in err and "'lake-guarded'" in err
        assert secret not in err and secret not in out
        assert not (tmp_path / "registry").exists()
    finally:
        guarded.stop()


def test_ingest_writes_a_real_file_into_the_s3_lake(s3_run, s3, spark, tmp_path, capsys):
    root, config_file, _ = s3_run
    source = tmp_path / "yellow_tripdata_2023-05.parquet"
    # a TLC-shaped file: one of the generated months, written as one local Parquet folder
    spark.read.parquet(lake.month_uri(f"s3a://{LAKE_BUCKET}/yellow", "2023-02")).write.parquet(str(source))
    assert run(config_file, "ingest", "--source", str(source)) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["lake_uri"] == f"s3a://{LAKE_BUCKET}/yellow/2023/05"
    assert result["out_of_month_rows"] == result["rows"] - result["null_timestamp_rows"] - \
        spark.read.parquet(str(source)).filter("date_format(tpep_pickup_datetime, 'yyyy-MM') = '2023-05'").count()
    stored = keys_under(s3, LAKE_BUCKET, "yellow/2023/05/")
    assert "yellow/2023/05/_SUCCESS" in stored and result["rows"] == spark.read.parquet(str(source)).count()


def test_ingest_converts_a_pandas_file_read_from_s3(s3_run, s3, spark, tmp_path, capsys):
    """A pandas export (ns timestamps, which Spark cannot read) in the bucket: pyarrow reads it
    from S3, stages a converted copy under the s3a:// lake, Spark writes the month, the copy goes."""
    from pyspark.sql import functions as F

    from tests.support.taxi_files import floor_micros, pandas_frame, parse_result, pickup_nanos

    root, config_file, _ = s3_run
    local = tmp_path / "yellow_tripdata_2023-06.parquet"
    pandas_frame(30, "2023-06").to_parquet(local)
    key = "sources/yellow_tripdata_2023-06.parquet"
    s3.client().upload_file(str(local), LAKE_BUCKET, key)
    etag = s3.client().head_object(Bucket=LAKE_BUCKET, Key=key)["ETag"]

    assert run(config_file, "ingest", "--source", f"s3a://{LAKE_BUCKET}/{key}") == 0
    out, err = capsys.readouterr()
    result = parse_result(out)

    assert result["rows"] == 30 and result["lake_uri"] == f"s3a://{LAKE_BUCKET}/yellow/2023/06"
    assert {entry["column"] for entry in result["converted_columns"]} == {"tpep_pickup_datetime", "tpep_dropoff_datetime"}
    stored = keys_under(s3, LAKE_BUCKET, "yellow/")
    assert "yellow/2023/06/_SUCCESS" in stored
    assert not [k for k in stored if k.startswith("yellow/_staging")], "the converted copy must be removed"
    assert s3.client().head_object(Bucket=LAKE_BUCKET, Key=key)["ETag"] == etag  # the source is only read
    written = spark.read.parquet(result["lake_uri"]).orderBy("trip_distance")
    assert [r[0] for r in written.select(F.unix_micros("tpep_pickup_datetime")).collect()] == \
        floor_micros(pickup_nanos(30, "2023-06"))
    assert os.environ["MINIO_SECRET_KEY"] not in out + err


def test_ingest_splits_a_csv_read_from_s3_into_s3_lake_months(s3, spark, tmp_path, capsys):
    """weatherAUS-format CSV in the bucket, no month in its name: one Spark write, then each month moved
    into YYYY/MM by S3A renames with its _SUCCESS; the staging prefix is gone afterwards."""
    from tests.support.source_files import usecase_config, weather_csv, weather_row
    from tests.support.taxi_files import parse_result

    config_file = usecase_config("rain_tomorrow", tmp_path, f"s3a://{LAKE_BUCKET}/rain")
    dates = ["2008-12-01", "2008-12-02", "2009-01-01", "NA", "2009-02-28"]
    local = weather_csv(tmp_path / "weatherAUS.csv", [weather_row(date, i) for i, date in enumerate(dates)])
    s3.client().upload_file(str(local), LAKE_BUCKET, "sources/weatherAUS.csv")
    s3.client().put_object(Bucket=LAKE_BUCKET, Key="rain/2008/11/_SUCCESS", Body=b"")  # a month the CSV does not cover
    s3.client().put_object(Bucket=LAKE_BUCKET, Key="rain/2008/11/part-0.parquet", Body=b"not touched")

    code = cli.main(["ingest", "--usecase", "rain_tomorrow", "--config", str(config_file),
                     "--source", f"s3a://{LAKE_BUCKET}/sources/weatherAUS.csv"])
    out, err = capsys.readouterr()

    assert code == 0, err
    result = parse_result(out)
    assert {e["month"]: e["rows"] for e in result["months"]} == {"2008-12": 2, "2009-01": 1, "2009-02": 1}
    assert result["null_timestamp_rows"] == 1
    stored = keys_under(s3, LAKE_BUCKET, "rain/")
    for month in ("2008/12", "2009/01", "2009/02"):
        assert f"rain/{month}/_SUCCESS" in stored
        assert any(key.startswith(f"rain/{month}/part-") and key.endswith(".parquet") for key in stored)
    assert not [key for key in stored if "_staging" in key or "_month=" in key]
    assert s3.client().get_object(Bucket=LAKE_BUCKET, Key="rain/2008/11/part-0.parquet")["Body"].read() == b"not touched"
    assert spark.read.parquet(f"s3a://{LAKE_BUCKET}/rain/2008/12").count() == 2


def test_plain_pyspark_reads_the_s3_lake_with_no_flags(s3_run, s3, tmp_path):
    """What the `pyspark` shell does: no sparkmlops code, no --jars, no properties file; only MINIO_*."""
    import subprocess
    import sys

    script = tmp_path / "shell.py"
    script.write_text(
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.master('local[1]').getOrCreate()\n"
        f"print('ROWS', spark.read.parquet('s3a://{LAKE_BUCKET}/yellow/2023/02').count())\n"
    )
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYSPARK_", "SPARKMLOPS_")) and key != "SPARK_HOME"}
    env.update({**s3.env(), "SPARK_LOCAL_IP": "127.0.0.1"})
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads(s3.client().get_object(Bucket=LAKE_BUCKET, Key="yellow/_manifests/2023-02.json")["Body"].read())
    assert f"ROWS {manifest['rows']}" in result.stdout
