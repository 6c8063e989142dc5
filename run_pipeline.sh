#!/usr/bin/env bash
# Monthly entry point for cron and Airflow's BashOperator:
#   pre-train gate -> train (spark-submit) -> post-train gate (promotion is decided in
#   train with the same thresholds) -> predict (spark-submit) -> post-predict gate.
# Stops at the first failure with its exit code (2 usage, 3 data, 4 gate, 1 other).
#
#   ./run_pipeline.sh --usecase taxi_fare --test-month 2023-06 [--train-months a,b,c]
#       [--skip-missing] [--train-only | --predict-only] [--force] [--skip-tests]
#       [--master URL] [--data-base-path P] [--model-registry-path P] [--reports-dir P]
#       [--config FILE] [--log-format json]
set -uo pipefail
cd "$(dirname "$0")"

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
USECASE="" TEST_MONTH="" MASTER="local[*]" TRAIN_ONLY=0 PREDICT_ONLY=0 SKIP_TESTS=0
COMMON=() TRAIN_EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --usecase) USECASE=$2; shift 2 ;;
    --test-month) TEST_MONTH=$2; shift 2 ;;
    --master) MASTER=$2; shift 2 ;;
    --train-months|--data-base-path|--model-registry-path|--reports-dir|--config|--log-format)
      COMMON+=("$1" "$2"); shift 2 ;;
    --skip-missing) COMMON+=("$1"); shift ;;
    --force) TRAIN_EXTRA+=("--force"); shift ;;
    --train-only) TRAIN_ONLY=1; shift ;;
    --predict-only) PREDICT_ONLY=1; shift ;;
    --skip-tests) SKIP_TESTS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option '$1'. It is not one of run_pipeline.sh's flags; see --help." >&2; exit 2 ;;
  esac
done
if [ -z "$USECASE" ]; then echo "error: --usecase is required (e.g. --usecase taxi_fare); see --help." >&2; exit 2; fi
if [ "$TRAIN_ONLY" = 1 ] && [ "$PREDICT_ONLY" = 1 ]; then
  echo "error: --train-only and --predict-only exclude each other; pass at most one." >&2; exit 2
fi

VENV=${SPARKMLOPS_VENV:-$PWD/.venv}
[ -x "$VENV/bin/sparkmlops" ] || bash scripts/setup.sh || exit $?
export PATH="$VENV/bin:$PATH" SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1}
export PYSPARK_PYTHON="$VENV/bin/python" PYSPARK_DRIVER_PYTHON="$VENV/bin/python"
# One test month for every step, even across midnight at a month boundary.
if [ -z "$TEST_MONTH" ]; then
  TEST_MONTH=$("$VENV/bin/python" -c 'from sparkmlops.window import previous_complete_month as p; print(p())')
fi
COMMON+=(--usecase "$USECASE" --test-month "$TEST_MONTH")
RUN_DIR="runs/$USECASE/$TEST_MONTH"; mkdir -p "$RUN_DIR"

step() {  # step NAME COMMAND...: run, stop the pipeline with the step's exit code on failure
  local name=$1; shift
  echo "== $name" >&2
  "$@"; local status=$?
  if [ $status -ne 0 ]; then
    echo "run_pipeline: step '$name' failed with exit code $status; later steps did not run." >&2
    exit $status
  fi
}
submit() { spark-submit --properties-file spark-defaults.conf --master "$MASTER" "$@"; }

if [ "$PREDICT_ONLY" = 0 ]; then
  if [ "$SKIP_TESTS" = 0 ]; then
    step "pre-train checks" sparkmlops train "${COMMON[@]}" --dry-run --checks-out "$RUN_DIR/pre_train.json" --master "$MASTER"
    step "pre-train gate" sparkmlops gate "${COMMON[@]}" --stage pre_train --input "$RUN_DIR/pre_train.json"
  fi
  step "train" submit jobs/train.py "${COMMON[@]}" "${TRAIN_EXTRA[@]}"
  [ "$SKIP_TESTS" = 1 ] || step "post-train gate" sparkmlops gate "${COMMON[@]}" --stage post_train
fi
if [ "$TRAIN_ONLY" = 0 ]; then
  step "predict" submit jobs/predict.py "${COMMON[@]}"
  [ "$SKIP_TESTS" = 1 ] || step "post-predict gate" sparkmlops gate "${COMMON[@]}" --stage post_predict
fi
echo "run_pipeline: $USECASE $TEST_MONTH done" >&2
