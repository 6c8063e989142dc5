import math

import pytest

from sparkmlops.analysis.errors import large_error_causes
from sparkmlops.config import Bucket
from sparkmlops.evaluation import evaluate

BUCKETS = [Bucket(name="low", low=0, high=10), Bucket(name="high", low=10)]


@pytest.fixture()
def scored(spark):
    labels = [2.0, 4.0, 6.0, 20.0, 40.0]
    predictions = [3.0, 4.0, 4.0, 26.0, 40.0]
    return spark.createDataFrame(list(zip(labels, predictions)), "y double, p double")


def test_overall_metrics_match_the_textbook_formulas(scored):
    rows = scored.collect()
    errors = [r.p - r.y for r in rows]
    mean_y = sum(r.y for r in rows) / len(rows)
    sst = sum((r.y - mean_y) ** 2 for r in rows)
    result = evaluate(scored, "y", "p", BUCKETS)["overall"]
    assert result["count"] == 5
    assert result["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 5))
    assert result["mae"] == pytest.approx(sum(abs(e) for e in errors) / 5)
    assert result["r2"] == pytest.approx(1 - sum(e * e for e in errors) / sst)
    assert result["bias"] == pytest.approx(sum(errors) / 5)


def test_bucket_metrics_split_by_label_range(scored):
    buckets = evaluate(scored, "y", "p", BUCKETS)["buckets"]
    assert buckets["low"]["count"] == 3 and buckets["high"]["count"] == 2
    assert buckets["low"]["mae"] == pytest.approx((1 + 0 + 2) / 3)
    assert buckets["high"]["rmse"] == pytest.approx(math.sqrt(36 / 2))


def test_large_error_causes_rank_over_represented_causes(spark):
    rows = [(float(i), float(i) + (30.0 if i % 10 == 0 else 0.5), i % 10 == 0, i % 2 == 0) for i in range(200)]
    frame = spark.createDataFrame(rows, "y double, p double, night boolean, even boolean")
    result = large_error_causes(frame, "y", "p", {"night": "night", "even": "even"}, quantile=0.95)
    by_name = {item["cause"]: item for item in result["causes"]}
    assert result["top_causes"][0] == "night"
    assert by_name["night"]["share_in_errors"] == 1.0
    assert by_name["night"]["lift"] == pytest.approx(10.0)
