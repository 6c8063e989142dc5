"""What the generator tests share: a config pointed at a test lake, the months read back as
the pipeline reads them, and the checks every generator's written months must pass."""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from sparkmlops import lake

#: YAML column type -> the type Spark reports for the written Parquet column
SPARK_TYPES = {"string": "string", "timestamp": "timestamp", "int": "int", "double": "double", "long": "bigint",
               "boolean": "boolean"}


def with_base(config, base):
    """The use case's config with its lake at ``base``."""
    return config.model_copy(update={"data": config.data.model_copy(update={"base_path": str(base)})})


def read_back(spark: SparkSession, config, base: Path, months: list[str]) -> DataFrame:
    """The months as the pipeline reads them (canonical names, ``_lake_month``)."""
    return lake.read_months(spark, str(base), months, config.data.columns, config.data.column_aliases)[0]


def written_months(spark: SparkSession, base: Path, columns: dict[str, str], result: dict, usecase: str,
                   months: list[str]) -> dict[str, tuple[DataFrame, dict]]:
    """Check what every generator must write; return each month's Parquet and manifest.

    The result names the use case and the months; each month folder has ``_SUCCESS``,
    the YAML's columns with their types, and a manifest equal to the one returned.
    """
    assert result["usecase"] == usecase and list(result["months"]) == months
    assert lake.list_months(spark, str(base)) == months
    written = {}
    for month in months:
        year, mm = month.split("-")
        assert (base / year / mm / lake.SUCCESS_MARKER).exists()
        frame = spark.read.parquet(lake.month_uri(str(base), month))
        assert frame.dtypes == [(name, SPARK_TYPES[kind]) for name, kind in columns.items()]
        manifest = json.loads((base / "_manifests" / f"{month}.json").read_text())
        assert manifest == result["months"][month]
        written[month] = (frame, manifest)
    return written
