"""A trained model as the registry stores it: the Spark PipelineModel (or, for per-series
forecasting, a table of per-series parameters and state) plus its metadata.

The metadata (e.g. a classifier's tuned decision threshold, the class weights, the grid
search's best parameters) is a small JSON file inside the model folder, next to Spark's
own ``metadata/`` and ``stages/``; PipelineModel.load ignores it. Keeping it next to the
model, not in a PipelineModel subclass (which loads back as a plain PipelineModel), means
whoever loads the model gets the threshold it was tuned with. A per-series model is a
DataFrame saved as Parquet under ``series/``; the metadata's ``artifact_kind`` says which
of the two a folder holds. The registry only copies folders and knows no estimator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession

from sparkmlops import lake

METADATA_FILE = "sparkmlops_model.json"
SERIES_FOLDER = "series"
PIPELINE, SERIES_TABLE = "spark_pipeline", "series_table"


@dataclass(frozen=True)
class ModelArtifact:
    model: Any  # a PipelineModel, or a DataFrame with one row of parameters and state per series
    metadata: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return SERIES_TABLE if isinstance(self.model, DataFrame) else PIPELINE

    def save(self, spark: SparkSession, path: str) -> None:
        """Write the model, then the metadata file into the same folder."""
        root = path.rstrip("/")
        if self.kind == SERIES_TABLE:
            self.model.write.mode("overwrite").parquet(f"{root}/{SERIES_FOLDER}")
        else:
            self.model.write().overwrite().save(path)
        metadata = {**self.metadata, "artifact_kind": self.kind}
        lake.write_text(spark, f"{root}/{METADATA_FILE}", json.dumps(metadata, indent=2, default=str))

    @classmethod
    def load(cls, spark: SparkSession, path: str) -> ModelArtifact:
        """Load a saved artifact; a model saved before metadata existed gets ``{}``."""
        root = path.rstrip("/")
        metadata_uri = f"{root}/{METADATA_FILE}"
        metadata = json.loads(lake.read_text(spark, metadata_uri)) if lake.exists(spark, metadata_uri) else {}
        if metadata.get("artifact_kind") == SERIES_TABLE:
            return cls(spark.read.parquet(f"{root}/{SERIES_FOLDER}"), metadata)
        return cls(PipelineModel.load(path), metadata)
