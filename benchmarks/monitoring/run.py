"""Benchmark: the taxi monthly run with drift monitoring and MLflow tracking on vs both off.

    .venv/bin/python benchmarks/monitoring/run.py --rows-per-month 1000000

Generates 5 months (2023-01..05) into benchmarks/monitoring/out/lake, then, in one process
and one local[2] session, runs the monthly loop of two months (train 2023-04, predict
2023-04, train 2023-05, predict 2023-05 — so the second month also scores a current model
and predict reads a stored drift reference) through the CLI, once per arm:

  off: --no-tracking and monitoring.drift.enabled: false
  on:  MLflow tracking to a local sqlite store under out/ and drift on (the shipped YAML)

Each arm starts from a fresh registry, reports folder and MLflow store; the arms alternate
which goes first over --repeats, and the ratio uses the fastest run of each. Prints and
writes out/results.json: seconds per arm, on/off ratio (goal <= 1.10), the drift step's
seconds and Spark jobs per train and predict run, and the tracking seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import yaml

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
REPO = HERE.parents[1]
MONTHS = ("2023-04", "2023-05")


def write_config(arm: str, max_iter: int) -> Path:
    """The shipped taxi YAML with this arm's lake/registry/reports and drift switch."""
    raw = yaml.safe_load((REPO / "conf/usecases/taxi_fare.yaml").read_text())
    raw["data"]["base_path"] = str(OUT / "lake" / "taxi_fare")
    raw["model"]["params"]["maxIter"] = max_iter
    raw.setdefault("monitoring", {}).setdefault("drift", {})["enabled"] = arm == "on"
    raw["paths"] = {**raw.get("paths", {}), "registry": str(OUT / arm / "registry"), "reports": str(OUT / arm / "reports")}
    path = OUT / f"taxi_fare-{arm}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def empty_store(folder: Path) -> None:
    """An MLflow store with its schema already there, as it is after a deployment's first
    month (creating the schema takes ~9 s once; a monthly run never pays it again)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder.mkdir(parents=True)
    SqlAlchemyStore(f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri()).engine.dispose()


def run_arm(arm: str, config_file: Path, repeat: int) -> tuple[float, list[dict]]:
    """The two-month loop through the CLI; returns wall seconds and the reports."""
    from sparkmlops import cli

    shutil.rmtree(OUT / arm, ignore_errors=True)
    # a new store folder per repeat: MLflow caches its database engine per URI in the process
    store = OUT / arm / f"mlruns-{repeat}"
    if arm == "on":
        empty_store(store)
    tracking = ["--no-tracking"] if arm == "off" else ["--tracking-uri", str(store)]
    documents = []
    started = time.perf_counter()
    for month in MONTHS:
        for command in ("train", "predict"):
            code = cli.main([command, "--usecase", "taxi_fare", "--config", str(config_file), "--test-month", month, *tracking])
            if code != 0:
                raise SystemExit(f"{arm}: {command} {month} exited {code}")
    seconds = time.perf_counter() - started
    for month in MONTHS:
        for kind in ("train", "predict"):
            documents.append(json.loads((OUT / arm / "reports" / "taxi_fare" / month / f"{kind}_report.json").read_text()))
    if arm == "on":  # a failed tracking step would look cheap: the measurement would be wrong
        failed = [(d["kind"], d["month"], d["tracking"]) for d in documents if d["tracking"]["status"] != "ok"]
        if failed:
            raise SystemExit(f"tracking did not succeed in the 'on' arm: {failed}")
    return seconds, documents


def step_figures(documents: list[dict]) -> list[dict]:
    """Per run: the drift step's seconds and Spark jobs, tracking's seconds and status."""
    figures = []
    for doc in documents:
        drift = doc.get("drift") or {}
        tracking = doc.get("tracking") or {}
        figures.append({
            "kind": doc["kind"], "month": doc["month"],
            "drift_status": drift.get("status"), "drift_seconds": drift.get("seconds"), "drift_spark_jobs": drift.get("spark_jobs"),
            "flagged_features": drift.get("flagged_features"),
            "tracking_status": tracking.get("status"), "tracking_seconds": tracking.get("seconds"),
        })
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-per-month", type=int, default=1_000_000)
    parser.add_argument("--max-iter", type=int, default=50, help="GBT trees (the shipped YAML's value by default)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep-lake", action="store_true", help="reuse out/lake from an earlier run of the same size")
    args = parser.parse_args()

    from sparkmlops import config as config_module
    from sparkmlops.datagen import taxi
    from sparkmlops.logs import configure
    from sparkmlops.session import build_session

    OUT.mkdir(exist_ok=True)
    configure("benchmark")
    spark = build_session("benchmark-monitoring", master="local[2]")
    generate_seconds = None
    if not (args.keep_lake and (OUT / "lake").exists()):
        shutil.rmtree(OUT / "lake", ignore_errors=True)
        config = config_module.apply_overrides(config_module.load("taxi_fare"), {"data.base_path": str(OUT / "lake" / "taxi_fare")})
        started = time.perf_counter()
        taxi.generate(spark, config, ["2023-01", "2023-02", "2023-03", "2023-04", "2023-05"], args.rows_per_month, 7)
        generate_seconds = round(time.perf_counter() - started, 1)

    configs = {arm: write_config(arm, args.max_iter) for arm in ("off", "on")}
    times: dict[str, list[float]] = {"off": [], "on": []}
    documents: dict[str, list[dict]] = {}
    for repeat in range(args.repeats):
        for arm in (("off", "on") if repeat % 2 == 0 else ("on", "off")):
            seconds, documents[arm] = run_arm(arm, configs[arm], repeat)
            times[arm].append(seconds)
            print(f"repeat {repeat} {arm}: {seconds:.1f} s", flush=True)

    best = {arm: min(values) for arm, values in times.items()}
    results = {
        "rows_per_month": args.rows_per_month, "max_iter": args.max_iter, "master": "local[2]", "months": list(MONTHS),
        "generate_seconds_5_months": generate_seconds, "repeats": args.repeats,
        "runs_seconds": {arm: [round(t, 1) for t in values] for arm, values in times.items()},
        "best_seconds": {arm: round(t, 1) for arm, t in best.items()},
        "on_over_off": round(best["on"] / best["off"], 3),
        "steps_on": step_figures(documents["on"]),
        "stage_seconds_on": {f"{d['kind']} {d['month']}": d["timings_seconds"] for d in documents["on"]},
        "stage_seconds_off": {f"{d['kind']} {d['month']}": d["timings_seconds"] for d in documents["off"]},
    }
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
