"""lake.read_month's optional columns: read where the month's files have them, null where not.

Predict reads the target this way: a month without labels (or with some files lacking
the column) must still give every row, with a null target of the configured type.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from sparkmlops import lake

COLUMNS = {"trip_distance": "double", "PULocationID": "long"}
TARGET = {"total_amount": "double"}


def write_month(base, files: dict[str, pa.Table]):
    folder = base / "2023" / "04"
    folder.mkdir(parents=True)
    for name, table in files.items():
        pq.write_table(table, folder / name)
    (folder / lake.SUCCESS_MARKER).write_text("")


def trips(ids: list[int], fares: list[float | None] | None = None, fare_name: str = "total_amount") -> pa.Table:
    columns = {"trip_distance": [1.5] * len(ids), "PULocationID": pa.array(ids, pa.int32())}
    if fares is not None:
        columns[fare_name] = pa.array(fares, pa.float32())
    return pa.table(columns)


def test_a_month_with_the_column_reads_it_cast_to_its_type(spark, tmp_path):
    write_month(tmp_path, {"part-0.parquet": trips([1, 2, 3], [10.0, None, 7.5])})
    frame, _ = lake.read_month(spark, str(tmp_path), "2023-04", COLUMNS, {}, TARGET)
    assert frame.columns == ["trip_distance", "PULocationID", "total_amount", lake.MONTH_COLUMN]
    assert dict(frame.dtypes)["total_amount"] == "double"
    assert sorted((r.PULocationID, r.total_amount) for r in frame.collect()) == [(1, 10.0), (2, None), (3, 7.5)]


def test_a_month_without_the_column_has_it_all_null(spark, tmp_path):
    write_month(tmp_path, {"part-0.parquet": trips([1, 2]), "part-1.parquet": trips([3])})
    frame, _ = lake.read_month(spark, str(tmp_path), "2023-04", COLUMNS, {}, TARGET)
    assert dict(frame.dtypes)["total_amount"] == "double"
    assert sorted((r.PULocationID, r.total_amount) for r in frame.collect()) == [(1, None), (2, None), (3, None)]


def test_files_that_disagree_on_the_column_keep_every_row(spark, tmp_path):
    """Spark takes a folder's schema from one file: the files are read in agreeing groups."""
    write_month(tmp_path, {"part-0.parquet": trips([1, 2]), "part-1.parquet": trips([3, 4], [5.0, 6.0], "Total_Amount")})
    frame, _ = lake.read_month(spark, str(tmp_path), "2023-04", COLUMNS, {"Total_Amount": "total_amount"}, TARGET)
    assert sorted((r.PULocationID, r.total_amount) for r in frame.collect()) == [(1, None), (2, None), (3, 5.0), (4, 6.0)]


def test_without_optional_columns_nothing_changes(spark, tmp_path):
    write_month(tmp_path, {"part-0.parquet": trips([1], [2.0])})
    frame, _ = lake.read_month(spark, str(tmp_path), "2023-04", COLUMNS, {})
    assert frame.columns == ["trip_distance", "PULocationID", lake.MONTH_COLUMN]
