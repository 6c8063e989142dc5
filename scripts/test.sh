#!/usr/bin/env bash
# Quick start 2: set up, then run the whole test suite. Non-zero on any failure,
# including "no tests collected" (pytest exit 5).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit $?  # also installs the S3A connector the S3 lake tests need
export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$PWD/.venv/bin/python"
.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests; treating that as a failure." >&2
  exit 1
fi
exit "$status"
