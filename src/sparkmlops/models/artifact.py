"""A trained model as the registry stores it: the Spark PipelineModel plus its metadata.

The metadata (e.g. a classifier's tuned decision threshold, the class weights, the grid
search's best parameters) is a small JSON file inside the model folder, next to Spark's
own ``metadata/`` and ``stages/``; PipelineModel.load ignores it. Keeping it next to the
model, not in a PipelineModel subclass (which loads back as a plain PipelineModel), means
whoever loads the model gets the threshold it was tuned with. The registry only copies
folders and knows no estimator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from sparkmlops import lake

METADATA_FILE = "sparkmlops_model.json"


@dataclass(frozen=True)
class ModelArtifact:
    model: PipelineModel
    metadata: dict = field(default_factory=dict)

    def save(self, spark: SparkSession, path: str) -> None:
        """Write the pipeline, then the metadata file into the same folder."""
        self.model.write().overwrite().save(path)
        lake.write_text(spark, f"{path.rstrip('/')}/{METADATA_FILE}", json.dumps(self.metadata, indent=2, default=str))

    @classmethod
    def load(cls, spark: SparkSession, path: str) -> ModelArtifact:
        """Load a saved artifact; a model saved before metadata existed gets ``{}``."""
        model = PipelineModel.load(path)
        metadata_uri = f"{path.rstrip('/')}/{METADATA_FILE}"
        metadata = json.loads(lake.read_text(spark, metadata_uri)) if lake.exists(spark, metadata_uri) else {}
        return cls(model, metadata)
