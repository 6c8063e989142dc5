"""Source adapters: ``data.source.adapter`` names a module of ``sparkmlops.sources``.

The SECOM adapter reads the two UCI files (590 space-separated sensor values per line with
``NaN``; ``-1 "19/07/2008 11:55:00"`` label lines) and pairs them line by line; ingest then
splits the runs into lake months like any other source. Files written here, a few runs.
"""

from __future__ import annotations

import datetime as dt

import pytest

from sparkmlops import cli, lake, sources
from tests.support.source_files import SENSORS, secom_files, sensor_value, tree, usecase_config
from tests.support.taxi_files import parse_result

# (label, time stamp as in secom_labels.data): 2 runs in July, 2 in August, 1 in September 2008
RUNS = [(-1, "19/07/2008 11:55:00"), (1, "19/07/2008 12:32:00"), (-1, "01/08/2008 00:00:00"),
        (-1, "31/08/2008 23:59:59"), (1, "02/09/2008 06:10:05")]


@pytest.fixture()
def secom(tmp_path):
    return usecase_config("secom_defect", tmp_path, str(tmp_path / "lake")), tmp_path / "lake"


def ingest(config_file, source, capsys, *extra: str) -> tuple[int, dict | None, str]:
    code = cli.main(["ingest", "--usecase", "secom_defect", "--config", str(config_file), "--source", str(source), *extra])
    out, err = capsys.readouterr()
    return code, (parse_result(out) if code == 0 else None), err


def test_secom_files_become_lake_months(spark, secom, tmp_path, capsys):
    config_file, lake_root = secom
    code, result, err = ingest(config_file, secom_files(tmp_path / "uci", RUNS), capsys)

    assert code == 0, err
    assert {e["month"]: e["rows"] for e in result["months"]} == {"2008-07": 2, "2008-08": 2, "2008-09": 1}
    assert result["null_timestamp_rows"] == 0
    assert lake.list_months(spark, str(lake_root)) == ["2008-07", "2008-08", "2008-09"]

    frame = spark.read.parquet(*[e["lake_uri"] for e in result["months"]])
    types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    assert len(types) == SENSORS + 2 and types["label"] == "int" and types["timestamp"] == "timestamp"
    assert types["sensor_000"] == types["sensor_589"] == "double"
    rows = frame.orderBy("timestamp").collect()  # 5 rows
    assert [r["label"] for r in rows] == [label for label, _ in RUNS]
    assert [r["timestamp"] for r in rows] == [dt.datetime.strptime(s, "%d/%m/%Y %H:%M:%S") for _, s in RUNS]
    for run, row in enumerate(rows):  # NaN -> null; every value in its column
        assert [row[f"sensor_{j:03d}"] for j in range(SENSORS)] == [sensor_value(run, j) for j in range(SENSORS)]
    assert rows[0]["sensor_000"] is None and rows[0]["sensor_001"] == 1.125


def test_files_of_different_length_are_a_data_error(spark, secom, tmp_path, capsys):
    config_file, lake_root = secom
    code, _, err = ingest(config_file, secom_files(tmp_path / "uci", RUNS, data_lines=4), capsys)

    assert code == 3
    assert "secom_labels.data line 5" in err and "same number of lines" in err and "Traceback" not in err
    assert tree(lake_root) == {} and not list(lake_root.glob("_staging*"))


def test_line_with_too_few_values_is_named(spark, secom, tmp_path, capsys):
    config_file, lake_root = secom
    code, _, err = ingest(config_file, secom_files(tmp_path / "uci", RUNS, replace={3: "1.0 2.0 NaN"}), capsys)
    assert code == 3 and "secom.data line 3: 3 values, expected 590" in err
    assert tree(lake_root) == {}


def test_sensor_value_that_is_no_number_is_named(spark, secom, tmp_path, capsys):
    config_file, lake_root = secom
    values = " ".join(["1.5"] * 12 + ["1,5"] + ["2.5"] * (SENSORS - 13))
    code, _, err = ingest(config_file, secom_files(tmp_path / "uci", RUNS, replace={2: values}), capsys)
    assert code == 3 and "sensor_012 (double): 1 value(s), e.g. '1,5'" in err
    assert tree(lake_root) == {}


def test_bad_label_line_is_named(spark, secom, tmp_path, capsys):
    config_file, lake_root = secom
    runs = RUNS[:3] + [(0, "31/08/2008 23:59:59"), (1, "2008-09-02 06:10:05")]
    code, _, err = ingest(config_file, secom_files(tmp_path / "uci", runs), capsys)
    assert code == 3 and "has 2 malformed row(s)" in err
    assert ("line 4: label '0' is neither -1 (pass) nor 1 (fail)" in err
            or "line 5: time stamp '2008-09-02 06:10:05' is not dd/mm/yyyy HH:mm:ss" in err)


def test_missing_labels_file_is_a_data_error(spark, secom, tmp_path, capsys):
    config_file, _ = secom
    folder = secom_files(tmp_path / "uci", RUNS)
    (folder / "secom_labels.data").unlink()
    code, _, err = ingest(config_file, folder, capsys)
    assert code == 3 and "has no secom_labels.data" in err


def test_month_option_writes_the_runs_to_one_month(spark, secom, tmp_path, capsys):
    config_file, lake_root = secom
    code, result, err = ingest(config_file, secom_files(tmp_path / "uci", RUNS), capsys, "--month", "2008-08")
    assert code == 0, err
    assert result["rows"] == 5 and result["out_of_month_rows"] == 3
    assert lake.list_months(spark, str(lake_root)) == ["2008-08"]


def test_unknown_adapter_is_a_usage_error_listing_the_known_ones(tmp_path, capsys):
    config_file = usecase_config("secom_defect", tmp_path, str(tmp_path / "lake"), adapter="secom_v2")
    code = cli.main(["ingest", "--usecase", "secom_defect", "--config", str(config_file), "--source", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "data.source.adapter" in err and "'secom_v2' is not a source adapter; available: secom" in err


def test_adapter_lookup():
    assert sources.available_adapters() == ["secom"]
    assert sources.adapter_module("secom").read.__module__ == "sparkmlops.sources.secom"
    with pytest.raises(Exception) as raised:
        sources.adapter_module("nope")
    assert raised.value.exit_code == 2 and "available: secom" in str(raised.value)
