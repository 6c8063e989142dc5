"""Benchmark: monthly runs of a shipped use case on generated data, against the generator's best.

    .venv/bin/python benchmarks/usecase_month/run.py --usecase outage_duration --rows-per-month 2000
    .venv/bin/python benchmarks/usecase_month/run.py --usecase rain_tomorrow --test-months 2023-07:2023-12

Generates the months the window needs before the first test month through the last one
with the use case's generator into benchmarks/usecase_month/out/<usecase>/, then runs the
full `train` for each test month in order on one fresh registry (the monthly loop; local[2]
unless --master). It prints a Markdown table (one row per test month: seconds per stage,
the drift step's Spark jobs and flagged features, rows, each promotion metric of the candidate next to the best value the generator states
for that month, ``best_possible`` in its manifest) and writes out/<usecase>/results.json.
``--model-param k=v``, ``--model-type NAME``, ``--train-months N`` and ``--generator-option k=v``
(``data.generator_options.k``, e.g. ``animals=1000``) change the shipped YAML for a run;
``--model-type`` replaces the params with the ``--model-param`` ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
OUT = Path(__file__).resolve().parent / "out"
STAGES = ("read", "fit", "evaluate_candidate", "drift", "evaluate_current")


def parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--usecase", required=True)
    parser.add_argument("--rows-per-month", type=int, default=2000, help="ignored by generators with a fixed shape (rain)")
    parser.add_argument("--train-months", type=int, help="default: the YAML's window.train_months")
    parser.add_argument("--test-months", default="2023-12", help="a month or FIRST:LAST, trained in order")
    parser.add_argument("--model-param", action="append", default=[], metavar="K=V")
    parser.add_argument("--model-type", help="another estimator; its params are then only the --model-param ones")
    parser.add_argument("--generator-option", action="append", default=[], metavar="K=V",
                        help="data.generator_options.K for the run (e.g. animals=1000 for goat_posture); repeatable")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def against_best(overall: dict, best: dict, directions: dict) -> dict:
    """Per metric the generator states a best for: candidate, best, ratio and the gap (>= 0 is worse than best)."""
    comparison = {}
    for metric, value in best.items():
        measured = overall.get(metric)
        if measured is None or value is None or metric not in directions:
            continue
        comparison[metric] = {"candidate": measured, "best_possible": value, "ratio": measured / value if value else None,
                              "gap": (value - measured) if directions[metric] else (measured - value)}
    return comparison


def markdown(results: dict) -> str:
    metrics = sorted({metric for month in results["runs"] for metric in month["against_best"]})
    head = ["test month", "train rows", *(f"{stage} s" for stage in STAGES), "drift jobs", "drifted features",
            *(f"{metric} (best)" for metric in metrics)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in results["runs"]:
        cells = [run["test_month"], f"{run['rows_trained_on']:,}",
                 *(f"{run['timings_seconds'].get(stage, 0):.1f}" for stage in STAGES),
                 str(run["drift"].get("spark_jobs", "—")), str(run["drift"].get("flagged_features", "—")),
                 *(f"{run['against_best'][m]['candidate']:.3f} ({run['against_best'][m]['best_possible']:.3f})"
                   if m in run["against_best"] else "—" for m in metrics)]
        lines.append("| " + " | ".join(cells) + " |")
    for metric in metrics:
        gaps = [run["against_best"][metric]["gap"] for run in results["runs"] if metric in run["against_best"]]
        ratios = [run["against_best"][metric]["ratio"] for run in results["runs"] if metric in run["against_best"]]
        lines.append(f"\n{metric}: gap to best mean {statistics.mean(gaps):.4f} (min {min(gaps):.4f}, max {max(gaps):.4f}); "
                     f"ratio mean {statistics.mean(ratios):.3f}")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
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
    test_months = month_range(args.test_months)
    overrides = {"data.base_path": str(out / "lake"), "window.train_months": train_months}
    params = {k: parse_value(v) for k, v in (item.split("=", 1) for item in args.model_param)}
    if args.model_type:
        overrides.update({"model.type": args.model_type, "model.params": params})
    else:
        overrides.update({f"model.params.{k}": v for k, v in params.items()})
    overrides.update({f"data.generator_options.{k}": parse_value(v)
                      for k, v in (item.split("=", 1) for item in args.generator_option)})
    config = config_module.apply_overrides(config, overrides)
    spark = build_session(f"benchmark-{args.usecase}", master=args.master, log_file=out / "spark.log")

    months = month_range(f"{shift_month(test_months[0], -train_months)}:{test_months[-1]}")
    started = time.perf_counter()
    manifest = generator_module(config.data.generator, config.usecase).generate(
        spark, config, months, args.rows_per_month, args.seed)
    generate_seconds = time.perf_counter() - started

    runs = []
    context = RunContext("benchmark", str(out / "registry"), str(out / "reports"), code_version())
    for month in test_months:
        month_config = config_module.apply_overrides(config, {"run.test_month": month})
        started = time.perf_counter()
        report = train(spark, month_config, context)
        runs.append({"test_month": month, "train_seconds": round(time.perf_counter() - started, 1),
                     "rows_trained_on": report["rows_trained_on"], "rows_tested_on": report["rows_tested_on"],
                     "timings_seconds": report["timings_seconds"], "decision": report["decision"]["outcome"],
                     "candidate": report["metrics"]["candidate"]["overall"],
                     "against_best": against_best(report["metrics"]["candidate"]["overall"],
                                                  manifest["months"][month].get("best_possible", {}), METRICS[config.task]),
                     "search": {k: v for k, v in (report.get("search") or {}).items() if k != "table"},
                     # the drift step's Spark job count does not grow with the number of features
                     "drift": {k: report["drift"].get(k) for k in ("status", "spark_jobs", "seconds", "flagged_features")}})
    results = {"usecase": args.usecase, "master": args.master, "rows_per_month": args.rows_per_month,
               "columns": len(config.data.columns), "model": config.model.model_dump() if config.model else None,
               "generated_months": months, "generate_seconds": round(generate_seconds, 1), "runs": runs}
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    # forecasting use cases have no model section (their method is in the forecasting section)
    print(f"generated {len(months)} months in {generate_seconds:.1f} s; {config.model.type if config.model else config.task}\n")
    print(markdown(results))
    spark.stop()


if __name__ == "__main__":
    main()
