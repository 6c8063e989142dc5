"""spark-submit entry point for `sparkmlops predict`.

Submit from the repository root with the venv activated (its Spark carries the S3A
connector and the project's settings; scripts/setup.sh installs them)::

    spark-submit [--master spark://127.0.0.1:7077] jobs/predict.py --usecase taxi_fare --test-month 2023-06

Arguments are those of `sparkmlops predict` (see README, CLI reference).
"""

import sys

from sparkmlops.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
