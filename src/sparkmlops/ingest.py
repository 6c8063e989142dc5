"""Put a real source file (e.g. a TLC monthly Parquet) into the lake layout."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkmlops import arrow_fs, lake, parquet_compat, parquet_convert
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


def ingest(spark: SparkSession, config: UsecaseConfig, source: str, month: str | None = None,
           batch_rows: int = parquet_convert.BATCH_ROWS) -> dict:
    """Validate, normalise (column spelling and types) and write one month to the lake.

    The source (a Parquet file or a folder of part files, local or ``s3a://``) is checked
    before anything is written, so a bad file leaves the lake month as it was: first its
    footers (required columns, types Spark cannot read, parts that disagree), then, where
    Spark cannot read it as it is, a converted copy is streamed into
    ``<lake>/_staging-<id>/`` and read from there (:mod:`sparkmlops.parquet_compat`,
    :mod:`sparkmlops.parquet_convert`). Rows whose timestamp falls outside the month are
    kept (cleaning counts and removes them at train time) and reported here.

    Args:
        source: path or URI of the source file or folder.
        month: 'YYYY-MM' the source holds; default: the YYYY-MM in its name.
        batch_rows: rows per batch when a converted copy is needed (bounds driver memory).

    Returns:
        The result printed by ``sparkmlops ingest``: rows, out-of-month rows, the lake files,
        and ``converted_columns`` (column, from/to type, how; empty when Spark read the
        source as it is) with ``converted_because``.
    """
    month = month_of(source, month)
    uri = source if "://" in source else lake.normalize_uri(source)
    with lake.store_errors(spark, uri):
        found = lake.exists(spark, uri)
    if not found:
        raise DataError(f"Source file {source} does not exist.", "", "Check the --source path.")
    data = config.data
    lake.check_store(spark, data.base_path)
    if arrow_fs.supported(uri):
        plan = parquet_compat.inspect_source(uri, data.columns, data.column_aliases)
    else:  # a store pyarrow is not set up for here (hdfs:// …): Spark reads it as it always did
        plan = None
        lake.check_columns(spark, uri, data.columns, data.column_aliases, f"Source {source}")
    stamp = F.date_format(F.col(data.timestamp_column), "yyyy-MM")
    target = lake.month_uri(data.base_path, month)
    with _spark_readable(plan, uri, data.base_path, batch_rows) as readable:
        frame = lake.normalize(spark.read.parquet(readable.uri), data.columns, data.column_aliases)
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
        "converted_columns": readable.converted_columns, "converted_because": list(readable.reasons),
    }


@contextmanager
def _spark_readable(plan: parquet_compat.SourcePlan | None, uri: str, base_path: str,
                    batch_rows: int) -> Iterator[parquet_convert.ReadableSource]:
    if plan is None:
        yield parquet_convert.ReadableSource(uri, [], ())
        return
    with parquet_convert.readable_copy(plan, lake.normalize_uri(base_path), batch_rows) as readable:
        yield readable
