"""Check a source's rows and parse its text values before anything is written to the lake.

Every source reader (Parquet, CSV, an adapter under :mod:`sparkmlops.sources`) hands
ingest a :class:`RawSource`: a DataFrame with the use case's columns, typed or as text,
plus, where the reader can tell, a :data:`MALFORMED` column saying what is wrong with a
row that could not be split into columns (and :data:`MALFORMED_AT`, where it is).

:func:`parse` then runs **one** aggregation over all columns: the malformed rows (count
and one example) and, for each text column whose YAML type is not ``string``, the
non-null values whose ``try_cast`` gives null (count and one example). Under Spark 4's
ANSI mode a plain cast of such a value would fail inside a task with a stack trace
halfway through the write; found here, it is one paragraph and the lake is untouched. Texts listed in ``data.source.null_values`` count as missing.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from sparkmlops import parquet_compat
from sparkmlops.config import DataConfig
from sparkmlops.errors import DataError

#: Non-null when a row is malformed: what is wrong (or the raw record). Reader-defined text.
MALFORMED = "_malformed"
#: Where a malformed row is (a file, a line), shown before :data:`MALFORMED` in the error.
MALFORMED_AT = "_malformed_at"
_HELPERS = (MALFORMED, MALFORMED_AT)
_SHOWN_COLUMNS = 5  # columns named in a type error; the rest are counted
_EXAMPLE_CHARS = 200


@dataclass(frozen=True)
class RawSource:
    """A source as read, before its rows are checked and its text parsed.

    Attributes:
        frame: the required columns (any spelling ``lake.normalize`` accepts), typed or
            text, plus optional :data:`MALFORMED` / :data:`MALFORMED_AT` columns.
        converted_columns: what the Parquet conversion changed (ingest's output).
        converted_because: why a converted copy was needed.
        malformed_why: the error's "why" for malformed rows (the reader knows its format).
        malformed_fix: the error's "what to do" for malformed rows.
        locate: ``(at, example) -> at`` giving a better place for the example (e.g. its line),
            called only when the source is bad.
        failure: maps an exception raised while Spark reads the source to a DataError, or None.
    """

    frame: DataFrame
    converted_columns: list[dict] = field(default_factory=list)
    converted_because: tuple[str, ...] = ()
    malformed_why: str = ""
    malformed_fix: str = "Fix or remove those rows in the source and ingest again."
    locate: Callable[[str, str], str] | None = None
    failure: Callable[[Exception], DataError | None] | None = None


@contextmanager
def read_errors(raw: RawSource) -> Iterator[None]:
    """Turn the reader's known failures inside the block (e.g. a CSV header that differs) into its DataError."""
    try:
        yield
    except DataError:
        raise
    except Exception as error:  # py4j / pyspark wrap the Java exception in several types
        known = raw.failure(error) if raw.failure else None
        if known is None:
            raise
        raise known from None


def ident(name: str) -> str:
    """A column name quoted for Spark SQL text."""
    return "`" + name.replace("`", "``") + "`"


def literal(text: str) -> str:
    """A string literal for Spark SQL text."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _text(value: object) -> str:
    text = str(value)
    return text if len(text) <= _EXAMPLE_CHARS else text[:_EXAMPLE_CHARS] + "…"


def parse(raw: RawSource, data: DataConfig, where: str) -> DataFrame:
    """Check the source's rows and values in one aggregation, then return them parsed.

    Expressions are built as SQL text: one call into the JVM for all columns instead of
    several per column, which for SECOM's 590 columns is seconds against milliseconds.

    Args:
        raw: the source as read.
        data: the use case's ``data`` section (columns, aliases, ``source.null_values``).
        where: how errors name the source (its path).

    Returns:
        The required columns under their canonical names, in YAML order: text columns
        parsed to their YAML type (null-value texts as null), the others as read.
        ``lake.normalize`` casts them to the exact YAML types.

    Raises:
        DataError: a required column is missing, rows are malformed, or values do not
            parse as their column's type. Nothing has been written.
    """
    frame = raw.frame
    names, missing = parquet_compat.resolve_columns([c for c in frame.columns if c not in _HELPERS],
                                                    data.columns, data.column_aliases)
    if missing:
        raise DataError(
            f"Source {where} misses required column(s) {', '.join(missing)}.",
            "A source must have every column in the use case's data.columns (spellings listed in "
            "data.column_aliases count; CSV column names come from the header line).",
            "Ingest a file that has them, or fix data.columns / data.column_aliases in the YAML.",
        )
    text = {c for c in data.columns if isinstance(frame.schema[names[c]].dataType, StringType)}
    nulls = ", ".join(literal(n) for n in data.source.null_values)
    values = []
    for column in data.columns:
        value = ident(names[column])
        if column in text and nulls:
            value = f"CASE WHEN {value} IN ({nulls}) THEN NULL ELSE {value} END"
        values.append(f"{value} AS {ident(column)}")
    helpers = [ident(h) for h in _HELPERS if h in frame.columns]
    frame = frame.selectExpr(*values, *helpers)
    parsed = {c: f"TRY_CAST({ident(c)} AS {data.columns[c].upper()})"
              for c in data.columns if c in text and data.columns[c] != "string"}
    if parsed or helpers:
        with read_errors(raw):
            _check(raw, frame, parsed, data, where)
    return frame.selectExpr(*[f"{parsed.get(c, ident(c))} AS {ident(c)}" for c in data.columns])


def _check(raw: RawSource, frame: DataFrame, parsed: dict[str, str], data: DataConfig, where: str) -> None:
    """The one aggregation: each row yields one entry per problem (a value that does not parse,
    or the row itself when malformed), grouped by column. At most one result row per
    column comes back to the driver, whatever the size of the source."""
    has_malformed = MALFORMED in frame.columns
    good_row = f"{ident(MALFORMED)} IS NULL" if has_malformed else "TRUE"
    entries = [f"CASE WHEN {good_row} AND {ident(c)} IS NOT NULL AND {cast} IS NULL "
               f"THEN named_struct('column', {literal(c)}, 'value', {ident(c)}, 'at', CAST(NULL AS STRING)) END"
               for c, cast in parsed.items()]
    if has_malformed:
        at = f"CAST({ident(MALFORMED_AT)} AS STRING)" if MALFORMED_AT in frame.columns else "CAST(NULL AS STRING)"
        entries.append(f"CASE WHEN NOT ({good_row}) THEN named_struct('column', CAST(NULL AS STRING), "
                       f"'value', CAST({ident(MALFORMED)} AS STRING), 'at', {at}) END")
    problems = frame.selectExpr(f"explode(filter(array({', '.join(entries)}), entry -> entry IS NOT NULL)) AS entry")
    found = {row["column"]: row for row in problems.groupBy(F.col("entry.column").alias("column")).agg(
        F.count(F.lit(1)).alias("count"), F.first("entry.value").alias("example"), F.first("entry.at").alias("at"),
    ).collect()}  # bounded: one row per column at most
    malformed = found.pop(None, None)
    if malformed is not None:
        at = malformed["at"] or ""
        if raw.locate is not None:
            at = raw.locate(at, malformed["example"])
        raise DataError(
            f"Source {where} has {malformed['count']} malformed row(s), e.g. {at + ': ' if at else ''}"
            f"{_text(malformed['example'])}.",
            raw.malformed_why,
            raw.malformed_fix + " Nothing was written to the lake.",
        )
    failures = [(c, found[c]["count"], found[c]["example"]) for c in parsed if c in found]  # YAML order
    if failures:
        shown = "; ".join(f"{column} ({data.columns[column]}): {count} value(s), e.g. '{_text(example)}'"
                          for column, count, example in failures[:_SHOWN_COLUMNS])
        more = f"; and {len(failures) - _SHOWN_COLUMNS} more column(s)" if len(failures) > _SHOWN_COLUMNS else ""
        nulls = ", ".join(f"'{n}'" for n in data.source.null_values) or "none"
        raise DataError(
            f"Source {where} has values that do not parse as their column's type: {shown}{more}.",
            f"Each value must parse as the type data.columns gives its column; the texts in data.source.null_values "
            f"({nulls}) and empty fields count as missing. Nothing was written to the lake.",
            "Fix those values in the source, add the text to data.source.null_values if it means missing, "
            "or change the column's type in data.columns.",
        )
