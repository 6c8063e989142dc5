"""Drift math on tiny frames against hand-computed values, and the drift step's job count."""

from __future__ import annotations

import math

import pytest

from sparkmlops.config import DriftConfig
from sparkmlops.monitoring.drift import EPSILON, compare, psi
from sparkmlops.monitoring.profile import DriftColumns, build_reference, count_against
from sparkmlops.monitoring.spark_jobs import counted_jobs

SETTINGS = DriftConfig()


def frame(spark, **columns):
    """A frame from equal-length column lists (None: missing)."""
    names = list(columns)
    rows = list(zip(*columns.values()))
    types = ", ".join(f"{n} {'string' if isinstance(next(v for v in columns[n] if v is not None), str) else 'double'}"
                      for n in names)
    return spark.createDataFrame(rows, types)


def drift_of(spark, reference_columns: dict, scored_columns: dict, numeric=(), categorical=(), **settings):
    config = DriftConfig(**settings)
    columns = DriftColumns(tuple(numeric), tuple(categorical))
    reference = build_reference(frame(spark, **reference_columns), columns, None, config.bins, config.max_categories)
    counted = count_against(frame(spark, **scored_columns), reference, list(numeric), list(categorical))
    return reference, compare(reference, counted, config)


def term(expected, actual):
    e, a = max(expected, EPSILON), max(actual, EPSILON)
    return (a - e) * math.log(a / e)


def test_psi_of_identical_shares_is_zero_and_empty_bins_get_epsilon():
    assert psi([0.25, 0.25, 0.5], [0.25, 0.25, 0.5]) == 0
    assert psi([1.0, 0.0], [0.0, 1.0]) == pytest.approx(2 * (1 - EPSILON) * math.log(1 / EPSILON))


def test_identical_distributions_have_zero_psi_and_no_flag(spark):
    values = [float(v) for v in range(100)]
    reference, report = drift_of(spark, {"x": values}, {"x": values}, numeric=["x"])
    assert reference["numeric"]["x"]["cut_points"] == [9.0, 19.0, 29.0, 39.0, 49.0, 59.0, 69.0, 79.0, 89.0]
    assert reference["numeric"]["x"]["shares"] == [pytest.approx(0.1)] * 10
    assert report["psi"] == {"x": 0.0} and report["flagged"] == [] and report["flagged_features"] == 0


def test_shifted_numeric_column_has_the_hand_computed_psi_and_is_flagged(spark):
    _, report = drift_of(spark, {"x": [float(v) for v in range(100)]}, {"x": [float(v) for v in range(50, 150)]},
                         numeric=["x"])
    # bins 0-4 empty, 5-8 keep 10 %, the top bin (> 89) holds 90..149: 60 %
    expected = 5 * term(0.1, 0.0) + 4 * term(0.1, 0.1) + term(0.1, 0.6)
    assert report["psi"]["x"] == pytest.approx(expected, abs=1e-5)
    assert report["features"]["x"]["scored_shares"] == [0, 0, 0, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.6]
    assert report["flagged"] == [{"feature": "x", "kind": "numeric", "reason": "psi", "value": pytest.approx(expected, abs=1e-5),
                                  "threshold": 0.2}]


def test_unseen_categories_and_share_shifts(spark):
    reference, report = drift_of(spark, {"c": ["a"] * 6 + ["b"] * 4}, {"c": ["a"] * 5 + ["b"] * 3 + ["z"] * 2},
                                 categorical=["c"])
    assert reference["categorical"]["c"]["shares"] == {"a": 0.6, "b": 0.4}
    detail = report["categories"]["c"]
    assert detail["unseen_share"] == pytest.approx(0.2) and detail["unseen_values"] == ["z"]
    expected = term(0.6, 0.5) + term(0.4, 0.3) + term(0.0, 0.0) + term(0.0, 0.2)
    assert detail["psi"] == pytest.approx(expected, abs=1e-5)
    assert detail["top_shifts"][0] == {"value": "__unseen__", "train_share": 0.0, "scored_share": 0.2, "change": 0.2}
    values = {f["reason"]: f["value"] for f in report["flagged"]}
    assert values == {"psi": pytest.approx(expected, abs=1e-5), "category_share": 0.2, "unseen_share": 0.2}


def test_rare_categories_beyond_max_categories_are_other_not_unseen(spark):
    reference, report = drift_of(spark, {"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 2}, {"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 2},
                                 categorical=["c"], max_categories=2)
    entry = reference["categorical"]["c"]
    assert entry["shares"] == {"a": 0.5, "b": 0.3} and entry["other_share"] == pytest.approx(0.2)
    assert report["categories"]["c"]["psi"] == 0 and report["categories"]["c"]["unseen_share"] == 0


def test_missing_values_are_their_own_share_and_a_rate_shift_is_flagged(spark):
    reference_values = [None] * 10 + [float(v) for v in range(90)]  # 10 % missing
    scored_values = [None] * 20 + [float("nan")] * 10 + [float(v) for v in range(70)]  # 30 % missing (NaN too)
    reference, report = drift_of(spark, {"x": reference_values}, {"x": scored_values}, numeric=["x"], bins=2)
    assert reference["numeric"]["x"]["missing_rate"] == pytest.approx(0.1)
    assert reference["numeric"]["x"]["shares"] == [pytest.approx(0.5), pytest.approx(0.5)]  # bins over present rows
    assert report["missing_rates"]["x"] == [pytest.approx(0.1), pytest.approx(0.3)]
    assert any(f["reason"] == "missing_rate" and f["value"] == pytest.approx(0.2) for f in report["flagged"])


def test_constant_and_discrete_columns_dedupe_their_cut_points(spark):
    reference, report = drift_of(spark, {"k": [5.0] * 10, "d": [0.0] * 7 + [1.0] * 3},
                                 {"k": [7.0] * 10, "d": [0.0] * 7 + [1.0] * 3}, numeric=["k", "d"])
    assert reference["numeric"]["k"]["cut_points"] == [5.0]
    assert reference["numeric"]["d"]["cut_points"] == [0.0, 1.0]
    assert reference["numeric"]["d"]["shares"] == [pytest.approx(0.7), pytest.approx(0.3), 0.0]
    assert report["psi"]["d"] == 0
    assert report["psi"]["k"] == pytest.approx(term(1.0, 0.0) + term(0.0, 1.0), abs=1e-5)


def test_prediction_shift_is_measured_on_its_own_frame(spark):
    columns = DriftColumns(("x",), ())
    reference_rows = frame(spark, x=[float(v) for v in range(100)], p=[float(v) for v in range(100)])
    reference = build_reference(reference_rows, columns, "p", 10, 50)
    assert reference["prediction"]["cut_points"][0] == 9.0 and reference["rows"] == 100
    counted = count_against(frame(spark, x=[float(v) for v in range(100)]), reference, ["x"], [])
    counted |= count_against(frame(spark, score=[float(v) for v in range(50, 150)]), reference, [], [], prediction="score")
    report = compare(reference, counted, SETTINGS)
    assert report["prediction"]["psi"] > SETTINGS.prediction_psi_threshold and report["psi"]["x"] == 0
    assert [f["reason"] for f in report["flagged"]] == ["prediction_psi"]


def _jobs_for(spark, features: int) -> int:
    names = [f"x{i}" for i in range(features)]
    rows = [tuple(float(r * (i + 1)) for i in range(features)) + (f"c{r % 3}",) for r in range(40)]
    data = spark.createDataFrame(rows, ", ".join(f"{n} double" for n in names) + ", c string")
    columns = DriftColumns(tuple(names), ("c",))
    with counted_jobs(spark, "test") as jobs:
        reference = build_reference(data, columns, None, 10, 50)
        count_against(data, reference, names, ["c"])
    return jobs.jobs


def test_job_count_is_bounded_and_does_not_grow_with_the_features(spark):
    few, many = _jobs_for(spark, 3), _jobs_for(spark, 30)
    assert 0 < few == many <= 10


class _DoublingTask:
    """A task whose model predicts 2·x: enough for measure_at_train."""

    def drift_columns(self):
        return DriftColumns(("x",), ("c",))

    def drift_reference_rows(self, candidate, rows, column):
        from pyspark.sql import functions as F

        return rows.withColumn(column, F.col("x") * 2)

    def drift_prediction_column(self):
        return "prediction"


def test_train_profiles_every_feature_row_and_a_seeded_sample_of_predictions(spark):
    from pyspark.sql import functions as F

    from sparkmlops.monitoring.drift import measure_at_train

    train = spark.range(20_000).select((F.col("id") % 1000).cast("double").alias("x"),
                                       F.when(F.col("id") % 2 == 0, "a").otherwise("b").alias("c"))
    test = train.limit(2_000)
    scored = test.withColumn("prediction", F.col("x") * 2)
    settings = DriftConfig(prediction_reference_rows=2_000)
    runs = [measure_at_train(spark, _DoublingTask(), None, train, test, scored, {"test_month": "2023-01"}, settings,
                             train_row_count=20_000) for _ in range(2)]
    reference, report = runs[0]
    assert reference["numeric"]["x"]["rows"] == 20_000  # features: every row
    prediction = reference["prediction"]
    assert prediction["sampled_fraction"] == pytest.approx(0.1) and 1_500 < prediction["rows"] < 2_500
    assert runs[1][0]["prediction"] == prediction  # seeded: a rerun profiles the same rows
    assert max(prediction["shares"]) < 0.13  # ten quantile bins of 2·x, each near a tenth
    assert report["status"] == "ok" and report["prediction"]["psi"] < 0.05
    full, _ = measure_at_train(spark, _DoublingTask(), None, train, test, scored, {}, settings, train_row_count=1_500)
    assert full["prediction"]["sampled_fraction"] == 1.0 and full["prediction"]["rows"] == 20_000
