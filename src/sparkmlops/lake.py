"""The data lake: URIs, month folders, listing, small-file I/O and reading months.

Layout: ``<base>/YYYY/MM/*.parquet`` per use case. A base may be a local folder,
``file://…`` or ``s3a://bucket/prefix``; every file operation goes through Hadoop's
FileSystem API from the driver, so the same code serves local folders and S3.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkmlops.errors import DataError
from sparkmlops.spark_install import missing_connector_error

MONTH_COLUMN = "_lake_month"  # 'YYYY-MM' of the folder a row was read from
SUCCESS_MARKER = "_SUCCESS"  # written by Spark's committer when a month's write completed
_MONTH_DIR = re.compile(r"^\d{4}$")

# Java exception text -> (what went wrong, what to do). Matched in order.
_STORE_FAILURES = (
    (("UnknownStoreException", "NoSuchBucket"),
     "the bucket does not exist",
     "Create the bucket (docker compose's minio-init does; or `mc mb`), or fix the bucket in --data-base-path / --model-registry-path."),
    (("AccessDeniedException", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"),
     "the server rejected the credentials (access denied)",
     "Check MINIO_ACCESS_KEY and MINIO_SECRET_KEY (and the user's policy on that bucket)."),
    (("SdkClientException", "Unable to execute HTTP request", "ConnectException", "UnknownHostException",
      "ConnectTimeoutException", "SocketTimeoutException"),
     "the S3 endpoint did not answer (connection refused or timed out after bounded retries)",
     "Check that the S3/MinIO server is running and that MINIO_ENDPOINT points at it."),
)


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


def predictions_complete(spark: SparkSession, uri: str) -> bool:
    """Spark's committer wrote the predictions folder to the end (``_SUCCESS``)."""
    try:
        return exists(spark, f"{uri}/{SUCCESS_MARKER}")
    except Exception:  # an unreachable store: not known to be complete, so predict again
        return False


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int


def _redact(text: str) -> str:
    for var in ("MINIO_SECRET_KEY", "MINIO_ACCESS_KEY"):
        value = os.environ.get(var)
        if value and len(value) >= 4:  # a 1-letter test key would mangle every word
            text = text.replace(value, f"<{var}>")
    return text


def _store_answer(text: str, needles: tuple[str, ...]) -> str:
    """The line of a (py4j-wrapped) Java error that says what the store answered."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    matching = [line for line in lines if any(needle in line for needle in needles)]
    return _redact((matching or lines or [""])[0])[:240]


def storage_error(spark: SparkSession, uri: str, error: Exception) -> DataError | None:
    """A :class:`DataError` for a known object-store failure on ``uri``, else None.

    The message names the endpoint and the bucket; it never contains the keys.
    """
    missing_connector = missing_connector_error(error, uri)
    if missing_connector is not None:
        return missing_connector
    text = str(error)
    for needles, what, todo in _STORE_FAILURES:
        if any(needle in text for needle in needles):
            bucket = uri.split("://", 1)[-1].split("/", 1)[0] if uri.startswith("s3") else ""
            hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
            endpoint = (hadoop_conf.get(f"fs.s3a.bucket.{bucket}.endpoint") or hadoop_conf.get("fs.s3a.endpoint")
                        or os.environ.get("MINIO_ENDPOINT") or "the default AWS endpoint")
            where = f"bucket '{bucket}' at endpoint {endpoint}" if bucket else uri
            return DataError(
                f"Cannot access {uri}: {what} ({where}).",
                f"The lake and the registry are read and written through S3A; the store answered: "
                f"{_store_answer(text, needles)}",
                todo,
            )
    return None


@contextmanager
def store_errors(spark: SparkSession, uri: str) -> Iterator[None]:
    """Turn known object-store failures inside the block into a clear :class:`DataError` (exit 3)."""
    try:
        yield
    except DataError:
        raise
    except Exception as error:  # py4j / pyspark wrap the Java exception in several types
        known = storage_error(spark, uri, error)
        if known is None:
            raise
        raise known from None


def check_store(spark: SparkSession, base: str) -> None:
    """Fail fast with a clear error if the lake's store is unreachable, denies access or lacks the bucket."""
    uri = normalize_uri(base)
    with store_errors(spark, uri):
        fs, path = _fs(spark, uri)
        fs.exists(path)


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


def _month_folders(spark: SparkSession, base: str) -> dict[str, object]:
    """'YYYY-MM' -> Hadoop Path of every ``YYYY/MM`` folder under the base."""
    uri = normalize_uri(base)
    with store_errors(spark, uri):
        fs, root = _fs(spark, uri)
        if not fs.exists(root):
            return {}
        folders = {}
        for year_status in fs.listStatus(root):
            year = year_status.getPath().getName()
            if not (year_status.isDirectory() and _MONTH_DIR.match(year)):
                continue
            for month_status in fs.listStatus(year_status.getPath()):
                mm = month_status.getPath().getName()
                if month_status.isDirectory() and re.fullmatch(r"0[1-9]|1[0-2]", mm):
                    folders[f"{year}-{mm}"] = month_status.getPath()
        return folders


def month_states(spark: SparkSession, base: str) -> dict[str, str]:
    """'YYYY-MM' -> ``complete`` (Parquet files and a ``_SUCCESS`` marker) or ``incomplete``
    (Parquet files but no marker: a write still running or interrupted). Empty folders are left out.

    Spark's file committer writes ``_SUCCESS`` last, after every data file is in place, so
    on an object store (where a half-written month is visible file by file) the marker is
    what says a month is whole. ``ingest`` and ``generate`` write through Spark and get it.
    """
    states = {}
    for month, path in _month_folders(spark, base).items():
        folder = path.toString()
        if list_files(spark, folder):
            states[month] = "complete" if exists(spark, f"{folder}/{SUCCESS_MARKER}") else "incomplete"
    return dict(sorted(states.items()))


def list_months(spark: SparkSession, base: str) -> list[str]:
    """Complete months ('YYYY-MM'): at least one Parquet file and the ``_SUCCESS`` marker."""
    return [month for month, state in month_states(spark, base).items() if state == "complete"]


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


# Spark's error classes for a valid Parquet file holding a type it cannot read (e.g. the
# nanosecond timestamps pandas writes by default); `ingest` converts those, a copy does not.
_UNREADABLE_TYPE_ERRORS = ("PARQUET_TYPE_ILLEGAL", "PARQUET_TYPE_NOT_SUPPORTED", "PARQUET_TYPE_NOT_RECOGNIZED",
                           "UNSUPPORTED_TIME_TYPE", "DECIMAL_PRECISION_EXCEEDS_MAX_PRECISION")


def _file_schema_names(spark: SparkSession, file_uri: str) -> list[str]:
    try:
        return spark.read.parquet(file_uri).schema.names
    except Exception as error:  # Spark raises several JVM error types for a bad footer
        first_line = str(error).strip().splitlines()[0][:300]
        known = storage_error(spark, file_uri, error)
        if known is not None:
            raise known from None
        if any(code in first_line for code in _UNREADABLE_TYPE_ERRORS):
            raise DataError(
                f"Lake file {file_uri} has a column type Spark cannot read ({first_line}).",
                "It was not written by `sparkmlops ingest` or `generate` (copied into the lake by hand?): files "
                "from pandas, polars or DuckDB often hold nanosecond timestamps, TIME, FLOAT16 or UUID columns, "
                "which Spark 4.1 rejects.",
                "Remove the file and ingest its source instead: `sparkmlops ingest --source FILE --month YYYY-MM` "
                "converts those columns while it writes the month.",
            ) from None
        raise DataError(
            f"Lake file {file_uri} is not readable Parquet.",
            f"Spark could not read its footer ({first_line}).",
            "Re-ingest or regenerate that month (or remove the file) and run again.",
        ) from None


def check_columns(spark: SparkSession, file_uri: str, columns: dict[str, str], aliases: dict[str, str], what: str) -> set[str]:
    """Raise :class:`DataError` naming the file if it is unreadable or misses a column.

    Returns:
        The file's column names, canonical (aliases resolved) and in lower case.
    """
    lower_alias = {alias.lower(): canonical.lower() for alias, canonical in aliases.items()}
    present = {lower_alias.get(name.lower(), name.lower()) for name in _file_schema_names(spark, file_uri)}
    missing = sorted(name for name in columns if name.lower() not in present)
    if missing:
        raise DataError(
            f"Lake file {file_uri} misses required column(s) {', '.join(missing)}.",
            f"{what} must have every column in the use case's data.columns.",
            "Re-ingest that month from the source file, or fix data.columns / data.column_aliases in the YAML.",
        )
    return present


def normalize(frame: DataFrame, columns: dict[str, str], aliases: dict[str, str],
              optional: dict[str, str] | None = None) -> DataFrame:
    """Canonical names (aliases resolved) and types, in the configured column order.

    Args:
        optional: more columns (name -> type) after ``columns``; one the frame lacks is
            all null of its type, so the schema does not depend on the data.
    """
    # Spark resolves names case-insensitively, so 'Airport_fee' and 'airport_fee' are one
    # column here; rename the alias, then select by canonical name and cast.
    for alias, canonical in aliases.items():
        if alias in frame.columns and canonical not in frame.columns:
            frame = frame.withColumnRenamed(alias, canonical)
    actual = {name.lower(): name for name in frame.columns}
    absent = {name: kind for name, kind in (optional or {}).items() if name not in columns and name.lower() not in actual}
    present = {**columns, **{name: kind for name, kind in (optional or {}).items() if name not in columns and name not in absent}}
    # SQL text, not one py4j Column per column: SECOM's 592 columns cost ms instead of ~1.5 s
    return frame.selectExpr(*[f"CAST(`{actual[name.lower()]}` AS {kind}) AS `{name}`" for name, kind in present.items()],
                            *[f"CAST(NULL AS {kind}) AS `{name}`" for name, kind in absent.items()])


def read_month(
    spark: SparkSession,
    base: str,
    month: str,
    columns: dict[str, str],
    aliases: dict[str, str],
    optional: dict[str, str] | None = None,
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
        optional: column -> type read where the files have it and null where they do
            not (predict's observed target: an unlabeled month has none).

    Returns:
        The month's rows (required then optional columns cast, plus ``_lake_month``) and
        its files.
    """
    uri = month_uri(base, month)
    with store_errors(spark, uri):
        files = list_files(spark, uri)
    if not files:
        raise DataError(
            f"Lake month {month} has no Parquet files under {uri}.",
            "A month folder must hold at least one *.parquet file.",
            "Ingest or generate that month, or leave it out of the window.",
        )
    if not exists(spark, f"{uri}/{SUCCESS_MARKER}"):
        raise DataError(
            f"Lake month {month} under {uri} is incomplete: {len(files)} Parquet file(s) but no {SUCCESS_MARKER} marker.",
            "The marker is written last when a month's write completes; without it the month may miss files "
            "(a write still running or interrupted).",
            "Wait for the write to finish, or re-ingest or regenerate that month, then run again.",
        )
    optional = optional or {}
    # Spark takes a folder's schema from one file, so files are read in groups that agree
    # on which optional columns they have (one group unless the files were mixed by hand).
    groups: dict[frozenset[str], list[str]] = {}
    for info in files:
        present = check_columns(spark, info.path, columns, aliases, f"Month {month}")
        groups.setdefault(frozenset(name for name in optional if name.lower() in present), []).append(info.path)
    frames = [normalize(spark.read.parquet(*paths), columns, aliases, optional) for paths in groups.values()]
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other)
    return frame.withColumn(MONTH_COLUMN, F.lit(month)), files


def read_months(
    spark: SparkSession, base: str, months: list[str], columns: dict[str, str], aliases: dict[str, str],
    optional: dict[str, str] | None = None,
) -> tuple[DataFrame, dict[str, list[FileInfo]]]:
    """Union of :func:`read_month` over ``months`` and the files read per month."""
    frames, files = [], {}
    for month in months:
        frame, month_files = read_month(spark, base, month, columns, aliases, optional)
        frames.append(frame)
        files[month] = month_files
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return union, files


def delete_tree(spark: SparkSession, uri: str) -> None:
    """Delete a folder (or file) and everything under it; nothing happens if it is absent."""
    fs, path = _fs(spark, uri)
    if fs.exists(path):
        fs.delete(path, True)


def list_folders(spark: SparkSession, uri: str) -> list[str]:
    """URIs of the folders directly under ``uri`` (empty if it does not exist), sorted."""
    fs, path = _fs(spark, uri)
    if not fs.exists(path):
        return []
    return sorted(status.getPath().toString() for status in fs.listStatus(path) if status.isDirectory())


def move_folder(spark: SparkSession, source: str, target: str) -> None:
    """Move a folder to ``target`` with a Hadoop FileSystem rename, replacing what was there.

    Works for local folders and s3a alike (on S3 a rename copies then deletes each object,
    so a caller marks completion afterwards, e.g. with ``_SUCCESS``).

    Raises:
        DataError: the store refused the rename.
    """
    fs, src = _fs(spark, source)
    _, dst = _fs(spark, target)
    if fs.exists(dst):
        fs.delete(dst, True)
    fs.mkdirs(dst.getParent())  # a rename needs the target's parent folder on local and Hadoop filesystems
    if not fs.rename(src, dst):
        raise DataError(
            f"Could not move {source} to {target}.",
            "The filesystem refused the rename (its answer gives no reason).",
            "Check that the lake is writable, then ingest again (months already moved are complete; the one being "
            "moved may be missing until then).",
        )
