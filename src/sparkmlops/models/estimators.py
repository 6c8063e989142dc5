"""Spark ML pipelines: the use case's feature stages followed by the estimator its YAML names.

Every estimator reads ``features`` and ``label`` (a double the task derives from the
target: the value for regression, 1/0 for classification) and, with class weighting,
``weight``. Classifiers write Spark's ``probability`` vector; the task turns it into the
``score`` and the thresholded ``prediction`` it evaluates.
"""

from __future__ import annotations

import importlib

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.base import Estimator
from pyspark.sql.types import StructType

from sparkmlops.config import UsecaseConfig
from sparkmlops.features import FEATURES_COLUMN, feature_module
from sparkmlops.tasks.catalog import CLASSIFICATION

LABEL_COLUMN = "label"
WEIGHT_COLUMN = "weight"
PREDICTION_COLUMN = "prediction"
PROBABILITY_COLUMN = "probability"  # classifiers: Spark's vector of class probabilities
SPARK_PREDICTION_COLUMN = "_spark_prediction"  # classifiers' own argmax, replaced by the thresholded one

# YAML model.type -> (module, class)
SPARK_CLASSES = {
    "gbt_regressor": ("pyspark.ml.regression", "GBTRegressor"),
    "random_forest_regressor": ("pyspark.ml.regression", "RandomForestRegressor"),
    "gbt_classifier": ("pyspark.ml.classification", "GBTClassifier"),
    "random_forest_classifier": ("pyspark.ml.classification", "RandomForestClassifier"),
    "logistic_regression": ("pyspark.ml.classification", "LogisticRegression"),
}


def build_estimator(config: UsecaseConfig, weighted: bool = False) -> Estimator:
    """The Spark estimator of ``model.type`` with ``model.params``.

    Args:
        config: the use case.
        weighted: read row weights from ``weight`` (class weighting).
    """
    module, name = SPARK_CLASSES[config.model.type]
    cls = getattr(importlib.import_module(module), name)
    columns = {"featuresCol": FEATURES_COLUMN, "labelCol": LABEL_COLUMN, "predictionCol": PREDICTION_COLUMN}
    if config.task == CLASSIFICATION:
        columns.update(predictionCol=SPARK_PREDICTION_COLUMN, probabilityCol=PROBABILITY_COLUMN, rawPredictionCol="_raw")
    if weighted:
        columns["weightCol"] = WEIGHT_COLUMN
    estimator = cls(**config.model.params.model_dump())
    # Set through the Param API: GBTClassifier has probabilityCol/rawPredictionCol but its
    # constructor does not take them as keywords.
    for name, value in columns.items():
        estimator.set(estimator.getParam(name), value)
    return estimator


def build_pipeline(config: UsecaseConfig, weighted: bool = False) -> Pipeline:
    features = feature_module(config.features.module)
    return Pipeline(stages=[*features.build_stages(config.features.params), build_estimator(config, weighted)])


def feature_names(schema: StructType) -> list[str]:
    """Names of the assembled ``features`` vector, in vector order, from the column's ML metadata.

    VectorAssembler (and the encoders before it) record one attribute per slot, so the
    names follow whatever the fitted feature stages kept, without a pass over the data.
    """
    attrs = schema[FEATURES_COLUMN].metadata.get("ml_attr", {}).get("attrs", {})
    slots = {item["idx"]: item.get("name", f"f{item['idx']}") for group in attrs.values() for item in group}
    return [slots.get(i, f"f{i}") for i in range(len(slots))]


def feature_importance(model: PipelineModel, schema: StructType) -> list[dict]:
    """Importance of each feature, largest first: tree importances, or a linear model's |coefficient|.

    Args:
        model: the fitted pipeline (its last stage is the estimator's model).
        schema: the schema of the model's output (``model.transform(rows).schema``).
    """
    estimator = model.stages[-1]
    if hasattr(estimator, "featureImportances"):
        weights = estimator.featureImportances.toArray()
    elif hasattr(estimator, "coefficients"):
        weights = abs(estimator.coefficients.toArray())  # linear models: |coefficient|
    else:
        return []
    names = feature_names(schema)
    ranked = sorted(zip(names, weights), key=lambda item: -item[1])
    return [{"feature": name, "importance": round(float(weight), 6)} for name, weight in ranked]
