"""Put a real source file (e.g. a TLC monthly Parquet) into the lake layout."""

from __future__ import annotations

import re
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkmlops import lake
from sparkmlops.config import UsecaseConfig
from sparkmlops.errors import DataError, UsageError
from sparkmlops.window import parse_month

_MONTH_IN_NAME = re.compile(r"(\d{4}-(0[1-9]|1[0-2]))")


def month_of(source: str, month: str | None) -> str:
    """The month a source file holds: ``--month`` or the YYYY-MM in its name."""
    if month:
        return parse_month(month, "--month")
    found = _MONTH_IN_NAME.search(Path(source).name)
    if not found:
        raise UsageError(
            f"Cannot tell which month {source} holds.",
            "Its name has no YYYY-MM (TLC files are named yellow_tripdata_YYYY-MM.parquet).",
            "Pass --month YYYY-MM.",
        )
    return found.group(1)


def ingest(spark: SparkSession, config: UsecaseConfig, source: str, month: str | None = None) -> dict:
    """Validate, normalise (column spelling and types) and write one month to the lake.

    The source is checked before anything is written, so a bad file leaves the lake
    month as it was. Rows whose timestamp falls outside the month are kept (cleaning
    counts and removes them at train time) and reported here.
    """
    month = month_of(source, month)
    uri = source if "://" in source else lake.normalize_uri(source)
    if not lake.exists(spark, uri):
        raise DataError(f"Source file {source} does not exist.", "", "Check the --source path.")
    data = config.data
    lake.check_columns(spark, uri, data.columns, data.column_aliases, f"Source {source}")
    frame = lake.normalize(spark.read.parquet(uri), data.columns, data.column_aliases)
    stamp = F.date_format(F.col(data.timestamp_column), "yyyy-MM")
    target = lake.month_uri(data.base_path, month)
    lake.check_store(spark, data.base_path)
    with lake.store_errors(spark, target):
        frame.write.mode("overwrite").parquet(target)
    written = spark.read.parquet(target)
    row = written.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(stamp != month, 1).otherwise(0)).alias("out_of_month"),
        F.sum(F.when(F.col(data.timestamp_column).isNull(), 1).otherwise(0)).alias("null_timestamp"),
    ).first()
    return {
        "source": source, "month": month, "lake_uri": target, "rows": int(row["rows"]),
        "out_of_month_rows": int(row["out_of_month"] or 0), "null_timestamp_rows": int(row["null_timestamp"] or 0),
        "files": [f.path for f in lake.list_files(spark, target)],
    }
