#!/usr/bin/env bash
# Create .venv and install sparkmlops with pinned dependencies (idempotent: reinstalls
# only when pyproject.toml changed). Needs Python 3.11 and Java 17 on PATH.
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
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip wheel
  .venv/bin/python -m pip install --quiet -e ".[dev,s3]"
  rm -f .venv/.installed-*; touch "$stamp"
fi
