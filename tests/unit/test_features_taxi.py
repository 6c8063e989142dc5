from datetime import datetime

import pytest
from chispa import assert_approx_df_equality
from pyspark.ml import Pipeline, PipelineModel

from sparkmlops import config as config_module
from sparkmlops.features import taxi
from sparkmlops.features.taxi_zones import JFK, MANHATTAN_CORE
from sparkmlops.models.estimators import build_pipeline

SCHEMA = (
    "VendorID long, tpep_pickup_datetime timestamp, tpep_dropoff_datetime timestamp, passenger_count double, "
    "trip_distance double, RatecodeID double, PULocationID long, DOLocationID long, payment_type long"
)
MIDTOWN = 161
assert MIDTOWN in MANHATTAN_CORE


@pytest.fixture()
def trips(spark):
    rows = [
        # Friday 17:00, 3 mi in 30 min (6 mph: 15 slow minutes), JFK -> Midtown, card
        (2, datetime(2023, 3, 3, 17, 0), datetime(2023, 3, 3, 17, 30), 1.0, 3.0, 1.0, JFK, MIDTOWN, 1),
        # Sunday 23:00, zero-length trip, unknown zones, nulls
        (1, datetime(2023, 3, 5, 23, 0), datetime(2023, 3, 5, 23, 0), None, 0.0, None, 264, 265, 2),
    ]
    return spark.createDataFrame(rows, SCHEMA)


def test_derived_features_match_the_tariff_rules(spark, trips):
    sql_stage = taxi.build_stages()[0]
    actual = sql_stage.transform(trips).select(
        "f_duration_min", "f_speed_mph", "f_pickup_hour", "f_pickup_weekday", "f_is_night", "f_is_rush_hour",
        "f_pu_jfk", "f_do_manhattan_core", "f_rate_code", "f_passenger_count", "f_tariff_estimate",
    )
    # trip 1: 3.0 + 3.5*3 + 0.7*15 + 1.5 + rush 2.5 + congestion 2.5 + airport fee 1.75 = 32.25
    # trip 2: 3.0 + 1.5 + night 1.0 = 5.5
    expected = spark.createDataFrame(
        [(30.0, 6.0, 17.0, 6.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 32.25), (0.0, 0.0, 23.0, 1.0, 1.0, 0.0, 0.0, 0.0, 99.0, -1.0, 5.5)],
        actual.schema,
    )
    assert_approx_df_equality(actual, expected, precision=1e-6, ignore_nullable=True)


def test_no_feature_reads_a_component_of_the_target(taxi_config):
    forbidden = set(taxi_config.features.forbidden_columns) | {taxi_config.data.target}
    assert not forbidden & set(taxi.input_columns())
    assert not forbidden & set(taxi.feature_columns())
    statement = taxi.build_stages()[0].getStatement()
    assert not [name for name in forbidden if name in statement]


def test_fitted_model_scores_rows_that_have_only_the_input_columns(spark, trips, taxi_config, tmp_path):
    """The saved PipelineModel reproduces its own features and needs no amount column."""
    from pyspark.sql import functions as F

    tiny = config_module.apply_overrides(taxi_config, {"model.params.maxIter": 2, "model.params.maxDepth": 2})
    labelled = trips.withColumn("label", F.lit(20.0)).withColumn("tip_amount", F.lit(3.0))
    model = build_pipeline(tiny).fit(labelled.unionByName(labelled))
    model.write().overwrite().save(str(tmp_path / "model"))
    reloaded = PipelineModel.load(str(tmp_path / "model"))
    scored = reloaded.transform(trips.select(*taxi.input_columns()))
    assert scored.count() == 2 and "prediction" in scored.columns
    assert isinstance(build_pipeline(tiny), Pipeline)
