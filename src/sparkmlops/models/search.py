"""Fitting the pipeline, with the YAML's optional parameter grid search.

The search runs Spark ML's TrainValidationSplit or CrossValidator over the whole pipeline
(features included, so imputation and indexing are learned inside each split) on the rows
it is given — the training window only; the test month never reaches it. The best
parameters are refitted on all those rows (Spark does that), and the whole table of tried
parameters with their validation metric goes to the report.
"""

from __future__ import annotations

from pyspark.ml import PipelineModel
from pyspark.ml.evaluation import BinaryClassificationEvaluator, Evaluator, RegressionEvaluator
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit
from pyspark.sql import DataFrame

from sparkmlops.config import UsecaseConfig
from sparkmlops.models.estimators import LABEL_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN, build_pipeline
from sparkmlops.models.params import SEARCH_METRICS
from sparkmlops.tasks.catalog import CLASSIFICATION


def without_training_summaries(model: PipelineModel) -> PipelineModel:
    """Drop the training summaries Spark keeps on fitted classifiers (logistic regression, forests).

    A summary holds the SparkSession, and the model's probability UDF captures the model:
    once the session has used an ``Observation`` (the taxi generator does), shipping that
    UDF fails with "Task not serializable: ObservationManager". The report never reads the
    summaries, and a model loaded from disk has none either.
    """
    from pyspark import SparkContext

    for stage in model.stages:
        if getattr(stage, "hasSummary", False):
            stage._java_obj.setSummary(SparkContext._jvm.scala.Option.empty())  # setSummary is private[ml] in Scala only
    return model


def search_metric(config: UsecaseConfig) -> str:
    """The metric the search optimises: ``model.search.metric``, else the first promotion metric it can use."""
    usable = SEARCH_METRICS[config.task]
    chosen = config.model.search.metric if config.model.search else None
    return chosen or next((m for m in config.evaluation.metrics if m in usable), next(iter(usable)))


def _evaluator(config: UsecaseConfig, metric: str) -> Evaluator:
    spark_name = SEARCH_METRICS[config.task][metric]
    if config.task == CLASSIFICATION:
        return BinaryClassificationEvaluator(rawPredictionCol=PROBABILITY_COLUMN, labelCol=LABEL_COLUMN, metricName=spark_name)
    return RegressionEvaluator(predictionCol=PREDICTION_COLUMN, labelCol=LABEL_COLUMN, metricName=spark_name)


def fit(config: UsecaseConfig, rows: DataFrame, weighted: bool = False) -> tuple[PipelineModel, dict | None]:
    """Fit the use case's pipeline on ``rows``; with ``model.search``, search the grid first.

    Returns:
        The fitted pipeline and the search summary (None without a search): method,
        metric, best parameters and one row per tried combination.
    """
    pipeline = build_pipeline(config, weighted)
    search = config.model.search
    if search is None:
        return without_training_summaries(pipeline.fit(rows)), None
    estimator = pipeline.getStages()[-1]
    builder = ParamGridBuilder()
    for name, values in search.grid.items():
        builder.addGrid(estimator.getParam(name), values)
    grid = builder.build()
    metric = search_metric(config)
    evaluator = _evaluator(config, metric)
    common = {"estimator": pipeline, "estimatorParamMaps": grid, "evaluator": evaluator,
              "parallelism": search.parallelism, "seed": search.seed}
    if search.method == "cross_validation":
        fitted = CrossValidator(numFolds=search.folds, **common).fit(rows)
        scores = list(fitted.avgMetrics)
    else:
        fitted = TrainValidationSplit(trainRatio=search.train_ratio, **common).fit(rows)
        scores = list(fitted.validationMetrics)
    table = [{"params": {param.name: value for param, value in combo.items()}, metric: float(score)}
             for combo, score in zip(grid, scores)]
    best = (max if evaluator.isLargerBetter() else min)(range(len(scores)), key=scores.__getitem__)
    summary = {
        "method": search.method, "metric": metric, "higher_is_better": evaluator.isLargerBetter(),
        "folds" if search.method == "cross_validation" else "train_ratio":
            search.folds if search.method == "cross_validation" else search.train_ratio,
        "best_params": table[best]["params"], "best_" + metric: table[best][metric], "table": table,
    }
    return without_training_summaries(fitted.bestModel), summary


