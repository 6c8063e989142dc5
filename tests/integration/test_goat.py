"""goat_posture end to end: a generated herd, one model per animal through applyInPandas,
day windows (5 train days, the last 2 days of the month tested), the current model judged
on the same days, predict from the stored parameters, the monthly pipeline with its gates,
and the bad inputs a herd brings, each a clear error or a flagged series.

The YAML is the shipped one with a smaller herd; nothing else changes.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from sparkmlops import cli, lake
from tests.support import assert_tracked_in_mlflow
from tests.support.report_pages import check_dashboard, check_html_report

REPO = Path(__file__).resolve().parents[2]
USECASE = "goat_posture"
ANIMALS = 12  # 3 of them pathological (constant, too short, all missing)
pytestmark = pytest.mark.integration


def write_config(root: Path, **changes) -> Path:
    raw = yaml.safe_load((REPO / f"conf/usecases/{USECASE}.yaml").read_text())
    raw["data"]["base_path"] = str(root / "lake")
    raw["data"]["generator_options"] = {"animals": ANIMALS}
    raw["paths"] = {"registry": str(root / "registry"), "reports": str(root / "reports")}
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    path = root / f"{USECASE}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(config_file: Path, *args: str) -> int:
    return cli.main([args[0], "--usecase", USECASE, "--config", str(config_file), *args[1:]])


def read(root: Path, month: str, kind: str) -> dict:
    return json.loads((root / "reports" / USECASE / month / f"{kind}_report.json").read_text())


@pytest.fixture(scope="module")
def herd(tmp_path_factory, spark, mlflow_db_template):
    root = tmp_path_factory.mktemp("goat")
    config_file = write_config(root)
    codes = {"generate": run(config_file, "generate", "--months", "2023-06:2023-07"),
             "train": run(config_file, "train", "--test-month", "2023-06")}
    env = {**os.environ, "SPARKMLOPS_VENV": str(Path(sys.executable).parents[1]), "SPARK_LOCAL_IP": "127.0.0.1"}
    (root / "mlruns").mkdir()
    shutil.copy(mlflow_db_template, root / "mlruns" / "mlflow.db")  # MLflow tracking on for the pipeline month
    pipeline = subprocess.run([str(REPO / "run_pipeline.sh"), "--usecase", USECASE, "--config", str(config_file),
                               "--test-month", "2023-07", "--master", "local[2]", "--conf", "spark.sql.shuffle.partitions=4",
                               "--tracking-uri", str(root / "mlruns")],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return root, config_file, codes, pipeline


def test_first_month_fits_every_animal_and_flags_the_pathological_ones(herd):
    root, _, codes, _ = herd
    assert codes == {"generate": 0, "train": 0}
    report = read(root, "2023-06", "train")
    manifest = json.loads((root / "lake/_manifests/2023-06.json").read_text())
    window = report["window"]
    assert window["unit"] == "day" and window["test_days"] == ["2023-06-29", "2023-06-30"]
    assert window["train_days"] == [f"2023-06-{day}" for day in range(24, 29)]
    overall = report["metrics"]["candidate"]["overall"]
    assert report["task"] == "forecasting" and report["promotion_metrics"] == ["mean_rmse", "median_rmse", "mean_mae"]
    per_series = report["metrics"]["candidate"]["per_series"]
    assert overall["series"] == len(per_series) >= ANIMALS - 1 and overall["rows"] == report["rows_tested_on"]
    assert manifest["best_possible"]["rmse"] * 0.8 <= overall["median_rmse"] < 0.2
    assert overall["median_rmse"] < overall["naive_mean_rmse"] and overall["share_beating_naive"] > 0.5
    healthy = [key for key in per_series if key not in manifest["pathological"]]
    assert all(per_series[key]["status"] == "ok" for key in healthy)
    scored = [per_series[key]["rmse"] for key in per_series if per_series[key]["n"]]
    assert overall["mean_rmse"] == pytest.approx(sum(scored) / len(scored))
    flagged = {row["series_id"]: row for row in report["model_analysis"]["fallback_and_failed"]}
    kinds = {kind: animal for animal, kind in manifest["pathological"].items()}
    # (the too-short animal's 4 hours usually fall outside the window: it has no model at all)
    assert set(flagged) == set(manifest["pathological"]) & set(per_series)
    assert "constant series" in flagged[kinds["constant"]]["error"]
    assert flagged[kinds["all_missing"]]["status"] == "failed"
    assert "all values missing" in flagged[kinds["all_missing"]]["error"]
    model = report["model"]
    assert model["type"] == "per_series_fourier_arima" and model["series"]["count"] >= ANIMALS - 1
    assert model["series"]["ok"] == len(healthy) and model["fit_seconds_per_series"]["median"] > 0
    assert report["feature_importance"] is None


def test_the_html_report_and_the_dashboard_show_every_animal(herd, tmp_path, record_property):
    """run_pipeline.sh's page in Chromium (per-animal errors, failures, fallbacks) and every dashboard view."""
    root = herd[0]
    measured = check_html_report(root / "reports", USECASE, tmp_path)
    record_property("measured: goat_posture report.html (bytes)", measured["bytes"])
    check_dashboard(root / "reports", root / "registry", USECASE)


def test_the_registry_holds_a_table_of_per_series_parameters(herd, spark):
    root = herd[0]
    folder = root / "registry" / USECASE / "current" / "model"
    metadata = json.loads((folder / "sparkmlops_model.json").read_text())
    assert metadata["artifact_kind"] == "series_table"
    table = spark.read.parquet(str(folder / "series"))
    assert table.count() == metadata["series"]["count"]
    ok = table.filter(F.col("status") == "ok").select("params", "param_names", "history").first()
    assert len(ok["params"]) == len(ok["param_names"]) > 0 and all(math.isfinite(p) for p in ok["params"])
    assert len(ok["history"]) == 5 * 96


def test_the_monthly_pipeline_judges_both_models_on_the_same_days_and_predicts(herd, spark):
    root, _, _, pipeline = herd
    assert pipeline.returncode == 0, (pipeline.stdout + pipeline.stderr)[-4000:]
    for step in ("pre-train gate", "train", "post-train gate", "predict", "post-predict gate", "html report"):
        assert f"== {step}" in pipeline.stderr
    july = read(root, "2023-07", "train")
    assert july["metrics"]["current"] is not None
    assert_tracked_in_mlflow(root / "mlruns", USECASE, july)  # the series table is logged and registered too
    comparison = july["comparison_with_current"]
    assert 0 < comparison["series_compared"] <= ANIMALS
    wins = sum(1 for key, figures in july["metrics"]["candidate"]["per_series"].items()
               if figures["rmse"] is not None and july["metrics"]["current"]["per_series"][key]["rmse"] is not None
               and figures["rmse"] < july["metrics"]["current"]["per_series"][key]["rmse"])
    assert comparison["candidate_better"] == wins
    predict = read(root, "2023-07", "predict")
    assert predict["post_predict_failures"] == []
    written = spark.read.parquet(predict["predictions_uri"])
    assert written.count() == predict["prediction_stats"]["rows"] == predict["rows"]["rows_out"]
    days = {row[0] for row in written.select(F.date_format("date", "yyyy-MM-dd")).distinct().collect()}
    assert days == {"2023-07-30", "2023-07-31"}
    low, high = written.agg(F.min("prediction"), F.max("prediction")).first()
    assert 0 <= low <= high <= 1
    for report in (july, predict):  # drift of the values and the herd; forecasts against the train days' values
        drift = report["drift"]
        assert drift["status"] == "ok" and set(drift["psi"]) == {"ratio_debout", "temperature", "rain", "animal_id"}
        assert set(drift["categories"]) == {"animal_id"} and drift["prediction"]["psi"] is not None
    series = json.loads((root / "reports" / USECASE / "live_performance.json").read_text())["entries"]
    assert [entry["month"] for entry in series] == ["2023-06", "2023-07"] and series[1]["model_version"] == "v0001"


# ---- bad input --------------------------------------------------------------------------------

@pytest.fixture()
def copy_of(herd, tmp_path):
    """A fresh root with the generated June lake (no registry, no reports) and a YAML pointing at it."""
    def make(**changes) -> tuple[Path, Path]:
        shutil.copytree(herd[0] / "lake", tmp_path / "lake")
        return tmp_path, write_config(tmp_path, **changes)
    return make


def rewrite_june(spark, root: Path, change) -> None:
    uri = lake.month_uri(str(root / "lake"), "2023-06")
    frame = change(spark.read.parquet(uri)).localCheckpoint()
    frame.write.mode("overwrite").parquet(uri)


def test_values_outside_the_range_are_refused_and_nothing_is_written(copy_of, spark, capsys):
    root, config_file = copy_of()
    pathological = json.loads((root / "lake/_manifests/2023-06.json").read_text())["pathological"]
    animal = next(f"goat_{k:04d}" for k in range(ANIMALS) if f"goat_{k:04d}" not in pathological)
    bad = (F.col("animal_id") == animal) & (F.dayofmonth("date") == 26) & (F.hour("date") == 12)
    rewrite_june(spark, root, lambda f: f.withColumn("ratio_debout", F.when(bad, 1.7).otherwise(F.col("ratio_debout"))))
    bad_rows = spark.read.parquet(lake.month_uri(str(root / "lake"), "2023-06")).filter(F.col("ratio_debout") > 1).count()
    assert run(config_file, "train", "--test-month", "2023-06") == 3
    err = capsys.readouterr().err
    assert f"{bad_rows} train row(s) have ratio_debout outside [0, 1]" in err and f"{animal}=1.7" in err
    assert not (root / "registry").exists() and not (root / "reports" / USECASE / "2023-06" / "train_report.json").exists()


def test_a_missing_exogenous_column_names_the_column(copy_of, spark, capsys):
    root, config_file = copy_of()
    rewrite_june(spark, root, lambda f: f.drop("rain"))
    assert run(config_file, "train", "--test-month", "2023-06") == 3
    assert "rain" in capsys.readouterr().err
    assert not (root / "registry").exists()


def test_an_empty_herd_on_the_test_days_is_a_clear_error(copy_of, spark, capsys):
    root, config_file = copy_of()
    rewrite_june(spark, root, lambda f: f.filter(F.dayofmonth("date") < 29))
    assert run(config_file, "train", "--test-month", "2023-06") == 3
    assert "Test day(s) 2023-06-29, 2023-06-30 of 2023-06 have no rows" in capsys.readouterr().err


def test_missing_train_days_need_skip_missing(copy_of, spark, capsys):
    root, config_file = copy_of()
    rewrite_june(spark, root, lambda f: f.filter(~F.dayofmonth("date").isin(25, 26)))
    assert run(config_file, "train", "--test-month", "2023-06") == 3
    assert "Train day(s) 2023-06-25, 2023-06-26 have no rows" in capsys.readouterr().err
    assert run(config_file, "train", "--test-month", "2023-06", "--skip-missing") == 0
    assert read(root, "2023-06", "train")["window"]["train_days"] == ["2023-06-24", "2023-06-27", "2023-06-28"]


def test_duplicates_short_series_and_one_sided_animals_are_flagged_not_fatal(copy_of, spark):
    root, config_file = copy_of()
    pathological = json.loads((root / "lake/_manifests/2023-06.json").read_text())["pathological"]
    duplicated, short, absent, new = [f"goat_{k:04d}" for k in range(ANIMALS) if f"goat_{k:04d}" not in pathological][:4]
    animal, day = F.col("animal_id"), F.dayofmonth("date")
    rewrite_june(spark, root, lambda f: (
        f.filter(~((animal == short) & (day < 28)))  # one train day left: too few points
         .unionByName(f.filter((animal == duplicated) & (day == 25) & (F.hour("date") == 3)))  # duplicate timestamps
         .filter(~((animal == absent) & (day >= 29)))  # trained, absent from the test days
         .filter(~((animal == new) & (day < 29)))))  # only on the test days
    assert run(config_file, "train", "--test-month", "2023-06") == 0
    report = read(root, "2023-06", "train")
    analysis = report["model_analysis"]
    flagged = {row["series_id"]: row for row in analysis["fallback_and_failed"]}
    assert flagged[duplicated]["status"] == "failed" and "duplicate" in flagged[duplicated]["error"].lower()
    assert flagged[short]["status"] == "fallback" and "too few points" in flagged[short]["error"]
    assert report["metrics"]["candidate"]["per_series"][short]["method"] == "seasonal_naive"
    assert report["metrics"]["candidate"]["per_series"][short]["n"] > 0
    assert analysis["trained_but_absent_from_test_days"] == [absent]
    assert analysis["on_test_days_without_a_model"] == [new]
    not_forecast = {row["series"]: row for row in report["metrics"]["candidate"]["not_forecast"]}
    assert not_forecast[new]["error"] == "no model for this series"


def test_train_months_are_refused_for_a_day_window(copy_of, capsys):
    root, config_file = copy_of()
    assert run(config_file, "train", "--test-month", "2023-06", "--train-months", "2023-04,2023-05") == 2
    err = capsys.readouterr().err
    assert "--train-months does not apply to goat_posture: its window is in days" in err
    assert not (root / "registry").exists()
