"""spark-submit entry point for `sparkmlops predict`.

Submit from the repository root (the venv's pyspark provides spark-submit)::

    spark-submit --properties-file spark-defaults.conf --master local[*] \
        jobs/predict.py --usecase taxi_fare --test-month 2023-06

Arguments are those of `sparkmlops predict` (see README, CLI reference).
"""

import sys

from sparkmlops.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
