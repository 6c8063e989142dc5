"""The YAML-only tabular features: persistence contract, unseen/null categories, columns dropped
on the training rows, and a cost that does not grow in Spark jobs with the number of columns."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F

from sparkmlops.features import tabular
from sparkmlops.models.estimators import feature_names

SCHEMA = "day timestamp, city string, temp double, wind int, flat double, sparse double, y double"


@pytest.fixture(scope="module")
def rows(spark):
    data = [(f"2023-0{1 + i % 3}-{1 + i % 27:02d} 10:00:00", ["Perth", "Darwin", None][i % 3], 10.0 + i % 7,
             i % 5 if i % 4 else None, 1.0, 2.0 if i % 10 == 0 else None, float(i % 2)) for i in range(60)]
    return spark.createDataFrame(data, "day string, city string, temp double, wind int, flat double, sparse double, y double") \
        .withColumn("day", F.to_timestamp("day"))


def estimator(**overrides):
    params = {"numeric": ["temp", "wind", "flat", "sparse"], "categorical": ["city"],
              "date_parts": {"day": ["month", "dayofweek"]}, "derived": {"temp_x_wind": "temp * wind"}, **overrides}
    return tabular.build_stages(params)[0]


def test_estimator_and_model_round_trip_through_save_and_load(spark, rows, tmp_path):
    features = estimator()
    features.write().overwrite().save(str(tmp_path / "estimator"))
    loaded = tabular.TabularFeatures.load(str(tmp_path / "estimator"))
    assert {p.name: loaded.getOrDefault(p) for p in loaded.params if loaded.isDefined(p)} == \
        {p.name: features.getOrDefault(p) for p in features.params if features.isDefined(p)}
    model = loaded.fit(rows)
    model.write().overwrite().save(str(tmp_path / "model"))
    reloaded = PipelineModel.load(str(tmp_path / "model"))

    def vectors(m):
        return m.transform(rows).select("temp", "day", vector_to_array("features").alias("v"))

    assert_df_equality(vectors(model), vectors(reloaded), ignore_row_order=True)


def test_columns_constant_or_mostly_missing_on_the_training_rows_are_dropped(rows):
    model = estimator(max_missing_share=0.5).fit(rows)
    summary = model.fit_summary
    assert summary["dropped"] == {"flat": "constant on the training rows", "sparse": "missing in 90.0% of training rows"}
    assert summary["numeric"] == ["temp", "wind", "temp_x_wind", "day__month", "day__dayofweek"]
    names = feature_names(model.transform(rows).schema)
    assert names == ["temp__imputed", "wind__imputed", "temp_x_wind__imputed", "day__month__imputed",
                     "day__dayofweek__imputed", "city__index"]


def test_unseen_and_missing_categories_and_missing_numbers_still_score(spark, rows):
    model = estimator().fit(rows)
    new = spark.createDataFrame([("2023-04-02 10:00:00", "Hobart", None, None, 1.0, None, 0.0),
                                 ("2023-04-03 10:00:00", None, 12.0, 3, 1.0, None, 1.0)],
                                "day string, city string, temp double, wind int, flat double, sparse double, y double") \
        .withColumn("day", F.to_timestamp("day"))
    vectors = [row.v for row in model.transform(new).select(vector_to_array("features").alias("v")).collect()]
    known_cities = 2  # Perth, Darwin; index 2 is "unseen or missing"
    assert [v[-1] for v in vectors] == [known_cities, known_cities]
    median_temp = rows.approxQuantile("temp", [0.5], 0.0)[0]
    assert vectors[0][0] == median_temp and vectors[0][3] == 4.0  # the imputed temperature; April


def test_onehot_encoding_names_each_category(rows):
    model = estimator(encoding="onehot").fit(rows)
    names = feature_names(model.transform(rows).schema)
    city = [n for n in names if n.startswith("city")]
    # frequency order of the training rows (Perth and Darwin 20 each: alphabetical), then the "unseen or missing" slot
    assert city[:2] == ["city__onehot_Darwin", "city__onehot_Perth"] and len(city) == 3


def test_every_column_dropped_is_a_clear_error(rows):
    with pytest.raises(ValueError, match="every feature column was dropped"):
        estimator(numeric=["flat", "sparse"], categorical=[], date_parts={}, derived={}).fit(rows)


def _jobs_to_fit(spark, frame, columns: list[str]) -> int:
    group = f"fit-{len(columns)}"
    spark.sparkContext.setJobGroup(group, "count jobs")
    try:
        tabular.build_stages({"numeric": columns})[0].fit(frame)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def test_the_number_of_spark_jobs_does_not_grow_with_the_columns(spark):
    """SECOM has 590 columns: profiling, imputation and assembly are one job each, not one per column
    (150 columns here keep the test quick; the secom benchmark times all 590)."""
    wide = spark.range(40).select(*[(F.col("id") * (i % 7) + (F.col("id") % 3 == 0).cast("int") * i).cast("double")
                                    .alias(f"s{i:03d}") for i in range(150)])
    narrow_jobs = _jobs_to_fit(spark, wide, [f"s{i:03d}" for i in range(10)])
    wide_jobs = _jobs_to_fit(spark, wide, [f"s{i:03d}" for i in range(150)])
    assert wide_jobs == narrow_jobs and wide_jobs <= 6
