"""Check a source's rows and parse its text values before anything is written to the lake.

Every source reader (Parquet, CSV, an adapter under :mod:`sparkmlops.sources`) hands
ingest a :class:`RawSource`: a DataFrame with the use case's columns, typed or as text,
plus, where the reader can tell, a :data:`MALFORMED` column saying what is wrong with a
row that could not be split into columns (and :data:`MALFORMED_AT`, where it is).

:func:`parse` then runs **one** aggregation over all columns: the malformed rows (count
and one example) and, for each text column whose YAML type is not ``string``, the
non-null values whose ``try_cast`` (or the reader's parser) gives null (count and one
example). Under Spark 4's ANSI mode a plain cast of such a value would fail inside a task
with a stack trace halfway through the write; found here, it is one paragraph and the
lake is untouched. Texts listed in ``data.source.null_values`` count as missing.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from pyspark.sql import Column, DataFrame
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


def _quoted(name: str) -> Column:
    return F.col(f"`{name}`")


def _text(value: object) -> str:
    text = str(value)
    return text if len(text) <= _EXAMPLE_CHARS else text[:_EXAMPLE_CHARS] + "…"


def parse(raw: RawSource, data: DataConfig, where: str) -> DataFrame:
    """Check the source's rows and values in one aggregation, then return them parsed.

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
    nulls = list(data.source.null_values)
    values = {}
    for column in data.columns:
        value = _quoted(names[column])
        if column in text and nulls:
            value = F.when(value.isin(nulls), F.lit(None)).otherwise(value)
        values[column] = value
    parsed = {c: values[c].try_cast(data.columns[c]) for c in data.columns if c in text and data.columns[c] != "string"}
    has_malformed = MALFORMED in frame.columns
    if parsed or has_malformed:
        with read_errors(raw):
            _check(raw, frame, values, parsed, data, where, has_malformed)
    return frame.select(*[parsed.get(c, values[c]).alias(c) for c in data.columns])


def _check(raw: RawSource, frame: DataFrame, values: dict[str, Column], parsed: dict[str, Column], data: DataConfig,
           where: str, has_malformed: bool) -> None:
    """The one aggregation (one result row, two values per column: bounded whatever the source size)."""
    good_row = F.col(MALFORMED).isNull() if has_malformed else F.lit(True)
    exprs = []
    for index, (column, value) in enumerate(parsed.items()):
        bad = good_row & values[column].isNotNull() & value.isNull()
        exprs += [F.sum(F.when(bad, 1).otherwise(0)).alias(f"bad_{index}"),
                  F.first(F.when(bad, values[column]), ignorenulls=True).alias(f"example_{index}")]
    if has_malformed:
        at = F.col(MALFORMED_AT) if MALFORMED_AT in frame.columns else F.lit("")
        exprs += [F.count(F.col(MALFORMED)).alias("malformed"),
                  F.first(F.when(~good_row, F.struct(at.alias("at"), F.col(MALFORMED).alias("what"))),
                          ignorenulls=True).alias("malformed_example")]
    row = frame.agg(*exprs).first()
    if has_malformed and row["malformed"]:
        example = row["malformed_example"]
        at = example["at"] or ""
        if raw.locate is not None:
            at = raw.locate(at, example["what"])
        raise DataError(
            f"Source {where} has {row['malformed']} malformed row(s), e.g. {at + ': ' if at else ''}{_text(example['what'])}.",
            raw.malformed_why,
            raw.malformed_fix + " Nothing was written to the lake.",
        )
    failures = [(column, int(row[f"bad_{i}"]), row[f"example_{i}"]) for i, column in enumerate(parsed) if row[f"bad_{i}"]]
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
