"""Ingest takes the Parquet files people have: pandas/pyarrow, polars, DuckDB and Spark output.

Spark 4.1.1 cannot read some Parquet types (nanosecond timestamps above all, which pandas
writes by default); ingest reads the footers, converts such files with pyarrow batch by
batch into a staging folder in the lake and says what it converted. Each test runs
``sparkmlops ingest`` on a tiny file and checks the lake month Spark wrote.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from sparkmlops import cli, lake, parquet_compat, parquet_convert
from sparkmlops.errors import DataError
from tests.support.configs import small_taxi_config
from tests.support.taxi_files import (COLUMNS, LAKE_SCHEMA, arrow_table, dropoff_nanos, expected_micros,
                                      floor_micros, pandas_frame, parse_result, pickup_nanos)

ROWS = 24
MONTH = "2023-03"
PICKUP, DROPOFF = "tpep_pickup_datetime", "tpep_dropoff_datetime"
NS_HOW = "ns → µs: floored to the microsecond, sub-microsecond digits truncated"


@pytest.fixture()
def lake_config(tmp_path):
    config_file, raw = small_taxi_config(tmp_path, str(tmp_path / "lake"))
    return config_file, tmp_path / "lake"


def ingest(config_file, source, capsys, *extra: str) -> tuple[int, dict | None, str]:
    code = cli.main(["ingest", "--usecase", "taxi_fare", "--config", str(config_file), "--source", str(source), *extra])
    out, err = capsys.readouterr()
    return code, (parse_result(out) if code == 0 else None), err


def lake_schema(spark, lake_uri: str) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in spark.read.parquet(lake_uri).schema.fields}


def lake_micros(spark, lake_uri: str, column: str) -> list[int]:
    """The column's instants as epoch µs, rows ordered by trip_distance (unique per row)."""
    frame = spark.read.parquet(lake_uri).orderBy("trip_distance")
    return [row[0] for row in frame.select(F.unix_micros(F.col(column))).collect()]  # ROWS rows: tiny


def ns_entry(column: str, result: dict) -> dict:
    return next(entry for entry in result["converted_columns"] if entry["column"] == column)


def assert_month(spark, result, lake_root, rows=ROWS):
    assert result["rows"] == rows and result["out_of_month_rows"] == 0
    assert result["lake_uri"] == lake.month_uri(str(lake_root), MONTH)
    assert lake_schema(spark, result["lake_uri"]) == LAKE_SCHEMA
    assert not list(lake_root.glob("_staging*")), "the converted copy must be removed"


# --- one test per writer ---------------------------------------------------------------------


def test_pandas_file_with_default_nanosecond_timestamps(spark, lake_config, tmp_path, capsys):
    """pandas 2 + pyarrow write datetime64[ns] as INT64 TIMESTAMP(NANOS,false): Spark cannot read it."""
    config_file, lake_root = lake_config
    frame = pandas_frame(ROWS, MONTH)
    frame["store_and_fwd_flag"] = frame["store_and_fwd_flag"].astype("category")  # dictionary-encoded
    source = tmp_path / f"yellow_tripdata_{MONTH}.parquet"
    frame.to_parquet(source)
    assert pq.ParquetFile(source).schema_arrow.field(PICKUP).type == pa.timestamp("ns")

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert_month(spark, result, lake_root)
    assert lake_micros(spark, result["lake_uri"], PICKUP) == floor_micros(pickup_nanos(ROWS, MONTH))
    assert lake_micros(spark, result["lake_uri"], DROPOFF) == floor_micros(dropoff_nanos(ROWS, MONTH))
    assert {entry["column"] for entry in result["converted_columns"]} == {PICKUP, DROPOFF}
    pickup = ns_entry(PICKUP, result)
    assert pickup["from"] == "timestamp[ns]" and pickup["to"] == "timestamp[us]" and pickup["how"].startswith(NS_HOW)
    assert pickup["parquet_type"] == "INT64 (TIMESTAMP(NANOS,false))" and pickup["files"] == 1
    assert pickup["sub_microsecond_values"] == sum(1 for ns in pickup_nanos(ROWS, MONTH) if ns % 1000)
    assert ns_entry(DROPOFF, result)["sub_microsecond_values"] == ROWS  # every dropoff ends in 999 ns
    assert any(PICKUP in reason and "TIMESTAMP(NANOS,false)" in reason for reason in result["converted_because"])


def test_polars_file(spark, lake_config, tmp_path, capsys):
    """polars: µs timestamps by default, large/view strings, Int32, Categorical; one ns column."""
    pl = pytest.importorskip("polars")
    config_file, lake_root = lake_config
    frame = pl.from_pandas(pandas_frame(ROWS, MONTH)).with_columns(
        pl.col(PICKUP).cast(pl.Datetime("us")),
        pl.col(DROPOFF).cast(pl.Datetime("ns")),
        pl.col("PULocationID").cast(pl.Int32),
        pl.col("store_and_fwd_flag").cast(pl.Categorical),
    )
    source = tmp_path / f"polars_{MONTH}.parquet"
    frame.write_parquet(source)

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert_month(spark, result, lake_root)
    assert lake_micros(spark, result["lake_uri"], PICKUP) == floor_micros(pickup_nanos(ROWS, MONTH))
    assert lake_micros(spark, result["lake_uri"], DROPOFF) == floor_micros(dropoff_nanos(ROWS, MONTH))
    assert [entry["column"] for entry in result["converted_columns"]] == [DROPOFF]
    assert ns_entry(DROPOFF, result)["from"] == "timestamp[ns]"


def test_duckdb_file(spark, lake_config, tmp_path, capsys):
    """DuckDB: TIMESTAMP (µs), TIMESTAMP_NS, INTEGER ids, and a UUID column the use case does not need."""
    duckdb = pytest.importorskip("duckdb")
    config_file, lake_root = lake_config
    frame = pandas_frame(ROWS, MONTH)  # noqa: F841 (read by DuckDB's replacement scan)
    source = tmp_path / f"duckdb_{MONTH}.parquet"
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT * REPLACE ({PICKUP}::TIMESTAMP AS {PICKUP}, {DROPOFF}::TIMESTAMP_NS AS {DROPOFF},
                                               PULocationID::INTEGER AS PULocationID),
                                     uuid() AS trip_id
                              FROM frame) TO '{source}' (FORMAT parquet)""")
    types = {f.name: str(f.type) for f in pq.ParquetFile(source).schema_arrow}
    assert types[PICKUP] == "timestamp[us]" and types[DROPOFF] == "timestamp[ns]" and "uuid" in types["trip_id"]

    # DuckDB rounds when it casts ns to µs: the lake must hold what the file holds
    pickup_in_file = pq.read_table(source, columns=[PICKUP])[PICKUP].cast(pa.int64()).to_pylist()
    assert pickup_in_file != floor_micros(pickup_nanos(ROWS, MONTH))

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert_month(spark, result, lake_root)
    assert lake_micros(spark, result["lake_uri"], PICKUP) == pickup_in_file
    assert lake_micros(spark, result["lake_uri"], DROPOFF) == floor_micros(dropoff_nanos(ROWS, MONTH))
    assert [entry["column"] for entry in result["converted_columns"]] == [DROPOFF]
    # the UUID column alone would make Spark reject the file; it is not needed, so it is left out
    assert any("trip_id" in reason and "UUID" in reason and "left out" in reason for reason in result["converted_because"])


@pytest.mark.parametrize("timestamp_type", ["TIMESTAMP_MICROS", "INT96"])
def test_spark_file_is_read_as_it_is(spark, lake_config, tmp_path, capsys, timestamp_type):
    config_file, lake_root = lake_config
    arrow_source = tmp_path / "arrow.parquet"
    pq.write_table(arrow_table(ROWS, MONTH, unit="us", tz="UTC"), arrow_source)
    source = tmp_path / f"spark_{MONTH}.parquet"
    previous = spark.conf.get("spark.sql.parquet.outputTimestampType")
    spark.conf.set("spark.sql.parquet.outputTimestampType", timestamp_type)
    try:
        spark.read.parquet(str(arrow_source)).coalesce(1).write.parquet(str(source))  # a folder of part files
    finally:
        spark.conf.set("spark.sql.parquet.outputTimestampType", previous)

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert_month(spark, result, lake_root)
    assert result["converted_columns"] == [] and result["converted_because"] == []
    assert lake_micros(spark, result["lake_uri"], PICKUP) == floor_micros(pickup_nanos(ROWS, MONTH))


# --- timestamp units and time zones ------------------------------------------------------------


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_every_timestamp_unit(spark, lake_config, tmp_path, capsys, unit):
    config_file, lake_root = lake_config
    source = tmp_path / f"units_{unit}_{MONTH}.parquet"
    pq.write_table(arrow_table(ROWS, MONTH, unit=unit), source)

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert_month(spark, result, lake_root)
    assert lake_micros(spark, result["lake_uri"], PICKUP) == expected_micros(pickup_nanos(ROWS, MONTH), unit)
    assert lake_micros(spark, result["lake_uri"], DROPOFF) == expected_micros(dropoff_nanos(ROWS, MONTH), unit)
    converted = {entry["column"]: entry["from"] for entry in result["converted_columns"]}
    assert converted == ({PICKUP: "timestamp[ns]", DROPOFF: "timestamp[ns]"} if unit == "ns" else {})


@pytest.mark.parametrize("zone", ["America/New_York", "UTC"])
def test_time_zone_aware_column_keeps_its_instant(spark, lake_config, tmp_path, capsys, zone):
    """A tz-aware pandas column (ns, TIMESTAMP(NANOS,true)): the lake holds the same instant."""
    config_file, lake_root = lake_config
    frame = pandas_frame(ROWS, MONTH)
    # the same instants, shown in another zone: the wall-clock values differ, the instants do not
    frame[PICKUP] = frame[PICKUP].dt.tz_localize("UTC").dt.tz_convert(zone)
    source = tmp_path / f"tz_{MONTH}.parquet"
    frame.to_parquet(source)
    assert pq.ParquetFile(source).schema_arrow.field(PICKUP).type == pa.timestamp("ns", zone)

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert_month(spark, result, lake_root)
    assert lake_micros(spark, result["lake_uri"], PICKUP) == floor_micros(pickup_nanos(ROWS, MONTH))
    entry = ns_entry(PICKUP, result)
    assert entry["from"] == f"timestamp[ns, tz={zone}]" and entry["to"] == f"timestamp[us, tz={zone}]"
    assert entry["parquet_type"] == "INT64 (TIMESTAMP(NANOS,true))"


# --- ids, strings, spelling, all-null columns --------------------------------------------------


@pytest.mark.parametrize("flag_type", ["dictionary", "large_string"])
def test_int32_ids_dictionary_and_large_strings_and_airport_fee_spelling(spark, lake_config, tmp_path, capsys, flag_type):
    """Spark reads these as they are; the lake gets the YAML's names and types."""
    config_file, lake_root = lake_config
    table = arrow_table(ROWS, MONTH, unit="us")
    table = table.set_column(table.schema.get_field_index("PULocationID"), "PULocationID", table["PULocationID"].cast(pa.int32()))
    table = table.set_column(table.schema.get_field_index("VendorID"), "VendorID", table["VendorID"].cast(pa.int32()))
    flag = table.schema.get_field_index("store_and_fwd_flag")
    flags = table["store_and_fwd_flag"]
    table = table.set_column(flag, "store_and_fwd_flag",
                             flags.dictionary_encode() if flag_type == "dictionary" else flags.cast(pa.large_string()))
    fee = table.schema.get_field_index("airport_fee")
    table = table.rename_columns([("Airport_fee" if i == fee else name) for i, name in enumerate(table.column_names)])
    table = table.set_column(table.schema.get_field_index("DOLocationID"), "DOLocationID",
                             table["DOLocationID"].cast(pa.int32()))
    source = tmp_path / f"types_{MONTH}.parquet"
    pq.write_table(table, source)

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert_month(spark, result, lake_root)
    assert result["converted_columns"] == []
    written = spark.read.parquet(result["lake_uri"]).orderBy("trip_distance")
    rows = written.select("PULocationID", "store_and_fwd_flag", "airport_fee").collect()  # ROWS rows
    assert [r["PULocationID"] for r in rows] == table["PULocationID"].to_pylist()
    assert [r["store_and_fwd_flag"] for r in rows] == table["store_and_fwd_flag"].cast(pa.string()).to_pylist()
    assert [r["airport_fee"] for r in rows] == table["Airport_fee"].to_pylist()


def test_all_null_column_from_pandas(spark, lake_config, tmp_path, capsys):
    """An all-None object column is Arrow ``null`` (Parquet Null): Spark reads it as void, the lake as double."""
    config_file, lake_root = lake_config
    frame = pandas_frame(ROWS, MONTH)
    frame["airport_fee"] = [None] * ROWS
    source = tmp_path / f"nulls_{MONTH}.parquet"
    frame.to_parquet(source)
    assert pq.ParquetFile(source).schema_arrow.field("airport_fee").type == pa.null()

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert_month(spark, result, lake_root)
    assert spark.read.parquet(result["lake_uri"]).filter("airport_fee IS NOT NULL").count() == 0
    assert "airport_fee" not in {entry["column"] for entry in result["converted_columns"]}


def test_part_files_that_disagree_on_types_are_unified(spark, lake_config, tmp_path, capsys):
    """Spark fails on such a folder (PARQUET_COLUMN_DATA_TYPE_MISMATCH) depending on which part it takes the schema from."""
    config_file, lake_root = lake_config
    source = tmp_path / f"parts_{MONTH}"
    source.mkdir()
    table = arrow_table(ROWS, MONTH, unit="us")
    first, second = table.slice(0, 10), table.slice(10)
    first = first.set_column(first.schema.get_field_index("airport_fee"), "airport_fee", pa.nulls(10, pa.null()))
    first = first.set_column(0, "VendorID", first["VendorID"].cast(pa.int32()))
    pq.write_table(first, source / "part-0.parquet")
    pq.write_table(second, source / "part-1.parquet")
    (source / "_SUCCESS").write_text("")

    code, result, err = ingest(config_file, source, capsys)

    assert code == 0, err
    assert_month(spark, result, lake_root)
    converted = {entry["column"]: entry for entry in result["converted_columns"]}
    assert set(converted) == {"VendorID", "airport_fee"}
    # only the part whose type changed is counted; the other part already had the YAML type
    fee = converted["airport_fee"]
    assert (fee["from"], fee["to"], fee["files"]) == ("null", "double", 1)
    assert (converted["VendorID"]["from"], converted["VendorID"]["to"]) == ("int32", "int64")
    assert "disagree" in converted["VendorID"]["how"] and "DOUBLE vs INT32 (NULL)" in converted["airport_fee"]["how"]
    fees = spark.read.parquet(result["lake_uri"]).orderBy("trip_distance").select("airport_fee").collect()
    assert [r[0] for r in fees] == [None] * 10 + table["airport_fee"].to_pylist()[10:]


# --- failures leave the lake month as it was --------------------------------------------------


def _existing_month(spark, lake_config, tmp_path, capsys) -> tuple[str, list[str]]:
    config_file, lake_root = lake_config
    good = tmp_path / f"good_{MONTH}.parquet"
    pq.write_table(arrow_table(ROWS, MONTH), good)
    assert ingest(config_file, good, capsys)[0] == 0
    uri = lake.month_uri(str(lake_root), MONTH)
    return uri, sorted(p.name for p in (lake_root / "2023" / "03").iterdir())


def test_part_missing_a_required_column_is_named_and_changes_nothing(spark, lake_config, tmp_path, capsys):
    config_file, lake_root = lake_config
    uri, before = _existing_month(spark, lake_config, tmp_path, capsys)
    source = tmp_path / f"missing_{MONTH}"
    source.mkdir()
    table = arrow_table(4, MONTH)
    pq.write_table(table, source / "part-0.parquet")
    pq.write_table(table.drop_columns(["total_amount"]), source / "part-1.parquet")

    code, _, err = ingest(config_file, source, capsys)

    assert code == 3
    assert "part-1.parquet" in err and "misses required column(s) total_amount" in err and "Traceback" not in err
    assert sorted(p.name for p in (lake_root / "2023" / "03").iterdir()) == before


def test_not_parquet_is_a_data_error(spark, lake_config, tmp_path, capsys):
    config_file, lake_root = lake_config
    uri, before = _existing_month(spark, lake_config, tmp_path, capsys)
    source = tmp_path / f"notes_{MONTH}.parquet"
    source.write_text("trip,fare\n1,2\n")

    code, _, err = ingest(config_file, source, capsys)

    assert code == 3 and "is not readable Parquet" in err and "Traceback" not in err
    assert sorted(p.name for p in (lake_root / "2023" / "03").iterdir()) == before


def test_unconvertible_column_fails_cleanly_and_removes_staging(spark, lake_config, tmp_path, capsys):
    """Parts disagree (double vs text), and the text is no number: exit 3 before the month is touched."""
    config_file, lake_root = lake_config
    uri, before = _existing_month(spark, lake_config, tmp_path, capsys)
    source = tmp_path / f"bad_{MONTH}"
    source.mkdir()
    table = arrow_table(4, MONTH, unit="ns")
    pq.write_table(table, source / "part-0.parquet")
    index = table.schema.get_field_index("passenger_count")
    pq.write_table(table.set_column(index, "passenger_count", pa.array(["two"] * 4)), source / "part-1.parquet")

    code, _, err = ingest(config_file, source, capsys)

    assert code == 3 and "passenger_count" in err and "cannot be converted from string to double" in err
    assert sorted(p.name for p in (lake_root / "2023" / "03").iterdir()) == before
    assert not list(lake_root.glob("_staging*"))


def test_unreadable_file_copied_into_the_lake_says_to_reingest(spark, tmp_path):
    lake_root = tmp_path / "lake"
    month_dir = lake_root / "2023" / "03"
    month_dir.mkdir(parents=True)
    pandas_frame(4, MONTH).to_parquet(month_dir / "copied.parquet")
    (month_dir / "_SUCCESS").write_text("")

    with pytest.raises(DataError) as raised:
        lake.read_month(spark, str(lake_root), MONTH, COLUMNS, {"Airport_fee": "airport_fee"})

    message = str(raised.value)
    assert "copied.parquet" in message and "TIMESTAMP(NANOS,false)" in message
    assert "sparkmlops ingest --source" in message


# --- the conversion itself (pyarrow only, no Spark) ----------------------------------------------


def test_conversion_streams_batch_by_batch(tmp_path):
    """A 5-row-group file converted with batch_rows=30: never more than 30 rows in memory at once."""
    source = tmp_path / "groups.parquet"
    table = arrow_table(500, MONTH, unit="ns")
    pq.write_table(table, source, row_group_size=100)
    plan = parquet_compat.inspect_source(str(source), COLUMNS, {"Airport_fee": "airport_fee"})
    assert plan.needs_copy and plan.files[0].row_groups == 5
    out = tmp_path / "out.parquet"
    import pyarrow.fs as pafs

    stats = parquet_convert.convert_file(plan, plan.files[0], pafs.LocalFileSystem(), str(out), batch_rows=30)

    assert stats.rows == 500 and stats.row_groups_in == 5
    assert stats.max_batch_rows <= 30 and stats.batches >= 500 // 30 + 1
    written = pq.ParquetFile(out)
    assert written.metadata.num_row_groups == stats.batches == stats.row_groups_out
    assert max(written.metadata.row_group(i).num_rows for i in range(stats.batches)) <= 30
    assert written.schema_arrow.field(PICKUP).type == pa.timestamp("us")
    assert written.schema_arrow.names == list(COLUMNS)
    assert written.read(columns=[PICKUP])[PICKUP].cast(pa.int64()).to_pylist() == floor_micros(pickup_nanos(500, MONTH))


def test_ingest_converts_with_the_batch_size_it_is_given(spark, lake_config, tmp_path, monkeypatch):
    """ingest(batch_rows=…) reaches the converter: 3 row groups of 40 rows, batches of at most 25."""
    from sparkmlops import config as config_module
    from sparkmlops.ingest import ingest as ingest_month

    config_file, lake_root = lake_config
    source = tmp_path / f"groups_{MONTH}.parquet"
    pq.write_table(arrow_table(120, MONTH, unit="ns"), source, row_group_size=40)
    seen = []
    real = parquet_convert.convert_file

    def spy(*args, **kwargs):
        stats = real(*args, **kwargs)
        seen.append(stats)
        return stats

    monkeypatch.setattr(parquet_convert, "convert_file", spy)

    result = ingest_month(spark, config_module.load(None, str(config_file)), str(source), batch_rows=25)

    assert result["rows"] == 120 and {e["column"] for e in result["converted_columns"]} == {PICKUP, DROPOFF}
    assert len(seen) == 1 and seen[0].row_groups_in == 3 and seen[0].rows == 120
    assert seen[0].max_batch_rows <= 25 and seen[0].batches >= 120 // 25 + 1
    assert not list(lake_root.glob("_staging*"))


def test_floor_to_micros_before_1970_and_sub_microsecond_count():
    array = pa.array([-1, -1500, 1500, None, -1000, 2_000], pa.timestamp("ns", "America/New_York"))
    converted, lost = parquet_convert.cast_column(array, pa.timestamp("us", "America/New_York"), "c", "test")
    assert converted.cast(pa.int64()).to_pylist() == [-1, -2, 1, None, -1, 2]
    assert lost == 3


def test_uuid_becomes_text():
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    array = pa.array([value.bytes, None], pa.uuid())
    converted, _ = parquet_convert.cast_column(array, pa.string(), "c", "test")
    assert converted.to_pylist() == [str(value), None]


# --- which types Spark 4.1.1 reads (measured; pins the module's table) ---------------------------

_PROBES = {
    "timestamp_ns": (pa.array([0], pa.timestamp("ns")), False),
    "timestamp_ns_utc": (pa.array([0], pa.timestamp("ns", "UTC")), False),
    "timestamp_s": (pa.array([0], pa.timestamp("s")), True),
    "timestamp_ms_tz": (pa.array([0], pa.timestamp("ms", "Europe/Paris")), True),
    "timestamp_us": (pa.array([0], pa.timestamp("us")), True),
    "time32": (pa.array([dt.time(1, 2, 3)], pa.time32("ms")), False),
    "time64": (pa.array([dt.time(1, 2, 3)], pa.time64("us")), False),
    "float16": (pa.array([1.5], pa.float64()).cast(pa.float16()), False),
    "uuid": (pa.array([uuid.uuid4().bytes], pa.uuid()), False),
    "decimal256": (pa.array([decimal.Decimal("1.5")], pa.decimal256(50, 1)), False),
    "decimal38": (pa.array([decimal.Decimal("1.5")], pa.decimal128(38, 1)), True),
    "null": (pa.nulls(1, pa.null()), True),
    "uint8": (pa.array([1], pa.uint8()), True),
    "uint32": (pa.array([1], pa.uint32()), True),
    "uint64": (pa.array([2**64 - 1], pa.uint64()), True),
    "int8": (pa.array([1], pa.int8()), True),
    "float32": (pa.array([1.5], pa.float32()), True),
    "dictionary": (pa.array(["a"]).dictionary_encode(), True),
    "large_string": (pa.array(["a"], pa.large_string()), True),
    "string_view": (pa.array(["a"], pa.string_view()), True),
    "date32": (pa.array([dt.date(2023, 1, 1)], pa.date32()), True),
    "json": (pa.array(['{"a": 1}'], pa.json_(pa.string())), True),
}


def test_spark_readability_matches_the_classification(spark, tmp_path):
    """Each probe file: does Spark read it, and does :func:`spark_cannot_read` say the same?"""
    results = {}
    for name, (array, _) in _PROBES.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"c": array}), path)
        predicted = not parquet_compat.spark_cannot_read(pq.ParquetFile(path).schema.column(0))
        try:
            spark.read.parquet(str(path)).collect()  # one row
            read = True
        except Exception:
            read = False
        results[name] = (predicted, read)
    int96 = tmp_path / "int96.parquet"
    pq.write_table(pa.table({"c": pa.array([0], pa.timestamp("ns"))}), int96, use_deprecated_int96_timestamps=True)
    assert not parquet_compat.spark_cannot_read(pq.ParquetFile(int96).schema.column(0))
    assert spark.read.parquet(str(int96)).schema.fields[0].dataType.simpleString() == "timestamp"
    assert {name: read for name, (_, read) in results.items()} == {name: ok for name, (_, ok) in _PROBES.items()}
    assert all(predicted == read for predicted, read in results.values()), results


def test_column_resolution_follows_spark_and_the_aliases():
    columns = {"VendorID": "long", "airport_fee": "double", "total_amount": "double"}
    names, missing = parquet_compat.resolve_columns(["VENDORID", "Airport_fee", "x"], columns, {"Airport_fee": "airport_fee"})
    assert names == {"VendorID": "VENDORID", "airport_fee": "Airport_fee"} and missing == ["total_amount"]


def test_pandas_frame_helper_is_nanoseconds():
    """Guard for the fixtures: pandas 2 really writes ns (pyarrow ≥ 13 keeps a file's unit on read)."""
    assert str(pandas_frame(2)[PICKUP].dtype) == "datetime64[ns]"
