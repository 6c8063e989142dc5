"""Config checks that depend on the task: metric names, estimators and their parameters, labels, features."""

from __future__ import annotations

import copy

import pytest
import yaml

from sparkmlops import config
from sparkmlops.errors import UsageError
from tests.support.configs import REPO


def shipped(name: str) -> dict:
    return yaml.safe_load((REPO / f"conf/usecases/{name}.yaml").read_text())


def invalid(raw: dict) -> str:
    with pytest.raises(UsageError) as caught:
        config.validate(raw, "test.yaml")
    return str(caught.value)


@pytest.mark.parametrize("name", ["taxi_fare", "outage_duration", "rain_tomorrow", "secom_defect"])
def test_shipped_use_cases_load(name):
    loaded = config.load(name)
    assert loaded.usecase == name and loaded.model.task == loaded.task


def test_wide_column_ranges_expand():
    loaded = config.load("secom_defect")
    sensors = [name for name in loaded.data.columns if name.startswith("sensor_")]
    assert len(sensors) == 590 and sensors[0] == "sensor_000" and sensors[-1] == "sensor_589"
    assert config.expand_names(["a{8..11}", "b"]) == ["a8", "a9", "a10", "a11", "b"]


def test_a_metric_of_another_task_is_refused_with_the_allowed_ones():
    raw = shipped("rain_tomorrow")
    raw["evaluation"]["metrics"] = ["roc_auc", "rmse", "f1"]
    message = invalid(raw)
    assert "evaluation.metrics names rmse, not a metric of task classification" in message
    assert "roc_auc, pr_auc, f1" in message


def test_an_unknown_estimator_names_the_known_ones():
    raw = shipped("rain_tomorrow")
    raw["model"]["type"] = "xgboost"
    message = invalid(raw)
    assert "key 'model.type' is 'xgboost', not a known estimator" in message and "random_forest_classifier" in message


def test_an_estimator_of_the_other_task_is_refused():
    raw = shipped("rain_tomorrow")
    raw["model"] = {"type": "gbt_regressor"}
    assert "model.type gbt_regressor is a regression estimator, but task is classification" in invalid(raw)


def test_estimator_parameters_are_typed_and_bounded():
    raw = shipped("rain_tomorrow")
    raw["model"]["params"]["numTrees"] = 0
    assert "key 'model.params.numTrees': Input should be greater than or equal to 1" in invalid(raw)
    raw = shipped("rain_tomorrow")
    raw["model"]["params"]["maxIter"] = 10  # a GBT parameter, not a random forest's
    assert "key 'model.params.maxIter' is not a known key" in invalid(raw)


def test_the_search_grid_must_fit_the_estimator():
    raw = shipped("outage_duration")
    raw["model"]["search"]["grid"] = {"numTrees": [10, 20]}
    assert "model.search.grid names ['numTrees'], not parameters of gbt_regressor" in invalid(raw)
    raw = shipped("outage_duration")
    raw["model"]["search"]["grid"] = {"maxDepth": [3, 0]}
    assert "maxDepth" in invalid(raw)
    raw = shipped("outage_duration")
    raw["model"]["search"]["metric"] = "roc_auc"
    assert "cannot drive a regression search" in invalid(raw)


def test_classification_needs_its_labels_and_numeric_labels_for_a_numeric_target():
    raw = shipped("secom_defect")
    del raw["data"]["labels"]
    assert "needs data.labels" in invalid(raw)
    raw = shipped("secom_defect")
    raw["data"]["labels"] = {"positive": "fail", "negative": "pass"}
    assert "data.labels must be numbers because the target label is a int column" in invalid(raw)


def test_tabular_features_must_name_existing_columns_and_never_the_target():
    raw = shipped("rain_tomorrow")
    raw["features"]["params"]["numeric"].append("Snowfall")
    assert "features.params names Snowfall, not in data.columns" in invalid(raw)
    raw = shipped("rain_tomorrow")
    raw["features"]["params"]["categorical"].append("RainTomorrow")
    assert "uses the target or a forbidden column: RainTomorrow" in invalid(raw)
    raw = shipped("rain_tomorrow")
    raw["features"]["params"]["derived"]["sneaky"] = "CASE WHEN RainTomorrow = 'Yes' THEN 1 ELSE 0 END"
    assert "sneaky (derived)" in invalid(raw)
    raw = shipped("rain_tomorrow")
    raw["features"]["module"] = "nope"
    assert "features.module 'nope' is not a feature module; available: tabular, taxi" in invalid(raw)


def test_classification_only_options_are_refused_for_regression():
    raw = copy.deepcopy(shipped("outage_duration"))
    raw["model"]["class_weight"] = "balanced"
    assert "apply to classification only" in invalid(raw)
