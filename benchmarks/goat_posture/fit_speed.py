"""goat_posture: per-series fit time and accuracy of each forecasting method (not run in CI).

Generates a herd of goats (7 days of 15-minute `ratio_debout` with a daily standing profile,
temperature and rain effects, AR(1) + white noise of sd ~0.08), fits each animal on the
first 5 days with :func:`sparkmlops.models.series.fit_series`, forecasts the last 2 days
from the stored model row with :func:`forecast_series` and scores both the method and the
seasonal-naive baseline with :func:`score_series` — the production functions, in one
process, one BLAS thread.

SARIMAX at s = 96 takes about a minute per animal here, so it runs on the first
``--s96-animals`` animals only; every other method runs on ``--animals`` animals, and its
accuracy is also given on the s = 96 sample (paired, same animals) as the ratio to s = 96.

``--herd N`` then fits N animals through Spark (``fit_herd`` on ``local[2]``) with
``--herd-method`` and reports the wall time; ``--aqe-check N`` compares ``fit_herd`` with
a plain ``groupBy().applyInPandas()`` (which AQE coalesces into one partition).

    .venv/bin/python benchmarks/goat_posture/fit_speed.py                  # methods table
    .venv/bin/python benchmarks/goat_posture/fit_speed.py --methods none --herd 1000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # before numpy loads its BLAS

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sparkmlops.models.series import (  # noqa: E402
    FIT_SCHEMA,
    SeriesSpec,
    fit_series,
    forecast_series,
    pin_threads,
    score_series,
)

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2024-06-03")
TRAIN_DAYS, TEST_DAYS, STEP = 5, 2, 15
EXOG = ("temperature", "rain")

BASE = SeriesSpec(
    series_column="animal_id",
    time_column="time",
    target="ratio_debout",
    exogenous=EXOG,
    step_minutes=STEP,
    order=(1, 0, 1),
    seasonal_order=(1, 0, 1),
    min_points=192,
    max_points=2000,
    clip=(0.0, 1.0),
    maxiter=200,
    trend="c",
    regression="mle",
)
METHODS = {
    "sarimax_s96": replace(BASE, method="sarimax", seasonal_period=96),  # the source study's model
    "sarimax_s24_hourly": replace(BASE, method="sarimax", seasonal_period=24, resample_minutes=60),
    "fourier_k3": replace(BASE, method="fourier_arima", seasonal_period=96, fourier_terms=3),
    "fourier_k6": replace(BASE, method="fourier_arima", seasonal_period=96, fourier_terms=6),
    "fourier_k10": replace(BASE, method="fourier_arima", seasonal_period=96, fourier_terms=10),
    "fourier_k6_ols": replace(BASE, method="fourier_arima", seasonal_period=96, fourier_terms=6, regression="ols"),
    "fourier_k10_ols": replace(BASE, method="fourier_arima", seasonal_period=96, fourier_terms=10, regression="ols"),
    "fourier_k16_ols": replace(BASE, method="fourier_arima", seasonal_period=96, fourier_terms=16, regression="ols"),
    "fourier_k6_hourly_ols": replace(
        BASE, method="fourier_arima", seasonal_period=24, fourier_terms=6, resample_minutes=60, regression="ols"
    ),
}


def goat_herd(animals: int, seed: int, days: int = TRAIN_DAYS + TEST_DAYS) -> pd.DataFrame:
    """One farm: shared weather, each goat with its own daily standing profile.

    Standing ratio per 15 minutes: low at night (~0.1), a morning and an evening feeding
    peak (~0.7), a midday rest; hot afternoons (> 24 °C) lower it by 0.02 per degree, rain
    raises it by 0.12 (goats stand in the shelter). Noise: AR(1) (phi 0.6, sd 0.05) plus
    white noise (sd 0.06), about 0.08 in all; 1 % of the rows are missing.
    """
    rng = np.random.default_rng(seed)
    steps = days * 96
    times = pd.date_range(START, periods=steps, freq=f"{STEP}min")
    hour = (times.hour + times.minute / 60).to_numpy()
    # Weather shared by the herd: a daily temperature cycle with day-to-day swings, rain episodes.
    daily_mean = 19 + np.repeat(np.cumsum(rng.normal(0, 1.5, days)), 96)
    temperature = daily_mean + 6 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 0.5, steps)
    rain = np.zeros(steps)
    for i in range(1, steps):
        rain[i] = float(rng.random() < (0.85 if rain[i - 1] else 0.02))
    frames = []
    for animal in range(animals):
        shift = rng.normal(0, 0.5)  # hours
        morning, evening = rng.uniform(0.55, 0.8), rng.uniform(0.5, 0.75)
        h = hour - shift
        profile = (
            0.1
            + morning * np.exp(-(((h - 8) / 1.5) ** 2))
            + 0.3 * np.exp(-(((h - 12.5) / 2.0) ** 2))
            + evening * np.exp(-(((h - 17.5) / 1.5) ** 2))
        )
        heat = -0.02 * np.clip(temperature - 24, 0, None)
        ar = np.zeros(steps)
        shocks = rng.normal(0, 0.05 * np.sqrt(1 - 0.6**2), steps)
        for i in range(1, steps):
            ar[i] = 0.6 * ar[i - 1] + shocks[i]
        target = np.clip(profile + heat + 0.12 * rain + ar + rng.normal(0, 0.06, steps), 0, 1)
        target[rng.random(steps) < 0.01] = np.nan
        frames.append(
            pd.DataFrame(
                {"animal_id": f"goat-{animal:04d}", "time": times, "ratio_debout": target,
                 "temperature": temperature, "rain": rain}
            )
        )
    return pd.concat(frames, ignore_index=True)


def split(herd: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = START + pd.Timedelta(days=TRAIN_DAYS)
    return herd[herd["time"] < cut], herd[herd["time"] >= cut]


def run_method(name: str, spec: SeriesSpec, train: pd.DataFrame, test: pd.DataFrame, keys: list[str]) -> dict:
    fits, forecasts, forecast_seconds, cpu_seconds = [], [], [], []
    for key in keys:
        rows = train[train["animal_id"] == key]
        cpu = time.process_time()
        model = fit_series(rows, spec)
        cpu_seconds.append(time.process_time() - cpu)
        fits.append(model)
        started = time.perf_counter()
        forecasts.append(forecast_series(model, test[test["animal_id"] == key], spec))
        forecast_seconds.append(time.perf_counter() - started)
        row = model.iloc[0]
        print(f"  {name} {key}: {row['status']} {row['fit_seconds']:.2f} s {row['error'] or ''}", file=sys.stderr)
    models = pd.concat(fits, ignore_index=True)
    scores = score_series(pd.concat(forecasts, ignore_index=True), test[test["animal_id"].isin(keys)], spec)
    seconds = models["fit_seconds"].to_numpy()
    return {
        "method": name,
        "spec": asdict(spec),
        "series": len(keys),
        "fit_median_s": float(np.median(seconds)),
        "fit_p95_s": float(np.percentile(seconds, 95)),
        "fit_cpu_median_s": float(np.median(cpu_seconds)),
        "fit_cpu_p95_s": float(np.percentile(cpu_seconds, 95)),
        "forecast_median_s": float(np.median(forecast_seconds)),
        "status": models["status"].value_counts().to_dict(),
        "per_series": scores.assign(fit_seconds=seconds, fit_cpu_seconds=cpu_seconds).to_dict(orient="records"),
    }


def summarise(results: list[dict], sample: list[str]) -> list[dict]:
    reference = next((r for r in results if r["method"] == "sarimax_s96"), None)
    ref_rmse = {s["series_id"]: s["rmse"] for s in reference["per_series"]} if reference else {}
    rows = []
    for result in results:
        scores = pd.DataFrame(result["per_series"])
        on_sample = scores[scores["series_id"].isin(sample)]
        rows.append(
            {
                "method": result["method"],
                "series": result["series"],
                "fit_median_s": round(result["fit_median_s"], 3),
                "fit_p95_s": round(result["fit_p95_s"], 3),
                "fit_cpu_median_s": round(result["fit_cpu_median_s"], 3),
                "fit_cpu_p95_s": round(result["fit_cpu_p95_s"], 3),
                "forecast_median_s": round(result["forecast_median_s"], 3),
                "status": result["status"],
                "rmse": round(float(scores["rmse"].mean()), 4),
                "naive_rmse": round(float(scores["naive_rmse"].mean()), 4),
                "rmse_over_naive": round(float(scores["rmse"].mean() / scores["naive_rmse"].mean()), 3),
                "sample_rmse": round(float(on_sample["rmse"].mean()), 4),
                "sample_rmse_over_s96": (
                    round(float(on_sample["rmse"].mean() / np.mean([ref_rmse[k] for k in on_sample["series_id"]])), 3)
                    if ref_rmse
                    else None
                ),
                "sample_wins_over_s96": (
                    f"{int(sum(r < ref_rmse[k] for k, r in zip(on_sample['series_id'], on_sample['rmse'])))}/{len(on_sample)}"
                    if ref_rmse
                    else None
                ),
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    head = (
        "| method | series | fit wall median / p95 s | fit CPU median / p95 s | forecast median s | status | RMSE "
        "| naive RMSE | RMSE / naive | RMSE on s96 sample | / s96 | better than s96 |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        status = ", ".join(f"{k} {v}" for k, v in sorted(r["status"].items()))
        lines.append(
            f"| {r['method']} | {r['series']} | {r['fit_median_s']} / {r['fit_p95_s']} "
            f"| {r['fit_cpu_median_s']} / {r['fit_cpu_p95_s']} | {r['forecast_median_s']} | {status} "
            f"| {r['rmse']} | {r['naive_rmse']} | {r['rmse_over_naive']} | {r['sample_rmse']} "
            f"| {r['sample_rmse_over_s96']} | {r['sample_wins_over_s96']} |"
        )
    return "\n".join(lines)


def spark_session(app: str):
    from sparkmlops.session import build_session

    os.environ.setdefault("SPARKMLOPS_SPARK_DEFAULTS", str(HERE.parents[1] / "spark-defaults.conf"))
    return build_session(app, master="local[2]")


def herd_run(animals: int, method: str, seed: int) -> dict:
    """fit_herd on ``animals`` goats on local[2]: wall time of the fit (data already in Spark)."""
    from sparkmlops.models.series import fit_herd

    spark = spark_session("goat-posture-herd")
    spec = METHODS[method]
    train, _ = split(goat_herd(animals, seed))
    frame = spark.createDataFrame(train).cache()
    frame.count()
    warm = goat_herd(4, seed + 1)  # start the Python workers and import statsmodels in them
    fit_herd(spark.createDataFrame(split(warm)[0]), spec).count()
    started = time.perf_counter()
    models = fit_herd(frame, spec).select("series_id", "status", "fit_seconds").toPandas()
    wall = time.perf_counter() - started
    return {
        "animals": animals,
        "method": method,
        "wall_s": round(wall, 1),
        "sum_fit_s": round(float(models["fit_seconds"].sum()), 1),
        "fit_median_s": round(float(models["fit_seconds"].median()), 3),
        "status": models["status"].value_counts().to_dict(),
    }


def aqe_check(animals: int, method: str, seed: int) -> dict:
    """fit_herd (repartitioned by key) against a plain groupBy().applyInPandas()."""
    from sparkmlops.models.series import _fit_group, fit_herd

    spark = spark_session("goat-posture-aqe")
    spec = METHODS[method]
    frame = spark.createDataFrame(split(goat_herd(animals, seed))[0]).cache()
    frame.count()
    fit_herd(spark.createDataFrame(split(goat_herd(4, seed + 1))[0]), spec).count()  # warm workers
    timings = {}
    coalesce = "spark.sql.adaptive.coalescePartitions.enabled"
    for name, build, settings in (
        ("plain_groupby", lambda: frame.groupBy(spec.series_column).applyInPandas(_fit_group(spec), FIT_SCHEMA), {}),
        (
            "plain_groupby_no_coalesce",
            lambda: frame.groupBy(spec.series_column).applyInPandas(_fit_group(spec), FIT_SCHEMA),
            {coalesce: "false"},
        ),
        ("fit_herd", lambda: fit_herd(frame, spec), {}),
    ):
        before = {key: spark.conf.get(key) for key in settings}
        for key, value in settings.items():
            spark.conf.set(key, value)  # session-wide, and only while this action runs
        started = time.perf_counter()
        statuses = build().select("status").toPandas()
        timings[name] = {"wall_s": round(time.perf_counter() - started, 1), "status": statuses["status"].value_counts().to_dict()}
        for key, value in before.items():
            spark.conf.set(key, value)
    return {"animals": animals, "method": method, **timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--animals", type=int, default=40, help="animals per fast method")
    parser.add_argument("--s96-animals", type=int, default=5, help="animals for SARIMAX s=96 (~1 min each)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated, or 'none'")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--herd", type=int, default=0, help="also fit this many animals through fit_herd on local[2]")
    parser.add_argument("--herd-method", default="fourier_k10_ols", choices=sorted(METHODS))
    parser.add_argument("--aqe-check", type=int, default=0, help="animals for the fit_herd vs plain groupBy check")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "fit_speed.json")
    args = parser.parse_args()

    pin_threads()
    report: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "load_average_start": os.getloadavg()}
    methods = [] if args.methods == "none" else args.methods.split(",")
    if methods:
        herd = goat_herd(max(args.animals, args.s96_animals), args.seed)
        train, test = split(herd)
        keys = sorted(herd["animal_id"].unique())
        sample = keys[: args.s96_animals]
        fit_series(train[train["animal_id"] == keys[0]], METHODS["fourier_k3"])  # import statsmodels before timing
        results = []
        for name in methods:
            chosen = sample if name == "sarimax_s96" else keys[: args.animals]
            print(f"{name}: {len(chosen)} animals", file=sys.stderr)
            results.append(run_method(name, METHODS[name], train, test, chosen))
        report["methods"] = summarise(results, sample)
        report["per_series"] = {r["method"]: r["per_series"] for r in results}
        print(markdown(report["methods"]))
    if args.aqe_check:
        report["aqe_check"] = aqe_check(args.aqe_check, args.herd_method, args.seed)
        print(json.dumps(report["aqe_check"]))
    if args.herd:
        report["herd"] = herd_run(args.herd, args.herd_method, args.seed)
        print(json.dumps(report["herd"]))
    report["load_average_end"] = os.getloadavg()
    print(f"load average start {report['load_average_start']}, end {report['load_average_end']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
