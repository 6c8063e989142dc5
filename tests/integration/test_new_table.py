"""A data set none of the shipped use cases has, added with a YAML file only: ingest, train,
predict and the gates through the CLI; then the bad inputs a user meets, each a clear error
with its exit code and nothing changed in the registry or the reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from sparkmlops import cli
from sparkmlops.models.artifact import METADATA_FILE
from tests.support import churn
from tests.support.predictions import assert_target_is_the_lakes

pytestmark = pytest.mark.integration


def run(config_file: Path, *args: str) -> int:
    return cli.main([args[0], "--usecase", "customer_churn", "--config", str(config_file), *args[1:]])


@pytest.fixture(scope="module")
def churn_run(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("churn")
    config_file = churn.write_yaml(root)
    codes = [run(config_file, "ingest", "--source", str(path)) for path in churn.write_exports(root / "exports")]
    codes += [run(config_file, "train", "--test-month", "2023-04"), run(config_file, "predict", "--test-month", "2023-04")]
    return root, config_file, codes


def report(root: Path, kind: str) -> dict:
    return json.loads((root / "reports/customer_churn/2023-04" / f"{kind}_report.json").read_text())


def test_ingest_train_and_predict_with_yaml_only(churn_run, spark):
    root, config_file, codes = churn_run
    assert codes == [0] * 6
    train = report(root, "train")
    overall = train["metrics"]["candidate"]["overall"]
    assert train["task"] == "classification" and train["promotion_metrics"] == ["roc_auc", "pr_auc", "f1"]
    assert overall["count"] == train["rows_tested_on"] == overall["positives"] + overall["negatives"]
    assert overall["roc_auc"] > 0.7 and 0 < overall["f1"] <= 1
    confusion = train["error_analysis"]["confusion_matrix"]
    assert sum(confusion.values()) == overall["count"]
    assert sum(row["rows"] for row in train["error_analysis"]["calibration"]) == overall["count"]
    assert overall["predicted_positive_share"] == pytest.approx((confusion["tp"] + confusion["fp"]) / overall["count"])
    model = train["model"]
    assert model["type"] == "logistic_regression" and 0 < model["threshold"] < 1
    assert model["threshold_tuning"]["objective"] == "f1" and set(model["class_weights"]) == {"positive", "negative"}
    assert overall["threshold"] == model["threshold"]
    names = [item["feature"] for item in train["feature_importance"]]
    assert "plan__onehot_basic" in names and "spend_per_tenure_month__imputed" in names
    assert train["decision"]["outcome"] == "first_model"
    saved = json.loads((root / "registry/customer_churn/current/model" / METADATA_FILE).read_text())
    assert saved["threshold"] == model["threshold"]

    predict = report(root, "predict")
    stats = predict["prediction_stats"]
    written = spark.read.parquet(predict["predictions_uri"])
    assert stats["rows"] == written.count() == predict["rows"]["rows_out"]
    assert stats["non_finite"] == stats["outside_unit_interval"] == 0 and predict["post_predict_failures"] == []
    row = written.agg(F.min("probability").alias("lo"), F.max("probability").alias("hi"),
                      F.sum(F.when(F.col("probability") >= model["threshold"], 1).otherwise(0)).alias("positive"),
                      F.count_distinct("predicted_label").alias("labels")).first()
    assert 0 <= row["lo"] <= row["hi"] <= 1 and row["positive"] == stats["predicted_positive"]
    assert {r.predicted_label for r in written.select("predicted_label").distinct().collect()} == {"yes", "no"}
    assert written.filter(F.col("region") == "mars").count() > 0  # an unseen category still scores
    assert dict(written.dtypes)["churned"] == "string"  # the observed label, as in the lake
    assert_target_is_the_lakes(written, spark.read.parquet(str(root / "lake/customer_churn/2023/04")), "churned")
    assert run(config_file, "gate", "--stage", "post_train", "--test-month", "2023-04") == 0
    assert run(config_file, "gate", "--stage", "post_predict", "--test-month", "2023-04") == 0


def snapshot(root: Path) -> dict[str, str]:
    return {str(p): p.read_text() for folder in ("registry", "reports") for p in sorted((root / folder).rglob("*.json"))}


@pytest.fixture()
def bad_lake(tmp_path, spark):
    """The use case with its own lake, registry and reports."""
    raw = churn.churn_yaml(tmp_path)
    return tmp_path, churn.write_yaml(tmp_path, raw), raw


def ingest_all(config_file: Path, folder: Path, tables: dict[str, object]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for month, table in tables.items():
        path = folder / f"churn_{month}.parquet"
        table.to_parquet(path)
        assert run(config_file, "ingest", "--source", str(path)) == 0


def test_a_label_with_an_unexpected_value_is_named_with_the_allowed_ones(bad_lake, capsys):
    root, config_file, _ = bad_lake
    tables = {month: churn.month_table(month, rows=200) for month in churn.MONTHS}
    tables["2023-02"].loc[3, "churned"] = "maybe"
    ingest_all(config_file, root / "exports", tables)
    before = snapshot(root)
    assert run(config_file, "train", "--test-month", "2023-04") == 3
    err = capsys.readouterr().err
    assert "The target churned has the value 'maybe' in 1 train row(s); the allowed values are 'yes' (positive) and 'no'" in err
    assert snapshot(root) == before and not (root / "registry").exists()


def test_a_test_month_with_one_class_is_refused(bad_lake, capsys):
    root, config_file, _ = bad_lake
    tables = {month: churn.month_table(month, rows=200) for month in churn.MONTHS}
    tables["2023-04"]["churned"] = "no"
    ingest_all(config_file, root / "exports", tables)
    assert run(config_file, "train", "--test-month", "2023-04") == 3
    assert "The test rows after cleaning hold only one class of churned ('no', 200 rows)" in capsys.readouterr().err
    assert not (root / "registry").exists() and not list((root / "reports").rglob("*.json"))


def test_a_month_whose_rows_are_all_cleaned_away_stops_before_training(bad_lake, capsys):
    root, config_file, _ = bad_lake
    tables = {month: churn.month_table(month, rows=200) for month in churn.MONTHS}
    tables["2023-04"]["tenure_months"] = 0  # fails the tenure_known rule
    ingest_all(config_file, root / "exports", tables)
    assert run(config_file, "train", "--test-month", "2023-04") == 3
    err = capsys.readouterr().err
    assert "Cleaning kept only 0.0% of the test rows (0 of 200)" in err and "'tenure_known' (200 rows)" in err
    assert not (root / "registry").exists()


def test_a_column_missing_from_a_lake_month_is_named_with_its_file(bad_lake, capsys, spark):
    root, config_file, raw = bad_lake
    ingest_all(config_file, root / "exports", {month: churn.month_table(month, rows=200) for month in churn.MONTHS})
    month_dir = Path(raw["data"]["base_path"]) / "2023" / "03"
    part = next(month_dir.glob("*.parquet"))
    table = spark.read.parquet(str(part)).drop("plan").toPandas()  # 200 rows: tiny
    table.to_parquet(part, coerce_timestamps="us")  # microseconds, as Spark writes them
    part.with_name(f".{part.name}.crc").unlink()  # Hadoop's checksum of the file Spark wrote
    assert run(config_file, "train", "--test-month", "2023-04") == 3
    err = capsys.readouterr().err
    assert f"Lake file file:{part}" in err and "misses required column(s) plan" in err


@pytest.mark.parametrize(("change", "message"), [
    (lambda raw: raw["model"].update(type="xgboost"), "is 'xgboost', not a known estimator"),
    (lambda raw: raw["evaluation"].update(metrics=["roc_auc", "r2", "f1"]), "evaluation.metrics names r2"),
])
def test_an_unknown_estimator_or_metric_is_a_usage_error(bad_lake, capsys, change, message):
    root, _, raw = bad_lake
    change(raw)
    config_file = churn.write_yaml(root, raw)
    assert run(config_file, "train", "--test-month", "2023-04") == 2
    assert message in capsys.readouterr().err and not (root / "registry").exists()
