#!/usr/bin/env bash
# Quick start 2: set up, then run the whole test suite. Non-zero on any failure,
# including "no tests collected" (pytest exit 5).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit $?  # also installs the S3A connector the S3 lake tests need
export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$PWD/.venv/bin/python"
# Two workers, one test file each at a time (--dist loadfile keeps a file's module
# fixtures in one process): the integration tests wait on JVM starts and subprocesses
# for much of their time. SPARKMLOPS_TEST_WORKERS=0 runs everything in this process.
.venv/bin/python -m pytest -n "${SPARKMLOPS_TEST_WORKERS:-2}" --dist loadfile "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests; treating that as a failure." >&2
  exit 1
fi
exit "$status"
