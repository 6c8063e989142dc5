"""The dashboard's prediction sample against reading the whole month: peak memory and time.

Writes a month of taxi-shaped predictions (observed fare, prediction, inputs) as Parquet
part files, then, each in a fresh Python process so peak RSS is its own:
  imports   the same imports and nothing else: the floor both start from
  baseline  pyarrow reads the whole month, pandas computes |error| and takes the largest
  sample    sparkmlops.reporting.prediction_sample.largest_errors (streamed batches)
and prints them, the ratios above the floor, and whether the two agree on the rows.

    .venv/bin/python benchmarks/prediction_sample/run.py --rows 1000000 --files 4
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT = 200


def write_month(folder: Path, rows: int, files: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    generator = np.random.default_rng(7)
    per_file = rows // files
    for part in range(files):
        fare = generator.gamma(2.0, 9.0, per_file)
        table = pa.table({
            "VendorID": generator.integers(1, 3, per_file), "trip_distance": generator.gamma(1.5, 2.0, per_file),
            "PULocationID": generator.integers(1, 266, per_file), "DOLocationID": generator.integers(1, 266, per_file),
            "payment_type": generator.integers(1, 5, per_file), "fare_amount": fare,
            "prediction": fare + generator.normal(0, 3, per_file), "model_version": ["v0001"] * per_file,
        })
        pq.write_table(table, folder / f"part-{part:05d}.parquet")


def measure(mode: str, folder: str) -> dict:
    import pyarrow.parquet as pq

    from sparkmlops.reporting.prediction_sample import largest_errors
    from sparkmlops.tasks.error_spec import ErrorSpec

    started = time.perf_counter()
    if mode == "imports":
        return {"seconds": 0.0, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if mode == "baseline":
        frame = pq.read_table(folder).to_pandas()
        frame["error"] = (frame["prediction"] - frame["fare_amount"]).abs()
        top = frame.nlargest(LIMIT, "error")
    else:
        top = largest_errors(folder, ErrorSpec("fare_amount", "prediction"), limit=LIMIT)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "largest_error": float(top["error"].max()), "rows": len(top), "error_sum": float(top["error"].sum())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--measure", choices=("imports", "baseline", "sample"))
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.measure:  # the child process
        print(json.dumps(measure(args.measure, args.folder)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_month(folder, args.rows, args.files)
        results = {}
        for mode in ("imports", "baseline", "sample"):
            child = subprocess.run([sys.executable, __file__, "--measure", mode, "--folder", str(folder)],
                                   capture_output=True, text=True, check=True)
            results[mode] = json.loads(child.stdout.strip().splitlines()[-1])
    base, sample, floor = results["baseline"], results["sample"], results["imports"]["peak_rss_mb"]
    print(f"rows {args.rows:,} in {args.files} files; top {LIMIT} by |prediction - fare_amount|")
    print("| way | seconds | peak RSS (MB) |\n|---|---|---|")
    for mode in ("imports", "baseline", "sample"):
        print(f"| {mode} | {results[mode]['seconds']} | {results[mode]['peak_rss_mb']} |")
    above = (sample["peak_rss_mb"] - floor) / max(base["peak_rss_mb"] - floor, 0.1)
    print(f"sample / baseline: time {sample['seconds'] / base['seconds']:.2f}, peak RSS {sample['peak_rss_mb'] / base['peak_rss_mb']:.2f}, "
          f"peak RSS above the imports {above:.2f}")
    same = abs(sample["error_sum"] - base["error_sum"]) < 1e-6 * base["error_sum"]
    print(f"same rows: {same} (sum of the {LIMIT} errors {sample['error_sum']:.6f} vs {base['error_sum']:.6f})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
