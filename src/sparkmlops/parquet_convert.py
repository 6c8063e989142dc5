"""Stream a converted copy of a Parquet source that Spark cannot read as it is.

For a :class:`~sparkmlops.parquet_compat.SourcePlan` that needs a copy,
:func:`readable_copy` writes the required columns of every source file, batch by batch
(bounded memory, never a whole file in the driver), with the types Spark reads into a
staging folder in the lake (``<base>/_staging-<id>/``), so that executors on a cluster
reach it as they reach the lake; Spark reads it from there and the folder is removed
afterwards, also on failure. The source is only read.
"""

from __future__ import annotations

import uuid
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
from sparkmlops.logs import get_logger
from sparkmlops.parquet_compat import SourceFile, SourcePlan

#: Rows per converted batch (and per row group of a converted file). Memory stays at about
#: one batch of the required columns, whatever the size of the file.
BATCH_ROWS = 65_536


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
        rows, batches = sum(s.rows for s in stats), sum(s.batches for s in stats)
        get_logger().info(
            f"converted {len(stats)} file(s) of {plan.uri} for Spark: {rows} rows in {batches} batch(es) of at most "
            f"{batch_rows} rows, staged in {target}; because {'; '.join(plan.reasons)}",
            extra={"fields": {"stage": "ingest_convert", "files": len(stats), "rows": rows, "batches": batches}},
        )
        yield ReadableSource(target, converted_columns(plan, stats), plan.reasons)
    finally:
        with suppress(OSError):  # already gone, or the store is down: nothing more to do here
            out_fs.delete_dir(out_dir)
