"""Per-series forecasting: pandas functions without Spark, then once through applyInPandas.

Series are hourly (s = 24) or resampled to hourly so every fit takes well under a second.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest

from sparkmlops.models import series
from sparkmlops.models.series import (
    FIT_COLUMNS,
    FORECAST_COLUMNS,
    SeriesSpec,
    fit_herd,
    fit_series,
    fit_series_with_results,
    forecast_herd,
    forecast_series,
    score_series,
)

START = pd.Timestamp("2024-05-01")
TRAIN_END = pd.Timestamp("2024-05-06")  # 5 train days, then 2 test days
EXOG = ("temperature", "rain")


def goat(key: str, seed: int, step: int = 60, days: int = 7, rain_effect: float = 0.3, level: float = 0.0) -> pd.DataFrame:
    """Standing ratio: daily profile (low at night) + temperature and rain effects + noise."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(START, periods=days * 1440 // step, freq=f"{step}min")
    phase = (times.hour * 60 + times.minute).to_numpy() / 1440
    profile = 0.15 + 0.5 * np.exp(-(((phase - 0.35) / 0.1) ** 2)) + 0.3 * np.exp(-(((phase - 0.7) / 0.1) ** 2))
    temperature = 15 + 8 * np.sin(2 * np.pi * (phase - 0.3)) + rng.normal(0, 2, len(times))
    rain = (rng.random(len(times)) < 0.15).astype(float)
    target = level + profile - 0.01 * (temperature - 15) + rain_effect * rain + rng.normal(0, 0.05, len(times))
    return pd.DataFrame(
        {"animal_id": key, "time": times, "ratio_debout": target, "temperature": temperature, "rain": rain}
    )


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame[frame["time"] < TRAIN_END], frame[frame["time"] >= TRAIN_END]


def hourly_spec(**changes) -> SeriesSpec:
    base = dict(
        exogenous=EXOG, step_minutes=60, method="sarimax", seasonal_period=24, order=(1, 0, 1),
        seasonal_order=(1, 0, 1), min_points=48, maxiter=200, clip=(0.0, 1.0), regression="mle",
    )
    return SeriesSpec(**{**base, **changes})


FOURIER = dict(method="fourier_arima", fourier_terms=4)


@pytest.fixture(scope="module")
def fitted_sarimax():
    train, test = split(goat("g1", seed=1))
    row, results = fit_series_with_results(train, hourly_spec())
    return train, test, row, results


def test_sarimax_fits_and_beats_seasonal_naive_when_exog_carries_signal(fitted_sarimax):
    train, test, row, _ = fitted_sarimax
    model = row.iloc[0]
    assert list(row.columns) == list(FIT_COLUMNS)
    assert (model["status"], model["method"], model["error"], model["converged"]) == ("ok", "sarimax", None, True)
    assert np.isfinite(model["params"]).all() and len(model["params"]) == len(model["param_names"])
    assert {"intercept", "temperature", "rain", "ar.S.L24"} <= set(model["param_names"])
    # The rain coefficient is recovered (truth 0.3) and so is the history.
    assert model["params"][model["param_names"].index("rain")] == pytest.approx(0.3, abs=0.05)
    assert model["n_points"] == len(train) == len(model["history"]) == 120
    assert model["last_time"] == TRAIN_END - pd.Timedelta("1h")

    forecasts = forecast_series(row, test, hourly_spec())
    assert list(forecasts.columns) == list(FORECAST_COLUMNS) and len(forecasts) == len(test)
    score = score_series(forecasts, test, hourly_spec()).iloc[0]
    assert score["n"] == len(test)
    assert score["rmse"] < 0.6 * score["naive_rmse"]


def test_forecast_from_the_stored_row_equals_the_fitted_results_forecast(fitted_sarimax):
    _, test, row, results = fitted_sarimax
    expected = np.clip(results.forecast(len(test), exog=test[list(EXOG)].to_numpy()), 0, 1)
    # The row as a plain dict of lists, as it would be read back from a table.
    stored = {name: row.iloc[0][name] for name in FIT_COLUMNS}
    got = forecast_series(stored, test, hourly_spec())["forecast"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize("regression", ["mle", "ols"])
def test_fourier_arima_state_forecast_equals_its_results_and_uses_absolute_phase(regression):
    spec = hourly_spec(**FOURIER, regression=regression)
    train, test = split(goat("g2", seed=2))
    row, results = fit_series_with_results(train, spec)
    model = row.iloc[0]
    assert (model["status"], model["regression"]) == ("ok", regression)
    assert model["param_names"][3:11] == ["sin1", "cos1", "sin2", "cos2", "sin3", "cos3", "sin4", "cos4"]
    regressors = np.column_stack(
        [train[list(EXOG)].to_numpy(), series.fourier_terms(pd.DatetimeIndex(train["time"]), 1440, 4)]
    )
    ols = np.linalg.lstsq(np.column_stack([np.ones(len(train)), regressors]), train["ratio_debout"], rcond=None)[0][1:]
    if regression == "ols":  # held at the least-squares values; intercept and ARMA part fitted
        np.testing.assert_allclose(model["params"][1:11], ols, rtol=0, atol=1e-10)
    else:  # joint MLE moves them (ARMA errors), but not far
        assert np.abs(np.asarray(model["params"][1:11]) - ols).max() > 1e-6
        np.testing.assert_allclose(model["params"][1:11], ols, atol=0.05)
    design = np.column_stack([test[list(EXOG)].to_numpy(), series.fourier_terms(pd.DatetimeIndex(test["time"]), 1440, 4)])
    expected = np.clip(results.forecast(len(test), exog=design), 0, 1)
    got = forecast_series(row, test, spec)["forecast"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)


def test_ols_regression_on_a_differenced_model_estimates_the_exog_effect():
    spec = hourly_spec(order=(0, 1, 1), seasonal_order=(0, 1, 1), trend=None, regression="ols")
    train, test = split(goat("g9", seed=9))
    row, results = fit_series_with_results(train, spec)
    model = row.iloc[0]
    assert model["status"] == "ok" and model["seasonal_order"] == [0, 1, 1, 24]
    assert model["params"][model["param_names"].index("rain")] == pytest.approx(0.3, abs=0.05)
    expected = np.clip(results.forecast(len(test), exog=test[list(EXOG)].to_numpy()), 0, 1)
    np.testing.assert_allclose(forecast_series(row, test, spec)["forecast"], expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    "mangle, status, error",
    [
        (lambda f: f.head(20), "fallback", "too few points: 20 < 48"),
        (lambda f: f.assign(ratio_debout=np.nan), "failed", "all values missing"),
        (lambda f: f.assign(ratio_debout=0.4), "fallback", "constant series"),
        (lambda f: pd.concat([f, f.iloc[[5, 9]]]), "failed", "duplicate timestamps: 2 (first 2024-05-01 05:00:00)"),
        (lambda f: f.assign(time=f["time"] + pd.Timedelta("7min")), "failed", "timestamps off the 60-minute grid: 120"),
        (lambda f: f.assign(rain=np.nan), "fallback", "exogenous column 'rain' all missing"),
        (lambda f: f.assign(rain=np.where(f.index == 3, np.inf, f["rain"])), "fallback", "fit failed: MissingDataError"),
        (lambda f: f.iloc[:0], "failed", "no rows"),
    ],
    ids=["too-short", "all-missing", "constant", "duplicates", "off-grid", "exog-missing", "fit-raises", "empty"],
)
def test_bad_series_fall_back_or_fail_with_the_reason_and_never_raise(mangle, status, error):
    spec = hourly_spec(**FOURIER)
    train, test = split(goat("g3", seed=3))
    model = fit_series(mangle(train), spec).iloc[0]
    assert model["status"] == status
    assert model["error"].startswith(error)
    assert model["method"] == ("seasonal_naive" if status == "fallback" else None)
    forecasts = forecast_series(model, test, spec)
    if status == "failed":
        assert forecasts["forecast"].isna().all()
    else:
        # The fallback forecast is the seasonal-naive profile: the last observed day, repeated.
        np.testing.assert_array_equal(forecasts["forecast"], forecasts["naive"])
        assert forecasts["forecast"].notna().all()


def test_fallback_profile_repeats_the_last_observed_value_of_each_phase():
    spec = hourly_spec(**FOURIER)
    train, test = split(goat("g3", seed=3))
    short = train.tail(30)  # last 30 hours: phases 18..23 seen twice, the last one wins
    forecasts = forecast_series(fit_series(short, spec), test, spec)
    last_day = short.tail(24).set_index(short.tail(24)["time"].dt.hour)["ratio_debout"].clip(0, 1)
    np.testing.assert_allclose(forecasts["forecast"].to_numpy(), last_day.loc[forecasts["time"].dt.hour].to_numpy())


def test_non_converged_fit_is_a_flagged_fallback_that_keeps_its_parameters():
    train, _ = split(goat("g4", seed=4))
    model = fit_series(train, hourly_spec(maxiter=1)).iloc[0]
    assert (model["status"], model["method"], model["converged"]) == ("fallback", "seasonal_naive", False)
    assert model["error"] == "did not converge (L-BFGS then BFGS, maxiter 1)"
    assert len(model["params"]) == len(model["param_names"]) > 0


def test_forecasts_are_clipped_to_the_range():
    spec = hourly_spec(**FOURIER)
    train, test = split(goat("g5", seed=5, level=0.8))  # daytime values well above 1
    assert train["ratio_debout"].max() > 1.2
    forecasts = forecast_series(fit_series(train, spec), test, spec)
    assert forecasts["forecast"].max() == 1.0 and forecasts["naive"].max() == 1.0
    assert forecasts["forecast"].min() >= 0.0
    unclipped = forecast_series(fit_series(train, spec), test, hourly_spec(**FOURIER, clip=None))
    assert unclipped["forecast"].max() > 1.1


def test_group_over_max_points_fails_naming_its_key():
    train, _ = split(goat("goat-77", seed=6))
    model = fit_series(train, hourly_spec(max_points=100)).iloc[0]
    assert model["status"] == "failed"
    assert "animal_id=goat-77 has 120 rows > max_points 100" in model["error"]


def test_gaps_are_missing_steps_and_exog_gaps_are_interpolated():
    spec = hourly_spec(**FOURIER)
    train, test = split(goat("g6", seed=6))
    gappy = train.drop(train.index[30:40]).copy()  # 10 hours without rows
    gappy.loc[gappy.index[50:53], "temperature"] = np.nan
    gappy.loc[gappy.index[60], "ratio_debout"] = np.nan
    model = fit_series(gappy, spec).iloc[0]
    assert model["status"] == "ok" and model["converged"]
    history = np.asarray(model["history"])
    assert len(history) == 120 and np.isnan(history).sum() == 11 and model["n_points"] == 109
    temperature = np.asarray(model["history_exog"][0])
    assert np.isfinite(temperature).all()
    # Missing rows (hours 30-39) and missing values (hours 60-62) lie on the line between
    # their neighbours.
    for first, last in ((30, 39), (60, 62)):
        inside = np.arange(first, last + 1)
        line = np.interp(inside, [first - 1, last + 1], temperature[[first - 1, last + 1]])
        np.testing.assert_allclose(temperature[inside], line)
    score = score_series(forecast_series(model, test, spec), test, spec).iloc[0]
    assert score["n"] == 48 and score["rmse"] < score["naive_rmse"]


def test_hourly_resampling_forecasts_every_quarter_hour_with_its_hours_value():
    spec = hourly_spec(**FOURIER, step_minutes=15, resample_minutes=60, min_points=192)
    train, test = split(goat("g7", seed=7, step=15))
    model = fit_series(train, spec).iloc[0]
    assert model["status"] == "ok"
    assert (model["fit_step_minutes"], len(model["history"]), len(model["naive_profile"])) == (60, 120, 96)
    hours = train.groupby(train["time"].dt.floor("h"))["ratio_debout"].mean()
    np.testing.assert_allclose(model["history"], hours.to_numpy())
    forecasts = forecast_series(model, test, spec)
    assert len(forecasts) == len(test) == 192
    per_hour = forecasts.groupby(forecasts["time"].dt.floor("h"))["forecast"].nunique()
    assert (per_hour == 1).all()
    score = score_series(forecasts, test, spec).iloc[0]
    assert score["n"] == 192 and score["rmse"] < score["naive_rmse"]


def test_a_corrupt_model_row_is_forecast_naive_and_says_why(fitted_sarimax):
    _, test, row, _ = fitted_sarimax
    broken = row.iloc[0].to_dict() | {"params": row.iloc[0]["params"][:-1]}
    forecasts = forecast_series(broken, test, hourly_spec())
    assert set(forecasts["status"]) == {"fallback"} and set(forecasts["method"]) == {"seasonal_naive"}
    assert forecasts["error"].iloc[0].startswith("forecast failed: ")
    np.testing.assert_array_equal(forecasts["forecast"], forecasts["naive"])


def test_steps_not_after_the_last_fitted_step_get_no_forecast(fitted_sarimax):
    train, test, row, _ = fitted_sarimax
    forecasts = forecast_series(row, pd.concat([train.tail(2), test.head(3)]), hourly_spec())
    assert forecasts["forecast"].isna().tolist() == [True, True, False, False, False]


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(method="prophet"), "method 'prophet' is not one of"),
        (dict(resample_minutes=90), "resample_minutes must be a multiple"),
        (dict(method="fourier_arima", fourier_terms=13), r"fourier_terms must be in 1\.\.12"),
        (dict(clip=(1.0, 0.0)), "clip must be"),
        (dict(min_points=0), "min_points"),
        (dict(regression="gls"), "regression 'gls' is not one of mle, ols"),
    ],
)
def test_invalid_specs_are_rejected_with_the_reason(changes, message):
    with pytest.raises(ValueError, match=message):
        hourly_spec(**changes)


def test_fits_run_with_one_blas_thread(fitted_sarimax):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    libraries = threadpoolctl.threadpool_info()
    assert libraries and {library["num_threads"] for library in libraries} == {1}
    assert {os.environ[v] for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")} == {"1"}


def test_missing_columns_are_a_configuration_error_not_a_series_status():
    train, _ = split(goat("g8", seed=8))
    with pytest.raises(ValueError, match=r"columns \['rain'\] are not in the data"):
        fit_series(train.drop(columns="rain"), hourly_spec())


def test_spark_apply_in_pandas_matches_the_pandas_loop(spark):
    spec = hourly_spec(**FOURIER, max_points=130, regression="ols")  # the default estimation
    frames = [goat(f"g{i}", seed=10 + i) for i in range(4)]
    frames.append(goat("short", seed=20).head(30))
    frames.append(goat("no-target", seed=21).assign(ratio_debout=np.nan))
    frames.append(pd.concat([goat("too-big", seed=22), goat("too-big", seed=22).assign(time=lambda f: f["time"] + pd.Timedelta("30min"))]))
    data = pd.concat(frames, ignore_index=True)
    train, test = split(data)

    local_models = pd.concat([fit_series(group, spec) for _, group in train.groupby("animal_id")], ignore_index=True)
    local_forecasts = pd.concat(
        [forecast_series(model, test[test["animal_id"] == model[series.SERIES_ID]], spec) for _, model in local_models.iterrows()],
        ignore_index=True,
    )

    models = fit_herd(spark.createDataFrame(train), spec).cache()
    spark_models = models.toPandas()
    spark_forecasts = forecast_herd(models, spark.createDataFrame(test.drop(columns="ratio_debout")), spec).toPandas()

    local_models = local_models.set_index(series.SERIES_ID).sort_index()
    spark_models = spark_models.set_index(series.SERIES_ID).sort_index()
    assert list(spark_models.index) == list(local_models.index) == sorted(f"{k}" for k in train["animal_id"].unique())
    statuses = dict(zip(spark_models.index, spark_models["status"]))
    assert statuses == {"g0": "ok", "g1": "ok", "g2": "ok", "g3": "ok", "short": "fallback", "no-target": "failed", "too-big": "failed"}
    assert "animal_id=too-big has 240 rows > max_points 130" in spark_models.loc["too-big", "error"]
    for key, local in local_models.iterrows():
        remote = spark_models.loc[key]
        for column in ("method", "status", "error", "n_rows", "n_points", "param_names", "exog_names"):
            assert _plain(remote[column]) == _plain(local[column]), (key, column)
        for column in ("params", "history", "naive_profile", "aic", "in_sample_rmse"):
            np.testing.assert_allclose(_array(remote[column]), _array(local[column]), rtol=0, atol=1e-6, err_msg=f"{key} {column}")

    on = [series.SERIES_ID, series.TIME]
    spark_forecasts["time"] = pd.to_datetime(spark_forecasts["time"]).astype("datetime64[ns]")
    merged = local_forecasts.merge(spark_forecasts, on=on, suffixes=("_local", "_spark"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all() and len(merged) == len(test)
    for column in ("method", "status", "error"):
        assert merged[f"{column}_local"].fillna("").tolist() == merged[f"{column}_spark"].fillna("").tolist()
    for column in ("forecast", "naive"):
        np.testing.assert_allclose(merged[f"{column}_spark"], merged[f"{column}_local"], rtol=0, atol=1e-8)
    assert merged.loc[merged[series.SERIES_ID] == "g0", "forecast_spark"].notna().all()


def _plain(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def _array(value) -> np.ndarray:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return np.array([np.nan])
    return np.asarray([np.nan if v is None else v for v in np.atleast_1d(value)], dtype=float)
