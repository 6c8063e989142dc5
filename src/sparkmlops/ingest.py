"""Put a real source (a TLC monthly Parquet, weatherAUS.csv, the UCI SECOM files) into the lake layout."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkmlops import arrow_fs, csv_source, lake, month_split, parquet_compat, parquet_convert, source_checks, sources
from sparkmlops.config import UsecaseConfig
from sparkmlops.errors import DataError
from sparkmlops.window import parse_month

_MONTH_IN_NAME = re.compile(r"(\d{4}-(0[1-9]|1[0-2]))")


def month_of(source: str, month: str | None) -> str | None:
    """The one month a source holds: ``--month``, else the YYYY-MM in its name, else None
    (the source is split into lake months by its timestamps)."""
    if month:
        return parse_month(month, "--month")
    found = _MONTH_IN_NAME.search(Path(source.rstrip("/")).name)
    return found.group(1) if found else None


def ingest(spark: SparkSession, config: UsecaseConfig, source: str, month: str | None = None,
           batch_rows: int = parquet_convert.BATCH_ROWS) -> dict:
    """Check a source, normalise it (column spelling and types) and write it to the lake.

    The source is ``data.source.format`` (``parquet``: a file or a folder of part files;
    ``csv``: a file or folder with a header line), or what the ``data.source.adapter`` module
    of :mod:`sparkmlops.sources` reads; local or ``s3a://``. Everything is checked before
    anything is written, so a bad source leaves the lake as it was: Parquet footers
    (required columns, types Spark cannot read, parts that disagree; where Spark cannot
    read the source as it is, a converted copy is streamed into ``<lake>/_staging-<id>/``,
    see :mod:`sparkmlops.parquet_compat`), then, in one aggregation, malformed rows and
    text values that do not parse as their column's type (:mod:`sparkmlops.source_checks`).

    With a month (``month`` or a YYYY-MM in the source's name) the source is written to
    that lake month; rows whose timestamp falls outside it are kept (cleaning counts and
    removes them at train time) and reported. Without one, the rows are split by
    ``data.timestamp_column`` into lake months in one Spark write
    (:mod:`sparkmlops.month_split`): the months the source covers are replaced, the others
    untouched, and rows without a timestamp are counted, not written.

    Args:
        source: path or URI of the source file or folder.
        month: 'YYYY-MM' the source holds; default: the YYYY-MM in its name, else split.
        batch_rows: rows per batch when a converted copy is needed (bounds driver memory).

    Returns:
        The result printed by ``sparkmlops ingest``: ``months`` written (month, rows,
        lake_uri, files), ``rows``, ``null_timestamp_rows``, ``out_of_month_rows`` (one
        month) or ``replaced_months`` (split), and ``converted_columns`` (column, from/to
        type, how; empty when Spark read the source as it is) with ``converted_because``.
    """
    month = month_of(source, month)
    uri = source if "://" in source else lake.normalize_uri(source)
    with lake.store_errors(spark, uri):
        found = lake.exists(spark, uri)
    if not found:
        raise DataError(f"Source {source} does not exist.", "", "Check the --source path.")
    data = config.data
    lake.check_store(spark, data.base_path)
    with _raw_source(spark, config, source, uri, batch_rows) as raw:
        # A text source is scanned twice (the checks, then the write): caching it would hold
        # the whole source in executor memory to save one scan of a file that is read anyway.
        frame = lake.normalize(source_checks.parse(raw, data, source), data.columns, data.column_aliases)
        with source_checks.read_errors(raw):
            if month:
                written = _write_month(spark, frame, data.base_path, data.timestamp_column, month)
            else:
                written = month_split.write_months(spark, frame, data.base_path, data.timestamp_column)
    return {"source": source, **written, "converted_columns": raw.converted_columns,
            "converted_because": list(raw.converted_because)}


def _write_month(spark: SparkSession, frame: DataFrame, base: str, timestamp_column: str, month: str) -> dict:
    """Write everything to one lake month (as Spark writes: ``_SUCCESS`` last) and count what it holds."""
    target = lake.month_uri(base, month)
    with lake.store_errors(spark, target):
        frame.write.mode("overwrite").parquet(target)
    stamp = F.date_format(F.col(timestamp_column), "yyyy-MM")
    row = spark.read.parquet(target).agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(stamp != month, 1).otherwise(0)).alias("out_of_month"),
        F.sum(F.when(F.col(timestamp_column).isNull(), 1).otherwise(0)).alias("null_timestamp"),
    ).first()
    files = [f.path for f in lake.list_files(spark, target)]
    rows = int(row["rows"])
    return {
        "month": month, "lake_uri": target, "rows": rows, "out_of_month_rows": int(row["out_of_month"] or 0),
        "null_timestamp_rows": int(row["null_timestamp"] or 0), "files": files,
        "months": [{"month": month, "rows": rows, "lake_uri": target, "files": files}],
    }


@contextmanager
def _raw_source(spark: SparkSession, config: UsecaseConfig, source: str, uri: str,
                batch_rows: int) -> Iterator[source_checks.RawSource]:
    """The source as read by its adapter, as CSV, or as Parquet (through a converted copy if needed)."""
    data = config.data
    if data.source.adapter:
        name = data.source.adapter
        yield source_checks.RawSource(
            sources.adapter_module(name).read(spark, source, config),
            malformed_why=f"The source adapter {name} (sparkmlops.sources.{name}) could not make a row of these lines.",
            malformed_fix="Fix those lines in the source files and ingest again.",
        )
        return
    if data.source.format == "csv":
        with lake.store_errors(spark, uri):
            raw = csv_source.read(spark, uri, source, data.source)
        yield raw
        return
    if arrow_fs.supported(uri):
        plan = parquet_compat.inspect_source(uri, data.columns, data.column_aliases)
    else:  # a store pyarrow is not set up for here (hdfs:// …): Spark reads it as it always did
        plan = None
        lake.check_columns(spark, uri, data.columns, data.column_aliases, f"Source {source}")
    with _spark_readable(plan, uri, data.base_path, batch_rows) as readable:
        yield source_checks.RawSource(spark.read.parquet(readable.uri), readable.converted_columns, readable.reasons)


@contextmanager
def _spark_readable(plan: parquet_compat.SourcePlan | None, uri: str, base_path: str,
                    batch_rows: int) -> Iterator[parquet_convert.ReadableSource]:
    if plan is None:
        yield parquet_convert.ReadableSource(uri, [], ())
        return
    with parquet_convert.readable_copy(plan, lake.normalize_uri(base_path), batch_rows) as readable:
        yield readable
