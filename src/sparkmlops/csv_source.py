"""Read a CSV source (a file or a folder of CSV files with a header line) for ingest.

Every column is read as text: :mod:`sparkmlops.source_checks` maps the YAML's null-value
texts (weatherAUS: ``NA``) to null and parses each value with ``try_cast``, so a value that
is not of its column's type is reported by column, count and example instead of failing a
task. Rows Spark cannot split into the header's columns (a field too many or too few, a
quote left open) land in Spark's corrupt-record column and are reported as malformed, with
their file and, found only when there are some, their line.

Quotes are ``"`` and a quote inside a quoted field is doubled (``""``), as pandas, R and
spreadsheets write CSV; a field does not span lines.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparkmlops.config import SourceConfig
from sparkmlops.errors import DataError
from sparkmlops.source_checks import MALFORMED, MALFORMED_AT, RawSource

_CORRUPT = "_corrupt_record"


def _options(source: SourceConfig) -> dict[str, str]:
    return {"header": "true", "sep": source.delimiter, "quote": '"', "escape": '"', "encoding": "UTF-8"}


def header(spark: SparkSession, uri: str, where: str, source: SourceConfig) -> list[str]:
    """The column names of the source's header line (Spark reads only that line here).

    Raises:
        DataError: the source has no header line (an empty file).
    """
    names = spark.read.options(**_options(source)).csv(uri).columns
    if not names:
        raise DataError(
            f"Source {where} has no header line (the file is empty).",
            "A CSV source starts with a line naming its columns.",
            "Check the --source path, or export the file again with its header.",
        )
    return names


def read(spark: SparkSession, uri: str, where: str, source: SourceConfig) -> RawSource:
    """The source's rows, every column as text, with malformed rows marked.

    Args:
        uri: local path, ``file://`` or ``s3a://`` URI of a CSV file or folder.
        where: how errors name the source.
        source: the use case's ``data.source`` (delimiter).
    """
    names = header(spark, uri, where, source)
    schema = T.StructType([T.StructField(name, T.StringType()) for name in names]
                          + [T.StructField(_CORRUPT, T.StringType())])
    frame = (spark.read.schema(schema).options(**_options(source))
             .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", _CORRUPT)
             # Without this, a query that needs only some columns parses only those, and a row
             # with a field too many or too few is not noticed (measured with Spark 4.1.1).
             .option("columnPruning", "false")
             # Each file's header must name the same columns in the same order; otherwise its
             # values would silently land in the wrong columns.
             .option("enforceSchema", "false")
             .csv(uri))
    frame = frame.select(*[F.col(f"`{name}`") for name in names],
                         F.col(_CORRUPT).alias(MALFORMED), F.col("_metadata.file_path").alias(MALFORMED_AT))
    width = len(names)
    return RawSource(
        frame,
        malformed_why=f"Each row must have the header's {width} field(s) separated by '{source.delimiter}' "
                      "(data.source.delimiter), with every quote it opens closed on the same line; Spark could not "
                      "split these rows into the header's columns.",
        malformed_fix="Fix or remove those rows in the source (or set data.source.delimiter) and ingest again.",
        locate=lambda at, record: _locate(spark, at, record),
        failure=lambda error: _header_mismatch(error, where),
    )


def _locate(spark: SparkSession, file_uri: str, record: str) -> str:
    """``<file> line N`` of the first line equal to ``record`` (1 = the header), or just the file.

    Runs only when a source is bad: one more pass over that one file, counted in a
    distributed way (``zipWithIndex``), never collected.
    """
    if not file_uri:
        return ""
    try:
        lines = spark.read.text(file_uri).rdd.zipWithIndex()
        found = lines.filter(lambda pair: pair[0][0] == record).map(lambda pair: pair[1]).take(1)
    except Exception:  # the file name is all we can give then; the count and example still are
        return file_uri
    return f"{file_uri} line {found[0] + 1}" if found else file_uri


def _header_mismatch(error: Exception, where: str) -> DataError | None:
    text = str(error)
    if "CSV header does not conform to the schema" not in text:
        return None
    detail = text[text.index("CSV header does not conform"):].splitlines()
    lines = [line.strip() for line in detail[1:6] if line.strip() and not line.strip().startswith("at ")]
    return DataError(
        f"The CSV files of source {where} do not share one header line ({'; '.join(lines)}).",
        "Ingest reads the column names from the first file's header; every file of a folder must name the same "
        "columns in the same order.",
        "Ingest the files one by one, or export them with the same columns.",
    )

