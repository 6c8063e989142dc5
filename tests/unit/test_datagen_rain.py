"""The rain generator: weatherAUS schema and quirks, the RainTomorrow identity, the Bayes AUC, no leakage.

Expectations come from the specification (DATA_FACTS section 3 and the generator's stated
rates and process), recomputed from the written rows.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sparkmlops import config as config_module
from sparkmlops import lake, quality
from sparkmlops.datagen import generator_module, rain
from sparkmlops.features import tabular
from sparkmlops.models.estimators import build_pipeline
from sparkmlops.models.search import without_training_summaries
from tests.support.aucs import average_precision, roc_auc
from tests.support.generated import read_back, with_base, written_months

MONTHS = ["2023-01", "2023-02"]
SEED = 3


@pytest.fixture(scope="module")
def rain_config():
    return config_module.load("rain_tomorrow")


@pytest.fixture(scope="module")
def generated(spark, rain_config, tmp_path_factory):
    """Both months generated in one call (rows_per_month is not used: any value)."""
    base = tmp_path_factory.mktemp("rain") / "lake"
    config = with_base(rain_config, base)
    return config, base, rain.generate(spark, config, MONTHS, 100, seed=SEED)


@pytest.fixture(scope="module")
def rows(spark, generated) -> DataFrame:
    config, base, _ = generated
    return read_back(spark, config, base, MONTHS).cache()


@pytest.fixture(scope="module")
def labelled(rows, generated) -> pd.DataFrame:
    """The rows a model is scored on (cleaning rules applied), small enough for pandas."""
    kept = quality.apply_rules(rows, generated[0].cleaning.rules)
    return kept.select(*rain.OBSERVABLE, "RainTomorrow", lake.MONTH_COLUMN).toPandas()


def test_the_yaml_names_this_generator(rain_config):
    assert generator_module(rain_config.data.generator, rain_config.usecase) is rain


def test_months_read_back_with_the_yaml_columns_and_manifests(spark, generated):
    config, base, result = generated
    for month, (written, manifest) in written_months(spark, base, config.data.columns, result, "rain_tomorrow", MONTHS).items():
        frame, _ = lake.read_month(spark, str(base), month, config.data.columns, config.data.column_aliases)
        days = pd.Period(month).days_in_month
        assert frame.count() == len(rain.LOCATIONS) * days
        assert manifest["rows"] == len(rain.LOCATIONS) * days
        assert set(manifest["best_possible"]) == {"roc_auc", "pr_auc"}
        assert manifest["labelled_rows"] >= config.cleaning.min_retention * manifest["rows"]


def test_rain_tomorrow_is_the_next_days_rain_today_also_across_the_month_boundary(rows):
    today = rows.select("Location", "Date", "RainTomorrow")
    tomorrow = rows.select("Location", (F.col("Date") - F.expr("INTERVAL 1 DAY")).alias("Date"),
                           F.col("RainToday").alias("next_rain_today"))
    pairs = today.join(tomorrow, ["Location", "Date"]).cache()
    expected_pairs = len(rain.LOCATIONS) * (31 + 28 - 1)
    assert pairs.count() == expected_pairs
    assert pairs.filter(~F.col("RainTomorrow").eqNullSafe(F.col("next_rain_today"))).count() == 0
    boundary = pairs.filter(F.col("Date") == F.lit("2023-01-31").cast("timestamp"))
    assert boundary.count() == len(rain.LOCATIONS) and boundary.filter("RainTomorrow = 'Yes'").count() > 0


def test_a_month_generated_alone_is_the_same_and_another_seed_is_not(spark, generated, tmp_path):
    config, base, _ = generated
    together = spark.read.parquet(lake.month_uri(str(base), "2023-02"))
    alone = with_base(config, tmp_path)
    rain.generate(spark, alone, ["2023-02"], 5000, seed=SEED)
    single = spark.read.parquet(lake.month_uri(str(tmp_path), "2023-02"))
    assert single.count() == together.count() and single.exceptAll(together).count() == 0
    rain.generate(spark, alone, ["2023-02"], 5000, seed=SEED + 1)
    other = spark.read.parquet(lake.month_uri(str(tmp_path), "2023-02"))
    assert other.exceptAll(together).count() > 0.99 * together.count()


def test_values_have_the_real_vocabulary(rows):
    def distinct(column: str) -> set:
        return {row[0] for row in rows.select(column).distinct().collect()} - {None}

    assert distinct("Location") == set(rain.LOCATIONS) and len(rain.LOCATIONS) == 49
    for column in ("WindGustDir", "WindDir9am", "WindDir3pm"):
        assert distinct(column) == set(rain.COMPASS) and len(rain.COMPASS) == 16
    for column in ("Cloud9am", "Cloud3pm"):
        assert distinct(column) == {float(okta) for okta in range(9)}
    assert distinct("RainToday") == distinct("RainTomorrow") == {"Yes", "No"}
    # RainToday says whether more than 1 mm fell, and both are missing together
    assert rows.filter(F.col("Rainfall").isNull() != F.col("RainToday").isNull()).count() == 0
    assert rows.filter((F.col("Rainfall") > 1) != (F.col("RainToday") == "Yes")).count() == 0
    assert rows.filter("Humidity3pm < 0 OR Humidity3pm > 100 OR Sunshine < 0 OR WindSpeed9am < 0").count() == 0


def _expected_missing(column: str) -> float:
    """The stated missing share: stations without the instrument, then the per-row rate (and calm winds)."""
    group = next((name for name, members in rain.MISSING_GROUPS.items() if column in members), column)
    if column == "RainTomorrow":
        group = "rain"  # the next day's gauge
    rate = rain.MISSING_RATES.get(group, 0.0)
    calm = {"WindDir9am": rain.CALM_SHARE["9am"], "WindDir3pm": rain.CALM_SHARE["3pm"]}.get(column, 0.0)
    gaps = len(rain.STATION_GAPS.get(group, ())) / len(rain.LOCATIONS)
    return gaps + (1 - gaps) * (1 - (1 - rate) * (1 - calm))


def test_missing_shares_are_the_real_ones(rows, generated):
    config, _, result = generated
    total = rows.count()
    measured = rows.agg(*[F.avg(F.col(c).isNull().cast("double")).alias(c) for c in config.data.columns]).first()
    for column in config.data.columns:
        expected = _expected_missing(column)
        spread = 4 * math.sqrt(max(expected * (1 - expected), 1e-9) / total) + 0.003
        assert abs(measured[column] - expected) <= spread, (column, measured[column], expected)
    # DATA_FACTS: Sunshine ~48 %, Evaporation ~43 %, Cloud3pm ~41 %, Cloud9am ~38 %, pressure ~10 %, ~2 % of RainTomorrow
    facts = {"Sunshine": 0.48, "Evaporation": 0.43, "Cloud3pm": 0.41, "Cloud9am": 0.38, "Pressure9am": 0.10,
             "Pressure3pm": 0.10, "RainTomorrow": 0.02}
    for column, share in facts.items():
        assert abs(_expected_missing(column) - share) < 0.01, column
    # groups go missing together
    assert rows.filter(F.col("Pressure9am").isNull() != F.col("Pressure3pm").isNull()).count() == 0
    assert rows.filter(F.col("WindGustDir").isNull() != F.col("WindGustSpeed").isNull()).count() == 0
    for month in MONTHS:
        assert set(result["months"][month]["missing_shares"]) == set(config.data.columns)


def test_stations_are_calibrated_to_about_22_percent_rain_days():
    """The year's average of P(rain) per station is its stated share; their mean is DATA_FACTS' ~22 %."""
    table = rain.station_table()
    days = np.arange(1, 366, dtype=float)[:, None]
    ops = rain._Ops(lambda name: table[name][None, :], np.cos, np.exp)
    season = rain._season(ops, days)
    yearly = sum(share * rain._rain_probability(ops, season, logit)
                 for share, logit in zip(rain.REGIME_SHARES, rain.REGIME_RAIN_LOGIT)).mean(axis=0)
    assert np.allclose(yearly, table["rain_share"], atol=1e-6)
    assert abs(yearly.mean() - 0.22) < 0.01
    # seasonality by location: Darwin rains in summer, Perth in winter
    darwin, perth = rain.LOCATION_INDEX["Darwin"], rain.LOCATION_INDEX["Perth"]
    january, july = 14, 195
    share = sum(s * rain._rain_probability(ops, season, logit) for s, logit in zip(rain.REGIME_SHARES, rain.REGIME_RAIN_LOGIT))
    assert share[january, darwin] > 5 * share[july, darwin] and share[july, perth] > 5 * share[january, perth]


def _climatology(frame: pd.DataFrame) -> np.ndarray:
    """P(rain tomorrow | station, date) before looking at the row: Σ_k share_k ρ_k(station, date + 1)."""
    ops = rain._numpy_ops(frame["Location"].map(rain.LOCATION_INDEX).to_numpy(dtype=int))
    doy = (pd.to_datetime(frame["Date"]) + timedelta(days=1)).dt.dayofyear.to_numpy(dtype=float)[:, None]
    rho = rain._rain_probability(ops, rain._season(ops, doy), np.array(rain.REGIME_RAIN_LOGIT)[None, :])
    return (rho * np.array(rain.REGIME_SHARES)[None, :]).sum(axis=1)


def test_yes_share_is_the_seasons_climatology(labelled):
    yes = (labelled["RainTomorrow"] == "Yes").to_numpy(dtype=float)
    expected = _climatology(labelled)
    assert abs(yes.sum() - expected.sum()) <= 4 * math.sqrt((expected * (1 - expected)).sum())


def test_manifest_auc_is_the_auc_of_the_stated_probability_on_the_written_rows(labelled, generated):
    _, _, result = generated
    for month in MONTHS:
        month_rows = labelled[labelled[lake.MONTH_COLUMN] == month].reset_index(drop=True)
        probability = pd.Series(rain.bayes_probability(month_rows))
        yes = month_rows["RainTomorrow"] == "Yes"
        manifest = result["months"][month]
        assert len(month_rows) == manifest["labelled_rows"]
        assert manifest["best_possible"]["roc_auc"] == pytest.approx(roc_auc(probability, yes), abs=1e-9)
        assert manifest["best_possible"]["pr_auc"] == pytest.approx(average_precision(probability, yes), abs=1e-9)
        # the row tells more than the station's season does
        assert manifest["best_possible"]["roc_auc"] > roc_auc(pd.Series(_climatology(month_rows)), yes) + 0.1


def test_the_stated_probability_is_calibrated(labelled):
    """Sampler and Bayes formula agree: in each score band the Yes rate is the mean probability."""
    probability = rain.bayes_probability(labelled)
    yes = (labelled["RainTomorrow"] == "Yes").to_numpy(dtype=float)
    bands = np.digitize(probability, [0.1, 0.3, 0.5, 0.7])
    for band in range(5):
        inside = bands == band
        p = probability[inside]
        assert abs(yes[inside].sum() - p.sum()) <= 4 * math.sqrt((p * (1 - p)).sum()) + 1, band


def test_features_never_read_rain_tomorrow(spark, rows, generated):
    """No feature uses the label or tomorrow; a fitted pipeline scores rows without the RainTomorrow column."""
    config = generated[0]
    params = config.features.params
    read = tabular.input_columns(params)
    assert config.data.target == "RainTomorrow" and "RainTomorrow" not in read
    assert set(read) <= set(config.data.columns) - {"RainTomorrow"}
    stage_text = " ".join(str(value) for stage in tabular.build_stages(params)
                          for value in stage.extractParamMap().values())
    assert "RainTomorrow" not in stage_text and "lead(" not in stage_text.lower()
    small = config_module.apply_overrides(config, {"model.params.numTrees": 5, "model.params.maxDepth": 4})
    train = quality.apply_rules(rows, config.cleaning.rules).withColumn(
        "label", F.when(F.col("RainTomorrow") == "Yes", 1.0).otherwise(0.0))
    model = without_training_summaries(build_pipeline(small).fit(train))  # as the pipeline fits it
    fitted_text = " ".join(str(value) for stage in model.stages[0].stages for value in stage.extractParamMap().values())
    assert "RainTomorrow" not in fitted_text
    unseen = rows.drop("RainTomorrow", lake.MONTH_COLUMN)
    scored = model.transform(unseen).select(vector_to_array("probability")[1].alias("p"))
    stats = scored.agg(F.count("p").alias("n"), F.min("p").alias("lo"), F.max("p").alias("hi")).first()
    assert stats["n"] == unseen.count() and 0 <= stats["lo"] < stats["hi"] <= 1
