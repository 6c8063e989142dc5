"""Predict with out-of-range predictions: report figures, worst rows, clipping, gate outcome.

A tiny lake and model (shared local[2] session, CLI in-process). ``prediction_min: 15``
puts the model's short-trip predictions out of range on purpose. The figures in the
report are checked against an oracle: the registry's model rescoring the written rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from sparkmlops import cli
from sparkmlops.errors import EXIT_GATE, EXIT_OK
from sparkmlops.registry import Registry
from tests.support.configs import small_taxi_config

MONTH = "2023-04"
LOW, HIGH = 15.0, 500.0
INPUTS = ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "passenger_count", "trip_distance",
          "RatecodeID", "PULocationID", "DOLocationID", "payment_type"]
pytestmark = pytest.mark.integration


def run(config_file: Path, *args: str) -> int:
    return cli.main([args[0], "--usecase", "taxi_fare", "--config", str(config_file), *args[1:]])


def with_gates(root: Path, name: str, raw: dict, **gates) -> Path:
    """A copy of the small taxi YAML with other gate keys (None removes a key)."""
    changed = {**raw, "gates": {key: value for key, value in {**raw["gates"], **gates}.items() if value is not None}}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(changed))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, spark):
    """Four tiny months and a current model trained on 2023-04."""
    root = tmp_path_factory.mktemp("bounds")
    config_file, raw = small_taxi_config(root, str(root / "lake" / "taxi_fare"))
    assert run(config_file, "generate", "--months", f"2023-01:{MONTH}", "--rows-per-month", "600", "--seed", "5") == 0
    assert run(config_file, "train", "--test-month", MONTH) == 0
    return root, raw


def predict_report(root: Path) -> dict:
    return json.loads((root / "reports" / "taxi_fare" / MONTH / "predict_report.json").read_text())


def oracle(spark, root: Path, report: dict):
    """The written rows, rescored by the current model: ``prediction`` here is the oracle."""
    model = PipelineModel.load(Registry(root / "registry", "taxi_fare").model_path("current"))
    written = spark.read.parquet(report["predictions_uri"]).withColumnRenamed("prediction", "written")
    return model.transform(written)


def test_clipped_month_reports_worst_rows_and_fails_the_gate_over_tolerance(trained, spark, capfd):
    root, raw = trained
    config_file = with_gates(root, "clip", raw, prediction_min=LOW, prediction_out_of_range_tolerance=0.01,
                             prediction_clip=True, prediction_worst_rows=5)
    assert run(config_file, "predict", "--test-month", MONTH) == EXIT_OK
    report = predict_report(root)
    stats = report["prediction_stats"]
    rows = oracle(spark, root, report).cache()
    p = F.col("prediction")
    truth = rows.agg(
        F.count(F.lit(1)).alias("rows"), F.sum((p < LOW).cast("int")).alias("below"), F.sum((p >= HIGH).cast("int")).alias("above"),
        F.max(F.abs(p - F.col("prediction_raw"))).alias("raw_error"), F.min(p).alias("min"), F.max(p).alias("max"),
        # clipping: written = the bound for out-of-range rows, the raw output otherwise; the flag marks exactly those
        F.sum((F.col("written") != F.least(F.greatest(p, F.lit(LOW)), F.lit(HIGH))).cast("int")).alias("wrong_written"),
        F.sum((F.col("prediction_clipped") != ((p < LOW) | (p >= HIGH))).cast("int")).alias("wrong_flags"),
        F.min("written").alias("written_min"),
    ).first()
    assert truth["raw_error"] < 1e-9 and truth["wrong_written"] == 0 and truth["wrong_flags"] == 0
    assert truth["written_min"] == LOW
    assert 5 < truth["below"] < truth["rows"] // 2, "the test needs some, not most, rows below the bound"
    assert {key: stats[key] for key in ("rows", "below_min", "above_max", "out_of_range", "clipped", "non_finite")} == {
        "rows": truth["rows"], "below_min": truth["below"], "above_max": truth["above"],
        "out_of_range": truth["below"] + truth["above"], "clipped": truth["below"] + truth["above"], "non_finite": 0}
    assert stats["out_of_range_share"] == pytest.approx(stats["out_of_range"] / truth["rows"])
    assert (stats["min"], stats["max"]) == pytest.approx((truth["min"], truth["max"]))
    assert stats["checked_against"] == {"prediction_min": LOW, "prediction_max": HIGH, "out_of_range_tolerance": 0.01, "clip": True}

    # the 5 farthest rows, farthest first, with the inputs of a real row that got that prediction
    out_of_range = rows.filter((p < LOW) | (p >= HIGH)).select(*INPUTS, "prediction").collect()
    expected = sorted(out_of_range, key=lambda row: -(LOW - row["prediction"]))[:5]
    worst = stats["worst_out_of_range"]
    assert [item["prediction_raw"] for item in worst] == pytest.approx([row["prediction"] for row in expected])
    assert [item["out_of_range_by"] for item in worst] == pytest.approx([LOW - row["prediction"] for row in expected])
    real_rows = {(json.dumps({name: _jsonable(row[name]) for name in INPUTS}, sort_keys=True), round(row["prediction"], 9))
                 for row in out_of_range}
    for item in worst:
        assert (item["side"], item["prediction"], item["prediction_clipped"]) == ("below", LOW, True)
        assert (json.dumps(item["inputs"], sort_keys=True), round(item["prediction_raw"], 9)) in real_rows
    rows.unpersist()

    capfd.readouterr()
    assert run(config_file, "gate", "--stage", "post_predict", "--test-month", MONTH) == EXIT_GATE
    gate_output = capfd.readouterr().out
    share = stats["out_of_range"] / stats["rows"] * 100
    assert f"{stats['out_of_range']:,} of {stats['rows']:,} predictions ({share:.3f} %) are outside [15, 500)" in gate_output
    assert "the tolerance is 1.000 %" in gate_output
    worst_inputs = ", ".join(f"{name}={value}" for name, value in worst[0]["inputs"].items())
    assert f"worst: {worst[0]['prediction_raw']:.2f} ({worst_inputs})" in gate_output

    # the same month within a looser tolerance passes
    loose = with_gates(root, "loose", raw, prediction_min=LOW, prediction_out_of_range_tolerance=0.5, prediction_clip=True)
    assert run(loose, "gate", "--stage", "post_predict", "--test-month", MONTH) == EXIT_OK


def test_strict_default_without_clipping_writes_raw_predictions_and_fails_the_gate(trained, spark, capfd):
    root, raw = trained
    config_file = with_gates(root, "strict", raw, prediction_min=LOW, prediction_out_of_range_tolerance=None,
                             prediction_clip=None, prediction_worst_rows=None)
    assert run(config_file, "predict", "--test-month", MONTH) == EXIT_OK
    stats = predict_report(root)["prediction_stats"]
    written = spark.read.parquet(predict_report(root)["predictions_uri"])
    assert dict(written.dtypes)["prediction_clipped"] == "boolean"  # present even with clipping off
    counts = written.agg(
        F.sum(F.col("prediction_clipped").cast("int")).alias("flagged"),
        F.sum((F.col("prediction") != F.col("prediction_raw")).cast("int")).alias("changed"),
        F.sum((F.col("prediction") < LOW).cast("int")).alias("below"),
    ).first()
    assert (counts["flagged"], counts["changed"]) == (0, 0) and counts["below"] == stats["below_min"] > 0
    assert stats["clipped"] == 0 and len(stats["worst_out_of_range"]) == min(10, stats["out_of_range"])

    capfd.readouterr()
    assert run(config_file, "gate", "--stage", "post_predict", "--test-month", MONTH) == EXIT_GATE
    assert "the tolerance is 0.000 %" in capfd.readouterr().out


def _jsonable(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
