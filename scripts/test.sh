#!/usr/bin/env bash
# Quick start 2: set up, then run the whole test suite. Non-zero on any failure,
# including "no tests collected" (pytest exit 5).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit $?  # also installs the S3A connector the S3 lake tests need
# The browser tests drive Debian's Chromium (tests/support/browser.py); playwright never
# downloads one. CI runs as root on a clean machine: install it there (about 30 s).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: the browser tests need Debian's Chromium at /usr/bin/chromium, which is missing, and only root can install it here. Run 'sudo apt-get install chromium' (or run this script as root, which installs it), then run scripts/test.sh again." >&2
    exit 2
  fi
  mkdir -p runs
  echo "installing chromium with apt-get for the browser tests (log: runs/apt-chromium.log)"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >runs/apt-chromium.log 2>&1; then
    echo "error: apt-get could not install chromium, which the browser tests need (see runs/apt-chromium.log for why). Check that Debian's package mirror is reachable, then run scripts/test.sh again." >&2
    exit 2
  fi
fi
export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$PWD/.venv/bin/python"
# Three workers, one test file each at a time (--dist loadfile keeps a file's module
# fixtures in one process): the integration tests wait on JVM starts and subprocesses
# for much of their time. Files are handed out in collection order (--no-loadscope-reorder),
# which tests/conftest.py starts with the longest files. SPARKMLOPS_TEST_WORKERS=0 runs
# everything in this process.
.venv/bin/python -m pytest -n "${SPARKMLOPS_TEST_WORKERS:-3}" --dist loadfile --no-loadscope-reorder "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests; treating that as a failure." >&2
  exit 1
fi
exit "$status"
