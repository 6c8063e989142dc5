"""Benchmark: one monthly taxi run at realistic size vs a bare read-and-fit script.

    .venv/bin/python benchmarks/taxi_month/run.py --rows-per-month 1000000

Generates 4 months (3 train + 1 test) into benchmarks/taxi_month/out/, then in the same
process and the same local[2] session:
  1. baseline: read the same Parquet files, apply the same features + GBT, fit, score;
  2. sparkmlops: the full `train` (read, cleaning counts, fit, score, error analysis,
     registry, report).
Prints and writes out/results.json: per-stage timings, the ratio full/baseline, and the
candidate RMSE against the generator's noise floor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-per-month", type=int, default=1_000_000)
    parser.add_argument("--max-iter", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2,
                        help="baseline and full run this many times each, alternating which goes first; "
                             "the ratio uses the fastest of each (robust to other load on the machine)")
    args = parser.parse_args()


    from sparkmlops import config as config_module
    from sparkmlops import lake, quality
    from sparkmlops.datagen import taxi
    from sparkmlops.evaluation import evaluate
    from sparkmlops.logs import configure
    from pyspark.sql import functions as F

    from sparkmlops.models.estimators import build_pipeline
    from sparkmlops.pipeline import RunContext, code_version, train
    from sparkmlops.session import build_session

    shutil.rmtree(OUT, ignore_errors=True)
    config = config_module.apply_overrides(config_module.load("taxi_fare"), {
        "data.base_path": str(OUT / "lake"), "paths.registry": str(OUT / "registry"), "paths.reports": str(OUT / "reports"),
        "run.test_month": "2023-04", "model.params.maxIter": args.max_iter,
    })
    configure("benchmark")
    spark = build_session("benchmark-taxi-month", master="local[2]")
    started = time.perf_counter()
    manifest = taxi.generate(spark, config, ["2023-01", "2023-02", "2023-03", "2023-04"], args.rows_per_month, 7)
    generate_seconds = time.perf_counter() - started

    def run_baseline() -> tuple[float, dict]:
        """Read the files, same cleaning filter and model, fit, score. Nothing else."""
        started = time.perf_counter()
        frames = {m: lake.read_month(spark, config.data.base_path, m, config.data.columns, config.data.column_aliases)[0]
                  for m in ["2023-01", "2023-02", "2023-03", "2023-04"]}
        keep = quality.keep_expression(config.cleaning.rules)
        label = F.col(config.data.target).cast("double").alias("label")  # what the regression task learns
        train_rows = frames["2023-01"].unionByName(frames["2023-02"]).unionByName(frames["2023-03"]).filter(keep)
        train_rows = train_rows.withColumn("label", label)
        model = build_pipeline(config).fit(train_rows)
        evaluation = evaluate(model.transform(frames["2023-04"].filter(keep)), "total_amount", "prediction", [])
        return time.perf_counter() - started, evaluation

    def run_full(repeat: int) -> tuple[float, dict]:
        """The full monthly run, on a fresh registry (a rerun on the same one would be a no-op)."""
        started = time.perf_counter()
        ctx = RunContext(f"benchmark-{repeat}", str(OUT / f"registry-{repeat}"), str(OUT / f"reports-{repeat}"), code_version())
        report = train(spark, config, ctx)
        return time.perf_counter() - started, report

    baseline_times, full_times = [], []
    for repeat in range(args.repeats):
        order = ("baseline", "full") if repeat % 2 == 0 else ("full", "baseline")
        for which in order:
            if which == "baseline":
                seconds, baseline_eval = run_baseline()
                baseline_times.append(seconds)
            else:
                seconds, report = run_full(repeat)
                full_times.append(seconds)
            print(f"repeat {repeat} {which}: {seconds:.1f} s", flush=True)
    baseline_seconds, full_seconds = min(baseline_times), min(full_times)

    floor = manifest["months"]["2023-04"]["noise_floor_rmse"]
    rmse = report["metrics"]["candidate"]["overall"]["rmse"]
    results = {
        "rows_per_month": args.rows_per_month, "max_iter": args.max_iter, "master": "local[2]",
        "generate_seconds_4_months": round(generate_seconds, 1),
        "repeats": args.repeats, "baseline_runs_seconds": [round(t, 1) for t in baseline_times],
        "full_runs_seconds": [round(t, 1) for t in full_times],
        "baseline_seconds": round(baseline_seconds, 1), "full_run_seconds": round(full_seconds, 1),
        "full_over_baseline": round(full_seconds / baseline_seconds, 3),
        "stage_seconds": report["timings_seconds"],
        "rows_trained_on": report["rows_trained_on"], "rows_tested_on": report["rows_tested_on"],
        "candidate_rmse": round(rmse, 4), "baseline_rmse": round(baseline_eval["overall"]["rmse"], 4),
        "noise_floor_rmse": floor, "rmse_over_floor": round(rmse / floor, 3),
        "mae": round(report["metrics"]["candidate"]["overall"]["mae"], 4), "r2": round(report["metrics"]["candidate"]["overall"]["r2"], 4),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
