"""Make a Parquet source readable by Spark: inspect footers, convert with pyarrow if needed.

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

When a source needs none of this, Spark reads it directly. Otherwise
:func:`readable_copy` streams a converted copy of the required columns, batch by batch
(bounded memory, never the whole file in the driver), into a staging folder inside the
lake (``<base>/_staging-<id>/``) so that executors on a cluster can read it too, and
removes it afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from sparkmlops import arrow_fs
from sparkmlops.errors import DataError

#: Rows per converted batch (and per row group of a converted file). Memory stays at about
#: one batch of the required columns, whatever the size of the file.
BATCH_ROWS = 65_536

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
            name = next((by_lower[a.lower()] for a, c in aliases.items() if c.lower() == canonical.lower() and a.lower() in by_lower), None)
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
            return f"{source.parquet_types[column]} cannot be read by Spark: cast by pyarrow to the YAML type {self.kinds[column]}"
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
    for (column, text), names in unreadable.items():
        more = f" and {len(names) - 1} more file(s)" if len(names) > 1 else ""
        reasons.append(f"column {column} is {text} in {names[0]}{more}, which Spark 4.1 cannot read")
    for column in columns:
        seen = {_type_key(source.parquet_types[column]) for source in files}
        if len(seen) > 1:
            reasons.append(f"part files disagree on column {column}'s type ({' vs '.join(sorted(seen))})")
            recast.add(column)
    return SourcePlan(uri, fs, files, dict(columns), frozenset(recast), tuple(reasons))


@dataclass
class FileStats:
    """What converting one file did (the unit test checks that batches stay bounded)."""

    rows: int = 0
    batches: int = 0
    max_batch_rows: int = 0
    row_groups_in: int = 0
    row_groups_out: int = 0
    sub_microsecond: dict[str, int] = field(default_factory=dict)


def _floor_to_micros(array: pa.Array, target: pa.DataType) -> tuple[pa.Array, int]:
    """ns -> µs, floored: toward the past, so a value never moves into the next microsecond
    (or month: 23:59:59.999999999 on the 31st stays on the 31st), also before 1970 where
    integer division alone would round up. Also returns how many values had non-zero
    sub-microsecond digits."""
    nanos = array.view(pa.int64())
    quotient = pc.divide(nanos, 1000)  # integer division truncates toward zero
    remainder = pc.subtract(nanos, pc.multiply(quotient, 1000))
    floored = pc.if_else(pc.less(remainder, 0), pc.subtract(quotient, 1), quotient)
    lost = pc.sum(pc.not_equal(remainder, 0)).as_py() or 0
    return floored.cast(target), int(lost)


def _uuid_text(array: pa.Array) -> pa.Array:
    # No Arrow kernel formats UUID bytes; one batch at a time keeps this bounded.
    storage = array.storage if isinstance(array, pa.ExtensionArray) else array
    return pa.array([None if raw is None else str(uuid.UUID(bytes=raw)) for raw in storage.to_pylist()], pa.string())


def cast_column(array: pa.Array, target: pa.DataType, column: str, where: str) -> tuple[pa.Array, int]:
    """Cast one batch's column to ``target``; returns it and the count of values that lost sub-µs digits.

    Raises:
        DataError: pyarrow cannot cast (e.g. text that is not a number into a double).
    """
    if array.type == target:
        return array, 0
    if pa.types.is_dictionary(array.type) and not pa.types.is_dictionary(target):
        array = array.dictionary_decode()
        if array.type == target:
            return array, 0
    if pa.types.is_timestamp(array.type) and pa.types.is_timestamp(target) and array.type.unit == "ns" and target.unit == "us":
        return _floor_to_micros(array, target)
    if getattr(array.type, "extension_name", "") == "arrow.uuid" and target == pa.string():
        return _uuid_text(array), 0
    try:
        return array.cast(target), 0
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise DataError(
            f"Column {column} of source {where} cannot be converted from {array.type} to {target}.",
            f"Spark cannot read it as stored, and pyarrow could not cast it: {str(error).splitlines()[0][:200]}.",
            "Fix the column's type in data.columns of the YAML, or export the column in a type Spark reads "
            "(e.g. µs timestamps, plain numbers).",
        ) from None


def convert_file(plan: SourcePlan, source: SourceFile, out_fs: pafs.FileSystem, out_path: str,
                 batch_rows: int = BATCH_ROWS) -> FileStats:
    """Stream the required columns of one source file into ``out_path`` in a type Spark reads.

    One batch of at most ``batch_rows`` rows is in memory at a time; each becomes one row
    group of the output. Columns are written under their canonical names in YAML order.
    """
    changes = plan.changes(source)
    schema = pa.schema([pa.field(change.column, change.target) for change in changes])
    stats = FileStats(row_groups_in=source.row_groups, sub_microsecond={c.column: 0 for c in changes if c.type_changed})
    where = f"{plan.uri} ({source.name})"
    with plan.fs.open_input_file(source.path) as stream, out_fs.open_output_stream(out_path) as sink:
        # pre_buffer off + a read buffer: pages stream in instead of whole column chunks.
        parquet = pq.ParquetFile(stream, pre_buffer=False, buffer_size=1 << 20, coerce_int96_timestamp_unit="us")
        with pq.ParquetWriter(sink, schema, compression="snappy") as writer:
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=[source.names[c.column] for c in changes],
                                              use_threads=False):
                arrays = []
                for change in changes:  # by name: pyarrow returns columns in file order, not as asked
                    array, lost = cast_column(batch.column(source.names[change.column]), change.target, change.column, where)
                    arrays.append(array)
                    if lost:
                        stats.sub_microsecond[change.column] += lost
                writer.write_batch(pa.record_batch(arrays, schema=schema), row_group_size=batch_rows)
                stats.rows += batch.num_rows
                stats.batches += 1
                stats.max_batch_rows = max(stats.max_batch_rows, batch.num_rows)
                stats.row_groups_out += 1
    return stats


def converted_columns(plan: SourcePlan, stats: list[FileStats]) -> list[dict]:
    """The ingest result's ``converted_columns``: one entry per column whose type changed."""
    entries: dict[str, dict] = {}
    for source, file_stats in zip(plan.files, stats):
        for change in plan.changes(source):
            if not change.type_changed:
                continue
            entry = entries.setdefault(change.column, {"column": change.column, "from": set(), "to": set(), "how": set(),
                                                        "parquet_type": set(), "files": 0, "sub_microsecond_values": 0})
            entry["from"].add(str(change.source))
            entry["to"].add(str(change.target))
            entry["how"].add(change.how)
            entry["parquet_type"].add(source.parquet_types[change.column])
            entry["files"] += 1
            entry["sub_microsecond_values"] += file_stats.sub_microsecond.get(change.column, 0)
    result = []
    for column in plan.kinds:  # YAML order
        if column in entries:
            entry = entries[column]
            result.append({key: "; ".join(sorted(value)) if isinstance(value, set) else value for key, value in entry.items()})
    return result


@dataclass(frozen=True)
class ReadableSource:
    """Where Spark reads a source from, and what was converted on the way."""

    uri: str
    converted_columns: list[dict]
    reasons: tuple[str, ...]
    stats: tuple[FileStats, ...] = ()


def staging_uri(base_uri: str) -> str:
    """A fresh staging folder in the lake root: ``<base>/_staging-<time>-<random>``.

    ``lake.month_states`` lists only ``YYYY/MM`` folders, so staging is never taken for
    data. A sibling of the months rather than ``_staging/<id>``: deleting the last object
    under a prefix makes pyarrow's S3 filesystem leave an empty marker for the parent,
    and the lake root is never empty when the copy is removed (the month is in it).
    """
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return arrow_fs.join(base_uri, f"_staging-{stamp}-{uuid.uuid4().hex[:8]}")


@contextmanager
def readable_copy(plan: SourcePlan, base_uri: str, batch_rows: int = BATCH_ROWS) -> Iterator[ReadableSource]:
    """Yield where Spark should read ``plan``'s source: the source itself, or a converted copy.

    The copy goes to :func:`staging_uri` under the lake root (so a cluster's executors
    reach it as they reach the lake) and is deleted when the block ends, also on failure.
    The source is only read.

    Raises:
        DataError: a column cannot be converted, or the lake is on a store pyarrow cannot write.
    """
    if not plan.needs_copy:
        yield ReadableSource(plan.uri, [], ())
        return
    target = staging_uri(base_uri)
    if not arrow_fs.supported(target):
        raise DataError(
            f"Source {plan.uri} needs a converted copy, which ingest cannot stage under {base_uri}.",
            f"Spark cannot read it as it is ({plan.reasons[0]}), and converted copies are written with pyarrow, "
            "which ingest uses for local folders and s3a:// lakes only.",
            "Ingest into a local or s3a:// lake, or export the file with µs timestamps and Spark-readable types.",
        )
    out_fs, out_dir = arrow_fs.filesystem(target)
    local = isinstance(out_fs, pafs.LocalFileSystem)
    try:
        if local:  # object stores need no folders (and pyarrow would leave marker objects)
            out_fs.create_dir(out_dir)
        stats = []
        for index, source in enumerate(plan.files):
            out_name = f"part-{index:05d}.parquet"
            stats.append(convert_file(plan, source, out_fs, f"{out_dir}/{out_name}", batch_rows))
        yield ReadableSource(target, converted_columns(plan, stats), plan.reasons, tuple(stats))
    finally:
        with suppress(OSError):  # already gone, or the store is down: nothing more to do here
            out_fs.delete_dir(out_dir)
