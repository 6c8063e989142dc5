"""The largest errors of a predictions folder, read in batches with pyarrow (no Spark).

Folders of several Parquet files are written with pyarrow; every expected answer is a
pandas computation over all the rows at once, which the streamed result must equal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparkmlops import config
from sparkmlops.errors import DataError
from sparkmlops.reporting.prediction_sample import largest_errors
from sparkmlops.tasks import get_task
from sparkmlops.tasks.error_spec import ErrorSpec

REGRESSION = ErrorSpec(target="total_amount", prediction="prediction")
CLASSIFICATION = ErrorSpec(target="RainTomorrow", prediction="probability", positive_label="Yes")


def write_folder(folder, frame: pd.DataFrame | pa.Table, files: int = 3, row_group_size: int = 97):
    """``frame`` split over ``files`` part files in order, plus the markers Spark leaves."""
    folder.mkdir(parents=True, exist_ok=True)
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    for number, part in enumerate(np.array_split(np.arange(table.num_rows), files)):
        pq.write_table(table.slice(part[0], len(part)), folder / f"part-{number:05d}.parquet", row_group_size=row_group_size)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-00000.parquet.crc").write_bytes(b"not parquet")


def regression_month(rows: int = 1000, seed: int = 1, null_share: float = 0.1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    target = rng.gamma(2.0, 10.0, rows)
    target[rng.random(rows) < null_share] = np.nan  # no observed fare
    return pd.DataFrame({
        "trip_id": np.arange(rows, dtype=np.int64),
        "trip_distance": rng.uniform(0.1, 30, rows),
        "total_amount": target,
        "prediction": rng.gamma(2.0, 10.0, rows),
    })


def expected_top(frame: pd.DataFrame, errors: pd.Series, limit: int) -> pd.DataFrame:
    labeled = frame.assign(error=errors)[errors.notna()]
    return labeled.nlargest(limit, "error", keep="first").reset_index(drop=True)


@pytest.mark.parametrize(("limit", "batch_rows"), [(50, 65536), (50, 64), (7, 13), (1, 1000), (2000, 100)])
def test_equals_nlargest_over_the_whole_month(tmp_path, limit, batch_rows):
    frame = regression_month()
    write_folder(tmp_path / "2023" / "04", frame)
    result = largest_errors(str(tmp_path / "2023" / "04"), REGRESSION, limit=limit, batch_rows=batch_rows)
    errors = (frame["prediction"] - frame["total_amount"]).abs()
    expected = expected_top(frame, errors, limit)
    assert len(result) == min(limit, int(errors.notna().sum()))
    pd.testing.assert_frame_equal(result, expected)
    assert result["error"].is_monotonic_decreasing


def test_reads_file_uris_and_ignores_markers(tmp_path):
    frame = regression_month(rows=300)
    write_folder(tmp_path / "month", frame)
    by_path = largest_errors(str(tmp_path / "month"), REGRESSION, limit=10)
    by_uri = largest_errors((tmp_path / "month").as_uri(), REGRESSION, limit=10)
    pd.testing.assert_frame_equal(by_path, by_uri)


def test_never_holds_more_than_limit_plus_one_batch(tmp_path):
    frame = regression_month(rows=5000, null_share=0.0)
    write_folder(tmp_path / "month", frame, files=4, row_group_size=1000)
    held: list[int] = []
    largest_errors(str(tmp_path / "month"), REGRESSION, limit=20, batch_rows=250, on_held=held.append)
    assert len(held) >= 5000 // 250  # streamed: one call per batch
    assert max(held) <= 20 + 250
    assert sum(held) - 20 * (len(held) - 1) == 5000  # every row passed through exactly once


def test_a_month_without_targets_returns_its_first_rows_with_nan_errors(tmp_path):
    frame = regression_month(rows=400, null_share=1.0)
    write_folder(tmp_path / "month", frame)
    result = largest_errors(str(tmp_path / "month"), REGRESSION, limit=25, batch_rows=60)
    assert result["trip_id"].tolist() == list(range(25))
    assert result["error"].isna().all() and result["error"].dtype == np.float64


def test_predictions_without_a_target_column_are_an_unlabeled_month(tmp_path):
    frame = regression_month(rows=100).drop(columns="total_amount")
    write_folder(tmp_path / "month", frame)
    result = largest_errors(str(tmp_path / "month"), REGRESSION, limit=5)
    assert result["trip_id"].tolist() == [0, 1, 2, 3, 4] and result["error"].isna().all()


def test_fewer_labeled_rows_than_the_limit_returns_only_them(tmp_path):
    frame = regression_month(rows=200, null_share=0.97, seed=4)
    write_folder(tmp_path / "month", frame)
    result = largest_errors(str(tmp_path / "month"), REGRESSION, limit=100, batch_rows=30)
    labeled = frame["total_amount"].notna()
    assert 0 < labeled.sum() < 100
    assert sorted(result["trip_id"]) == sorted(frame.loc[labeled, "trip_id"]) and result["error"].notna().all()


def test_nan_predictions_are_not_ranked(tmp_path):
    frame = regression_month(rows=100, null_share=0.0)
    frame.loc[[3, 50], "prediction"] = np.nan
    write_folder(tmp_path / "month", frame)
    result = largest_errors(str(tmp_path / "month"), REGRESSION, limit=200)
    assert len(result) == 98 and not {3, 50} & set(result["trip_id"])


@pytest.mark.parametrize(("target", "positive"), [
    (["Yes", "No", None, "No", "Yes", "No"] * 50, "Yes"),
    ([1, -1, None, -1, 1, -1] * 50, "1"),  # a numeric target (SECOM's 1 / -1) compared as a number
])
def test_classification_error_is_distance_to_the_positive_indicator(tmp_path, target, positive):
    rng = np.random.default_rng(2)
    kind = pa.string() if isinstance(target[0], str) else pa.int64()
    table = pa.table({"row": pa.array(np.arange(len(target))), "RainTomorrow": pa.array(target, kind),
                      "probability": pa.array(rng.random(len(target)))})
    write_folder(tmp_path / "month", table)
    spec = ErrorSpec(target="RainTomorrow", prediction="probability", positive_label=positive)
    result = largest_errors(str(tmp_path / "month"), spec, limit=40, batch_rows=32)
    assert str(result["RainTomorrow"].dtype) == ("object" if kind == pa.string() else "int64")  # as written
    frame = table.to_pandas()
    y = pd.Series([None if value is None else float(str(value) == positive) for value in target], dtype="float64")
    expected = expected_top(frame, (frame["probability"] - y).abs(), 40)
    assert result["row"].tolist() == expected["row"].tolist()
    np.testing.assert_allclose(result["error"], expected["error"])


def test_an_error_column_in_the_predictions_is_kept_under_another_name(tmp_path):
    frame = pd.DataFrame({"animal": ["a", "b", "c"], "ratio_debout": [0.5, 0.2, None],
                          "prediction": [0.4, 0.9, 0.1], "error": [None, "fit failed", None]})
    write_folder(tmp_path / "month", frame, files=1)
    result = largest_errors(str(tmp_path / "month"), ErrorSpec("ratio_debout", "prediction"), limit=5)
    assert result["animal"].tolist() == ["b", "a"]
    assert result["written_error"].tolist() == ["fit failed", None]
    np.testing.assert_allclose(result["error"], [0.7, 0.1])


def test_a_missing_folder_is_a_data_error_saying_what_to_do(tmp_path):
    missing = tmp_path / "predictions" / "taxi_fare" / "2023" / "05"
    with pytest.raises(DataError, match=r"no predictions folder at .*2023/05.*sparkmlops predict --test-month") as caught:
        largest_errors(str(missing), REGRESSION)
    assert caught.value.exit_code == 3
    (missing).mkdir(parents=True)
    (missing / "_SUCCESS").write_text("")
    with pytest.raises(DataError, match="holds no Parquet file"):
        largest_errors(str(missing), REGRESSION)


def test_a_folder_without_the_prediction_column_is_a_data_error(tmp_path):
    write_folder(tmp_path / "month", regression_month(rows=10).drop(columns="prediction"), files=1)
    with pytest.raises(DataError, match="no column 'prediction'"):
        largest_errors(str(tmp_path / "month"), REGRESSION)


@pytest.mark.parametrize(("usecase", "expected"), [
    ("taxi_fare", ErrorSpec("total_amount", "prediction")),
    ("outage_duration", ErrorSpec("duration_days", "prediction")),
    ("rain_tomorrow", ErrorSpec("RainTomorrow", "probability", positive_label="Yes")),
    ("secom_defect", ErrorSpec("label", "probability", positive_label="1")),
    ("goat_posture", ErrorSpec("ratio_debout", "prediction")),
])
def test_the_error_spec_comes_from_the_task(usecase, expected):
    loaded = config.load(usecase)
    spec = get_task(loaded).prediction_error_spec()
    assert spec.target == loaded.data.target
    if loaded.data.labels is not None:
        assert spec.positive_label == loaded.data.labels.positive
    assert spec == expected
