#!/usr/bin/env bash
# Monthly entry point for cron and Airflow's BashOperator:
#   pre-train gate -> train (spark-submit) -> post-train gate (promotion is decided in
#   train with the same thresholds) -> predict (spark-submit) -> post-predict gate
#   -> HTML report (reports/<usecase>/<month>/report.html and reports/index.html).
# Stops at the first failure with its exit code (2 usage, 3 data, 4 gate, 5 policy, 1 other);
# the HTML report is still rendered then, so the failed month shows with its warning.
#
#   ./run_pipeline.sh --usecase taxi_fare --test-month 2023-06 [--train-months a,b,c]
#       [--skip-missing] [--train-only | --predict-only] [--force] [--skip-tests]
#       [--master URL] [--data-base-path P] [--model-registry-path P] [--reports-dir P]
#       [--config FILE] [--log-format json] [--tracking-uri URI | --no-tracking]
#       [--conf SPARK_KEY=VALUE ...]
# Each step writes runs/<usecase>/<month>/<step>.result.json; the pipeline's outcome is
# runs/<usecase>/<month>/result.json (status success|failed, failed step, exit code).
# SPARKMLOPS_RUNS_DIR moves runs/ elsewhere (default: runs/ in this checkout).
# Environment: SPARKMLOPS_VENV (default ./.venv), SPARK_SUBMIT (default: the venv's
# spark-submit), MINIO_ENDPOINT / MINIO_ACCESS_KEY / MINIO_SECRET_KEY for s3a:// lakes,
# MLFLOW_TRACKING_URI / SPARKMLOPS_TRACKING=off for MLflow tracking.
set -uo pipefail
cd "$(dirname "$0")"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
USECASE="" TEST_MONTH="" MASTER="local[*]" TRAIN_ONLY=0 PREDICT_ONLY=0 SKIP_TESTS=0
COMMON=() TRAIN_EXTRA=() SUBMIT_CONF=()
while [ $# -gt 0 ]; do
  case "$1" in
    --usecase) USECASE=$2; shift 2 ;;
    --test-month) TEST_MONTH=$2; shift 2 ;;
    --master) MASTER=$2; shift 2 ;;
    --train-months|--data-base-path|--model-registry-path|--reports-dir|--config|--log-format|--tracking-uri)
      COMMON+=("$1" "$2"); shift 2 ;;
    --skip-missing|--no-tracking) COMMON+=("$1"); shift ;;
    --force) TRAIN_EXTRA+=("--force"); shift ;;
    --train-only) TRAIN_ONLY=1; shift ;;
    --predict-only) PREDICT_ONLY=1; shift ;;
    --skip-tests) SKIP_TESTS=1; shift ;;
    --conf) SUBMIT_CONF+=(--conf "$2"); shift 2 ;;
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
RUN_DIR="${SPARKMLOPS_RUNS_DIR:-runs}/$USECASE/$TEST_MONTH"; mkdir -p "$RUN_DIR"
RESULT="$RUN_DIR/result.json" CURRENT_STEP="setup"
rm -f "$RESULT" "$RUN_DIR"/*.result.json

finish() {  # the pipeline's own marker, written whatever happened (also on a kill by cron's timeout)
  local status=$?
  if [ $status -ne 0 ] && [ "$CURRENT_STEP" != "html report" ] && [ "$CURRENT_STEP" != "setup" ]; then
    # best effort: the page shows the failed month; the run keeps its own exit code
    sparkmlops report html "${COMMON[@]}" >/dev/null 2>&1 \
      || echo "run_pipeline: the HTML report could not be rendered after the failure; run 'sparkmlops report html --usecase $USECASE' to see why." >&2
  fi
  local outcome=success; [ $status -eq 0 ] || outcome=failed
  printf '{"status": "%s", "exit_code": %d, "failed_step": %s, "usecase": "%s", "test_month": "%s", "master": "%s", "finished_at": "%s"}\n' \
    "$outcome" "$status" "$([ $status -eq 0 ] && echo null || echo "\"$CURRENT_STEP\"")" "$USECASE" "$TEST_MONTH" "$MASTER" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$RESULT.tmp" && mv "$RESULT.tmp" "$RESULT"
}
trap finish EXIT

step() {  # step NAME COMMAND...: run with a result marker; stop the pipeline on failure
  local name=$1; shift
  local marker="$RUN_DIR/${name// /_}.result.json"
  CURRENT_STEP=$name
  echo "== $name" >&2
  "$@" --result-file "$marker"; local status=$?
  if [ $status -eq 0 ] && ! grep -q '"status": "success"' "$marker" 2>/dev/null; then
    # spark-submit said 0 but the job did not record success (e.g. the driver died on a cluster)
    status=$(sed -n 's/.*"exit_code": \([0-9]*\).*/\1/p' "$marker" 2>/dev/null); status=${status:-1}
    [ "$status" -ne 0 ] || status=1
    echo "run_pipeline: step '$name' exited 0 but its result marker $marker does not say success." >&2
  fi
  if [ $status -ne 0 ]; then
    echo "run_pipeline: step '$name' failed with exit code $status; later steps did not run." >&2
    exit $status
  fi
}

# The S3A connector is part of the venv's Spark (scripts/setup.sh). On a standalone cluster
# the executors get the package as a wheel on --py-files (the standard way, also right for
# workers on other hosts) and this venv's python.
SUBMIT_ARGS=(--properties-file spark-defaults.conf --master "$MASTER" --conf "spark.pyspark.python=$VENV/bin/python")
if [[ "$MASTER" == spark://* ]]; then
  CURRENT_STEP="package"
  WHEEL=$(bash scripts/build_wheel.sh) || exit 1
  SUBMIT_ARGS+=(--py-files "$WHEEL")
fi
submit() { "${SPARK_SUBMIT:-spark-submit}" "${SUBMIT_ARGS[@]}" "${SUBMIT_CONF[@]}" "$@"; }

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
step "html report" sparkmlops report html "${COMMON[@]}"
echo "run_pipeline: $USECASE $TEST_MONTH done" >&2
