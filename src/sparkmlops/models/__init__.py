"""Model building: the use case's feature stages followed by its estimator."""

from __future__ import annotations

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.regression import GBTRegressionModel, GBTRegressor

from sparkmlops.config import UsecaseConfig
from sparkmlops.features import FEATURES_COLUMN, feature_module

PREDICTION_COLUMN = "prediction"


def build_estimator(config: UsecaseConfig) -> GBTRegressor:
    params = config.model.params
    return GBTRegressor(
        featuresCol=FEATURES_COLUMN,
        labelCol=config.data.target,
        predictionCol=PREDICTION_COLUMN,
        **params.model_dump(),
    )


def build_pipeline(config: UsecaseConfig) -> Pipeline:
    features = feature_module(config.features.module)
    return Pipeline(stages=[*features.build_stages(config.features.params), build_estimator(config)])


def feature_importance(model: PipelineModel, config: UsecaseConfig) -> list[dict]:
    """Feature importances of the fitted trees, largest first, named by feature."""
    estimator = model.stages[-1]
    if not isinstance(estimator, GBTRegressionModel):
        return []
    names = feature_module(config.features.module).feature_columns(config.features.params)
    weights = estimator.featureImportances.toArray()
    ranked = sorted(zip(names, weights), key=lambda item: -item[1])
    return [{"feature": name, "importance": round(float(weight), 6)} for name, weight in ranked]
