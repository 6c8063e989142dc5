#!/usr/bin/env bash
# Create .venv, install sparkmlops with pinned dependencies, and complete the venv's Spark:
# the S3A connector jars and the project's spark-defaults.conf + log4j2.properties go into
# pyspark's own jars/ and conf/ (python -m sparkmlops.spark_install), so a bare
# spark-submit, the pyspark shell and the local cluster read s3a:// with no extra flags.
# Idempotent: pip runs only when pyproject.toml or the extras below changed; jars and
# settings already in place are left alone. Needs Python 3.11 and Java 17 on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "error: sparkmlops needs Python 3.11 (found $("$PYTHON" --version 2>&1)). Install it, or set PYTHON=/path/to/python3.11." >&2
  exit 2
fi
if ! java -version 2>&1 | grep -q 'version "17'; then
  echo "error: Spark 4.1 here needs Java 17 on PATH (java -version: $(java -version 2>&1 | head -1)). Install OpenJDK 17 or set JAVA_HOME/PATH." >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
extras="dev,s3,tracking,dashboard"
# The stamp covers the extras too, so adding one here reinstalls like a pyproject change.
stamp=".venv/.installed-$( (cat pyproject.toml; echo "$extras") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip wheel
  .venv/bin/python -m pip install --quiet -e ".[$extras]"
  rm -f .venv/.installed-*; touch "$stamp"
fi
# A missing connector only matters for s3a:// lakes: say so loudly, but let local runs go on.
.venv/bin/python -m sparkmlops.spark_install --defaults spark-defaults.conf --log4j conf/log4j2.properties \
  || echo "warning: continuing without the S3A connector; local-folder lakes work, s3a:// lakes will fail until setup succeeds." >&2
