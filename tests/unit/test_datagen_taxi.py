"""The taxi generator: layout, real schema, determinism, quirks, tariff and noise floor.

Expectations come from the specification (DATA_FACTS section 1 and the generator's
stated rates), recomputed from the written rows; nothing compares with stored results.
"""

from __future__ import annotations

import json

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sparkmlops import lake, quality
from sparkmlops.datagen import month_range, taxi
from sparkmlops.errors import UsageError
from sparkmlops.features.taxi_zones import JFK, LAGUARDIA, MANHATTAN_CORE, NEWARK
from tests.support.generated import read_back, with_base

ROWS = 20_000
MONTHS = ["2023-01", "2023-02"]
SEED = 11
COMPONENTS = ["fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge",
              "congestion_surcharge", "airport_fee"]
REAL_SCHEMA = [
    ("VendorID", "bigint"), ("tpep_pickup_datetime", "timestamp"), ("tpep_dropoff_datetime", "timestamp"),
    ("passenger_count", "double"), ("trip_distance", "double"), ("RatecodeID", "double"),
    ("store_and_fwd_flag", "string"), ("PULocationID", "bigint"), ("DOLocationID", "bigint"),
    ("payment_type", "bigint"), ("fare_amount", "double"), ("extra", "double"), ("mta_tax", "double"),
    ("tip_amount", "double"), ("tolls_amount", "double"), ("improvement_surcharge", "double"),
    ("total_amount", "double"), ("congestion_surcharge", "double"),
]


@pytest.fixture(scope="module")
def generated(spark, taxi_config, tmp_path_factory):
    base = tmp_path_factory.mktemp("taxi") / "lake"
    config = with_base(taxi_config, base)
    return config, base, taxi.generate(spark, config, MONTHS, ROWS, seed=SEED)


@pytest.fixture(scope="module")
def rows(spark, generated) -> DataFrame:
    """Both months read as the pipeline reads them (canonical names, ``_lake_month``)."""
    config, base, _ = generated
    return read_back(spark, config, base, MONTHS).cache()


@pytest.fixture(scope="module")
def clean(rows, generated) -> DataFrame:
    return quality.apply_rules(rows, generated[0].cleaning.rules).cache()


def test_month_range_accepts_ranges_and_single_months():
    assert month_range("2022-11:2023-02") == ["2022-11", "2022-12", "2023-01", "2023-02"]
    assert month_range("2023-03") == ["2023-03"]
    assert month_range("2023-03:2023-03") == ["2023-03"]


@pytest.mark.parametrize("spec", ["2023-13", "2023-1", "2023-00:2023-02", "2023-01:2023-02:2023-03", "", "2023-01:"])
def test_month_range_rejects_what_is_not_a_month(spec):
    with pytest.raises(UsageError) as error:
        month_range(spec)
    message = str(error.value)
    assert "\n" not in message and "YYYY-MM" in message and "Example" in message


def test_month_range_rejects_a_range_ending_before_it_starts():
    with pytest.raises(UsageError, match="ends before it starts.*--months 2023-01:2023-05"):
        month_range("2023-05:2023-01")


def test_months_land_in_year_month_folders_with_their_manifests(spark, generated):
    config, base, result = generated
    for month in MONTHS:
        year, mm = month.split("-")
        assert list((base / year / mm).glob("*.parquet"))
        written = json.loads((base / "_manifests" / f"{month}.json").read_text())
        assert written == result["months"][month]
        assert written["generator"] == "taxi_fare" and written["month"] == month and written["seed"] == SEED
        assert written["rows"] == ROWS and 0.9 * ROWS < written["clean_rows"] < ROWS
        assert written["noise_sd"] == 0.5 and 0 < written["r2_ceiling"] < 1


def test_schema_is_the_real_one_with_the_fee_spelling_alternating(spark, generated):
    _, base, result = generated
    for month, fee in (("2023-01", "Airport_fee"), ("2023-02", "airport_fee")):
        frame = spark.read.parquet(lake.month_uri(str(base), month))
        assert frame.dtypes == [*REAL_SCHEMA, (fee, "double")]
        assert result["months"][month]["airport_fee_column"] == fee


def test_same_seed_writes_the_same_rows_and_another_seed_does_not(spark, generated, tmp_path):
    config, base, _ = generated
    first = spark.read.parquet(lake.month_uri(str(base), "2023-01"))
    again = with_base(config, tmp_path)
    taxi.generate(spark, again, ["2023-01"], ROWS, seed=SEED)
    second = spark.read.parquet(lake.month_uri(str(tmp_path), "2023-01"))
    # equal sizes and an empty multiset difference: the same rows
    assert second.count() == ROWS and first.exceptAll(second).count() == 0
    taxi.generate(spark, again, ["2023-01"], ROWS, seed=SEED + 1)
    other = spark.read.parquet(lake.month_uri(str(tmp_path), "2023-01"))
    assert other.count() == ROWS and other.exceptAll(first).count() > 0.99 * ROWS


def _near(count: int, rate: float, total: int) -> bool:
    """Count within ~4 binomial standard deviations of rate * total."""
    expected = rate * total
    return abs(count - expected) <= 4 * expected**0.5 + 2


def test_quirks_appear_at_roughly_the_stated_rates(rows, generated):
    _, _, result = generated
    total = ROWS * len(MONTHS)
    pickup, dropoff = F.col("tpep_pickup_datetime"), F.col("tpep_dropoff_datetime")
    measured = rows.agg(
        F.sum(F.col("passenger_count").isNull().cast("int")).alias("null_passenger_block"),
        F.sum((F.col("passenger_count") == 0).cast("int")).alias("zero_passengers"),
        F.sum((F.col("trip_distance") == 0).cast("int")).alias("zero_distance"),
        F.sum((F.col("trip_distance") > 1000).cast("int")).alias("absurd_distance"),
        F.sum((dropoff <= pickup).cast("int")).alias("dropoff_not_after_pickup"),
        F.sum((F.date_format(pickup, "yyyy-MM") != F.col(lake.MONTH_COLUMN)).cast("int")).alias("out_of_month_pickup"),
        F.sum((F.col("fare_amount") < 0).cast("int")).alias("refund"),
        F.sum((F.col("PULocationID").isin(264, 265) | F.col("DOLocationID").isin(264, 265)).cast("int")).alias("unknown_zone"),
        F.sum(F.col("total_amount").isNull().cast("int")).alias("null_total_amount"),
    ).first().asDict()
    for name, rate in taxi.QUIRK_RATES.items():
        assert _near(measured[name], rate, total), (name, measured[name], rate * total)
        # the manifest counts what was done to the rows
        assert sum(result["months"][m]["quirk_counts"][name] for m in MONTHS) == measured[name], name


def test_null_passenger_block_and_refunds_look_like_the_real_files(rows):
    block = rows.filter("passenger_count IS NULL")
    assert block.filter(
        "RatecodeID IS NOT NULL OR store_and_fwd_flag IS NOT NULL OR congestion_surcharge IS NOT NULL "
        "OR airport_fee IS NOT NULL OR payment_type != 0").count() == 0
    refunds = rows.filter("fare_amount < 0")
    positive = " OR ".join(f"{name} > 0" for name in [*COMPONENTS, "total_amount"])
    assert refunds.filter(positive).count() == 0
    assert refunds.filter("mta_tax = -0.5 AND improvement_surcharge = -1.0").count() == refunds.count()
    vendors = {row["VendorID"]: row["count"] for row in rows.groupBy("VendorID").count().collect()}
    assert set(vendors) == {1, 2, 6} and vendors[6] < 0.01 * ROWS * len(MONTHS)


def _in(column: str, zones) -> F.Column:
    return F.col(column).isin(*zones)


def _metered() -> F.Column:
    duration = (F.unix_timestamp("tpep_dropoff_datetime") - F.unix_timestamp("tpep_pickup_datetime")) / 60.0
    distance = F.col("trip_distance")
    return 3.0 + 3.5 * distance + 0.7 * F.greatest(duration - 5.0 * distance, F.lit(0.0))


def _extra() -> F.Column:
    hour = F.hour("tpep_pickup_datetime")
    weekday = F.dayofweek("tpep_pickup_datetime").between(2, 6)
    return (F.when((hour >= 20) | (hour < 6), 1.0).otherwise(0.0)
            + F.when(weekday & (hour >= 16) & (hour < 20), 2.5).otherwise(0.0))


def _congestion() -> F.Column:
    return F.when(_in("PULocationID", MANHATTAN_CORE) | _in("DOLocationID", MANHATTAN_CORE), 2.5).otherwise(0.0)


def _airport_fee() -> F.Column:
    return F.when(_in("PULocationID", (JFK, LAGUARDIA)), 1.75).otherwise(0.0)


def test_clean_rows_follow_the_dec_2022_tariff(clean):
    rate, fare = F.col("RatecodeID"), F.col("fare_amount")
    jfk_core = ((F.col("PULocationID") == JFK) & _in("DOLocationID", MANHATTAN_CORE)) | (
        (F.col("DOLocationID") == JFK) & _in("PULocationID", MANHATTAN_CORE))
    share = F.col("tip_amount") / fare
    broken = clean.filter("payment_type != 0").filter(
        (rate.isin(1.0, 4.0, 6.0) & (F.abs(fare - _metered()) > 1e-6))
        | ((rate == 2.0) & ((fare != 70.0) | ~jfk_core))
        | ((rate == 3.0) & ((F.abs(fare - _metered() - 20.0) > 1e-6) | (F.col("DOLocationID") != NEWARK)))
        | ((rate == 5.0) & ~fare.between(20.0, 120.0))
        | (F.col("extra") != _extra()) | (F.col("congestion_surcharge") != _congestion())
        | (F.col("airport_fee") != _airport_fee()) | (F.col("mta_tax") != 0.5) | (F.col("improvement_surcharge") != 1.0)
        | ~F.col("tolls_amount").isin(0.0, 6.94)
        | ((F.col("payment_type") != 1) & (F.col("tip_amount") != 0))
        | ((F.col("payment_type") == 1) & (share != 0) & ~share.between(0.15 - 1e-9, 0.30 + 1e-9))
    )
    assert broken.count() == 0
    rates = {row["RatecodeID"]: row["count"] for row in clean.groupBy("RatecodeID").count().collect()}
    assert rates[1.0] > 0.85 * clean.count() and {2.0, 3.0, 5.0} <= set(rates)


def test_total_is_the_sum_of_its_components_plus_the_stated_noise(clean):
    residual = F.col("total_amount") - sum((F.col(name) for name in COMPONENTS), F.lit(0.0))
    stats = clean.filter("payment_type != 0").agg(
        F.avg(residual).alias("mean"), F.stddev(residual).alias("sd"), F.max(F.abs(residual)).alias("worst")
    ).first()
    assert abs(stats["mean"]) < 0.02 and 0.47 < stats["sd"] < 0.53 and stats["worst"] < 6 * 0.5


def _oracle() -> F.Column:
    """E[total_amount | pipeline features], written from the specification."""
    metered, rate = _metered(), F.col("RatecodeID")
    jfk_core = ((F.col("PULocationID") == JFK) & _in("DOLocationID", MANHATTAN_CORE)) | (
        (F.col("DOLocationID") == JFK) & _in("PULocationID", MANHATTAN_CORE))
    negotiated_mean = (20.0 + 120.0) / 2
    zone_rule = (F.when(jfk_core, taxi.P_JFK_FLAT * 70.0 + (1 - taxi.P_JFK_FLAT) * metered)
                 .when(F.col("DOLocationID") == NEWARK, metered + 20.0).otherwise(metered))
    fare = (F.when(rate.isNull(), taxi.P_NEGOTIATED * negotiated_mean + (1 - taxi.P_NEGOTIATED) * zone_rule)
            .when(rate == 2.0, 70.0).when(rate == 3.0, metered + 20.0).when(rate == 5.0, negotiated_mean).otherwise(metered))
    tip_factor = F.when(F.col("payment_type") == 1, 1 + 0.8 * (0.15 + 0.30) / 2).otherwise(1.0)
    airport = (JFK, LAGUARDIA, NEWARK)
    touches = (_in("PULocationID", airport) & _in("DOLocationID", MANHATTAN_CORE)) | (
        _in("DOLocationID", airport) & _in("PULocationID", MANHATTAN_CORE))
    tolls = 6.94 * F.when(touches, 0.5).otherwise(0.03)
    return fare * tip_factor + _extra() + 0.5 + 1.0 + _congestion() + _airport_fee() + tolls


def test_manifest_floor_is_the_error_of_an_oracle_that_knows_the_tariff(clean, generated):
    """The Bayes predictor's RMSE on the clean rows is the noise floor (up to sampling error)."""
    _, _, result = generated
    manifests = [result["months"][m] for m in MONTHS]
    floor = (sum(m["noise_floor_rmse"] ** 2 * m["clean_rows"] for m in manifests) / sum(m["clean_rows"] for m in manifests)) ** 0.5
    oracle_rmse = clean.agg(F.sqrt(F.avg((F.col("total_amount") - _oracle()) ** 2))).first()[0]
    assert oracle_rmse == pytest.approx(floor, rel=0.08)
    for month, manifest in zip(MONTHS, manifests):
        month_rows = clean.filter(F.col(lake.MONTH_COLUMN) == month)
        assert month_rows.count() == manifest["clean_rows"]
        variance = month_rows.agg(F.var_pop("total_amount")).first()[0]
        assert manifest["r2_ceiling"] == pytest.approx(1 - manifest["noise_floor_rmse"] ** 2 / variance, abs=1e-4)


def test_card_tip_share_has_the_stated_spread(clean):
    """The floor's main card part: tip share 0 with p=0.2, else U(0.15, 0.30)."""
    shares = clean.filter("payment_type = 1 AND fare_amount > 0").select((F.col("tip_amount") / F.col("fare_amount")).alias("s"))
    stats = shares.agg(F.avg("s").alias("mean"), F.var_pop("s").alias("var"), F.avg((F.col("s") == 0).cast("double")).alias("zero")).first()
    mean = 0.8 * 0.225
    variance = 0.8 * (0.225**2 + 0.15**2 / 12) - mean**2
    assert stats["zero"] == pytest.approx(0.2, abs=0.015)
    assert stats["mean"] == pytest.approx(mean, rel=0.03) and stats["var"] == pytest.approx(variance, rel=0.08)
