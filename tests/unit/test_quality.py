from datetime import datetime

import pytest

from sparkmlops import quality
from sparkmlops.errors import DataError, UsageError

RULES = {
    "null_target": "total_amount IS NOT NULL",
    "negative_amount": "total_amount >= 0",
    "out_of_window_timestamp": "date_format(pickup, 'yyyy-MM') = _lake_month",
}


@pytest.fixture()
def frame(spark):
    rows = [
        ("train", "2023-01", datetime(2023, 1, 5), 10.0),   # clean
        ("train", "2023-01", datetime(2023, 1, 6), None),   # null target (and NULL >= 0)
        ("train", "2023-01", datetime(2022, 12, 31), -3.0),  # negative and out of month
        ("test", "2023-02", datetime(2023, 2, 1), 7.5),     # clean
    ]
    return spark.createDataFrame(rows, "_split string, _lake_month string, pickup timestamp, total_amount double")


def test_failures_are_counted_per_rule_and_split(frame):
    counts = quality.count_failures(frame, RULES)
    train = counts["train"]
    assert (train["rows_in"], train["rows_out"], train["rows_removed"]) == (3, 1, 2)
    assert train["failures_by_rule"] == {"null_target": 1, "negative_amount": 2, "out_of_window_timestamp": 1}
    assert counts["test"]["retention"] == 1.0


def test_apply_rules_keeps_only_rows_passing_every_rule(frame):
    kept = quality.apply_rules(frame, RULES).select("total_amount").collect()
    assert sorted(row.total_amount for row in kept) == [7.5, 10.0]


def test_retention_below_minimum_stops_and_names_the_worst_rule(frame):
    counts = quality.count_failures(frame, RULES)
    with pytest.raises(DataError, match=r"kept only 33\.3% of the train rows.*'negative_amount'"):
        quality.check_retention(counts, 0.8)


def test_empty_split_is_a_data_error():
    with pytest.raises(DataError, match="The test data has no rows"):
        quality.check_retention({"test": {"rows_in": 0, "rows_out": 0, "retention": 0.0, "failures_by_rule": {}}}, 0.8)


def test_rule_naming_an_unknown_column_is_a_usage_error(frame):
    with pytest.raises(UsageError, match="names a column the data does not have"):
        quality.count_failures(frame, {"bad": "no_such_column > 0"})


def test_rules_over_keeps_rules_that_only_read_allowed_columns():
    data_columns = {"pickup", "total_amount"}
    kept = quality.rules_over(RULES, {"pickup"}, data_columns)
    assert list(kept) == ["out_of_window_timestamp"]


def test_month_counts_add_up_to_the_split_counts(spark, frame):
    extra = spark.createDataFrame([("train", "2023-03", datetime(2023, 3, 2), -1.0), ("train", "2023-03", datetime(2023, 3, 9), 4.0)],
                                  frame.schema)
    both = frame.unionByName(extra)
    by_month = quality.count_failures(both, RULES, group_column="_lake_month")
    by_split = quality.count_failures(both, RULES)
    assert quality.sum_counts([by_month["2023-01"], by_month["2023-03"]]) == by_split["train"]
    assert quality.sum_counts([by_month["2023-02"]]) == by_split["test"]
    assert quality.sum_counts([])["rows_in"] == 0 and quality.sum_counts([])["retention"] == 0.0
