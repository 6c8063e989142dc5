"""Prediction bounds at predict time: clipping, range statistics and the worst rows.

A prediction is in range when ``gates.prediction_min <= p < gates.prediction_max``. The
model's own output is kept in ``prediction_raw``; ``prediction`` is what consumers read
(clipped into the range when the use case sets ``gates.prediction_clip``) and
``prediction_clipped`` says which rows were changed. Both extra columns are always
written, so the schema of the predictions does not depend on the config.

The range statistics are measured on the raw output, so clipping never hides an odd
model from the post-predict gate. NaN and infinite outputs are never clipped: they are a
broken model, not an odd row, and stay a hard failure (:mod:`sparkmlops.gates`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sparkmlops.config import GatesConfig
from sparkmlops.models.estimators import PREDICTION_COLUMN

RAW_COLUMN = "prediction_raw"
CLIPPED_COLUMN = "prediction_clipped"
DISTANCE_COLUMN = "out_of_range_by"


def _finite(p: Column) -> Column:
    """True for a real number; false for null, NaN and ±inf (never null itself)."""
    return ~(p.isNull() | F.isnan(p) | (F.abs(p) == float("inf")))


def _below(p: Column, gates: GatesConfig) -> Column:
    return _finite(p) & (p < F.lit(gates.prediction_min))


def _above(p: Column, gates: GatesConfig) -> Column:
    return _finite(p) & (p >= F.lit(gates.prediction_max))


def with_bounds(scored: DataFrame, gates: GatesConfig) -> DataFrame:
    """Move the model output to ``prediction_raw`` and add the written ``prediction`` and its flag.

    Args:
        scored: rows with the model's ``prediction`` column.
        gates: the use case's range, and whether to clip into it.

    Returns:
        The rows with ``prediction`` (clipped to ``prediction_min`` / ``prediction_max``
        when ``gates.prediction_clip``, else the raw output), ``prediction_raw`` and the
        boolean ``prediction_clipped`` (false everywhere when clipping is off).
    """
    raw = F.col(RAW_COLUMN)
    renamed = scored.withColumnRenamed(PREDICTION_COLUMN, RAW_COLUMN)
    if not gates.prediction_clip:
        return renamed.withColumns({PREDICTION_COLUMN: raw, CLIPPED_COLUMN: F.lit(False)})
    below, above = _below(raw, gates), _above(raw, gates)
    # The upper bound is exclusive for the check, but the closest honest value to write
    # for "too high" is the bound itself; the flag tells a reader it was changed.
    written = F.when(below, F.lit(gates.prediction_min)).when(above, F.lit(gates.prediction_max)).otherwise(raw)
    return renamed.withColumns({PREDICTION_COLUMN: written, CLIPPED_COLUMN: below | above})


def prediction_stats(predictions: DataFrame, gates: GatesConfig, input_columns: Sequence[str]) -> dict:
    """Row counts, range checks and clipping of written predictions in one aggregation pass.

    A second, bounded pass lists the farthest out-of-range rows, only when there are any.

    Args:
        predictions: the written predictions (``prediction``, ``prediction_raw``,
            ``prediction_clipped`` and the input columns).
        gates: range, tolerance, clipping and how many worst rows to list.
        input_columns: model inputs to show for each listed row.

    Returns:
        ``rows``, ``non_finite``, ``below_min``, ``above_max``, ``out_of_range``,
        ``out_of_range_share``, ``clipped``, ``min``/``max``/``mean`` of the finite raw
        output, ``worst_out_of_range`` (list) and ``checked_against`` (the bounds used).
    """
    raw = F.col(RAW_COLUMN)
    finite = _finite(raw)

    def count(condition: Column) -> Column:
        return F.sum(F.when(condition, 1).otherwise(0))

    row = predictions.agg(
        F.count(F.lit(1)).alias("rows"),
        count(~finite).alias("non_finite"),
        count(_below(raw, gates)).alias("below_min"),
        count(_above(raw, gates)).alias("above_max"),
        count(F.col(CLIPPED_COLUMN)).alias("clipped"),
        F.min(F.when(finite, raw)).alias("min"), F.max(F.when(finite, raw)).alias("max"),
        F.avg(F.when(finite, raw)).alias("mean"),
    ).first().asDict()
    stats = {key: (value if value is not None else 0) for key, value in row.items()}
    stats["out_of_range"] = stats["below_min"] + stats["above_max"]
    stats["out_of_range_share"] = stats["out_of_range"] / stats["rows"] if stats["rows"] else 0.0
    worst = []
    if stats["out_of_range"] and gates.prediction_worst_rows:
        worst = worst_out_of_range(predictions, gates, input_columns, gates.prediction_worst_rows)
    stats["worst_out_of_range"] = worst
    stats["checked_against"] = {
        "prediction_min": gates.prediction_min, "prediction_max": gates.prediction_max,
        "out_of_range_tolerance": gates.prediction_out_of_range_tolerance, "clip": gates.prediction_clip,
    }
    return stats


def worst_out_of_range(predictions: DataFrame, gates: GatesConfig, input_columns: Sequence[str], limit: int) -> list[dict]:
    """The ``limit`` finite predictions farthest outside the range, farthest first.

    ``orderBy`` + ``limit`` plans as a top-N (each partition keeps ``limit`` rows), so at
    most ``limit`` rows reach the driver whatever the month's size.

    Returns:
        One dict per row: ``prediction_raw``, ``prediction`` (as written),
        ``prediction_clipped``, ``side`` (below / above), ``out_of_range_by`` and
        ``inputs`` (column -> value, JSON-ready).
    """
    raw = F.col(RAW_COLUMN)
    below = _below(raw, gates)
    distance = F.when(below, F.lit(gates.prediction_min) - raw).otherwise(raw - F.lit(gates.prediction_max))
    rows = (
        predictions.filter(below | _above(raw, gates))
        .select(*input_columns, RAW_COLUMN, PREDICTION_COLUMN, CLIPPED_COLUMN, distance.alias(DISTANCE_COLUMN))
        .orderBy(F.desc(DISTANCE_COLUMN), F.asc(RAW_COLUMN))
        .limit(limit)
        .collect()  # at most `limit` rows (a top-N): bounded
    )
    return [_worst_row(row.asDict(), input_columns, gates) for row in rows]


def _worst_row(row: dict, input_columns: Sequence[str], gates: GatesConfig) -> dict:
    raw = row[RAW_COLUMN]
    return {
        RAW_COLUMN: raw,
        PREDICTION_COLUMN: row[PREDICTION_COLUMN],
        CLIPPED_COLUMN: row[CLIPPED_COLUMN],
        "side": "below" if raw < gates.prediction_min else "above",
        DISTANCE_COLUMN: row[DISTANCE_COLUMN],
        "inputs": {name: _json_value(row[name]) for name in input_columns},
    }


def _json_value(value: Any) -> Any:
    """Timestamps and decimals as JSON-friendly values (the report writer nulls NaN)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
