"""The drift reference profile saved next to a model, inside its registry folder.

It sits in the model folder (like the model's metadata file), so the registry archives and
copies it with the model and knows nothing about it; a model saved before drift monitoring
has none, and :func:`load` says so with None.
"""

from __future__ import annotations

import json

from pyspark.sql import SparkSession

from sparkmlops import lake

REFERENCE_FILE = "drift_reference.json"


def _uri(model_path: str) -> str:
    return f"{model_path.rstrip('/')}/{REFERENCE_FILE}"


def save(spark: SparkSession, model_path: str, reference: dict) -> None:
    lake.write_text(spark, _uri(model_path), json.dumps(reference, default=str))


def load(spark: SparkSession, model_path: str) -> dict | None:
    uri = _uri(model_path)
    return json.loads(lake.read_text(spark, uri)) if lake.exists(spark, uri) else None
