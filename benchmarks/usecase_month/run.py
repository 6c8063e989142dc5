"""Benchmark: one monthly run of a shipped use case on generated data, against the generator's best.

    .venv/bin/python benchmarks/usecase_month/run.py --usecase outage_duration --rows-per-month 2000

Generates ``window.train_months`` + 1 months of the use case with its generator into
benchmarks/usecase_month/out/<usecase>/, runs the full `train` for the last month on a fresh
registry (local[2] unless --master), and prints and writes out/<usecase>/results.json:
seconds per stage, rows, the promotion metrics of the candidate next to the best value the
generator states for the test month (``best_possible`` in its manifest), and their ratio
or difference. ``--model-param k=v``, ``--model-type NAME`` and ``--train-months N`` change the shipped YAML for a run.
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


def parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--usecase", required=True)
    parser.add_argument("--rows-per-month", type=int, default=2000)
    parser.add_argument("--train-months", type=int, help="default: the YAML's window.train_months")
    parser.add_argument("--last-month", default="2023-12")
    parser.add_argument("--model-param", action="append", default=[], metavar="K=V")
    parser.add_argument("--model-type", help="another estimator; its params are then only the --model-param ones")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from sparkmlops import config as config_module
    from sparkmlops.datagen import generator_module, month_range
    from sparkmlops.pipeline import RunContext, code_version, train
    from sparkmlops.session import build_session
    from sparkmlops.tasks.catalog import METRICS
    from sparkmlops.window import shift_month

    out = OUT / args.usecase
    shutil.rmtree(out, ignore_errors=True)
    config = config_module.load(args.usecase)
    train_months = args.train_months or config.window.train_months
    overrides = {"data.base_path": str(out / "lake"), "window.train_months": train_months,
                 "run.test_month": args.last_month}
    params = {k: parse_value(v) for k, v in (item.split("=", 1) for item in args.model_param)}
    if args.model_type:
        overrides.update({"model.type": args.model_type, "model.params": params})
    else:
        overrides.update({f"model.params.{k}": v for k, v in params.items()})
    config = config_module.apply_overrides(config, overrides)
    spark = build_session(f"benchmark-{args.usecase}", master=args.master, log_file=out / "spark.log")

    months = month_range(f"{shift_month(args.last_month, -train_months)}:{args.last_month}")
    started = time.perf_counter()
    manifest = generator_module(config.data.generator, config.usecase).generate(
        spark, config, months, args.rows_per_month, args.seed)
    generate_seconds = time.perf_counter() - started

    started = time.perf_counter()
    report = train(spark, config, RunContext("benchmark", str(out / "registry"), str(out / "reports"), code_version()))
    train_seconds = time.perf_counter() - started

    overall = report["metrics"]["candidate"]["overall"]
    best = manifest["months"][args.last_month].get("best_possible", {})
    directions = METRICS[config.task]
    comparison = {}
    for metric, value in best.items():
        measured = overall.get(metric)
        if measured is None or value is None:
            continue
        comparison[metric] = {"candidate": measured, "best_possible": value,
                              "ratio": measured / value if value else None, "gap": (value - measured) if directions[metric] else (measured - value)}
    results = {
        "usecase": args.usecase, "master": args.master, "rows_per_month": args.rows_per_month,
        "months": months, "rows_trained_on": report["rows_trained_on"], "rows_tested_on": report["rows_tested_on"],
        "columns": len(config.data.columns), "model": report["model"], "generate_seconds": round(generate_seconds, 1),
        "train_seconds": round(train_seconds, 1), "timings_seconds": report["timings_seconds"],
        "candidate": {m: overall.get(m) for m in directions if m in overall}, "against_best": comparison,
        "search": {k: v for k, v in (report.get("search") or {}).items() if k != "table"},
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps({k: results[k] for k in ("rows_trained_on", "rows_tested_on", "train_seconds", "timings_seconds",
                                              "against_best")}, indent=2, default=str))
    spark.stop()


if __name__ == "__main__":
    main()
