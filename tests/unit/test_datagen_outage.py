"""The outage generator: lake layout, schema, determinism, the study's mix and the stated floor.

Expectations come from the specification (DATA_FACTS section 2 and the generator's stated
rates), recomputed from the written rows.
"""

from __future__ import annotations

import math

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sparkmlops import config as config_module
from sparkmlops import lake, quality
from sparkmlops.datagen import generator_module, outage
from tests.support.generated import read_back, with_base, written_months

ROWS = 3000
MONTHS = ["2023-01", "2023-02"]
SEED = 5


@pytest.fixture(scope="module")
def outage_config():
    return config_module.load("outage_duration")


@pytest.fixture(scope="module")
def generated(spark, outage_config, tmp_path_factory):
    base = tmp_path_factory.mktemp("outage") / "lake"
    config = with_base(outage_config, base)
    return config, base, outage.generate(spark, config, MONTHS, ROWS, seed=SEED)


@pytest.fixture(scope="module")
def rows(spark, generated) -> DataFrame:
    config, base, _ = generated
    return read_back(spark, config, base, MONTHS).cache()


@pytest.fixture(scope="module")
def clean(rows, generated) -> DataFrame:
    return quality.apply_rules(rows, generated[0].cleaning.rules).cache()


def _near(count: int, rate: float, total: int) -> bool:
    """Count within ~4 binomial standard deviations of rate * total."""
    expected = rate * total
    return abs(count - expected) <= 4 * (expected * (1 - rate)) ** 0.5 + 2


def test_the_yaml_names_this_generator(outage_config):
    assert generator_module(outage_config.data.generator, outage_config.usecase) is outage


def test_months_read_back_with_the_yaml_columns_and_manifests(spark, generated):
    config, base, result = generated
    for month, (written, manifest) in written_months(spark, base, config.data.columns, result, "outage_duration", MONTHS).items():
        frame, _ = lake.read_month(spark, str(base), month, config.data.columns, config.data.column_aliases)
        assert frame.count() == ROWS
        assert manifest["rows"] == ROWS and set(manifest["best_possible"]) == {"rmse", "mae", "r2"}


def test_same_seed_writes_the_same_rows_and_another_seed_does_not(spark, generated, tmp_path):
    config, base, _ = generated
    first = spark.read.parquet(lake.month_uri(str(base), "2023-02"))
    again = with_base(config, tmp_path)
    outage.generate(spark, again, ["2023-02"], ROWS, seed=SEED)
    second = spark.read.parquet(lake.month_uri(str(tmp_path), "2023-02"))
    assert second.count() == ROWS and first.exceptAll(second).count() == 0
    outage.generate(spark, again, ["2023-02"], ROWS, seed=SEED + 1)
    other = spark.read.parquet(lake.month_uri(str(tmp_path), "2023-02"))
    assert other.count() == ROWS and other.exceptAll(first).count() > 0.99 * ROWS


def test_clean_rows_follow_the_study_mix_and_ranges(clean, generated):
    config = generated[0]
    stats = clean.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum((F.col("maintenance_type") == "corrective").cast("int")).alias("corrective"),
        F.min("complexity").alias("c_lo"), F.max("complexity").alias("c_hi"),
        F.min("staff").alias("s_lo"), F.max("staff").alias("s_hi"),
        F.min("resources").alias("r_lo"), F.max("resources").alias("r_hi"),
        F.min("duration_days").alias("d_lo"), F.countDistinct("plant").alias("plants"),
        F.countDistinct("outage_id").alias("ids"), F.min("similar_outages").alias("h_lo"),
    ).first()
    assert _near(stats["corrective"], outage.P_CORRECTIVE, stats["n"])
    assert (stats["c_lo"], stats["c_hi"], stats["s_lo"], stats["s_hi"]) == (1, 9, 5, 49)
    assert 0 <= stats["r_lo"] < 0.01 and 0.99 < stats["r_hi"] <= 1
    assert stats["d_lo"] > 0 and stats["h_lo"] >= 0
    assert stats["plants"] == len(outage.PLANTS) and stats["ids"] == stats["n"]
    # the cleaning rules keep well above the YAML's minimum
    assert stats["n"] >= config.cleaning.min_retention * ROWS * len(MONTHS)


def test_quirky_rows_are_the_ones_cleaning_removes(rows, generated):
    _, _, result = generated
    total = ROWS * len(MONTHS)
    measured = rows.agg(
        F.sum(F.col("duration_days").isNull().cast("int")).alias("open_outage"),
        F.sum(F.col("maintenance_type").isNull().cast("int")).alias("unrecorded_type"),
        F.sum((F.col("complexity") == 0).cast("int")).alias("unassessed_complexity"),
        F.sum((F.col("resources") == -1).cast("int")).alias("unknown_resources"),
        F.sum((F.date_format("start_date", "yyyy-MM") != F.col(lake.MONTH_COLUMN)).cast("int")).alias("late_registration"),
    ).first().asDict()
    for name, rate in outage.QUIRK_RATES.items():
        assert _near(measured[name], rate, total), (name, measured[name])
        assert sum(result["months"][m]["quirk_counts"][name] for m in MONTHS) == measured[name], name


def _population_r2() -> float:
    """R² of the formula in the population: signal variance / (signal + noise), from the stated distributions."""
    complexity_var = ((9 - 1 + 1) ** 2 - 1) / 12  # discrete uniform 1..9
    staff_var = ((49 - 5 + 1) ** 2 - 1) / 12  # discrete uniform 5..49
    signal = 5**2 * 0.3 * 0.7 + 2**2 * complexity_var + 0.1**2 * staff_var + 10**2 / 12
    return signal / (signal + outage.NOISE_SD**2)  # DATA_FACTS: about 0.63


def test_floor_is_the_noise_of_the_known_formula(clean, generated):
    """The formula's residual on clean rows is N(0, 5²); the manifest states sqrt(mean Var) and 1 - Var/Var(y)."""
    _, _, result = generated
    corrective = (F.col("maintenance_type") == "corrective").cast("double")
    known = (outage.BASE_DAYS + 5 * corrective + 2 * F.col("complexity") - 0.1 * F.col("staff")
             + 10 * (1 - F.col("resources")))
    residual = F.col("duration_days") - known
    stats = clean.agg(F.avg(residual).alias("mean"), F.stddev(residual).alias("sd")).first()
    assert abs(stats["mean"]) < 0.25 and abs(stats["sd"] - outage.NOISE_SD) < 0.25
    for month in MONTHS:
        manifest = result["months"][month]
        month_rows = clean.filter(F.col(lake.MONTH_COLUMN) == month)
        assert month_rows.count() == manifest["clean_rows"]
        # every clean row's conditional variance is NOISE_SD², so sqrt(mean variance) is NOISE_SD
        assert manifest["best_possible"]["rmse"] == pytest.approx(outage.NOISE_SD, abs=1e-12)
        variance = month_rows.agg(F.var_pop("duration_days")).first()[0]
        assert manifest["best_possible"]["r2"] == pytest.approx(1 - outage.NOISE_SD**2 / variance, abs=1e-5)
        assert manifest["best_possible"]["r2"] == pytest.approx(_population_r2(), abs=0.04)
        oracle = month_rows.agg(F.sqrt(F.avg(residual**2)).alias("rmse"), F.avg(F.abs(residual)).alias("mae")).first()
        assert oracle["rmse"] == pytest.approx(manifest["best_possible"]["rmse"], rel=0.06)
        assert oracle["mae"] == pytest.approx(manifest["best_possible"]["mae"], rel=0.06)
        assert manifest["best_possible"]["mae"] == pytest.approx(outage.NOISE_SD * math.sqrt(2 / math.pi), abs=1e-6)
        assert manifest["oracle_on_these_rows"]["rmse"] == pytest.approx(oracle["rmse"], abs=1e-5)
        assert manifest["oracle_on_these_rows"]["mae"] == pytest.approx(oracle["mae"], abs=1e-5)


def test_durations_stay_far_from_zero_so_the_floor_is_untruncated():
    # the smallest mean outage is this many noise sd above zero: truncation probability < 2e-17
    assert outage.SMALLEST_MEAN / outage.NOISE_SD > 8.4
