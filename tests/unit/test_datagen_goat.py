"""The goat herd generator: layout, daily cycle, herd weather, gaps, pathological series, the stated floor.

Expectations come from the generator's stated process (its docstring and constants),
recomputed from the written rows.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sparkmlops import lake
from sparkmlops.datagen import available_generators, goat
from tests.support.generated import written_months

MONTHS = ["2024-02", "2024-03"]
ANIMALS = 12
SEED = 11
DAYS = {"2024-02": 29, "2024-03": 31}


@pytest.fixture(scope="module")
def generated(spark, tmp_path_factory):
    base = tmp_path_factory.mktemp("goat") / "lake"
    return base, goat.generate_herd(spark, str(base), MONTHS, ANIMALS, SEED)


@pytest.fixture(scope="module")
def rows(spark, generated) -> DataFrame:
    base, _ = generated
    return lake.read_months(spark, str(base), MONTHS, goat.COLUMNS, {})[0].cache()


@pytest.fixture(scope="module")
def kinds(generated) -> dict[str, str]:
    return generated[1]["months"][MONTHS[0]]["pathological"]


@pytest.fixture(scope="module")
def regular(rows, kinds) -> DataFrame:
    return rows.filter(~F.col("animal_id").isin(list(kinds)))


def _mu(frame: DataFrame) -> DataFrame:
    return frame.withColumn("mu", goat.true_mean(SEED, F.col("animal_id"), F.col("date"), F.col("temperature"),
                                                 F.col("rain")))


def test_is_a_generator_and_the_contract_reads_the_config(monkeypatch):
    assert "goat" in available_generators()
    calls = []
    monkeypatch.setattr(goat, "generate_herd", lambda *args: calls.append(args) or {"usecase": "goat_posture", "months": {}})
    columns = dict(reversed(goat.COLUMNS.items()))
    with_size = SimpleNamespace(base_path="/lake/goats", columns=columns, generator_options={"animals": 7})
    without = SimpleNamespace(base_path="/lake/goats", columns=columns)  # a config from before generator_options
    for data in (with_size, without):
        result = goat.generate("spark", SimpleNamespace(usecase="goats_b", data=data), MONTHS, 999, seed=SEED)
        assert result == {"usecase": "goats_b", "months": {}}
    assert calls == [("spark", "/lake/goats", MONTHS, 7, SEED, columns),
                     ("spark", "/lake/goats", MONTHS, goat.DEFAULT_ANIMALS, SEED, columns)]


def test_pathological_animals_only_in_a_herd_of_ten_or_more():
    assert goat.pathological_animals(goat.PATHOLOGICAL_MIN_HERD - 1, SEED) == {}
    chosen = goat.pathological_animals(goat.PATHOLOGICAL_MIN_HERD, SEED)
    assert sorted(chosen.values()) == sorted(goat.PATHOLOGICAL_KINDS)
    assert chosen == goat.pathological_animals(goat.PATHOLOGICAL_MIN_HERD, SEED)
    assert all(0 <= index < goat.PATHOLOGICAL_MIN_HERD for index in chosen)


def test_months_read_back_with_the_layout_and_manifests(spark, generated):
    base, result = generated
    for month, (written, manifest) in written_months(spark, base, goat.COLUMNS, result, "goat_posture", MONTHS).items():
        assert manifest["rows"] == written.count() and manifest["animals"] == ANIMALS
        assert manifest["steps_per_animal"] == DAYS[month] * goat.STEPS_PER_DAY
        assert set(manifest["best_possible"]) == {"rmse", "mae"} and manifest["noise_sd"] == goat.NOISE_SD


def test_values_steps_and_month(rows):
    stats = rows.agg(
        F.min("ratio_debout").alias("lo"), F.max("ratio_debout").alias("hi"),
        F.sum((F.unix_timestamp("date") % 900 != 0).cast("int")).alias("unaligned"),
        F.sum((F.date_format("date", "yyyy-MM") != F.col(lake.MONTH_COLUMN)).cast("int")).alias("outside"),
        F.sum(F.col("animal_id").isNull().cast("int") + F.col("date").isNull().cast("int")
              + F.col("temperature").isNull().cast("int") + F.col("rain").isNull().cast("int")).alias("nulls"),
        F.min("rain").alias("rain_lo"), F.avg((F.col("rain") == 0).cast("double")).alias("dry"),
        F.countDistinct("animal_id").alias("animals"),
    ).first()
    assert 0 <= stats["lo"] < stats["hi"] <= 1
    assert stats["unaligned"] == 0 and stats["outside"] == 0 and stats["nulls"] == 0
    assert stats["rain_lo"] == 0 and stats["dry"] > 0.8 and stats["animals"] == ANIMALS
    assert rows.groupBy("animal_id", "date").count().filter("count > 1").count() == 0


def test_a_daily_cycle(regular):
    hourly = regular.groupBy(F.hour("date").alias("h")).agg(F.avg("ratio_debout").alias("m"), F.count(F.lit(1)).alias("n"))
    by_hour = {row["h"]: row for row in hourly.collect()}
    night = sum(by_hour[h]["m"] for h in range(0, 5)) / 5
    day = sum(by_hour[h]["m"] for h in (7, 8, 9, 16, 17, 18)) / 6
    standard_error = goat.NOISE_SD / math.sqrt(min(row["n"] for row in by_hour.values()))
    assert day - night > 0.2 and day - night > 50 * standard_error


def test_weather_is_the_same_for_the_whole_herd(rows):
    per_time = rows.groupBy("date").agg(F.countDistinct("temperature").alias("t"), F.countDistinct("rain").alias("r"),
                                        F.count(F.lit(1)).alias("n"))
    stats = per_time.agg(F.max("t").alias("t"), F.max("r").alias("r"), F.max("n").alias("n")).first()
    assert stats["t"] == 1 and stats["r"] == 1 and stats["n"] > 1
    # and it has the stated daily cycle: warmest around TEMP_DAILY_PEAK_HOUR, coldest 12 h away
    hourly = {row["h"]: row["t"] for row in rows.groupBy(F.hour("date").alias("h")).agg(F.avg("temperature").alias("t")).collect()}
    peak = int(goat.TEMP_DAILY_PEAK_HOUR)
    assert hourly[peak] - hourly[(peak + 12) % 24] > goat.TEMP_DAILY_AMP


def test_pathological_series_are_what_the_manifest_says(rows, kinds, generated):
    assert sorted(kinds.values()) == sorted(goat.PATHOLOGICAL_KINDS)
    assert all(manifest["pathological"] == kinds for manifest in generated[1]["months"].values())
    per = {row["animal_id"]: row for row in rows.groupBy("animal_id", lake.MONTH_COLUMN).agg(
        F.count(F.lit(1)).alias("n"), F.count("ratio_debout").alias("values"),
        F.countDistinct("ratio_debout").alias("distinct"), F.min("ratio_debout").alias("lo"),
        (F.max(F.unix_timestamp("date")) - F.min(F.unix_timestamp("date"))).alias("span"),
    ).filter(F.col(lake.MONTH_COLUMN) == MONTHS[1]).collect()}
    by_kind = {kind: name for name, kind in kinds.items()}
    constant, short, missing = per[by_kind["constant"]], per[by_kind["too_short"]], per[by_kind["all_missing"]]
    assert constant["distinct"] == 1 and constant["lo"] == goat.CONSTANT_VALUE and constant["n"] > 1000
    assert short["n"] == goat.TOO_SHORT_STEPS and short["span"] == (goat.TOO_SHORT_STEPS - 1) * goat.STEP_SECONDS
    assert missing["values"] == 0 and missing["n"] > 1000
    others = [row for name, row in per.items() if name not in kinds]
    assert len(others) == ANIMALS - 3 and all(row["distinct"] > 1000 and row["values"] == row["n"] for row in others)


def test_gaps_are_the_stated_ones_and_gap_share_is_what_is_on_disk(spark, rows, kinds, generated):
    _, result = generated
    short = [name for name, kind in kinds.items() if kind == "too_short"]
    for month in MONTHS:
        first, steps = goat._month_steps(month)
        grid = spark.range(ANIMALS * steps).select(
            (F.col("id") / steps).cast("int").alias("_a"), (F.lit(first) + F.col("id") % steps).alias("_step"))
        grid = grid.select(goat.animal_name(F.col("_a")).alias("animal_id"),
                           F.timestamp_seconds(F.col("_step") * goat.STEP_SECONDS).alias("date"),
                           goat.collar_gap(SEED, F.col("_a"), F.col("_step")).alias("gap"))
        grid = grid.filter(~F.col("animal_id").isin(short))
        present = rows.filter(F.col(lake.MONTH_COLUMN) == month).select("animal_id", "date", F.lit(True).alias("seen"))
        joined = grid.join(present, ["animal_id", "date"], "left")
        stats = joined.agg(F.sum((F.col("gap") & F.col("seen").isNotNull()).cast("int")).alias("gap_seen"),
                           F.sum((~F.col("gap") & F.col("seen").isNull()).cast("int")).alias("missing_no_gap"),
                           F.avg(F.col("seen").isNull().cast("double")).alias("share")).first()
        assert stats["gap_seen"] == 0 and stats["missing_no_gap"] == 0
        manifest = result["months"][month]
        assert manifest["gap_share"] == pytest.approx(stats["share"], abs=1e-9)
        # about GAP_DAY_P × the mean gap length, per day
        expected = goat.GAP_DAY_P * sum(goat.GAP_STEPS) / 2 / goat.STEPS_PER_DAY
        assert 0.3 * expected < manifest["gap_share"] < 2 * expected


def test_the_floor_is_the_true_means_score_and_beats_seasonal_naive(regular, generated):
    _, result = generated
    scored = _mu(regular).withColumn("err", F.col("ratio_debout") - F.col("mu"))
    per_month = {row[lake.MONTH_COLUMN]: row for row in scored.groupBy(lake.MONTH_COLUMN).agg(
        F.count(F.lit(1)).alias("n"), F.sqrt(F.avg(F.col("err") ** 2)).alias("rmse"), F.avg(F.abs("err")).alias("mae"),
        F.avg("err").alias("bias")).collect()}
    for month in MONTHS:
        manifest, row = result["months"][month], per_month[month]
        assert manifest["scored_rows"] == row["n"]
        assert manifest["best_possible"]["rmse"] == pytest.approx(row["rmse"], rel=1e-9)
        assert manifest["best_possible"]["mae"] == pytest.approx(row["mae"], rel=1e-9)
        assert 0.7 * goat.NOISE_SD < row["rmse"] <= 1.05 * goat.NOISE_SD
        assert abs(row["bias"]) < 4 * goat.NOISE_SD / math.sqrt(row["n"])  # the mean is unbiased
    # seasonal naive: the same animal's value one day earlier
    earlier = scored.select("animal_id", (F.col("date") + F.expr("INTERVAL 1 DAY")).alias("date"),
                            F.col("ratio_debout").alias("yesterday"))
    pairs = scored.join(earlier, ["animal_id", "date"]).agg(
        F.count(F.lit(1)).alias("n"), F.sqrt(F.avg(F.col("err") ** 2)).alias("mu_rmse"),
        F.sqrt(F.avg((F.col("ratio_debout") - F.col("yesterday")) ** 2)).alias("naive_rmse")).first()
    assert pairs["n"] > 10_000 and pairs["mu_rmse"] < 0.8 * pairs["naive_rmse"]


def test_weather_drives_the_mean_as_stated(regular):
    """Heat above HEAT_THRESHOLD lowers μ, cooler weather does not move it, rain raises it."""
    def mu(temperature: float, rain: float):
        return goat.true_mean(SEED, F.col("animal_id"), F.col("date"), F.lit(temperature), F.lit(rain))

    threshold = goat.HEAT_THRESHOLD
    frame = regular.select((mu(threshold + 5, 0.0) - mu(threshold, 0.0)).alias("hot"),
                           F.abs(mu(threshold, 0.0) - mu(threshold - 15, 0.0)).alias("cool"),
                           (mu(threshold, 1.0) - mu(threshold, 0.0)).alias("wet"))
    stats = frame.agg(F.max("hot").alias("hot"), F.max("cool").alias("cool"), F.min("wet").alias("wet")).first()
    assert stats["hot"] < 0 < stats["wet"] and stats["cool"] == 0


def test_months_alone_equal_months_together_and_the_seed_matters(spark, generated, tmp_path):
    base, result = generated
    together = spark.read.parquet(lake.month_uri(str(base), MONTHS[1]))
    alone = goat.generate_herd(spark, str(tmp_path), [MONTHS[1]], ANIMALS, SEED)
    single = spark.read.parquet(lake.month_uri(str(tmp_path), MONTHS[1]))
    assert single.count() == together.count() and single.exceptAll(together).count() == 0
    assert alone["months"][MONTHS[1]] == result["months"][MONTHS[1]]
    # another seed: other weather and other animals (a day of steps, no herd written)
    first, _ = goat._month_steps(MONTHS[1])
    steps = spark.range(first, first + goat.STEPS_PER_DAY).select(
        goat.temperature(SEED, F.col("id")).alias("t"), goat.temperature(SEED + 1, F.col("id")).alias("t1"),
        goat.true_mean(SEED, F.lit("goat_0001"), F.timestamp_seconds(F.col("id") * goat.STEP_SECONDS), F.lit(10.0), F.lit(0.0)).alias("m"),
        goat.true_mean(SEED + 1, F.lit("goat_0001"), F.timestamp_seconds(F.col("id") * goat.STEP_SECONDS), F.lit(10.0), F.lit(0.0)).alias("m1"))
    assert steps.filter("t = t1 OR m = m1").count() < goat.STEPS_PER_DAY / 4
