"""spark-submit entry point for `sparkmlops train`.

Submit from the repository root (the venv's pyspark provides spark-submit)::

    spark-submit --properties-file spark-defaults.conf --master local[*] \
        jobs/train.py --usecase taxi_fare --test-month 2023-06

Arguments are those of `sparkmlops train` (see README, CLI reference).
"""

import sys

from sparkmlops.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
