"""goat_posture: herd throughput of fit_herd (applyInPandas, local[2]) against a sequential loop.

Generates a herd with the project's goat generator (``sparkmlops.datagen.goat``) into
``benchmarks/goat_posture/out/herd_speed_lake`` (git-ignored), takes the 5 train days the
shipped use case trains on for ``--month`` (the 5 days before its last 2 days: 2023-06-24
to 2023-06-28 for June 2023) and fits every animal with the spec the shipped YAML gives
(``sparkmlops.config.load("goat_posture")`` + ``tasks.forecasting.series_spec``) twice,
in this one script, on the same rows:

* sequential: the rows are collected to the driver with ``toPandas()`` (fine for a
  benchmark of a few hundred animals; the pipeline never does this) and fitted in a plain
  ``for animal, group in frame.groupby(...)`` loop with ``fit_series``, one BLAS thread
  (``pin_threads``). The ``toPandas()`` time is reported but not counted.
* Spark: ``fit_herd`` on the cached input on ``local[2]`` (session from ``build_session``
  with the project's spark-defaults.conf: one BLAS thread per Python worker through
  ``spark.executorEnv.*``), materialised with ``.cache().count()`` as the pipeline's fit
  does; the Python workers are started and statsmodels imported in them by a warm-up
  ``fit_herd`` on a few animals first. The time includes ``fit_herd``'s own pass that
  counts rows per animal.

``--partitions 0,16,64`` times ``fit_herd`` with each partition count after every
sequential run (0 = its default, 4 x the default parallelism). ``--repeats N`` alternates
the two N times (the machine is shared: alternating spreads the other load over both).
Both must give every animal the same status and the same
parameters; the maximum absolute parameter difference is reported. Each timed block also
records, from /proc, the cores this script's process tree used on average (the driver
alone for the loop; driver, JVM and Python workers for Spark) and the cores the rest of
the machine kept busy meanwhile: on a shared machine the speed-up is bounded by the CPU
Spark could get. Prints a Markdown table and writes ``out/herd_speed.json``.

    .venv/bin/python benchmarks/goat_posture/herd_speed.py --animals 200 --repeats 3
    .venv/bin/python benchmarks/goat_posture/herd_speed.py --animals 200 --repeats 2 --partitions 0,16,64
    .venv/bin/python benchmarks/goat_posture/herd_speed.py --animals 1000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # before numpy loads its BLAS
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sparkmlops.models.series import fit_herd, fit_series, pin_threads  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WARM_UP_ANIMALS = 8


def train_days(month: str, train: int, test: int) -> tuple[str, str]:
    """First train day and the first test day (exclusive end) of the use case's day window."""
    from sparkmlops.window import month_last_days

    first_test = date.fromisoformat(month_last_days(month, test)[0])
    return (first_test - timedelta(days=train)).isoformat(), first_test.isoformat()


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system, with reaped children) of ``root`` and all its descendants, from /proc.

    For the Spark run: the driver, its JVM and the Python workers the JVM forks.
    """
    parents, times = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    tree, frontier = {root}, [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
        tree.update(frontier)
    return sum(times.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine spent busy (every core), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Cores used on average during a block: by this script's process tree and by the whole machine."""

    def __enter__(self) -> "CpuMeter":
        self.started, self.ours, self.machine = time.perf_counter(), tree_cpu_seconds(os.getpid()), machine_busy_seconds()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self.started
        self.ours_cores = (tree_cpu_seconds(os.getpid()) - self.ours) / wall
        self.machine_cores = (machine_busy_seconds() - self.machine) / wall
        self.other_cores = max(0.0, self.machine_cores - self.ours_cores)


def quantiles(seconds) -> dict:
    values = np.asarray(seconds, dtype=float)
    return {"median": float(np.median(values)), "p95": float(np.percentile(values, 95)),
            "sum": float(values.sum())}


def sequential(frame: pd.DataFrame, spec) -> tuple[float, pd.DataFrame]:
    """Wall time of fit_series over every animal in one Python loop, and the model rows."""
    pin_threads()
    started = time.perf_counter()
    rows = [fit_series(group, spec) for _, group in frame.groupby(spec.series_column, sort=True)]
    wall = time.perf_counter() - started
    return wall, pd.concat(rows, ignore_index=True)


def spark_fit(rows, spec, partitions: int | None) -> tuple[float, float, pd.DataFrame]:
    """Wall time of fit_herd materialised (cache + count), of its rows-per-animal pre-pass alone, and the model rows."""
    started = time.perf_counter()
    table = fit_herd(rows, spec, partitions=partitions).cache()  # runs the pre-pass (max_points guard) now
    pre_pass = time.perf_counter() - started
    table.count()
    wall = time.perf_counter() - started
    models = table.select("series_id", "status", "param_names", "params", "fit_seconds", "converged").toPandas()
    table.unpersist()
    return wall, pre_pass, models


def compare(left: pd.DataFrame, right: pd.DataFrame) -> dict:
    """Same animals, statuses and parameters? Max absolute parameter difference over animals."""
    both = left.set_index("series_id").join(right.set_index("series_id"), how="outer", lsuffix="_seq", rsuffix="_spark")
    status_diff = both[both["status_seq"] != both["status_spark"]]
    worst, names_differ = 0.0, 0
    for _, row in both.iterrows():
        a, b = row["params_seq"], row["params_spark"]
        if not isinstance(a, (list, np.ndarray)) or not isinstance(b, (list, np.ndarray)):
            continue
        if list(row["param_names_seq"]) != list(row["param_names_spark"]):
            names_differ += 1
            continue
        a = np.asarray([np.nan if v is None else v for v in a], dtype=float)
        b = np.asarray([np.nan if v is None else v for v in b], dtype=float)
        if len(a):
            worst = max(worst, float(np.nanmax(np.abs(a - b))) if np.isfinite(a - b).any() else 0.0)
    return {"animals": len(both), "status_differs": status_diff.index.tolist(), "param_names_differ": names_differ,
            "max_abs_param_diff": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--animals", type=int, default=200)
    parser.add_argument("--month", default="2023-06", help="test month of the use case's day window")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=1, help="sequential and Spark runs, alternated")
    parser.add_argument("--partitions", default="0",
                        help="comma-separated fit_herd partitions to time after each sequential run; 0 = its default "
                             "(4 x default parallelism)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "herd_speed.json")
    args = parser.parse_args()

    from pyspark.sql import functions as F

    from sparkmlops import config as config_module
    from sparkmlops import lake
    from sparkmlops.datagen.goat import generate_herd
    from sparkmlops.session import build_session
    from sparkmlops.tasks.forecasting import series_spec

    report: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "load_average_start": os.getloadavg(),
                    "cpus": os.cpu_count()}
    config = config_module.load("goat_posture")
    spec = series_spec(config)
    first, end = train_days(args.month, config.window.train_days, config.window.test_days)
    report["spec"] = {k: v for k, v in vars(spec).items()}
    report["train_days"] = [first, (date.fromisoformat(end) - timedelta(days=1)).isoformat()]

    os.environ.setdefault("SPARKMLOPS_SPARK_DEFAULTS", str(ROOT / "spark-defaults.conf"))
    spark = build_session("goat-herd-speed", master=args.master)
    report["executor_env"] = {k: spark.conf.get(f"spark.executorEnv.{k}", None)
                              for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    base = str(args.out.parent / "herd_speed_lake")
    started = time.perf_counter()
    generate_herd(spark, base, [args.month], args.animals, args.seed, dict(config.data.columns))
    report["generate_s"] = round(time.perf_counter() - started, 1)

    month_rows, _ = lake.read_month(spark, base, args.month, dict(config.data.columns), {})
    time_column = F.col(spec.time_column)
    rows = (month_rows.filter((time_column >= F.lit(first).cast("timestamp")) & (time_column < F.lit(end).cast("timestamp")))
            .select(*spec.input_columns).cache())
    report["rows"] = rows.count()
    started = time.perf_counter()
    frame = rows.toPandas()
    report["to_pandas_s"] = round(time.perf_counter() - started, 2)
    animals = sorted(frame[spec.series_column].unique())
    report["animals_with_train_rows"] = len(animals)
    print(f"{report['rows']:,} train rows ({first} .. {report['train_days'][1]}), {len(animals)} animals; "
          f"generate {report['generate_s']} s, toPandas {report['to_pandas_s']} s", flush=True)

    # Warm-up, not timed: statsmodels imported in the driver and in the Spark Python workers.
    warm = animals[:WARM_UP_ANIMALS]
    fit_series(frame[frame[spec.series_column] == warm[0]], spec)
    fit_herd(rows.filter(F.col(spec.series_column).isin(warm)), spec).write.format("noop").mode("overwrite").save()

    default_partitions = 4 * spark.sparkContext.defaultParallelism  # fit_herd's own default
    settings = [int(p) if int(p) > 0 else None for p in args.partitions.split(",")]
    runs = []
    for repeat in range(args.repeats):
        load_seq = os.getloadavg()[0]
        with CpuMeter() as seq_cpu:
            seq_wall, seq_models = sequential(frame, spec)
        for partitions in settings:
            load_spark = os.getloadavg()[0]
            with CpuMeter() as spark_cpu:
                spark_wall, pre_pass, spark_models = spark_fit(rows, spec, partitions)
            check = compare(seq_models, spark_models)
            run = {"repeat": repeat + 1, "partitions": partitions or default_partitions,
                   "partitions_default": partitions is None,
                   "sequential_s": round(seq_wall, 2), "spark_s": round(spark_wall, 2), "pre_pass_s": round(pre_pass, 2),
                   "speed_up": round(seq_wall / spark_wall, 2), "load_1min_before": [load_seq, load_spark],
                   "cores_used": {"sequential": round(seq_cpu.ours_cores, 2), "spark": round(spark_cpu.ours_cores, 2)},
                   "other_cores_busy": {"sequential": round(seq_cpu.other_cores, 2),
                                        "spark": round(spark_cpu.other_cores, 2)},
                   "sequential_fit_seconds": quantiles(seq_models["fit_seconds"]),
                   "spark_fit_seconds": quantiles(spark_models["fit_seconds"]),
                   "status": seq_models["status"].value_counts().to_dict(), "check": check}
            runs.append(run)
            print(json.dumps(run), flush=True)
    report["runs"] = runs
    report["load_average_end"] = os.getloadavg()
    spark.stop()

    def cell(q: dict) -> str:
        return f"{q['median']:.3f} / {q['p95']:.3f}"

    lines = ["| run | animals (with train rows) | rows | partitions | sequential s | applyInPandas s (pre-pass) | speed-up "
             "| fit median / p95 s, sequential "
             "| fit median / p95 s, Spark | cores used seq / Spark | other load, cores | status | same status "
             "| max abs param diff |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        status = ", ".join(f"{k} {v}" for k, v in sorted(run["status"].items()))
        same = "yes" if not run["check"]["status_differs"] else f"no ({len(run['check']['status_differs'])})"
        partitions = f"{run['partitions']}" + (" (default)" if run["partitions_default"] else "")
        lines.append(f"| {run['repeat']} | {args.animals} ({len(animals)}) | {report['rows']:,} | {partitions} "
                     f"| {run['sequential_s']:.1f} | {run['spark_s']:.1f} ({run['pre_pass_s']:.1f}) | {run['speed_up']:.2f}× | {cell(run['sequential_fit_seconds'])} "
                     f"| {cell(run['spark_fit_seconds'])} "
                     f"| {run['cores_used']['sequential']:.2f} / {run['cores_used']['spark']:.2f} "
                     f"| {run['other_cores_busy']['sequential']:.2f} / {run['other_cores_busy']['spark']:.2f} | {status} | {same} | {run['check']['max_abs_param_diff']:.2g} |")
    print("\n".join(lines))
    report["speed_up_median"] = {}
    for partitions in sorted({run["partitions"] for run in runs}):
        speed_ups = [run["speed_up"] for run in runs if run["partitions"] == partitions]
        report["speed_up_median"][partitions] = statistics.median(speed_ups)
        print(f"\n{partitions} partitions: speed-up median {statistics.median(speed_ups):.2f}× "
              f"(min {min(speed_ups):.2f}, max {max(speed_ups):.2f})")
    print(f"load average start {report['load_average_start']}, end {report['load_average_end']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
