"""The SECOM generator: 590 sensors with the real line's shape, ~6.6 % fails, the Bayes AUC.

Expectations come from the specification (DATA_FACTS section 4 and the generator's stated
layout), recomputed from the written rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sparkmlops import config as config_module
from sparkmlops import lake, quality
from sparkmlops.datagen import generator_module, secom
from tests.support.aucs import average_precision, roc_auc
from tests.support.generated import read_back, with_base, written_months

ROWS = 500
MONTHS = ["2008-07", "2008-08"]
SEED = 13


@pytest.fixture(scope="module")
def secom_config():
    return config_module.load("secom_defect")


@pytest.fixture(scope="module")
def generated(spark, secom_config, tmp_path_factory):
    base = tmp_path_factory.mktemp("secom") / "lake"
    config = with_base(secom_config, base)
    return config, base, secom.generate(spark, config, MONTHS, ROWS, seed=SEED)


@pytest.fixture(scope="module")
def rows(spark, generated) -> DataFrame:
    config, base, _ = generated
    return read_back(spark, config, base, MONTHS).cache()


@pytest.fixture(scope="module")
def sensors(generated):
    return secom.layout(SEED, secom.sensor_names(generated[0]))


@pytest.fixture(scope="module")
def column_profile(rows, generated) -> dict:
    """Each sensor's count, min and max over both months (one aggregation)."""
    names = secom.sensor_names(generated[0])
    row = rows.selectExpr("count(1) AS rows", *[f"{kind}(`{name}`) AS {prefix}{i}" for i, name in enumerate(names)
                                                for kind, prefix in (("count", "n"), ("min", "lo"), ("max", "hi"))]).first()
    return {name: {"missing": 1 - row[f"n{i}"] / row["rows"], "constant": row[f"n{i}"] > 0 and row[f"lo{i}"] == row[f"hi{i}"]}
            for i, name in enumerate(names)}


def test_the_yaml_names_this_generator(secom_config):
    assert generator_module(secom_config.data.generator, secom_config.usecase) is secom


def test_months_read_back_with_the_yaml_columns_and_manifests(spark, generated):
    config, base, result = generated
    assert len(config.data.columns) == 592 and secom.sensor_names(config)[-1] == "sensor_589"
    for month, (written, manifest) in written_months(spark, base, config.data.columns, result, "secom_defect", MONTHS).items():
        frame, _ = lake.read_month(spark, str(base), month, config.data.columns, config.data.column_aliases)
        assert frame.count() == ROWS
        kept = quality.apply_rules(frame, config.cleaning.rules).count()
        assert kept == ROWS >= config.cleaning.min_retention * ROWS  # timestamps inside the month, labels present
        assert manifest["rows"] == ROWS and set(manifest["best_possible"]) == {"roc_auc", "pr_auc"}


def test_same_seed_writes_the_same_rows_and_another_seed_does_not(spark, generated, tmp_path):
    config, base, _ = generated
    first = spark.read.parquet(lake.month_uri(str(base), "2008-08"))
    again = with_base(config, tmp_path)
    secom.generate(spark, again, ["2008-08"], ROWS, seed=SEED)
    second = spark.read.parquet(lake.month_uri(str(tmp_path), "2008-08"))
    assert second.count() == ROWS and first.exceptAll(second).count() == 0
    secom.generate(spark, again, ["2008-08"], ROWS, seed=SEED + 1)
    other = spark.read.parquet(lake.month_uri(str(tmp_path), "2008-08"))
    assert other.count() == ROWS and other.exceptAll(first).count() == ROWS


def test_labels_and_timestamps_look_like_the_real_line(rows):
    total = ROWS * len(MONTHS)
    stats = rows.agg(
        F.sum((F.col("label") == 1).cast("int")).alias("fails"),
        F.sum(F.col("label").isin(1, -1).cast("int")).alias("labelled"),
        F.sum((F.date_format("timestamp", "yyyy-MM") == F.col(lake.MONTH_COLUMN)).cast("int")).alias("in_month"),
        F.countDistinct("timestamp").alias("moments"),
    ).first()
    expected = secom.FAIL_SHARE * total
    assert abs(stats["fails"] - expected) <= 4 * math.sqrt(expected * (1 - secom.FAIL_SHARE))
    assert stats["labelled"] == stats["in_month"] == total and stats["moments"] > 0.99 * total


def test_columns_are_mostly_constant_missing_or_uninformative_like_secom(column_profile, sensors, generated):
    _, _, result = generated
    constant = [name for name, facts in column_profile.items() if facts["constant"]]
    mostly_missing = [name for name, facts in column_profile.items() if facts["missing"] > 0.5]
    roles = {sensor.name: sensor.role for sensor in sensors}
    assert len(constant) == secom.CONSTANT_COLUMNS > 100 and {roles[name] for name in constant} == {"constant"}
    assert len(mostly_missing) == secom.SPARSE_COLUMNS and {roles[name] for name in mostly_missing} == {"sparse"}
    assert max(column_profile[name]["missing"] for name in mostly_missing) > 0.8
    informative = [sensor for sensor in sensors if sensor.role == "informative"]
    assert 3 <= len(informative) <= 20 and all(column_profile[s.name]["missing"] < 0.05 for s in informative)
    for month in MONTHS:
        manifest = result["months"][month]
        assert manifest["constant_columns"] == secom.CONSTANT_COLUMNS
        assert manifest["mostly_missing_columns"] == secom.SPARSE_COLUMNS
        assert set(manifest["layout"]["informative"]) == {s.name for s in informative}


def test_layout_is_the_same_every_month_and_follows_the_seed(generated):
    names = secom.sensor_names(generated[0])
    assert secom.layout(SEED, names) == secom.layout(SEED, names)
    assert secom.layout(SEED, names) != secom.layout(SEED + 1, names)


@pytest.fixture(scope="module")
def labelled(rows, generated, sensors) -> pd.DataFrame:
    informative = [s.name for s in sensors if s.role == "informative"]
    kept = quality.apply_rules(rows, generated[0].cleaning.rules)
    return kept.select(*informative, "label", lake.MONTH_COLUMN).toPandas()


def test_manifest_auc_is_the_auc_of_the_stated_probability_on_the_written_rows(labelled, generated, sensors):
    _, _, result = generated
    for month in MONTHS:
        month_rows = labelled[labelled[lake.MONTH_COLUMN] == month].reset_index(drop=True)
        probability = pd.Series(secom.bayes_probability(month_rows, sensors))
        fail = month_rows["label"] == 1
        best = result["months"][month]["best_possible"]
        assert best["roc_auc"] == pytest.approx(roc_auc(probability, fail), abs=1e-9)
        assert best["pr_auc"] == pytest.approx(average_precision(probability, fail), abs=1e-9)
        assert best["pr_auc"] > 2 * secom.FAIL_SHARE  # far better than guessing


def test_the_stated_probability_is_calibrated(labelled, sensors):
    probability = secom.bayes_probability(labelled, sensors)
    fails = (labelled["label"] == 1).to_numpy(dtype=float)
    for inside in (probability < 0.1, probability >= 0.1):
        p = probability[inside]
        assert abs(fails[inside].sum() - p.sum()) <= 4 * math.sqrt((p * (1 - p)).sum()) + 1


def test_missing_informative_readings_widen_the_probability_instead_of_guessing():
    """With every informative sensor missing, P(fail) is the design's fail share."""
    names = tuple(f"sensor_{i:03d}" for i in range(secom.SENSORS))
    sensors = secom.layout(SEED, names)
    blank = pd.DataFrame({s.name: [np.nan] for s in sensors if s.role == "informative"})
    assert secom.bayes_probability(blank, sensors)[0] == pytest.approx(secom.FAIL_SHARE, abs=1e-12)
