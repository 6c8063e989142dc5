"""spark-submit entry point for `sparkmlops ingest`.

Submit from the repository root with the venv activated (its Spark carries the S3A
connector and the project's settings; scripts/setup.sh installs them)::

    spark-submit [--master spark://127.0.0.1:7077] jobs/ingest.py --usecase taxi_fare --source yellow_tripdata_2023-01.parquet

Arguments are those of `sparkmlops ingest` (see README, CLI reference).
"""

import sys

from sparkmlops.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
