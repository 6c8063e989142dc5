"""spark-submit entry point for `sparkmlops ingest`.

Submit from the repository root (the venv's pyspark provides spark-submit)::

    spark-submit --properties-file spark-defaults.conf --master local[*] \
        jobs/ingest.py --usecase taxi_fare --source yellow_tripdata_2023-01.parquet

Arguments are those of `sparkmlops ingest` (see README, CLI reference).
"""

import sys

from sparkmlops.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
