"""Ingest a CSV source (weatherAUS format), one month or split into many, and Parquet split too.

Each test runs ``sparkmlops ingest`` on a tiny file written here and checks what the lake
holds. Without ``--month`` (and no YYYY-MM in the file name) the rows are split into lake
months by the timestamp column; a bad source (malformed row, value that does not parse)
ends with exit 3 and the lake as it was.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparkmlops import cli, lake
from tests.support.configs import small_taxi_config
from tests.support.source_files import tree, usecase_config, weather_csv, weather_row
from tests.support.taxi_files import COLUMNS, arrow_table, parse_result

RAIN_TYPES = {"Date": "timestamp", "Location": "string", "MinTemp": "double", "WindGustDir": "string",
              "Sunshine": "double", "Cloud3pm": "double", "RainToday": "string", "RainTomorrow": "string"}
# 3 rows in Dec 2008, 2 in Jan 2009, 1 in Feb 2009 (weatherAUS starts in Nov 2007)
DATES = ["2008-12-01", "2008-12-02", "2008-12-31", "2009-01-01", "2009-01-15", "2009-02-28"]


@pytest.fixture()
def rain(tmp_path):
    return usecase_config("rain_tomorrow", tmp_path, str(tmp_path / "lake")), tmp_path / "lake"


def ingest(config_file, source, capsys, *extra: str, usecase: str = "rain_tomorrow") -> tuple[int, dict | None, str]:
    code = cli.main(["ingest", "--usecase", usecase, "--config", str(config_file), "--source", str(source), *extra])
    out, err = capsys.readouterr()
    return code, (parse_result(out) if code == 0 else None), err


def months_of(result: dict) -> dict[str, int]:
    return {entry["month"]: entry["rows"] for entry in result["months"]}


def weather(tmp_path, name="weatherAUS.csv", dates=DATES, lines=()):
    return weather_csv(tmp_path / name, [weather_row(date, i) for i, date in enumerate(dates)], list(lines))


# --- split into months ---------------------------------------------------------------------------


def test_csv_over_three_months_is_split_into_lake_months(spark, rain, tmp_path, capsys):
    config_file, lake_root = rain
    code, result, err = ingest(config_file, weather(tmp_path), capsys)

    assert code == 0, err
    assert months_of(result) == {"2008-12": 3, "2009-01": 2, "2009-02": 1}
    assert result["rows"] == 6 and result["null_timestamp_rows"] == 0 and result["replaced_months"] == []
    assert lake.list_months(spark, str(lake_root)) == ["2008-12", "2009-01", "2009-02"]  # each has its _SUCCESS
    for entry in result["months"]:
        assert entry["lake_uri"] == lake.month_uri(str(lake_root), entry["month"])
        assert (lake_root / entry["month"].replace("-", "/") / "_SUCCESS").is_file() and entry["files"]
    assert not list(lake_root.glob("_staging*")), "the staging folder must be removed"

    december = spark.read.parquet(lake.month_uri(str(lake_root), "2008-12"))
    types = {f.name: f.dataType.simpleString() for f in december.schema.fields}
    assert {name: types[name] for name in RAIN_TYPES} == RAIN_TYPES and len(types) == 23
    rows = december.orderBy("Date").collect()  # 3 rows
    assert [r["Date"] for r in rows] == [dt.datetime(2008, 12, 1), dt.datetime(2008, 12, 2), dt.datetime(2008, 12, 31)]
    assert [r["MinTemp"] for r in rows] == [0.25, 1.25, 2.25]
    assert {r["Sunshine"] for r in rows} == {None} and {r["Cloud3pm"] for r in rows} == {None}  # "NA"
    assert [r["RainTomorrow"] for r in rows] == ["No", "Yes", "Yes"]


def test_reingest_replaces_the_months_it_covers_and_leaves_the_others(spark, rain, tmp_path, capsys):
    config_file, lake_root = rain
    assert ingest(config_file, weather(tmp_path), capsys)[0] == 0
    kept = {m: tree(lake_root / m) for m in ("2008/12", "2009/02")}
    again = weather(tmp_path, "weatherAUS-update.csv", dates=["2009-01-03", "2009-01-04", "2009-01-05", "2009-03-01"])

    code, result, err = ingest(config_file, again, capsys)

    assert code == 0, err
    assert months_of(result) == {"2009-01": 3, "2009-03": 1} and result["replaced_months"] == ["2009-01"]
    assert spark.read.parquet(lake.month_uri(str(lake_root), "2009-01")).count() == 3
    assert {m: tree(lake_root / m) for m in kept} == kept  # not covered by the second file: untouched
    assert lake.list_months(spark, str(lake_root)) == ["2008-12", "2009-01", "2009-02", "2009-03"]


def test_rows_without_a_timestamp_are_counted_not_written(spark, rain, tmp_path, capsys):
    config_file, lake_root = rain
    source = weather(tmp_path, dates=["2008-12-01", "NA", "2008-12-03", ""])

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert months_of(result) == {"2008-12": 2} and result["null_timestamp_rows"] == 2 and result["rows"] == 2
    assert spark.read.parquet(lake.month_uri(str(lake_root), "2008-12")).count() == 2


def test_source_without_any_timestamp_is_a_data_error(spark, rain, tmp_path, capsys):
    config_file, lake_root = rain
    code, _, err = ingest(config_file, weather(tmp_path, dates=["NA", "NA"]), capsys)
    assert code == 3 and "no row with a Date value" in err and "--month" in err
    assert tree(lake_root) == {}


# --- one month --------------------------------------------------------------------------------------


def test_month_option_writes_everything_to_one_month(spark, rain, tmp_path, capsys):
    config_file, lake_root = rain
    code, result, err = ingest(config_file, weather(tmp_path), capsys, "--month", "2008-12")

    assert code == 0, err
    assert result["month"] == "2008-12" and result["rows"] == 6 and result["out_of_month_rows"] == 3
    assert months_of(result) == {"2008-12": 6}
    assert lake.list_months(spark, str(lake_root)) == ["2008-12"]


def test_month_in_the_file_name_writes_one_month(spark, rain, tmp_path, capsys):
    config_file, lake_root = rain
    code, result, err = ingest(config_file, weather(tmp_path, "weather_2009-01.csv", dates=DATES[3:5]), capsys)

    assert code == 0, err
    assert months_of(result) == {"2009-01": 2} and result["out_of_month_rows"] == 0
    assert lake.list_months(spark, str(lake_root)) == ["2009-01"]


# --- a bad source changes nothing -------------------------------------------------------------------


@pytest.fixture()
def existing(spark, rain, tmp_path, capsys):
    """A lake already holding the three months; returns its files."""
    config_file, lake_root = rain
    assert ingest(config_file, weather(tmp_path), capsys)[0] == 0
    return tree(lake_root)


@pytest.mark.parametrize("line, problem", [
    ("2009-01-20,Albury,1.5", "too few fields"),
    ("2009-01-20,Albury,\"1.5,2.5" + ",1" * 20, "a quote left open"),
], ids=["too_few_fields", "quote_left_open"])
def test_malformed_row_names_the_file_and_line_and_changes_nothing(spark, rain, existing, tmp_path, capsys, line, problem):
    config_file, lake_root = rain
    source = weather(tmp_path, "bad.csv", lines=[line])

    code, _, err = ingest(config_file, source, capsys)

    assert code == 3, problem
    assert "has 1 malformed row(s)" in err and f"{source} line 8" in err and "2009-01-20,Albury" in err
    assert "23 field(s)" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert tree(lake_root) == existing


def test_unparsable_value_names_column_count_and_example_and_changes_nothing(spark, rain, existing, tmp_path, capsys):
    config_file, lake_root = rain
    rows = [weather_row("2009-01-20", 0, MinTemp="abc"), weather_row("2009-01-21", 1, MinTemp="n/a"),
            weather_row("2009-01-22", 2, Humidity3pm="12%"), weather_row("2009-01-23", 3)]
    source = weather_csv(tmp_path / "values.csv", rows)

    code, _, err = ingest(config_file, source, capsys)

    assert code == 3
    assert "MinTemp (double): 2 value(s), e.g. '" in err and ("'abc'" in err or "'n/a'" in err)
    assert "Humidity3pm (double): 1 value(s), e.g. '12%'" in err and "data.source.null_values ('NA')" in err
    assert "Traceback" not in err
    assert tree(lake_root) == existing and not list(lake_root.glob("_staging*"))


def test_missing_column_in_the_header_is_named(spark, rain, tmp_path, capsys):
    config_file, lake_root = rain
    source = tmp_path / "short.csv"
    source.write_text("Date,Location\n2008-12-01,Albury\n")
    code, _, err = ingest(config_file, source, capsys)
    assert code == 3 and "misses required column(s) MinTemp, MaxTemp" in err
    assert tree(lake_root) == {}


def test_folder_of_csv_files_with_different_headers_is_a_data_error(spark, rain, tmp_path, capsys):
    config_file, lake_root = rain
    folder = tmp_path / "parts"
    folder.mkdir()
    weather(folder, "a.csv", dates=DATES[:2])
    swapped = (folder / "a.csv").read_text().replace("MinTemp,MaxTemp", "MaxTemp,MinTemp", 1)
    (folder / "b.csv").write_text(swapped)
    code, _, err = ingest(config_file, folder, capsys)
    assert code == 3 and "do not share one header line" in err and "b.csv" in err
    assert tree(lake_root) == {}


def test_other_delimiter_and_null_texts(spark, tmp_path, capsys):
    config_file = usecase_config("rain_tomorrow", tmp_path, str(tmp_path / "lake"), delimiter=";", null_values=["NA", "-"])
    rows = [weather_row("2008-12-01", 0, MaxTemp="-", Location="Wagga Wagga, NSW"), weather_row("2008-12-02", 1)]
    source = weather_csv(tmp_path / "semicolons.csv", rows, sep=";")

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert months_of(result) == {"2008-12": 2}
    first = spark.read.parquet(result["months"][0]["lake_uri"]).orderBy("Date").first()
    assert first["MaxTemp"] is None and first["Location"] == "Wagga Wagga, NSW" and first["Sunshine"] is None


# --- Parquet sources are split the same way ---------------------------------------------------------


def test_parquet_source_spanning_months_is_split(spark, tmp_path, capsys):
    """Three months of taxi rows in one pandas-style file (ns timestamps: converted first), no month in its name."""
    config_file, _ = small_taxi_config(tmp_path, str(tmp_path / "lake"))
    lake_root = tmp_path / "lake"
    parts = [arrow_table(rows, month, unit="ns") for rows, month in ((4, "2023-01"), (3, "2023-02"), (5, "2023-03"))]
    source = tmp_path / "yellow_tripdata_q1.parquet"
    pq.write_table(pa.concat_tables(parts), source)

    code, result, err = ingest(config_file, source, capsys, usecase="taxi_fare")

    assert code == 0, err
    assert months_of(result) == {"2023-01": 4, "2023-02": 3, "2023-03": 5}
    assert {e["column"] for e in result["converted_columns"]} == {"tpep_pickup_datetime", "tpep_dropoff_datetime"}
    assert lake.list_months(spark, str(lake_root)) == ["2023-01", "2023-02", "2023-03"]
    assert not list(lake_root.glob("_staging*"))
    frame, _ = lake.read_month(spark, str(lake_root), "2023-02", COLUMNS, {"Airport_fee": "airport_fee"})
    assert frame.filter("date_format(tpep_pickup_datetime, 'yyyy-MM') = '2023-02'").count() == 3



def test_parquet_text_column_that_does_not_parse_is_found_before_writing(spark, tmp_path, capsys):
    """A Parquet column stored as text where the YAML says double: checked like CSV values (under ANSI a
    plain cast would fail inside a task halfway through the write)."""
    config_file, _ = small_taxi_config(tmp_path, str(tmp_path / "lake"))
    table = arrow_table(4, "2023-03")
    index = table.schema.get_field_index("passenger_count")
    table = table.set_column(index, "passenger_count", pa.array(["1", "two", None, "3"]))
    source = tmp_path / "yellow_tripdata_2023-03.parquet"
    pq.write_table(table, source)

    code, _, err = ingest(config_file, source, capsys, usecase="taxi_fare")

    assert code == 3 and "passenger_count (double): 1 value(s), e.g. 'two'" in err
    assert tree(tmp_path / "lake") == {}
