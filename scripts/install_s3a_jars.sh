#!/usr/bin/env bash
# Put the S3A connector jars (hadoop-aws + AWS SDK bundle) into .jars/ (git-ignored).
# Maven Central is not reachable from these machines, so the jars come from the one
# package-registry source that ships them: the PyPI sdist of sagemaker-pyspark 1.4.5
# (hadoop-aws 3.3.1 + aws-java-sdk-bundle 1.11.901). They work with pyspark 4.1.1's
# Hadoop 3.4.2 client given the numeric fs.s3a.* settings in spark-defaults.conf.
# Idempotent: does nothing when both jars are present.
set -euo pipefail
cd "$(dirname "$0")/.."
JAR_DIR=${SPARKMLOPS_JARS_DIR:-$PWD/.jars}
JARS=(hadoop-aws-3.3.1.jar aws-java-sdk-bundle-1.11.901.jar)
missing=0
for jar in "${JARS[@]}"; do [ -s "$JAR_DIR/$jar" ] || missing=1; done
[ "$missing" = 0 ] && exit 0
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "installing S3A jars into $JAR_DIR (from the PyPI sdist sagemaker-pyspark==1.4.5, ~180 MB)" >&2
if ! "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: --dest "$tmp" sagemaker-pyspark==1.4.5; then
  echo "error: could not download sagemaker-pyspark==1.4.5 from the package index. The S3A jars come from that sdist; check the pip index settings (PIP_INDEX_URL) or copy hadoop-aws-3.3.1.jar and aws-java-sdk-bundle-1.11.901.jar into $JAR_DIR by hand." >&2
  exit 1
fi
mkdir -p "$JAR_DIR"
for jar in "${JARS[@]}"; do
  tar -xzf "$tmp"/sagemaker_pyspark-1.4.5.tar.gz -C "$tmp" --wildcards "*/deps/jars/$jar"
  find "$tmp" -name "$jar" -exec mv {} "$JAR_DIR/$jar" \;
  [ -s "$JAR_DIR/$jar" ] || { echo "error: $jar was not in the sdist; the package layout changed. Put the jar into $JAR_DIR by hand." >&2; exit 1; }
done
ls -l "$JAR_DIR" >&2
