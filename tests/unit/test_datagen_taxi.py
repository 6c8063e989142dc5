import json

import pytest
from pyspark.sql import functions as F

from sparkmlops import lake, quality
from sparkmlops.datagen import month_range, taxi
from sparkmlops.errors import UsageError

ROWS = 10_000
COMPONENTS = ["fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge",
              "congestion_surcharge", "airport_fee"]


@pytest.fixture(scope="module")
def generated(spark, taxi_config, tmp_path_factory):
    base = tmp_path_factory.mktemp("gen") / "lake"
    config = taxi_config.model_copy(update={"data": taxi_config.data.model_copy(update={"base_path": str(base)})})
    manifest = taxi.generate(spark, config, ["2023-01", "2023-02"], ROWS, seed=11)
    return config, base, manifest


def test_month_range():
    assert month_range("2022-11:2023-02") == ["2022-11", "2022-12", "2023-01", "2023-02"]
    assert month_range("2023-03") == ["2023-03"]
    with pytest.raises(UsageError, match="ends before it starts"):
        month_range("2023-05:2023-01")
    with pytest.raises(UsageError, match="is not a month"):
        month_range("2023-13:2024-01")


def test_real_schema_with_the_fee_spelling_varying_by_month(spark, generated):
    _, base, _ = generated
    january = spark.read.parquet(str(base / "2023" / "01"))
    february = spark.read.parquet(str(base / "2023" / "02"))
    assert january.columns[-1] == "Airport_fee" and february.columns[-1] == "airport_fee"
    types = dict(january.dtypes)
    assert types["VendorID"] == "bigint" and types["passenger_count"] == "double"
    assert types["RatecodeID"] == "double" and types["tpep_pickup_datetime"] == "timestamp"
    assert january.count() == ROWS


def test_total_is_the_sum_of_components_on_clean_rows(spark, generated):
    config, base, _ = generated
    frame = lake.read_month(spark, str(base), "2023-02", config.data.columns, config.data.column_aliases)[0]
    # payment_type 0 rows have the surcharge columns nulled (as in the real files)
    clean = quality.apply_rules(frame, config.cleaning.rules).filter("payment_type != 0")
    residual = F.col("total_amount") - sum((F.coalesce(F.col(c), F.lit(0.0)) for c in COMPONENTS), F.lit(0.0))
    stats = clean.agg(F.avg(residual).alias("mean"), F.stddev(residual).alias("sd")).first()
    assert abs(stats["mean"]) < 0.05 and 0.4 < stats["sd"] < 0.6  # the stated N(0, 0.5²) noise


def test_quirks_appear_at_roughly_the_stated_rates(generated):
    _, _, manifest = generated
    counts = manifest["months"]["2023-01"]["quirk_counts"]
    for name, rate in taxi.QUIRKS.items():
        if rate >= 0.003:
            assert 0.5 * rate * ROWS < counts[name] < 1.6 * rate * ROWS, name
    assert 0.015 * ROWS < counts["null_passenger_block"] < 0.05 * ROWS


def test_deterministic_for_a_seed(spark, generated, tmp_path):
    config, base, _ = generated
    again = config.model_copy(update={"data": config.data.model_copy(update={"base_path": str(tmp_path)})})
    taxi.generate(spark, again, ["2023-01"], ROWS, seed=11)
    first = spark.read.parquet(str(base / "2023" / "01"))
    second = spark.read.parquet(str(tmp_path / "2023" / "01"))
    assert first.exceptAll(second).count() == 0 and second.exceptAll(first).count() == 0
    taxi.generate(spark, again, ["2023-01"], ROWS, seed=12)
    assert spark.read.parquet(str(tmp_path / "2023" / "01")).exceptAll(first).count() > 0


def test_manifest_floor_matches_the_spread_of_card_tips(spark, generated):
    """Independent check of the floor's main part: standard metered card trips."""
    config, base, manifest = generated
    written = json.loads((base / "_manifests" / "2023-02.json").read_text())
    assert written == manifest["months"]["2023-02"]
    assert written["clean_rows"] < written["rows"] and 0 < written["noise_floor_rmse"] < 10
    frame = lake.read_month(spark, str(base), "2023-02", config.data.columns, config.data.column_aliases)[0]
    card = quality.apply_rules(frame, config.cleaning.rules).filter("payment_type = 1 AND RatecodeID = 1 AND tolls_amount = 0")
    share = card.select((F.col("tip_amount") / F.col("fare_amount")).alias("s"))
    observed = share.agg(F.variance("s")).first()[0]
    s_mean = 0.8 * 0.225
    expected = 0.8 * (0.225**2 + 0.15**2 / 12) - s_mean**2
    assert observed == pytest.approx(expected, rel=0.15)
