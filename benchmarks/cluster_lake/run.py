"""Benchmark: one taxi month on local[2] vs the 2-worker standalone cluster, local-folder lake vs S3 lake.

    .venv/bin/python benchmarks/cluster_lake/run.py --rows-per-month 200000 --max-iter 20

Every configuration runs the same `spark-submit jobs/train.py` (3 train months + 1 test
month, a fresh registry each time) as a production run would, so each pays its own JVM
start. The S3 lake is a moto server on 127.0.0.1 (MinIO in production) holding a copy of
the same generated months. Reported, all from this one script:
  * seconds per configuration and the ratio to local[2] + local folder,
  * cluster startup time (start until both workers are ALIVE),
  * peak resident memory of driver + master + workers + executors (sampled from /proc).
Writes benchmarks/cluster_lake/out/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "out"
sys.path.insert(0, str(REPO))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
MONTHS = ["2023-01", "2023-02", "2023-03", "2023-04"]


def tree_rss_bytes(roots: list[int]) -> int:
    """Resident memory of the processes ``roots`` and all their descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parent, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
        rss[int(entry.name)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack, seen = 0, list(roots), set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


class PeakMemory:
    """Samples tree_rss_bytes(roots()) every 0.5 s in a thread; ``peak`` holds the maximum."""

    def __init__(self, roots) -> None:
        self.roots, self.peak, self._stop = roots, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, tree_rss_bytes(self.roots()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def submit(master: str, config: Path, reports: Path, extra_conf: list[str], cluster_pids: list[int]) -> dict:
    """spark-submit jobs/train.py for the test month; returns the run's figures for results.json.

    Peak memory covers spark-submit's process tree plus ``cluster_pids`` (master, workers
    and, as their descendants, the executors).
    """
    # The S3A connector is part of the venv's Spark (scripts/setup.sh), so no class path flags.
    command = [str(Path(sys.executable).parent / "spark-submit"), "--properties-file", str(REPO / "spark-defaults.conf"),
               "--master", master, "--conf", f"spark.pyspark.python={sys.executable}",
               *extra_conf, str(REPO / "jobs/train.py"), "--usecase", "taxi_fare", "--config", str(config),
               "--test-month", MONTHS[-1]]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, "PYSPARK_PYTHON": sys.executable},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with PeakMemory(lambda: [process.pid, *cluster_pids]) as memory:
        _, err = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{master} run failed ({process.returncode}):\n{err[-3000:]}")
    report = json.loads((reports / "taxi_fare" / MONTHS[-1] / "train_report.json").read_text())
    figures = {"seconds": round(seconds, 1), "peak_rss_gb": round(memory.peak / 2**30, 2),
               "rmse": report["metrics"]["candidate"]["overall"]["rmse"], "timings": report["timings_seconds"]}
    if cluster_pids:
        figures["executors"] = report["spark"]["executors"]["seen"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-per-month", type=int, default=200_000)
    parser.add_argument("--max-iter", type=int, default=20)
    args = parser.parse_args()

    from sparkmlops import cluster, config as config_module
    from sparkmlops.datagen import taxi
    from sparkmlops.session import build_session
    from tests.support.configs import small_taxi_config
    from tests.support.s3server import free_port, free_port_run, start_s3_server

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    server = start_s3_server(OUT / "s3-logs")
    run_dir = OUT / "cluster"
    results: dict = {"rows_per_month": args.rows_per_month, "max_iter": args.max_iter, "runs": {}}
    try:
        server.create_bucket("nyc-interim")
        os.environ.update(server.env())
        folder_lake, s3_lake = str(OUT / "lake" / "taxi_fare"), "s3a://nyc-interim/yellow"
        shipped = config_module.load("taxi_fare")
        spark = build_session("benchmark-cluster-lake-generate", master="local[2]")
        for base in (folder_lake, s3_lake):
            config = config_module.apply_overrides(shipped, {"data.base_path": base})
            started = time.perf_counter()
            taxi.generate(spark, config, MONTHS, args.rows_per_month, 7)
            results[f"generate_seconds_{'s3' if base.startswith('s3a') else 'folder'}"] = round(time.perf_counter() - started, 1)
        spark.stop()

        def run(name: str, master: str, lake_uri: str, extra_conf: list[str], cluster_pids: list[int]) -> None:
            # The shipped taxi_fare config (its GBT depth) with this run's lake, registry, reports and maxIter.
            (OUT / name).mkdir()
            config_file, raw = small_taxi_config(OUT / name, lake_uri, maxIter=args.max_iter,
                                                 maxDepth=shipped.model.params.maxDepth)
            results["runs"][name] = submit(master, config_file, Path(raw["paths"]["reports"]), extra_conf, cluster_pids)

        local = ["--conf", "spark.driver.memory=4g"]
        on_cluster = ["--conf", "spark.driver.memory=2g", "--conf", "spark.executor.memory=1g", "--conf", "spark.cores.max=2"]
        for name, lake_uri in (("local2_folder", folder_lake), ("local2_s3", s3_lake)):
            run(name, "local[2]", lake_uri, local, [])
        started = time.perf_counter()
        status = cluster.start(run_dir, workers=2, cores=1, memory="2g", master_port=free_port(), webui_port=free_port_run(3))
        results["cluster_startup_seconds"] = round(time.perf_counter() - started, 1)
        for name, lake_uri in (("cluster_folder", folder_lake), ("cluster_s3", s3_lake)):
            run(name, status.master_url, lake_uri, on_cluster, status.pids)
    finally:
        cluster.stop(run_dir)
        server.stop()
    base_seconds = results["runs"]["local2_folder"]["seconds"]
    results["ratio_to_local2_folder"] = {name: round(run["seconds"] / base_seconds, 2) for name, run in results["runs"].items()}
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
