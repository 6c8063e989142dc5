"""A bounded sample of a month's written predictions: the rows with the largest errors.

The predictions folder of a month (``<lake>/predictions/<usecase>/YYYY/MM``) can hold
millions of rows; the report and the dashboard show a few hundred. The folder is read
with pyarrow in record batches, and after each batch only the ``limit`` largest errors
so far are kept, so memory stays O(limit + batch_rows) rows whatever the month's size
(the Parquet reader itself buffers at most one row group). No Spark: the dashboard
reads it too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from sparkmlops import arrow_fs
from sparkmlops.errors import DataError
from sparkmlops.tasks.error_spec import ErrorSpec

ERROR_COLUMN = "error"
#: a predictions column already named ``error`` (forecasting's fit error message) is renamed so
SHADOWED_ERROR_COLUMN = "written_error"
_ORDER = "__row"  # scan position: ties and the unlabeled case keep the month's first rows
_RANKING = [(ERROR_COLUMN, "descending"), (_ORDER, "ascending")]  # null errors rank last


def row_errors(batch: pa.RecordBatch, spec: ErrorSpec) -> pa.Array:
    """Each row's error (float64; null where the target or a finite error is missing).

    A NaN error (a NaN prediction) is null too: it is a broken output, counted by the
    post-predict gate, not a size of error to rank.
    """
    names = batch.schema.names
    if spec.prediction not in names:
        raise DataError(
            f"The predictions have no column '{spec.prediction}' (columns: {', '.join(names)}).",
            "The use case's task reads its error from that column; these files were written by another "
            "task or an older sparkmlops.",
            "Predict the month again with `sparkmlops predict --test-month YYYY-MM`.",
        )
    prediction = pc.cast(batch.column(spec.prediction), pa.float64())
    if spec.target not in names:  # predictions written before they carried the target
        return pa.nulls(batch.num_rows, pa.float64())
    target = batch.column(spec.target)
    if spec.positive_label is not None:
        numeric = pa.types.is_integer(target.type) or pa.types.is_floating(target.type)
        hit = (pc.equal(pc.cast(target, pa.float64()), float(spec.positive_label)) if numeric
               else pc.equal(pc.cast(target, pa.string()), spec.positive_label))
        target = pc.if_else(hit, 1.0, 0.0)  # null target: null y
    error = pc.abs(pc.subtract(prediction, pc.cast(target, pa.float64())))
    return pc.if_else(pc.is_nan(error), pa.scalar(None, pa.float64()), error)


def _ranked(batch: pa.RecordBatch, spec: ErrorSpec, first_row: int) -> pa.Table:
    """The batch with its error and scan position (a clashing ``error`` column renamed)."""
    table = pa.Table.from_batches([batch])
    if ERROR_COLUMN in table.column_names:
        table = table.rename_columns([SHADOWED_ERROR_COLUMN if name == ERROR_COLUMN else name
                                      for name in table.column_names])
    order = pa.array(np.arange(first_row, first_row + batch.num_rows, dtype=np.int64))
    return table.append_column(ERROR_COLUMN, row_errors(batch, spec)).append_column(_ORDER, order)


def _open(predictions_uri: str) -> ds.Dataset:
    filesystem, path = arrow_fs.filesystem(predictions_uri)
    if filesystem.get_file_info(path).type != pafs.FileType.Directory:
        raise DataError(
            f"There is no predictions folder at {predictions_uri}.",
            "The largest errors of a month are read from the predictions `sparkmlops predict` wrote for it.",
            "Run `sparkmlops predict --test-month YYYY-MM` for that month first (or check --data-base-path).",
        )
    dataset = ds.dataset(path, filesystem=filesystem, format="parquet")  # skips _SUCCESS and .crc files
    if not dataset.files:
        raise DataError(
            f"The predictions folder {predictions_uri} holds no Parquet file.",
            "A finished predict run writes at least one part file and a _SUCCESS marker; this one was "
            "interrupted or emptied.",
            "Run `sparkmlops predict --test-month YYYY-MM` for that month again.",
        )
    return dataset


def largest_errors(predictions_uri: str, error: ErrorSpec, limit: int = 200, batch_rows: int = 65536, *,
                   on_held: Callable[[int], None] | None = None) -> pd.DataFrame:
    """The ``limit`` rows of a month's predictions with the largest errors, largest first.

    Rows without an observed target (null) have no error and are never among them. A
    month with no target at all (unlabeled, or predicted before predictions carried the
    target) returns its first ``limit`` rows instead, with ``error`` NaN everywhere, so a
    report can still show what was predicted. Ties keep the earlier rows of the folder.

    Args:
        predictions_uri: the month's predictions folder (local path, ``file://`` or
            ``s3a://``; S3 settings from the MINIO_* environment variables).
        error: the task's :class:`ErrorSpec` (``task.prediction_error_spec()``).
        limit: the most rows returned.
        batch_rows: the most rows read at once.
        on_held: called after each batch with the number of rows held at that moment
            (kept rows plus the batch): at most ``limit + batch_rows``.

    Returns:
        The predictions' columns plus ``error`` (float), sorted by error descending, at
        most ``limit`` rows. A predictions column already named ``error`` comes back as
        ``written_error``.

    Raises:
        DataError: the folder is missing or holds no Parquet file, or lacks the
            prediction column.
    """
    if limit < 1 or batch_rows < 1:
        raise ValueError(f"limit and batch_rows must be positive (got {limit} and {batch_rows})")
    dataset = _open(predictions_uri)
    kept: pa.Table | None = None
    seen = 0
    # One thread, no read-ahead: batches come in file order and only one is in memory.
    for batch in dataset.to_batches(batch_size=batch_rows, batch_readahead=0, fragment_readahead=0, use_threads=False):
        ranked = _ranked(batch, error, seen)
        seen += batch.num_rows
        merged = ranked if kept is None else pa.concat_tables([kept, ranked])
        if on_held is not None:
            on_held(merged.num_rows)
        # take() copies the kept rows, so the batch's buffers are freed with it
        kept = merged.take(pc.select_k_unstable(merged, k=min(limit, merged.num_rows), sort_keys=_RANKING))
    if kept is None:
        return _empty(dataset.schema)
    kept = kept.sort_by(_RANKING)
    if pc.any(pc.is_valid(kept.column(ERROR_COLUMN))).as_py():
        kept = kept.filter(pc.is_valid(kept.column(ERROR_COLUMN)))  # the labeled rows rank first
    return kept.drop_columns([_ORDER]).to_pandas().reset_index(drop=True)


def _empty(schema: pa.Schema) -> pd.DataFrame:
    """No row at all (every file empty): the columns, and ``error``."""
    frame = schema.empty_table().to_pandas()
    frame = frame.rename(columns={ERROR_COLUMN: SHADOWED_ERROR_COLUMN})
    frame[ERROR_COLUMN] = pd.Series(dtype="float64")
    return frame
