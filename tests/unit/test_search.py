"""The YAML's grid search: every combination tried on the training rows, the best refitted, the table reported."""

from __future__ import annotations

import pytest
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F

from sparkmlops import config
from sparkmlops.models import search
from sparkmlops.models.estimators import PREDICTION_COLUMN, PROBABILITY_COLUMN, SPARK_CLASSES, WEIGHT_COLUMN
from sparkmlops.tasks import get_task
from tests.support import churn


@pytest.fixture(scope="module")
def rows(spark, tmp_path_factory):
    table = churn.month_table("2023-01", rows=300)
    table["event_time"] = table["event_time"].astype("datetime64[us]")
    frame = spark.createDataFrame(table)
    return frame.withColumn("tenure_months", F.col("tenure_months").cast("int")).withColumn(
        "support_tickets", F.col("support_tickets").cast("int"))


def churn_config(tmp_path, model: dict):
    raw = churn.churn_yaml(tmp_path)
    raw["model"] = model
    raw["features"]["params"]["encoding"] = "index"
    return config.validate(raw, "test.yaml")


@pytest.mark.parametrize(("method", "grid"), [
    ("train_validation_split", {"maxDepth": [1, 3], "numTrees": [3, 6]}),
    ("cross_validation", {"maxDepth": [1, 3], "numTrees": [4]}),
])
def test_every_combination_is_tried_and_the_best_is_kept(rows, tmp_path, method, grid):
    cfg = churn_config(tmp_path, {"type": "random_forest_classifier", "params": {"seed": 1},
                                  "search": {"method": method, "grid": grid, "folds": 2, "parallelism": 2}})
    labelled = get_task(cfg).with_label(rows)
    model, summary = search.fit(cfg, labelled)
    assert summary["method"] == method and summary["metric"] == "roc_auc" and summary["higher_is_better"] is True
    tried = [entry["params"] for entry in summary["table"]]
    assert sorted((p["maxDepth"], p["numTrees"]) for p in tried) == sorted(
        (depth, trees) for depth in grid["maxDepth"] for trees in grid["numTrees"])
    best = max(summary["table"], key=lambda entry: entry["roc_auc"])
    assert summary["best_params"] == best["params"] and summary["best_roc_auc"] == best["roc_auc"]
    forest = model.stages[-1]
    assert forest.getOrDefault("maxDepth") == best["params"]["maxDepth"]
    assert forest.getNumTrees == best["params"]["numTrees"]


def test_a_regression_search_minimises_its_error(rows, tmp_path):
    raw = churn.churn_yaml(tmp_path)
    raw.update(task="regression", model={"type": "gbt_regressor", "params": {"maxIter": 5},
                                         "search": {"grid": {"maxDepth": [1, 2]}, "metric": "mae"}})
    raw["data"].pop("labels")
    raw["data"]["target"] = "monthly_spend"
    raw["features"]["params"]["numeric"] = ["tenure_months", "support_tickets"]
    raw["features"]["params"]["derived"] = {}
    raw["evaluation"] = {"metrics": ["rmse", "mae", "r2"]}
    raw["gates"] = {}
    cfg = config.validate(raw, "test.yaml")
    labelled = get_task(cfg).with_label(rows).filter(F.col("label").isNotNull())
    _, summary = search.fit(cfg, labelled)
    assert summary["metric"] == "mae" and summary["higher_is_better"] is False
    assert summary["best_mae"] == min(entry["mae"] for entry in summary["table"])


@pytest.mark.parametrize("estimator", ["LogisticRegression", "RandomForestClassifier"])
def test_fitted_classifiers_score_after_the_session_used_an_observation(spark, estimator):
    """Spark keeps a training summary holding the session; once an Observation was used (the taxi
    generator does) scoring such a model fails with "Task not serializable" unless it is dropped."""
    from pyspark.ml import Pipeline, classification
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import Observation

    frame = spark.range(100).select((F.col("id") % 7).cast("double").alias("x"), (F.col("id") % 2).cast("double").alias("label"))
    observation = Observation()
    frame.observe(observation, F.count(F.lit(1)).alias("n")).count()
    assert observation.get["n"] == 100
    fitted = Pipeline(stages=[VectorAssembler(inputCols=["x"], outputCol="features"),
                              getattr(classification, estimator)()]).fit(frame)
    with pytest.raises(Exception, match="not serializable"):
        fitted.transform(frame).select(vector_to_array("probability")[1]).collect()
    cleaned = search.without_training_summaries(fitted)
    assert not cleaned.stages[-1].hasSummary
    assert len(cleaned.transform(frame).select(vector_to_array("probability")[1]).collect()) == 100


@pytest.mark.parametrize("estimator", sorted(SPARK_CLASSES))
def test_every_estimator_of_the_catalog_fits_and_scores(rows, tmp_path, estimator):
    """Each YAML model.type builds with the task's columns (GBTClassifier's constructor takes
    no probabilityCol: a keyword build failed there), fits weighted rows and scores them."""
    raw = churn.churn_yaml(tmp_path)
    raw["features"]["params"]["encoding"] = "index"
    if estimator.endswith("regressor"):
        raw.update(task="regression", evaluation={"metrics": ["rmse", "mae", "r2"]}, gates={})
        raw["data"].pop("labels")
        raw["data"]["target"] = "monthly_spend"
        raw["features"]["params"]["numeric"] = ["tenure_months", "support_tickets"]
        raw["features"]["params"]["derived"] = {}
    raw["model"] = {"type": estimator}
    cfg = config.validate(raw, "test.yaml")
    labelled = get_task(cfg).with_label(rows).filter(F.col("label").isNotNull()).withColumn(
        WEIGHT_COLUMN, F.when(F.col("label") == 1.0, 3.0).otherwise(1.0))
    model, _ = search.fit(cfg, labelled, weighted=True)
    assert model.stages[-1].getOrDefault("weightCol") == WEIGHT_COLUMN
    scored = model.transform(labelled)
    if cfg.task == "classification":
        low, high = scored.select(F.min(vector_to_array(PROBABILITY_COLUMN)[1]), F.max(vector_to_array(PROBABILITY_COLUMN)[1])).first()
        assert 0 <= low < high <= 1
    else:
        assert scored.select(F.count(F.col(PREDICTION_COLUMN))).first()[0] == labelled.count()
