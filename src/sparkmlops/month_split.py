"""Write a source that spans many months into lake months ``<base>/YYYY/MM/``, in one Spark write.

The rows are written once, ``partitionBy`` their timestamp's month, into a staging folder
in the lake root (``<base>/_staging-<id>/_month=YYYY-MM/``: a sibling of the months, which
the lake's listing never takes for data). Each partition folder then becomes its month
with a Hadoop FileSystem rename (local folders and s3a alike), replacing the month if it
existed, and gets its ``_SUCCESS`` marker last, so a reader never takes a half-moved month
for a complete one. Months the source does not cover are not touched. Rows without a
timestamp land in Spark's null partition, are counted and are not written to the lake.
The staging folder is removed afterwards, also on failure.
"""

from __future__ import annotations

import re
from contextlib import suppress

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparkmlops import lake, parquet_convert
from sparkmlops.errors import DataError
from sparkmlops.logs import get_logger

PARTITION = "_month"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def write_months(spark: SparkSession, frame: DataFrame, base: str, timestamp_column: str) -> dict:
    """Split ``frame`` into lake months by ``timestamp_column`` and write them.

    Args:
        frame: the checked, normalised rows (the YAML's columns and types).
        base: the use case's lake root.
        timestamp_column: the column whose month (session time zone) picks the lake month.

    Returns:
        ``months`` (month, rows, lake_uri, files; in time order), ``rows`` written,
        ``null_timestamp_rows`` (not written) and ``replaced_months`` (those that existed).

    Raises:
        DataError: no row has a timestamp, a timestamp falls outside years 0000-9999, or
            the store fails.
    """
    base_uri = lake.normalize_uri(base)
    staging = parquet_convert.staging_uri(base_uri)
    try:
        with lake.store_errors(spark, staging):
            # One write for all months; repartitioning by the month first gives one file per
            # month instead of one per month and task (SPARK-45594).
            (frame.withColumn(PARTITION, F.date_format(F.col(timestamp_column), "yyyy-MM"))
             .repartition(PARTITION).write.partitionBy(PARTITION).parquet(staging))
            counts = _rows_per_month(spark, staging)
        null_rows = counts.pop(None, 0)
        _check_months(counts, null_rows, timestamp_column)
        before = set(lake.month_states(spark, base))
        months = []
        for month in sorted(counts):
            target = lake.month_uri(base, month)
            with lake.store_errors(spark, target):
                lake.move_folder(spark, f"{staging}/{PARTITION}={month}", target)
                lake.write_text(spark, f"{target}/{lake.SUCCESS_MARKER}", "")  # last: the month is complete
                files = [info.path for info in lake.list_files(spark, target)]
            months.append({"month": month, "rows": counts[month], "lake_uri": target, "files": files})
        get_logger().info(
            f"split into {len(months)} lake month(s) ({months[0]['month']} … {months[-1]['month']}); "
            f"{null_rows} row(s) without {timestamp_column} not written",
            extra={"fields": {"stage": "ingest_split", "months": len(months), "null_timestamp_rows": null_rows}},
        )
        return {"months": months, "rows": sum(counts.values()), "null_timestamp_rows": null_rows,
                "replaced_months": sorted(before & set(counts))}
    finally:
        with suppress(Exception):  # already gone, or the store is down: nothing more to do here
            lake.delete_tree(spark, staging)


def _rows_per_month(spark: SparkSession, staging: str) -> dict[str | None, int]:
    """Rows per partition folder: read with the month as text (no type inference) and counted
    from the Parquet footers; one row per month comes back to the driver."""
    schema = T.StructType([T.StructField(PARTITION, T.StringType())])
    rows = spark.read.schema(schema).parquet(staging).groupBy(PARTITION).count().collect()
    return {row[PARTITION]: int(row["count"]) for row in rows}


def _check_months(counts: dict[str, int], null_rows: int, timestamp_column: str) -> None:
    if not counts:
        raise DataError(
            f"The source has no row with a {timestamp_column} value ({null_rows} row(s) in all), so there is no lake "
            "month to write it to.",
            "Without --month (or a YYYY-MM in the file name), ingest puts each row into the month of its "
            f"data.timestamp_column, {timestamp_column}.",
            "Check that the source fills that column, or pass --month YYYY-MM to write it all to one month.",
        )
    odd = sorted(month for month in counts if not _MONTH.match(month))
    if odd:
        raise DataError(
            f"{sum(counts[m] for m in odd)} row(s) of the source have a {timestamp_column} outside the years 0000-9999 "
            f"(months {', '.join(odd[:3])}).",
            "Lake months are YYYY/MM folders.",
            "Fix or remove those rows in the source and ingest again; nothing was written to the lake.",
        )
