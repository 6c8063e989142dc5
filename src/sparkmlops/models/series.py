"""Per-series forecasting (one model per animal) as plain pandas -> pandas functions.

The functions here know nothing about Spark: :func:`fit_series` takes one series' rows
and returns one model row; :func:`forecast_series` forecasts from a model row without
refitting; :func:`score_series` compares forecasts with the actual values and with the
seasonal-naive baseline. :func:`fit_herd` and :func:`forecast_herd` run the same
functions once per series through ``applyInPandas`` (long format, one group per series,
as in Nixtla's statsforecast).

The fitted model of a herd is a table of model rows (:data:`FIT_SCHEMA`), not a Spark
``PipelineModel``: each row holds the series' parameters and the state needed to forecast
later — the history at the fitted step (target with NaN for missing steps, filled
exogenous columns) and the seasonal-naive profile. Forecasting rebuilds the state-space
model on that history and runs the Kalman filter with the stored parameters (one pass, no
optimisation), which gives the fitted results' forecast exactly.

Methods (``SeriesSpec.method``):

* ``sarimax``: statsmodels SARIMAX(p,d,q)(P,D,Q,s) with the exogenous columns — the
  source study's model. At s = 96 (15-minute steps, daily cycle) a fit takes ~45 s; with
  ``resample_minutes=60`` and s = 24 it is ~40x faster.
* ``fourier_arima`` (default): ARIMA(p,d,q) with the exogenous columns plus K sine/cosine
  pairs of the cycle (dynamic harmonic regression); the seasonal profile costs 2K
  regression coefficients instead of a period-s state.
* ``seasonal_naive``: the last observed value at the same phase of the cycle.

``regression: ols`` (default) estimates the regressors' coefficients by least squares and
fits only the intercept and the ARMA part by maximum likelihood: K = 10 at 15 minutes
then fits in ~0.15 s per animal instead of ~1.3 s, with the same accuracy
(benchmarks/goat_posture/README.md has the figures that chose these defaults).

Data rules (decided here, so every caller gets the same behaviour):

* The series is put on its regular ``step_minutes`` grid from its first to its last row;
  missing steps are NaN in the target (the Kalman filter skips them). Missing exogenous
  values are filled by linear interpolation in time (nearest value at the ends): the
  state-space model cannot take NaN regressors.
* Duplicate timestamps or timestamps off the grid make the series ``failed`` (no
  forecast): they mean the upstream data is wrong, and averaging them would hide it.
* With ``resample_minutes`` the target and exogenous columns are averaged per bucket
  (bucket = timestamp floored to ``resample_minutes``; NaN ignored) before fitting. The
  forecast of a bucket is given to every data step inside it (a step function, no
  interpolation), so forecasts are scored at the data's own step.
* A series that is too short, constant, has an exogenous column with no value at all,
  whose fit raises or does not converge, or whose parameters are not finite is fitted as
  ``fallback``: it is forecast with the seasonal-naive profile and the reason is in
  ``error``. A series with no observed target at all is ``failed`` (no forecast).
* The seasonal-naive profile holds, for every phase of the cycle at the data step, the
  last observed value at that phase; phases never observed take the mean of the series.
"""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # Spark is only needed by the two *_herd helpers
    from pyspark.sql import DataFrame

METHODS = ("sarimax", "fourier_arima", "seasonal_naive")
REGRESSIONS = ("mle", "ols")
TRENDS = (None, "n", "c", "t", "ct")
STATUS_OK = "ok"
STATUS_FALLBACK = "fallback"
STATUS_FAILED = "failed"
NAIVE = "seasonal_naive"

SERIES_ID = "series_id"  # the series key, as a string, in every output table
TIME = "time"

_FIT_COLUMNS = (
    (SERIES_ID, "string"),
    ("method", "string"),  # method actually used: the requested one, or seasonal_naive on fallback
    ("status", "string"),  # ok | fallback | failed
    ("error", "string"),  # why the series fell back or failed (None when ok)
    ("converged", "boolean"),  # optimiser's verdict (None when nothing was fitted)
    ("n_rows", "int"),  # rows in the group
    ("n_points", "int"),  # observed (non-missing) target values at the data step
    ("fit_seconds", "double"),
    ("param_names", "array<string>"),
    ("params", "array<double>"),  # also kept for fallbacks that fitted but did not converge
    ("aic", "double"),
    ("in_sample_rmse", "double"),  # one-step-ahead, observed steps after the first cycle
    ("order", "array<int>"),  # p, d, q
    ("seasonal_order", "array<int>"),  # P, D, Q, s (all 0 without a seasonal part)
    ("fourier_terms", "int"),  # K sine/cosine pairs (0 without)
    ("trend", "string"),
    ("regression", "string"),  # mle | ols: how the regressors' coefficients were estimated
    ("step_minutes", "int"),  # the data's step (naive profile, scoring)
    ("fit_step_minutes", "int"),  # the fitted step (= step_minutes unless resampled)
    ("cycle_minutes", "int"),  # seasonal_period * fit_step_minutes
    ("history_start", "timestamp"),  # first step of `history` (fitted step)
    ("last_time", "timestamp"),  # last step of `history`; forecasts start one step later
    ("history", "array<double>"),  # target at the fitted step, NaN = missing
    ("exog_names", "array<string>"),
    ("history_exog", "array<array<double>>"),  # one filled array per exogenous column
    ("naive_profile", "array<double>"),  # last observed value per phase (data step)
)
FIT_COLUMNS = tuple(name for name, _ in _FIT_COLUMNS)
FIT_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in _FIT_COLUMNS)

_FORECAST_COLUMNS = (
    (SERIES_ID, "string"),
    (TIME, "timestamp"),
    ("forecast", "double"),  # the series' model (naive for fallbacks), clipped; null if failed
    ("naive", "double"),  # seasonal-naive baseline for the same step, clipped
    ("method", "string"),
    ("status", "string"),
    ("error", "string"),  # the model row's reason for fallback/failed, or why its forecast failed
)
FORECAST_COLUMNS = tuple(name for name, _ in _FORECAST_COLUMNS)
FORECAST_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in _FORECAST_COLUMNS)

_SCORE_COLUMNS = (
    (SERIES_ID, "string"),
    ("method", "string"),
    ("status", "string"),
    ("n", "int"),  # steps with an actual value, a forecast and a naive value
    ("rmse", "double"),
    ("mae", "double"),
    ("naive_rmse", "double"),
    ("naive_mae", "double"),
)
SCORE_COLUMNS = tuple(name for name, _ in _SCORE_COLUMNS)
SCORE_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in _SCORE_COLUMNS)

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_NS_PER_MINUTE = 60 * 1_000_000_000


@dataclass(frozen=True)
class SeriesSpec:
    """How every series of a use case is fitted (built from the use case's YAML).

    Attributes:
        series_column: the series key (e.g. ``animal_id``).
        time_column: timestamp of each step (start of the step).
        target: the value to forecast.
        exogenous: regressors; the forecast needs their future values.
        step_minutes: the data's step.
        resample_minutes: None, or a bucket (multiple of ``step_minutes``) the target and
            exogenous columns are averaged to before fitting.
        method: ``sarimax`` | ``fourier_arima`` | ``seasonal_naive``.
        order: (p, d, q).
        seasonal_order: (P, D, Q) of ``sarimax`` (ignored by the other methods).
        seasonal_period: steps per cycle at the fitted step (96 at 15 minutes, 24 hourly).
        fourier_terms: K sine/cosine pairs of the cycle for ``fourier_arima``.
        trend: statsmodels trend ("c" = intercept; None when differencing).
        regression: how the coefficients of the regressors (exogenous columns and Fourier
            terms) are estimated. ``mle``: jointly with the ARMA part (statsmodels' own,
            exact maximum likelihood). ``ols``: by least squares first (on the differenced
            series when d or D > 0), then held fixed while the ARMA part is fitted by
            maximum likelihood — a two-step estimate that is 5-10x faster with many
            regressors (numerical gradients cost one likelihood per free parameter) and
            forecast as well in the goat_posture benchmark.
        min_points: fewer observed target values (data step) -> seasonal-naive fallback.
        max_points: more rows in one group -> failed, naming the key (bounds the memory a
            group takes in a Python worker).
        clip: (low, high) the forecasts are clipped to, or None.
        maxiter: optimiser iterations; a fit that needs more is a fallback.
    """

    series_column: str = "animal_id"
    time_column: str = "time"
    target: str = "ratio_debout"
    exogenous: tuple[str, ...] = ()
    step_minutes: int = 15
    resample_minutes: int | None = None
    # Defaults: the choice benchmarks/goat_posture measured for 1,000 animals in <= 10 min
    # on 2 cores (ARIMA(1,0,1) + 10 harmonics of the daily cycle at 15 minutes, regressors
    # by least squares: ~0.15 s per animal, RMSE 0.80x SARIMAX s=96's).
    method: str = "fourier_arima"
    order: tuple[int, int, int] = (1, 0, 1)
    seasonal_order: tuple[int, int, int] = (1, 0, 1)
    seasonal_period: int = 96
    fourier_terms: int = 10
    trend: str | None = "c"
    regression: str = "ols"
    min_points: int = 192
    max_points: int = 10_000
    clip: tuple[float, float] | None = (0.0, 1.0)
    # statsmodels' own default (50) leaves many fits unconverged -> seasonal-naive fallback
    # (on the project's goat generator: K=10/ols 1 of 9 animals at 50, none at 200).
    maxiter: int = 200

    def __post_init__(self) -> None:
        # YAML gives lists: store tuples so the spec stays hashable and immutable.
        for name in ("exogenous", "order", "seasonal_order", "clip"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        problems = []
        if self.method not in METHODS:
            problems.append(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        if self.step_minutes <= 0:
            problems.append(f"step_minutes must be > 0, got {self.step_minutes}")
        if self.resample_minutes is not None and (
            self.resample_minutes <= self.step_minutes or self.resample_minutes % self.step_minutes
        ):
            problems.append(
                f"resample_minutes must be a multiple of step_minutes ({self.step_minutes}) and larger, "
                f"got {self.resample_minutes}"
            )
        for name, size in (("order", 3), ("seasonal_order", 3)):
            value = getattr(self, name)
            if len(value) != size or any(int(v) != v or v < 0 for v in value):
                problems.append(f"{name} must be {size} non-negative integers, got {value}")
        if self.seasonal_period < 2:
            problems.append(f"seasonal_period must be >= 2, got {self.seasonal_period}")
        elif (self.seasonal_period * self.fit_step_minutes) % self.step_minutes:
            problems.append("seasonal_period * fitted step must be a multiple of step_minutes")
        if self.method == "fourier_arima" and not 1 <= self.fourier_terms <= self.seasonal_period // 2:
            problems.append(f"fourier_terms must be in 1..{self.seasonal_period // 2}, got {self.fourier_terms}")
        if self.regression not in REGRESSIONS:
            problems.append(f"regression {self.regression!r} is not one of {', '.join(REGRESSIONS)}")
        if self.trend not in TRENDS:
            problems.append(f"trend {self.trend!r} is not one of {TRENDS}")
        if not 1 <= self.min_points <= self.max_points:
            problems.append(f"need 1 <= min_points ({self.min_points}) <= max_points ({self.max_points})")
        if self.clip is not None and (len(self.clip) != 2 or not self.clip[0] < self.clip[1]):
            problems.append(f"clip must be (low, high) with low < high, got {self.clip}")
        if self.maxiter < 1:
            problems.append(f"maxiter must be >= 1, got {self.maxiter}")
        if problems:
            raise ValueError("Invalid series spec: " + "; ".join(problems))

    @property
    def fit_step_minutes(self) -> int:
        return self.resample_minutes or self.step_minutes

    @property
    def cycle_minutes(self) -> int:
        return self.seasonal_period * self.fit_step_minutes

    @property
    def cycle_steps(self) -> int:
        """Steps per cycle at the data step (length of the seasonal-naive profile)."""
        return self.cycle_minutes // self.step_minutes

    @property
    def input_columns(self) -> tuple[str, ...]:
        return (self.series_column, self.time_column, self.target, *self.exogenous)


class _Failed(Exception):
    """The series cannot be forecast at all."""


class _Fallback(Exception):
    """The series is forecast with the seasonal-naive profile."""


_pinned = False


def pin_threads() -> None:
    """One BLAS/OpenMP thread in this process: per-series fits run in parallel already.

    The variables reach libraries loaded later (and child processes); executors get them
    through ``spark.executorEnv.*`` before Python starts. threadpoolctl (when installed)
    also limits the BLAS libraries already loaded, e.g. in a test process; that scan is
    done once per process (~3 ms).
    """
    global _pinned
    for variable in _THREAD_VARIABLES:
        os.environ[variable] = "1"
    if _pinned:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1)
    _pinned = True


# --- time grid -----------------------------------------------------------------------


def _minutes(times: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Whole minutes since the epoch (naive timestamps are read as they are)."""
    values = pd.DatetimeIndex(times).as_unit("ns").asi8
    return values // _NS_PER_MINUTE


def _phase(times: pd.DatetimeIndex, spec_or_row: Mapping[str, Any] | SeriesSpec) -> np.ndarray:
    """Index of each time's step inside the cycle (0 .. cycle_steps - 1), at the data step."""
    cycle, step = _get(spec_or_row, "cycle_minutes"), _get(spec_or_row, "step_minutes")
    return (_minutes(times) % cycle) // step


def _get(source: Mapping[str, Any] | SeriesSpec, name: str) -> int:
    return int(getattr(source, name) if isinstance(source, SeriesSpec) else source[name])


def fourier_terms(times: pd.DatetimeIndex, cycle_minutes: int, terms: int) -> np.ndarray:
    """sin/cos pairs k = 1..terms of the cycle, from absolute time (so any window lines up).

    Returns:
        An array of shape (len(times), 2 * terms): sin1, cos1, sin2, cos2, ...
    """
    angle = 2.0 * np.pi * (_minutes(times) % cycle_minutes) / cycle_minutes
    columns = []
    for k in range(1, terms + 1):
        columns += [np.sin(k * angle), np.cos(k * angle)]
    return np.column_stack(columns) if columns else np.empty((len(times), 0))


def _fourier_names(terms: int) -> list[str]:
    return [f"{kind}{k}" for k in range(1, terms + 1) for kind in ("sin", "cos")]


def _to_grid(frame: pd.DataFrame, spec: SeriesSpec) -> pd.DataFrame:
    """The series on its regular data-step grid (missing steps NaN), indexed by time."""
    times = pd.to_datetime(frame[spec.time_column])
    if times.isna().any():
        raise _Failed(f"{int(times.isna().sum())} rows without a {spec.time_column}")
    duplicated = times[times.duplicated()]
    if len(duplicated):
        raise _Failed(f"duplicate timestamps: {len(duplicated)} (first {duplicated.min()})")
    off_grid = times[pd.DatetimeIndex(times).as_unit("ns").asi8 % (spec.step_minutes * _NS_PER_MINUTE) != 0]
    if len(off_grid):
        raise _Failed(f"timestamps off the {spec.step_minutes}-minute grid: {len(off_grid)} (first {off_grid.min()})")
    values = frame[[spec.target, *spec.exogenous]].apply(pd.to_numeric, errors="coerce").astype(float)
    values.index = pd.DatetimeIndex(times).as_unit("ns")
    grid = pd.date_range(values.index.min(), values.index.max(), freq=f"{spec.step_minutes}min", unit="ns")
    return values.sort_index().reindex(grid)


def _to_fit_step(grid: pd.DataFrame, spec: SeriesSpec) -> pd.DataFrame:
    if spec.resample_minutes is None:
        return grid
    buckets = grid.index.floor(f"{spec.resample_minutes}min")
    resampled = grid.groupby(buckets).mean()  # NaN ignored; an all-NaN bucket stays NaN
    full = pd.date_range(resampled.index.min(), resampled.index.max(), freq=f"{spec.resample_minutes}min", unit="ns")
    return resampled.reindex(full)


def _fill(exog: pd.DataFrame) -> pd.DataFrame:
    """Linear in time inside the series, nearest value at its ends."""
    return exog.interpolate(method="time", limit_direction="both") if len(exog.columns) else exog


def _naive_profile(grid: pd.DataFrame, spec: SeriesSpec) -> np.ndarray:
    observed = grid[spec.target].dropna()
    profile = np.full(spec.cycle_steps, np.nan)
    # Later assignments win: each phase ends with its last observed value.
    profile[_phase(observed.index, spec)] = observed.to_numpy()
    profile[np.isnan(profile)] = observed.mean()
    return profile


# --- the model -----------------------------------------------------------------------


def _design(times: pd.DatetimeIndex, exog: np.ndarray, state: Mapping[str, Any]) -> np.ndarray | None:
    """Regressors of the model: the exogenous columns, then the Fourier terms."""
    parts = [exog] if exog.shape[1] else []
    if state["fourier_terms"]:
        parts.append(fourier_terms(times, int(state["cycle_minutes"]), int(state["fourier_terms"])))
    return np.column_stack(parts) if parts else None


def _build_model(history: np.ndarray, design: np.ndarray | None, state: Mapping[str, Any]):
    """The statsmodels state-space model of a model row (fit and forecast use this one)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    return SARIMAX(
        history,
        exog=design,
        order=tuple(int(v) for v in state["order"]),
        seasonal_order=tuple(int(v) for v in state["seasonal_order"]),
        trend=state["trend"],
    )


def _param_names(model, state: Mapping[str, Any]) -> list[str]:
    """statsmodels' names with x1, x2, ... replaced by the regressors' own names."""
    regressors = list(state["exog_names"]) + _fourier_names(int(state["fourier_terms"]))
    return [regressors[int(name[1:]) - 1] if re.fullmatch(r"x\d+", name) else name for name in model.param_names]


def _structure(spec: SeriesSpec) -> dict[str, Any]:
    """The model structure a row records (forecasting reads it from the row, not the spec)."""
    seasonal = spec.method == "sarimax" and any(spec.seasonal_order)
    return {
        "order": [int(v) for v in spec.order] if spec.method != NAIVE else [],
        "seasonal_order": [*map(int, spec.seasonal_order), spec.seasonal_period] if seasonal else [0, 0, 0, 0],
        "fourier_terms": spec.fourier_terms if spec.method == "fourier_arima" else 0,
        "trend": spec.trend if spec.method != NAIVE else None,
        "regression": spec.regression if spec.method != NAIVE else None,
        "step_minutes": spec.step_minutes,
        "fit_step_minutes": spec.fit_step_minutes,
        "cycle_minutes": spec.cycle_minutes,
        "exog_names": list(spec.exogenous),
    }


def _empty_row(key: str | None, n_rows: int, spec: SeriesSpec) -> dict[str, Any]:
    return {
        SERIES_ID: key,
        "method": spec.method,
        "status": STATUS_OK,
        "error": None,
        "converged": None,
        "n_rows": n_rows,
        "n_points": 0,
        "fit_seconds": 0.0,
        "param_names": [],
        "params": [],
        "aic": math.nan,
        "in_sample_rmse": math.nan,
        **_structure(spec),
        "history_start": pd.NaT,
        "last_time": pd.NaT,
        "history": [],
        "history_exog": [],
        "naive_profile": [],
    }


def _series_key(frame: pd.DataFrame, spec: SeriesSpec) -> str | None:
    keys = frame[spec.series_column].dropna().unique()
    if len(keys) > 1:
        raise ValueError(f"fit_series got {len(keys)} series in one frame ({spec.series_column}: {keys[:5].tolist()})")
    return str(keys[0]) if len(keys) else None


def fit_series_with_results(frame: pd.DataFrame, spec: SeriesSpec) -> tuple[pd.DataFrame, Any]:
    """:func:`fit_series`, also returning statsmodels' fitted results (None if none).

    Meant for tests and notebooks that compare the stored model with the fitted object.
    """
    started = time.perf_counter()
    missing = [column for column in spec.input_columns if column not in frame.columns]
    if missing:  # a configuration error, the same for every series: not a per-series status
        raise ValueError(f"fit_series: columns {missing} are not in the data (has {list(frame.columns)})")
    key = _series_key(frame, spec)
    row = _empty_row(key, len(frame), spec)
    results = None
    try:
        if frame.empty:
            raise _Failed("no rows")
        if len(frame) > spec.max_points:
            raise _Failed(_too_large(key, len(frame), spec))
        grid = _to_grid(frame, spec)
        row["n_points"] = int(grid[spec.target].notna().sum())
        if row["n_points"] == 0:
            raise _Failed("all values missing")
        row["naive_profile"] = _naive_profile(grid, spec).tolist()
        fitted = _to_fit_step(grid, spec)
        exog = _fill(fitted[list(spec.exogenous)])
        row.update(
            history_start=fitted.index[0],
            last_time=fitted.index[-1],
            history=fitted[spec.target].tolist(),
            history_exog=[exog[column].tolist() for column in spec.exogenous],
        )
        if row["n_points"] < spec.min_points:
            raise _Fallback(f"too few points: {row['n_points']} < {spec.min_points}")
        if np.nanmax(grid[spec.target]) == np.nanmin(grid[spec.target]):
            raise _Fallback("constant series")
        empty = [column for column in spec.exogenous if exog[column].isna().all()]
        if empty:
            raise _Fallback(f"exogenous column {empty[0]!r} all missing")
        if spec.method != NAIVE:
            results = _fit_model(row, fitted.index, exog.to_numpy(dtype=float), spec)
    except _Failed as problem:
        row.update(status=STATUS_FAILED, method=None, error=str(problem))
    except _Fallback as problem:
        row.update(status=STATUS_FALLBACK, method=NAIVE, error=str(problem))
    row["fit_seconds"] = time.perf_counter() - started
    return pd.DataFrame([row], columns=list(FIT_COLUMNS)), results


def _fit_model(row: dict[str, Any], index: pd.DatetimeIndex, exog: np.ndarray, spec: SeriesSpec):
    """Fit the row's model in place (params, fit figures); raise _Fallback when unusable."""
    try:
        history = np.asarray(row["history"], dtype=float)
        design = _design(index, exog, row)
        model = _build_model(history, design, row)
        fixed = _ols_coefficients(model, history, design, row) if row["regression"] == "ols" else {}
        pin_threads()  # after statsmodels/scipy are loaded, so their BLAS is limited too
        with warnings.catch_warnings(), model.fix_params(fixed):
            # Convergence is read from mle_retvals; start-value warnings are noise per series.
            warnings.simplefilter("ignore")
            results = model.fit(disp=False, maxiter=spec.maxiter)
            if not _converged(results):
                # L-BFGS often stops with a failed line search close to the optimum (numerical
                # gradients of the Kalman likelihood); BFGS from there usually finishes the job
                # in a few dozen likelihood evaluations.
                free = [name not in fixed for name in model.param_names]
                start = np.asarray(results.params)[free]
                retry = model.fit(start_params=start, method="bfgs", disp=False, maxiter=spec.maxiter)
                if _converged(retry) or not np.isfinite(results.llf) or retry.llf > results.llf:
                    results = retry
    except Exception as error:  # any failure of one series' fit is that series' fallback
        raise _Fallback(f"fit failed: {type(error).__name__}: {error}") from error
    params = np.asarray(results.params, dtype=float)
    converged = _converged(results)
    resid = np.asarray(results.resid, dtype=float)[int(spec.seasonal_period) :]
    observed = ~np.isnan(np.asarray(row["history"], dtype=float))[int(spec.seasonal_period) :]
    row.update(
        converged=converged,
        param_names=_param_names(model, row),
        params=params.tolist(),
        aic=float(results.aic),
        in_sample_rmse=float(np.sqrt(np.mean(resid[observed] ** 2))) if observed.any() else math.nan,
    )
    if not np.isfinite(params).all():
        raise _Fallback("non-finite parameters")
    if not converged:
        raise _Fallback(f"did not converge (L-BFGS then BFGS, maxiter {spec.maxiter})")
    return results


def _ols_coefficients(model, history: np.ndarray, design: np.ndarray | None, row: Mapping[str, Any]) -> dict[str, float]:
    """Least-squares coefficients of the regressors, keyed by statsmodels' parameter names.

    The series and the regressors are differenced as the model differences them (d, then
    D at lag s); without differencing the trend columns the model has are regressors too
    (their own parameters stay free: SARIMAX's intercept is not the series' mean).
    """
    if design is None:
        return {}
    d, (_, seasonal_d, _, period) = int(row["order"][1]), [int(v) for v in row["seasonal_order"]]
    y, x = history, design
    for _ in range(d):
        y, x = np.diff(y), np.diff(x, axis=0)
    for _ in range(seasonal_d):
        y, x = y[period:] - y[:-period], x[period:] - x[:-period]
    trend = row["trend"] or "n"
    columns = [x]
    if d == 0 and seasonal_d == 0:
        steps = np.arange(len(y), dtype=float)
        columns = [c for c, used in ((np.ones(len(y)), "c" in trend), (steps, "t" in trend)) if used] + columns
    a = np.column_stack(columns)
    observed = ~np.isnan(y) & np.isfinite(a).all(axis=1)
    coefficients = np.linalg.lstsq(a[observed], y[observed], rcond=None)[0][-design.shape[1] :]
    regressors = model.exog_names if model.exog_names is not None else []
    return dict(zip(regressors, coefficients.tolist()))


def _converged(results) -> bool:
    return bool(results.mle_retvals.get("converged", True)) if results.mle_retvals else True


def _too_large(key: str | None, n_rows: int, spec: SeriesSpec) -> str:
    return (
        f"group too large: {spec.series_column}={key} has {n_rows} rows > max_points {spec.max_points} "
        "(a group is held in one Python worker's memory; check for duplicated or mis-keyed rows, "
        "or raise max_points)"
    )


def fit_series(frame: pd.DataFrame, spec: SeriesSpec) -> pd.DataFrame:
    """Fit one series' model; never raises for a bad series.

    Args:
        frame: one series' training rows: ``spec.input_columns`` (other columns ignored).
        spec: how to fit.

    Returns:
        One row with the columns of :data:`FIT_COLUMNS` (schema :data:`FIT_SCHEMA`): the
        status (``ok``, ``fallback`` or ``failed``) and its reason, the parameters and the
        state :func:`forecast_series` needs.

    Raises:
        ValueError: a column of the spec is missing, or the frame holds several series
            (configuration errors, the same for every series).
    """
    return fit_series_with_results(frame, spec)[0]


# --- forecasting ---------------------------------------------------------------------


def _as_row(model_row: pd.Series | pd.DataFrame | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(model_row, pd.DataFrame):
        if len(model_row) != 1:
            raise ValueError(f"forecast_series needs one model row, got {len(model_row)}")
        return model_row.iloc[0]
    return model_row


def _floats(values: Any) -> np.ndarray:
    """An array<double> cell as floats (Arrow gives nulls for NaN, numpy arrays or lists)."""
    if values is None:
        return np.empty(0)
    return np.asarray([math.nan if v is None else v for v in values], dtype=float)


def _model_forecast(row: Mapping[str, Any], times: pd.DatetimeIndex, future_exog: pd.DataFrame) -> np.ndarray:
    """Forecast at each of ``times`` (data step) from the row's params and history."""
    step = f"{int(row['fit_step_minutes'])}min"
    last = pd.Timestamp(row["last_time"])
    buckets = times.floor(step)
    horizon = pd.date_range(last + pd.Timedelta(step), max(buckets.max(), last), freq=step, unit="ns")
    out = np.full(len(times), np.nan)
    if not len(horizon):
        return out
    history = _floats(row["history"])
    names = list(row["exog_names"])
    history_exog = np.column_stack([_floats(c) for c in row["history_exog"]]) if names else np.empty((len(history), 0))
    index = pd.date_range(pd.Timestamp(row["history_start"]), last, freq=step, unit="ns")
    model = _build_model(history, _design(index, history_exog, row), row)
    if _param_names(model, row) != list(row["param_names"]):
        raise ValueError(f"stored parameters {list(row['param_names'])} do not fit the model {model.param_names}")
    exog = pd.DataFrame(np.empty((len(horizon), 0)), index=horizon)
    if names:
        # Bucket means of the future values; gaps interpolated from the last history
        # values on, then the last known value carried forward.
        means = future_exog[names].groupby(buckets).mean().reindex(horizon)
        seed = pd.DataFrame([history_exog[-1]], columns=names, index=[last])
        exog = pd.concat([seed, means]).interpolate(method="time", limit_direction="forward").iloc[1:]
    pin_threads()
    results = model.filter(np.asarray(_floats(row["params"])))
    forecast = pd.Series(np.asarray(results.forecast(len(horizon), exog=_design(horizon, exog.to_numpy(float), row))), index=horizon)
    ahead = buckets > last
    out[ahead] = forecast.reindex(buckets[ahead]).to_numpy()
    return out


def forecast_series(
    model_row: pd.Series | pd.DataFrame | Mapping[str, Any], future: pd.DataFrame, spec: SeriesSpec
) -> pd.DataFrame:
    """Forecast one series at the future steps from its model row, without refitting.

    Args:
        model_row: one row of :func:`fit_series`' output (a Series, a one-row DataFrame
            or a mapping; also as Spark's Arrow hands it over).
        future: the steps to forecast: ``spec.time_column`` and the exogenous columns
            (their future values; gaps are interpolated). Steps at or before the model's
            last fitted step get a null forecast.
        spec: column names and the clip range; the model's structure is read from the row.

    Returns:
        One row per future step, columns :data:`FORECAST_COLUMNS`, sorted by time:
        ``forecast`` is the model's (the seasonal-naive profile for fallbacks, null for
        failed series) and ``naive`` the seasonal-naive baseline, both clipped. A model
        whose forecast raises (a corrupt row) is forecast as a fallback, the reason in
        ``error``.
    """
    row = _as_row(model_row)
    times = pd.DatetimeIndex(pd.to_datetime(future[spec.time_column])).as_unit("ns")
    order = np.argsort(times.asi8, kind="stable")
    times = times[order]
    future = future.iloc[order].set_axis(times)
    status, method, error = row["status"], row["method"], row["error"]
    profile = _floats(row["naive_profile"])
    naive = profile[_phase(times, row)] if len(profile) else np.full(len(times), np.nan)
    if status == STATUS_FAILED:
        forecast = np.full(len(times), np.nan)
    elif method == NAIVE:
        forecast = naive
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                forecast = _model_forecast(row, times, future)
        except Exception as problem:  # a broken model row must not fail the herd: naive for this series
            forecast, method, status = naive, NAIVE, STATUS_FALLBACK
            error = f"forecast failed: {type(problem).__name__}: {problem}"
    if spec.clip is not None:
        forecast, naive = np.clip(forecast, *spec.clip), np.clip(naive, *spec.clip)
    return pd.DataFrame(
        {
            SERIES_ID: row[SERIES_ID],
            TIME: times,
            "forecast": forecast,
            "naive": naive,
            "method": method,
            "status": status,
            "error": error,
        },
        columns=list(FORECAST_COLUMNS),
    ).reset_index(drop=True)


# --- scoring -------------------------------------------------------------------------


def score_series(forecasts: pd.DataFrame, actuals: pd.DataFrame, spec: SeriesSpec) -> pd.DataFrame:
    """Per-series RMSE and MAE of the forecast and of the seasonal-naive baseline.

    Both are measured on the same steps: those with an actual value, a forecast and a
    naive value (``n``); a failed series has n = 0 and NaN metrics.

    Args:
        forecasts: :func:`forecast_series` output (any number of series).
        actuals: the test rows: ``spec.series_column``, ``spec.time_column``, ``spec.target``.
        spec: column names.

    Returns:
        One row per series of ``forecasts``, columns :data:`SCORE_COLUMNS`.
    """
    truth = pd.DataFrame(
        {
            SERIES_ID: actuals[spec.series_column].astype(str).to_numpy(),
            TIME: pd.DatetimeIndex(pd.to_datetime(actuals[spec.time_column])).as_unit("ns"),
            "actual": pd.to_numeric(actuals[spec.target], errors="coerce").to_numpy(dtype=float),
        }
    )
    predicted = forecasts.assign(**{TIME: pd.DatetimeIndex(pd.to_datetime(forecasts[TIME])).as_unit("ns")})
    joined = predicted.merge(truth, on=[SERIES_ID, TIME], how="left")
    rows = []
    for key, group in joined.groupby(SERIES_ID, sort=True):
        used = group.dropna(subset=["actual", "forecast", "naive"])
        error, naive_error = used["forecast"] - used["actual"], used["naive"] - used["actual"]
        n = len(used)
        rows.append(
            {
                SERIES_ID: key,
                "method": group["method"].iloc[0],
                "status": group["status"].iloc[0],
                "n": n,
                "rmse": float(np.sqrt(np.mean(error**2))) if n else math.nan,
                "mae": float(np.mean(np.abs(error))) if n else math.nan,
                "naive_rmse": float(np.sqrt(np.mean(naive_error**2))) if n else math.nan,
                "naive_mae": float(np.mean(np.abs(naive_error))) if n else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


# --- Spark ---------------------------------------------------------------------------


def _fit_group(spec: SeriesSpec):
    # A plain one-argument function, not functools.partial: pyspark 4.1 reads the type
    # hints and the arity of what applyInPandas gets (and warns on a partial).
    def fit_group(rows):
        return fit_series(rows, spec)

    return fit_group


def _partitions(frame: DataFrame, partitions: int | None) -> int:
    # Several partitions per core even out series of unequal cost.
    return partitions or 4 * frame.sparkSession.sparkContext.defaultParallelism


def fit_herd(frame: DataFrame, spec: SeriesSpec, partitions: int | None = None) -> DataFrame:
    """Fit every series of ``frame`` with :func:`fit_series`, one ``applyInPandas`` group each.

    The rows are first repartitioned by the series key into ``partitions`` partitions (a
    number AQE keeps): otherwise AQE coalesces the small shuffle before ``applyInPandas``
    into one partition and all series are fitted one after another by one Python worker.

    Groups over ``spec.max_points`` rows are not shuffled at all (a group is held in one
    worker's memory): one aggregation finds them first, and they come back as ``failed``
    rows naming the key. This runs a Spark job when called; the fits run when the result
    is used.

    Args:
        frame: training rows with ``spec.input_columns``.
        spec: how to fit.
        partitions: shuffle partitions; default 4 x the default parallelism.

    Returns:
        One row per series, schema :data:`FIT_SCHEMA`.
    """
    from pyspark.sql import functions as F

    missing = [column for column in spec.input_columns if column not in frame.columns]
    if missing:
        raise ValueError(f"fit_herd: columns {missing} are not in the data (has {frame.columns})")
    rows = frame.select(*spec.input_columns)
    too_large = (
        rows.groupBy(spec.series_column)
        .count()
        .filter(F.col("count") > spec.max_points)
        .collect()  # only the oversize keys come back: normally none
    )
    if too_large:
        keys = rows.sparkSession.createDataFrame([(r[0],) for r in too_large], rows.select(spec.series_column).schema)
        rows = rows.join(F.broadcast(keys), spec.series_column, "left_anti")
    fitted = (
        rows.repartition(_partitions(frame, partitions), spec.series_column)
        .groupBy(spec.series_column)
        .applyInPandas(_fit_group(spec), FIT_SCHEMA)
    )
    if too_large:
        failed = pd.DataFrame(
            [
                {
                    **_empty_row(str(r[0]), int(r[1]), spec),
                    "status": STATUS_FAILED,
                    "method": None,
                    "error": _too_large(str(r[0]), int(r[1]), spec),
                }
                for r in too_large
            ],
            columns=list(FIT_COLUMNS),
        )
        fitted = fitted.unionByName(rows.sparkSession.createDataFrame(failed, FIT_SCHEMA))
    return fitted


def _forecast_group(spec: SeriesSpec):
    def forecast_group(future, models):
        return _forecast_one(future, models, spec)

    return forecast_group


def _forecast_one(future: pd.DataFrame, models: pd.DataFrame, spec: SeriesSpec) -> pd.DataFrame:
    if future.empty:
        return pd.DataFrame(columns=list(FORECAST_COLUMNS))
    if models.empty:  # a series without a model: no forecast, visibly
        times = pd.to_datetime(future[spec.time_column]).sort_values()
        return pd.DataFrame(
            {SERIES_ID: future[SERIES_ID].iloc[0], TIME: times.to_numpy(), "forecast": math.nan, "naive": math.nan,
             "method": None, "status": STATUS_FAILED, "error": "no model for this series"},
            columns=list(FORECAST_COLUMNS),
        )
    return forecast_series(models.iloc[0], future, spec)


def forecast_herd(models: DataFrame, future: DataFrame, spec: SeriesSpec, partitions: int | None = None) -> DataFrame:
    """Forecast every series of ``future`` from its model row (no refit), via cogroup.

    Args:
        models: :func:`fit_herd` output (one row per series, :data:`FIT_SCHEMA`).
        future: the steps to forecast: series key, time and exogenous columns.
        spec: column names and clip range.
        partitions: shuffle partitions; default 4 x the default parallelism.

    Returns:
        One row per future step, schema :data:`FORECAST_SCHEMA`; a series without a model
        row is ``failed`` with null forecasts.
    """
    from pyspark.sql import functions as F

    n = _partitions(future, partitions)
    steps = future.select(
        F.col(spec.series_column).cast("string").alias(SERIES_ID), spec.time_column, *spec.exogenous
    ).repartition(n, SERIES_ID)
    return (
        steps.groupBy(SERIES_ID)
        .cogroup(models.repartition(n, SERIES_ID).groupBy(SERIES_ID))
        .applyInPandas(_forecast_group(spec), FORECAST_SCHEMA)
    )


__all__ = [
    "FIT_COLUMNS",
    "FIT_SCHEMA",
    "FORECAST_COLUMNS",
    "FORECAST_SCHEMA",
    "METHODS",
    "SCORE_COLUMNS",
    "SCORE_SCHEMA",
    "SeriesSpec",
    "fit_herd",
    "fit_series",
    "fit_series_with_results",
    "forecast_herd",
    "forecast_series",
    "fourier_terms",
    "pin_threads",
    "score_series",
]
