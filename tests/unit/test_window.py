from datetime import date

import pytest

from sparkmlops.errors import DataError, UsageError
from sparkmlops.window import (
    day_window_months,
    parse_month,
    previous_complete_month,
    resolve_day_window,
    resolve_window,
    shift_month,
)

LAKE = ["2023-01", "2023-02", "2023-03", "2023-04", "2023-06"]


@pytest.mark.parametrize("bad", ["2023-13", "2023-00", "23-01", "2023/01", "2023-1", "", "june"])
def test_bad_month_strings_are_usage_errors(bad):
    with pytest.raises(UsageError, match="is not a month"):
        parse_month(bad)


def test_shift_and_previous_month_cross_year_boundaries():
    assert shift_month("2023-01", -1) == "2022-12"
    assert shift_month("2022-11", 3) == "2023-02"
    assert previous_complete_month(date(2026, 1, 15)) == "2025-12"


def test_default_window_is_the_months_before_the_test_month():
    window = resolve_window("2023-04", None, 3, LAKE)
    assert window.train_months == ("2023-01", "2023-02", "2023-03")
    assert window.missing_train_months == ()


def test_missing_test_month_is_always_an_error_even_when_skipping():
    with pytest.raises(DataError, match="Test month 2023-05 is not in the lake"):
        resolve_window("2023-05", None, 3, LAKE, strict=False)


def test_strict_mode_lists_missing_and_available_months_and_the_three_options():
    with pytest.raises(DataError) as caught:
        resolve_window("2023-06", None, 3, LAKE)
    message = str(caught.value)
    assert "2023-05 are missing" in message
    assert "available: 2023-01, 2023-02, 2023-03, 2023-04, 2023-06" in message
    assert "--skip-missing" in message and "--train-months" in message and "ingest or generate" in message


def test_skip_missing_continues_with_what_exists():
    window = resolve_window("2023-06", None, 3, LAKE, strict=False)
    assert window.train_months == ("2023-03", "2023-04")
    assert window.missing_train_months == ("2023-05",)


def test_skip_missing_still_needs_two_train_months():
    with pytest.raises(DataError, match="Only 1 of the requested train months"):
        resolve_window("2023-06", ["2023-04", "2023-05"], 3, LAKE, strict=False)


def test_fewer_than_two_requested_months_is_a_usage_error():
    with pytest.raises(UsageError, match="at least 2 train months"):
        resolve_window("2023-04", ["2023-03"], 3, LAKE)


def test_train_months_must_precede_the_test_month():
    with pytest.raises(UsageError, match="not before the test month"):
        resolve_window("2023-03", ["2023-02", "2023-04"], 3, LAKE)


def test_explicit_months_are_sorted_and_deduplicated():
    window = resolve_window("2023-06", ["2023-04", "2023-01", "2023-04"], 3, LAKE)
    assert window.train_months == ("2023-01", "2023-04")


def test_incomplete_months_count_as_missing_and_are_named():
    available = ["2023-01", "2023-03", "2023-04"]
    with pytest.raises(DataError, match="Test month 2023-04 is incomplete.*_SUCCESS"):
        resolve_window("2023-04", None, 3, ["2023-01", "2023-02", "2023-03"], incomplete=["2023-04"])
    with pytest.raises(DataError, match=r"2023-02 is incomplete: Parquet files but no _SUCCESS"):
        resolve_window("2023-04", None, 3, available, incomplete=["2023-02"])
    window = resolve_window("2023-04", None, 3, available, strict=False, incomplete=["2023-02"])
    assert window.train_months == ("2023-01", "2023-03") and window.missing_train_months == ("2023-02",)


# ---- day windows (window.unit: day) ----------------------------------------------------------

def june_days(*ranges: tuple[int, int]) -> list[str]:
    return [f"2023-06-{d:02d}" for low, high in ranges for d in range(low, high + 1)]


def test_day_window_tests_the_last_days_and_trains_on_the_days_before():
    window = resolve_day_window("2023-06", train_days=5, test_days=2, available_days=june_days((1, 30)))
    assert window.test_days == ("2023-06-29", "2023-06-30")
    assert window.train_days == tuple(june_days((24, 28)))
    assert window.months_to_read == ["2023-06"] and window.missing_train_days == ()
    assert window.as_dict()["unit"] == "day"


def test_day_window_crosses_into_the_previous_month():
    available = [f"2023-05-{d:02d}" for d in range(25, 32)] + june_days((1, 2))
    window = resolve_day_window("2023-06", train_days=5, test_days=29, available_days=available + june_days((3, 30)))
    assert window.test_days[0] == "2023-06-02"
    assert window.train_days == ("2023-05-28", "2023-05-29", "2023-05-30", "2023-05-31", "2023-06-01")
    assert window.months_to_read == ["2023-05", "2023-06"] and window.train_months == ("2023-05",)
    assert day_window_months("2023-06", 5, 29) == ["2023-05", "2023-06"]


def test_a_missing_test_day_is_named():
    with pytest.raises(DataError, match=r"Test day\(s\) 2023-06-30 of 2023-06 have no rows .*2023-06-01\.\.2023-06-29"):
        resolve_day_window("2023-06", 5, 2, june_days((1, 29)))


def test_missing_train_days_fail_strict_and_are_skipped_on_request():
    available = june_days((1, 24), (27, 30))
    with pytest.raises(DataError, match=r"Train day\(s\) 2023-06-25, 2023-06-26 have no rows.*--skip-missing"):
        resolve_day_window("2023-06", 5, 2, available)
    window = resolve_day_window("2023-06", 5, 2, available, strict=False)
    assert window.train_days == ("2023-06-24", "2023-06-27", "2023-06-28")
    assert window.missing_train_days == ("2023-06-25", "2023-06-26")


def test_fewer_than_two_train_days_fail_even_when_skipping():
    with pytest.raises(DataError, match="Only 1 of the 5 train days before 2023-06-29"):
        resolve_day_window("2023-06", 5, 2, june_days((28, 30)), strict=False)
