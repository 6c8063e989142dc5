"""The data lake: URIs, month folders, listing, small-file I/O and reading months.

Layout: ``<base>/YYYY/MM/*.parquet`` per use case. A base may be a local folder,
``file://…`` or ``s3a://bucket/prefix``; every file operation goes through Hadoop's
FileSystem API from the driver, so the same code serves local folders and S3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkmlops.errors import DataError

MONTH_COLUMN = "_lake_month"  # 'YYYY-MM' of the folder a row was read from
_MONTH_DIR = re.compile(r"^\d{4}$")


def normalize_uri(base: str) -> str:
    """Absolute URI for a lake root: bare paths become ``file://`` URIs."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", base):
        return base.rstrip("/")
    return Path(base).expanduser().resolve().as_uri()


def month_uri(base: str, month: str) -> str:
    year, mm = month.split("-")
    return f"{normalize_uri(base)}/{year}/{mm}"


def predictions_uri(base: str, usecase: str, month: str) -> str:
    """Where predictions for a month go: ``<lake root>/predictions/<usecase>/YYYY/MM``.

    The lake root is the parent of the use case's base path, so taxi data under
    ``…/lake/taxi_fare`` predicts into ``…/lake/predictions/taxi_fare/…``.
    """
    root = normalize_uri(base).rsplit("/", 1)[0]
    year, mm = month.split("-")
    return f"{root}/predictions/{usecase}/{year}/{mm}"


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int


def _fs(spark: SparkSession, uri: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def exists(spark: SparkSession, uri: str) -> bool:
    fs, path = _fs(spark, uri)
    return bool(fs.exists(path))


def list_files(spark: SparkSession, uri: str, suffix: str = ".parquet") -> list[FileInfo]:
    """Data files directly under ``uri`` (hidden ``_``/``.`` files skipped), sorted."""
    fs, path = _fs(spark, uri)
    if not fs.exists(path):
        return []
    files = []
    for status in fs.listStatus(path):
        name = status.getPath().getName()
        if status.isFile() and name.endswith(suffix) and not name.startswith(("_", ".")):
            files.append(FileInfo(status.getPath().toString(), int(status.getLen())))
    return sorted(files, key=lambda info: info.path)


def list_months(spark: SparkSession, base: str) -> list[str]:
    """Months ('YYYY-MM') that have at least one Parquet file under the base."""
    fs, root = _fs(spark, normalize_uri(base))
    if not fs.exists(root):
        return []
    months = []
    for year_status in fs.listStatus(root):
        year = year_status.getPath().getName()
        if not (year_status.isDirectory() and _MONTH_DIR.match(year)):
            continue
        for month_status in fs.listStatus(year_status.getPath()):
            mm = month_status.getPath().getName()
            if month_status.isDirectory() and re.fullmatch(r"0[1-9]|1[0-2]", mm):
                if list_files(spark, month_status.getPath().toString()):
                    months.append(f"{year}-{mm}")
    return sorted(months)


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    """Write a small text file (manifests) through Hadoop's FileSystem."""
    fs, path = _fs(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_text(spark: SparkSession, uri: str) -> str:
    fs, path = _fs(spark, uri)
    jvm = spark.sparkContext._jvm
    stream = fs.open(path)
    try:
        return jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()


def _file_schema_names(spark: SparkSession, file_uri: str) -> list[str]:
    try:
        return spark.read.parquet(file_uri).schema.names
    except Exception as error:  # Spark raises several JVM error types for a bad footer
        first_line = str(error).strip().splitlines()[0][:300]
        raise DataError(
            f"Lake file {file_uri} is not readable Parquet.",
            f"Spark could not read its footer ({first_line}).",
            "Re-ingest or regenerate that month (or remove the file) and run again.",
        ) from None


def check_columns(spark: SparkSession, file_uri: str, columns: dict[str, str], aliases: dict[str, str], what: str) -> None:
    """Raise :class:`DataError` naming the file if it is unreadable or misses a column."""
    lower_alias = {alias.lower(): canonical.lower() for alias, canonical in aliases.items()}
    present = {lower_alias.get(name.lower(), name.lower()) for name in _file_schema_names(spark, file_uri)}
    missing = sorted(name for name in columns if name.lower() not in present)
    if missing:
        raise DataError(
            f"Lake file {file_uri} misses required column(s) {', '.join(missing)}.",
            f"{what} must have every column in the use case's data.columns.",
            "Re-ingest that month from the source file, or fix data.columns / data.column_aliases in the YAML.",
        )


def normalize(frame: DataFrame, columns: dict[str, str], aliases: dict[str, str]) -> DataFrame:
    """Canonical names (aliases resolved) and types, in the configured column order."""
    # Spark resolves names case-insensitively, so 'Airport_fee' and 'airport_fee' are one
    # column here; rename the alias, then select by canonical name and cast.
    for alias, canonical in aliases.items():
        if alias in frame.columns and canonical not in frame.columns:
            frame = frame.withColumnRenamed(alias, canonical)
    actual = {name.lower(): name for name in frame.columns}
    return frame.select(*[F.col(f"`{actual[name.lower()]}`").cast(kind).alias(name) for name, kind in columns.items()])


def read_month(
    spark: SparkSession,
    base: str,
    month: str,
    columns: dict[str, str],
    aliases: dict[str, str],
) -> tuple[DataFrame, list[FileInfo]]:
    """Read one month folder with canonical column names and types.

    Every file's schema is checked before the month is read, so a corrupt file or one
    missing a required column is named in the error instead of surfacing later as
    nulls or a Spark stack trace.

    Args:
        base: lake root of the use case.
        month: 'YYYY-MM'.
        columns: required column -> Spark SQL type.
        aliases: other spelling -> canonical name (e.g. ``Airport_fee`` -> ``airport_fee``).

    Returns:
        The month's rows (required columns cast, plus ``_lake_month``) and its files.
    """
    uri = month_uri(base, month)
    files = list_files(spark, uri)
    if not files:
        raise DataError(
            f"Lake month {month} has no Parquet files under {uri}.",
            "A month folder must hold at least one *.parquet file.",
            "Ingest or generate that month, or leave it out of the window.",
        )
    for info in files:
        check_columns(spark, info.path, columns, aliases, f"Month {month}")
    frame = normalize(spark.read.parquet(*[info.path for info in files]), columns, aliases)
    return frame.withColumn(MONTH_COLUMN, F.lit(month)), files


def read_months(
    spark: SparkSession, base: str, months: list[str], columns: dict[str, str], aliases: dict[str, str]
) -> tuple[DataFrame, dict[str, list[FileInfo]]]:
    """Union of :func:`read_month` over ``months`` and the files read per month."""
    frames, files = [], {}
    for month in months:
        frame, month_files = read_month(spark, base, month, columns, aliases)
        frames.append(frame)
        files[month] = month_files
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return union, files
