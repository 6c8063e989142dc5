"""Which Parquet sources Spark reads as they are, and how the others must be converted.

Spark 4.1.1 refuses some Parquet types that common writers produce. Measured with
pyspark 4.1.1 and files written by pyarrow 26, polars 2.1 and DuckDB 2.0 (the findings
are pinned by ``tests/unit/test_ingest_sources.py``):

=====================================  ==========================================  ===========================
Parquet type                           typical writer                              Spark 4.1.1
=====================================  ==========================================  ===========================
INT64 TIMESTAMP(NANOS, false/true)     pandas 2 datetime64[ns] (the default),      PARQUET_TYPE_ILLEGAL
                                       polars Datetime("ns"), DuckDB TIMESTAMP_NS
INT32/INT64 TIME(MILLIS/MICROS/NANOS)  pyarrow time32/time64, DuckDB TIME          PARQUET_TYPE_ILLEGAL /
                                                                                   UNSUPPORTED_TIME_TYPE
FIXED_LEN_BYTE_ARRAY FLOAT16           pandas/pyarrow float16                      PARQUET_TYPE_ILLEGAL
FIXED_LEN_BYTE_ARRAY UUID              DuckDB UUID, pyarrow uuid                   PARQUET_TYPE_ILLEGAL
DECIMAL with precision > 38            pyarrow decimal256                          DECIMAL_PRECISION_EXCEEDS_
                                                                                   MAX_PRECISION
=====================================  ==========================================  ===========================

One such column anywhere in a file makes Spark reject the whole file, even a column the
use case does not need. Read as they are: s/ms/µs timestamps with or without a time zone
(without one Spark reads TIMESTAMP_NTZ, which ``lake.normalize`` casts in the session
time zone), INT96, the all-null ``Null`` type (Spark: void), signed and unsigned 8-64-bit
integers (uint64 as decimal(20,0)), dictionary-encoded, large and view strings, JSON,
dates and decimals up to precision 38.

Part files of one source that disagree on a column's type (int32 in one, int64 in
another; all-null in one, double in another) fail inside Spark with
``PARQUET_COLUMN_DATA_TYPE_MISMATCH`` or not, depending on which footer Spark happens to
take the schema from; such columns are cast to the YAML type in every part.

:func:`inspect_source` reads only footers and returns a :class:`SourcePlan`: Spark reads
the source directly, or :mod:`sparkmlops.parquet_convert` streams a converted copy of the
required columns (the types from :func:`target_type`) for Spark to read instead.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from sparkmlops import arrow_fs
from sparkmlops.errors import DataError

#: Arrow type for each YAML column type when a column must be cast (see :func:`target_type`).
CANONICAL_ARROW: dict[str, pa.DataType] = {
    "long": pa.int64(), "int": pa.int32(), "double": pa.float64(), "string": pa.string(),
    "boolean": pa.bool_(), "timestamp": pa.timestamp("us"),
}

# Parquet logical types Spark 4.1.1 reads (measured); anything else is converted, which is
# always correct, only slower.
_READABLE_LOGICAL = {"None", "String", "JSON", "Date", "Null", "Int", "Decimal", "Timestamp"}
_UNITS = {"milliseconds": "MILLIS", "microseconds": "MICROS", "nanoseconds": "NANOS"}
_MAX_SPARK_DECIMAL = 38


def parquet_type(column: pq.ColumnSchema) -> str:
    """A Parquet leaf's type as Spark's error messages spell it, e.g. ``INT64 (TIMESTAMP(NANOS,false))``."""
    logical = json.loads(column.logical_type.to_json())
    kind = logical.get("Type", "None")
    if kind == "Timestamp" or kind == "Time":
        text = f"{kind.upper()}({_UNITS.get(logical['timeUnit'], logical['timeUnit'])},{str(logical['isAdjustedToUTC']).lower()})"
    elif kind == "Decimal":
        text = f"DECIMAL({logical['precision']},{logical['scale']})"
    elif kind == "Int":
        text = f"INT({logical['bitWidth']},{str(logical['isSigned']).lower()})"
    elif kind == "None":
        text = "" if column.converted_type == "NONE" else column.converted_type
    else:
        text = kind.upper()
    return f"{column.physical_type} ({text})" if text else column.physical_type


def spark_cannot_read(column: pq.ColumnSchema) -> bool:
    """Whether Spark 4.1.1 rejects this Parquet leaf column (see the module docstring)."""
    logical = json.loads(column.logical_type.to_json())
    kind = logical.get("Type", "None")
    if kind not in _READABLE_LOGICAL:
        return True
    if kind == "Timestamp":
        return logical["timeUnit"] == "nanoseconds"
    if kind == "Decimal":
        return logical["precision"] > _MAX_SPARK_DECIMAL
    return kind == "None" and column.converted_type == "INTERVAL"


def resolve_columns(names: list[str], columns: dict[str, str], aliases: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Map each required column to its name in a file, as Spark resolves it.

    Spark matches names case-insensitively; an alias (``Airport_fee``) stands for its
    canonical name (``airport_fee``) when the canonical spelling is absent.

    Returns:
        ``({canonical: name in the file}, [missing canonical names])``.
    """
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(name.lower(), name)
    found, missing = {}, []
    for canonical in columns:
        name = by_lower.get(canonical.lower())
        if name is None:
            name = next((by_lower[alias.lower()] for alias, target in aliases.items()
                         if target.lower() == canonical.lower() and alias.lower() in by_lower), None)
        if name is None:
            missing.append(canonical)
        else:
            found[canonical] = name
    return found, missing


@dataclass(frozen=True)
class SourceFile:
    """What one Parquet file's footer says, for the columns the use case needs."""

    path: str  # on the source filesystem
    name: str  # path relative to the source root: names the converted copy
    names: dict[str, str]  # canonical column -> its name in this file
    arrow_types: dict[str, pa.DataType]  # canonical column -> Arrow type pyarrow reads
    parquet_types: dict[str, str]  # canonical column -> Parquet type(s) of its leaves
    int96: frozenset[str]  # canonical columns stored as INT96 (Spark reads them as instants)
    unreadable: dict[str, str]  # any column in the file -> Parquet type Spark cannot read
    rows: int
    row_groups: int


@dataclass(frozen=True)
class ColumnChange:
    """How one required column of one file is written into the converted copy."""

    column: str
    source: pa.DataType
    target: pa.DataType
    how: str

    @property
    def type_changed(self) -> bool:
        """False when only a dictionary encoding was dropped (Spark reads both as the same type)."""
        value = self.source.value_type if pa.types.is_dictionary(self.source) else self.source
        return self.target != value


@dataclass(frozen=True)
class SourcePlan:
    """A source's files and whether (and how) Spark needs a converted copy of them."""

    uri: str
    fs: pafs.FileSystem
    files: tuple[SourceFile, ...]
    kinds: dict[str, str]  # canonical column -> YAML type, in YAML order
    recast: frozenset[str]  # columns cast to the YAML type in every file
    reasons: tuple[str, ...]  # why a copy is needed; empty: Spark reads the source as it is

    @property
    def needs_copy(self) -> bool:
        return bool(self.reasons)

    def changes(self, source: SourceFile) -> list[ColumnChange]:
        """The target type and the reason for every required column of ``source``."""
        result = []
        for column, kind in self.kinds.items():
            arrow_type = source.arrow_types[column]
            target = target_type(arrow_type, kind, column in self.recast, column in source.int96)
            result.append(ColumnChange(column, arrow_type, target, self._how(source, column, arrow_type, target)))
        return result

    def _how(self, source: SourceFile, column: str, arrow_type: pa.DataType, target: pa.DataType) -> str:
        value = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
        if pa.types.is_timestamp(value) and value.unit == "ns" and pa.types.is_timestamp(target):
            return "ns → µs: floored to the microsecond, sub-microsecond digits truncated " \
                   "(Spark cannot read nanosecond Parquet timestamps)"
        if column in source.int96:
            return "INT96 → INT64 µs timestamp, same instant (UTC)"
        if source.names[column] in source.unreadable:
            return f"{source.parquet_types[column]} cannot be read by Spark: " \
                   f"cast by pyarrow to the YAML type {self.kinds[column]}"
        if column in self.recast:
            seen = sorted({f.parquet_types[column] for f in self.files})
            return f"part files disagree on this column's type ({' vs '.join(seen)}): cast by pyarrow to the YAML type " \
                   f"{self.kinds[column]} in every part"
        return "dictionary decoded" if pa.types.is_dictionary(arrow_type) and target == value else "unchanged"


def target_type(arrow_type: pa.DataType, kind: str, recast: bool, int96: bool = False) -> pa.DataType:
    """The Arrow type a required column is written with in a converted copy.

    Args:
        arrow_type: the type pyarrow reads from the source.
        kind: the column's YAML type (``long``, ``timestamp`` …).
        recast: cast to the YAML type (the source type is unreadable or the parts disagree).
        int96: the column is stored as INT96 (pyarrow reads it without a time zone, Spark
            as an instant in UTC).

    Returns:
        A type Spark reads: timestamps in µs keeping their time zone (or its absence, which
        Spark then reads as it reads any naive timestamp), others as they are or as the
        YAML type.
    """
    # Dictionaries are decoded: the Parquet writer dictionary-encodes again where it pays,
    # and a batch's index width may differ from the one in the footer.
    value = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if pa.types.is_timestamp(value) and (kind == "timestamp" or not recast):
        if int96:
            return pa.timestamp("us", "UTC")
        return pa.timestamp("us", value.tz) if value.unit == "ns" or recast else value
    return CANONICAL_ARROW[kind] if recast else value


def _source_files(fs: pafs.FileSystem, root: str, uri: str) -> list[tuple[str, str]]:
    """``(path, name relative to root)`` of the data files of a file or folder source (Spark's rules:
    names starting with ``_`` or ``.`` are skipped at any depth)."""
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise DataError(f"Source {uri} does not exist.", "", "Check the --source path.")
    if info.type == pafs.FileType.File:
        return [(root, info.base_name)]
    found = []
    for entry in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        relative = entry.path[len(root):].strip("/")
        if entry.type == pafs.FileType.File and not any(part.startswith(("_", ".")) for part in relative.split("/")):
            found.append((entry.path, relative))
    if not found:
        raise DataError(f"Source folder {uri} holds no data files.", "Files whose names start with '_' or '.' are not data.",
                        "Point --source at a Parquet file or a folder of Parquet part files.")
    return sorted(found)


def _inspect_file(fs: pafs.FileSystem, path: str, name: str, where: str, columns: dict[str, str],
                  aliases: dict[str, str]) -> SourceFile:
    try:
        with fs.open_input_file(path) as stream:
            parquet = pq.ParquetFile(stream, coerce_int96_timestamp_unit="us")
            schema, arrow_schema, metadata = parquet.schema, parquet.schema_arrow, parquet.metadata
    except (OSError, pa.ArrowException) as error:  # ArrowInvalid for a bad footer, OSError for a store failure
        raise DataError(
            f"Source {where} is not readable Parquet.",
            f"pyarrow could not read its footer ({str(error).strip().splitlines()[0][:240]}).",
            "Check that it is a complete Parquet file (export or download it again) and that the path is right.",
        ) from None
    names, missing = resolve_columns(arrow_schema.names, columns, aliases)
    if missing:
        raise DataError(
            f"Source {where} misses required column(s) {', '.join(missing)}.",
            "A source must have every column in the use case's data.columns (spellings listed in data.column_aliases count).",
            "Ingest a file that has them, or fix data.columns / data.column_aliases in the YAML.",
        )
    leaves: dict[str, list[pq.ColumnSchema]] = defaultdict(list)
    for index in range(len(schema)):
        leaf = schema.column(index)
        leaves[leaf.path.split(".")[0]].append(leaf)
    unreadable = {top: "; ".join(parquet_type(leaf) for leaf in group if spark_cannot_read(leaf))
                  for top, group in leaves.items() if any(spark_cannot_read(leaf) for leaf in group)}
    return SourceFile(
        path=path, name=name, names=names,
        arrow_types={c: arrow_schema.field(n).type for c, n in names.items()},
        parquet_types={c: ", ".join(parquet_type(leaf) for leaf in leaves[n]) for c, n in names.items()},
        int96=frozenset(c for c, n in names.items() if any(leaf.physical_type == "INT96" for leaf in leaves[n])),
        unreadable=unreadable, rows=metadata.num_rows, row_groups=metadata.num_row_groups,
    )


def _type_key(parquet_text: str) -> str:
    """What must match between parts for Spark to read them as one: Parquet types, except that
    ms and µs timestamps with or without a time zone mix fine (measured)."""
    return "timestamp" if "TIMESTAMP(MILLIS" in parquet_text or "TIMESTAMP(MICROS" in parquet_text else parquet_text


def inspect_source(uri: str, columns: dict[str, str], aliases: dict[str, str]) -> SourcePlan:
    """Read the footer(s) of a Parquet file or folder and decide whether Spark can read it as it is.

    Only footers are read (a few KB per file), locally or on S3.

    Args:
        uri: local path, ``file://`` or ``s3a://`` URI of a file or of a folder of part files.
        columns: the use case's required columns and their YAML types.
        aliases: other spelling -> canonical name.

    Raises:
        DataError: the source does not exist, is not Parquet, or misses a required column.
    """
    fs, root = arrow_fs.filesystem(uri)
    try:
        located = _source_files(fs, root, uri)
    except OSError as error:
        raise DataError(f"Cannot list source {uri}.", f"pyarrow answered: {str(error).strip().splitlines()[0][:240]}",
                        "Check the path, and for s3a:// MINIO_ENDPOINT and the MINIO_* keys.") from None
    single = len(located) == 1 and located[0][0] == root
    files = tuple(_inspect_file(fs, path, name, uri if single else f"{uri} (part {name})", columns, aliases)
                  for path, name in located)
    reasons, recast = [], set()
    unreadable: dict[tuple[str, str], list[str]] = defaultdict(list)  # (column, type) -> files: one reason each
    for source in files:
        for column, text in source.unreadable.items():
            unreadable[(column, text)].append(source.name)
        recast.update(c for c, n in source.names.items() if n in source.unreadable)
    required = {name for source in files for name in source.names.values()}
    for (column, text), names in unreadable.items():
        more = f" and {len(names) - 1} more file(s)" if len(names) > 1 else ""
        unused = "" if column in required else " (not in data.columns: left out of the copy)"
        reasons.append(f"column {column} is {text} in {names[0]}{more}, which Spark 4.1 cannot read{unused}")
    for column in columns:
        seen = {_type_key(source.parquet_types[column]) for source in files}
        if len(seen) > 1:
            reasons.append(f"part files disagree on column {column}'s type ({' vs '.join(sorted(seen))})")
            recast.add(column)
    return SourcePlan(uri, fs, files, dict(columns), frozenset(recast), tuple(reasons))
