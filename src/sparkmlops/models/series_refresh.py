"""Bring a fitted per-series model up to date with newer history, without refitting.

A model row (:data:`sparkmlops.models.series.FIT_SCHEMA`) holds the parameters fitted on
its train days and the state at their end. To forecast later days — the current model
judged on this month's test days, or ``predict`` — the same parameters run over the days
just before them: the row's history, exogenous history and seasonal-naive profile are
rebuilt from those days, the parameters stay as fitted. The forecast then starts where
the data ends, as the candidate's does, so both models are judged from the same history.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from sparkmlops.models import series
from sparkmlops.models.series import (
    FIT_COLUMNS,
    FIT_SCHEMA,
    NAIVE,
    SERIES_ID,
    STATUS_FAILED,
    STATUS_FALLBACK,
    SeriesSpec,
)


def refresh_series(model_row: Any, history: pd.DataFrame, spec: SeriesSpec) -> pd.DataFrame:
    """One model row with its state rebuilt from ``history`` (the rows before the forecast).

    Args:
        model_row: a row of :func:`~sparkmlops.models.series.fit_series` output.
        history: the series' rows (``spec.input_columns``) before the steps to forecast.
        spec: column names and steps.

    Returns:
        A one-row DataFrame with :data:`FIT_COLUMNS`: the parameters and structure of
        ``model_row``; ``history``, ``history_exog``, ``history_start``, ``last_time``,
        ``naive_profile`` and ``n_points`` from ``history``. A series with no observed value
        in ``history`` is ``failed`` (nothing to start a forecast from); a failed model with
        history is forecast seasonal-naive (``fallback``), the reason in ``error``.
    """
    row = dict(series._as_row(model_row))
    row["fit_seconds"] = 0.0
    try:
        grid = series._to_grid(history, spec)
        observed = int(grid[spec.target].notna().sum())
    except Exception as problem:  # duplicate or off-grid timestamps: the series' data is wrong
        return _with(row, status=STATUS_FAILED, method=None, error=f"history before the forecast: {problem}")
    if observed == 0:
        return _with(row, status=STATUS_FAILED, method=None, n_points=0,
                     error="no observed value in the days before the forecast")
    fitted = series._to_fit_step(grid, spec)
    exog = series._fill(fitted[list(spec.exogenous)])
    row.update(n_rows=len(history), n_points=observed, naive_profile=series._naive_profile(grid, spec).tolist(),
               history_start=fitted.index[0], last_time=fitted.index[-1], history=fitted[spec.target].tolist(),
               history_exog=[exog[column].tolist() for column in spec.exogenous])
    if row["status"] == STATUS_FAILED:
        row.update(status=STATUS_FALLBACK, method=NAIVE, error=f"{row['error']}; seasonal-naive from the latest days")
    return _with(row)


def _with(row: dict, **changes: Any) -> pd.DataFrame:
    row.update(changes)
    return pd.DataFrame([row], columns=list(FIT_COLUMNS))


def _refresh_group(spec: SeriesSpec):
    # a plain two-argument function: pyspark reads the arity of what cogroup's applyInPandas gets
    def refresh_group(models: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
        if models.empty:  # history of a series without a model: forecast_herd reports it
            return pd.DataFrame(columns=list(FIT_COLUMNS))
        if history.empty:
            return _with(dict(series._as_row(models.iloc[0])), status=STATUS_FAILED, method=None,
                         error="no rows in the days before the forecast", fit_seconds=math.nan)
        own = history if spec.series_column == SERIES_ID else history.drop(columns=[SERIES_ID])
        return refresh_series(models.iloc[0], own, spec)

    return refresh_group


def refresh_herd(models, history, spec: SeriesSpec, partitions: int | None = None):
    """:func:`refresh_series` for every model row, with each series' history (one cogroup).

    Args:
        models: a model table (:data:`FIT_SCHEMA`).
        history: rows with ``spec.input_columns`` before the steps to forecast.
        spec: column names and steps.
        partitions: shuffle partitions; default 4 x the default parallelism.

    Returns:
        One row per model row, :data:`FIT_SCHEMA`.
    """
    from pyspark.sql import functions as F

    n = partitions or 4 * history.sparkSession.sparkContext.defaultParallelism
    rows = history.select(*spec.input_columns).withColumn(SERIES_ID, F.col(spec.series_column).cast("string"))
    return (
        models.repartition(n, SERIES_ID).groupBy(SERIES_ID)
        .cogroup(rows.repartition(n, SERIES_ID).groupBy(SERIES_ID))
        .applyInPandas(_refresh_group(spec), FIT_SCHEMA)
    )
