#!/usr/bin/env bash
# Quick start 1: set up, generate a 6-month taxi lake, run the monthly pipeline for three
# consecutive test months on local Spark and print one line per month. Each month is also
# logged to MLflow in mlruns/ (.venv/bin/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$PWD/.venv/bin/python"
exec .venv/bin/sparkmlops demo --usecase taxi_fare "$@"
