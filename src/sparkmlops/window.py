"""Sliding window: which month is tested and which months train the model.

Rules (the seed's): the test month is always required; fewer than 2 train months is an
error; strict mode (default) fails on any missing train month and says how to fix it;
``--skip-missing`` continues with the months that exist when those two minimums hold.

Day windows (``window.unit: day``, per-series forecasting) follow the same rules in days:
the test days are the last ``test_days`` days of the test month and must all have rows;
the ``train_days`` days before them train, strict about missing days unless
``--skip-missing`` (at least 2 train days). The lake stays monthly: the window also names
the months to read, and the registry and reports keep the test month as the run's key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sparkmlops.errors import DataError, UsageError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MIN_TRAIN_MONTHS = 2


def parse_month(text: str, option: str = "--test-month") -> str:
    """Validate a 'YYYY-MM' string and return it unchanged."""
    if not isinstance(text, str) or not _MONTH.match(text.strip()):
        raise UsageError(
            f"'{text}' given to {option} is not a month.",
            "Months are written YYYY-MM with a month from 01 to 12.",
            "Example: --test-month 2023-06 --train-months 2023-03,2023-04,2023-05.",
        )
    return text.strip()


def shift_month(month: str, offset: int) -> str:
    year, mm = (int(part) for part in month.split("-"))
    index = year * 12 + (mm - 1) + offset
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def previous_complete_month(today: date | None = None) -> str:
    today = today or date.today()
    return shift_month(f"{today.year:04d}-{today.month:02d}", -1)


@dataclass(frozen=True)
class Window:
    test_month: str
    train_months: tuple[str, ...]
    requested_train_months: tuple[str, ...]
    missing_train_months: tuple[str, ...]
    # day windows only (ISO dates); train_months then lists every other month to read
    test_days: tuple[str, ...] = field(default=())
    train_days: tuple[str, ...] = field(default=())
    missing_train_days: tuple[str, ...] = field(default=())

    @property
    def months_to_read(self) -> list[str]:
        return sorted({*self.train_months, self.test_month})

    def as_dict(self) -> dict:
        window = {
            "test_month": self.test_month,
            "train_months": list(self.train_months),
            "requested_train_months": list(self.requested_train_months),
            "missing_train_months": list(self.missing_train_months),
        }
        if self.test_days:
            window.update(unit="day", test_days=list(self.test_days), train_days=list(self.train_days),
                          missing_train_days=list(self.missing_train_days))
        return window


def month_last_days(month: str, count: int) -> tuple[str, ...]:
    """The last ``count`` days of a month, as ISO dates in order."""
    year, mm = (int(part) for part in month.split("-"))
    first_of_next = date(year + mm // 12, mm % 12 + 1, 1)
    return tuple((first_of_next - timedelta(days=k)).isoformat() for k in range(count, 0, -1))


def day_window_months(test_month: str, train_days: int, test_days: int) -> list[str]:
    """Months a day window may read: those of the train days before the test days, and the test month."""
    first_test = date.fromisoformat(month_last_days(parse_month(test_month), test_days)[0])
    first_train = first_test - timedelta(days=train_days)
    return sorted({f"{first_train:%Y-%m}", f"{first_test:%Y-%m}", test_month})


def resolve_day_window(test_month: str, train_days: int, test_days: int, available_days: list[str],
                       strict: bool = True) -> Window:
    """Apply the window rules in days to the days the lake has rows for.

    Args:
        test_month: 'YYYY-MM'; its last ``test_days`` days are tested.
        train_days: days before the test days that train the model.
        test_days: days at the end of the test month.
        available_days: ISO dates with at least one row in the months read.
        strict: fail on any missing train day (``--skip-missing`` turns it off).

    Raises:
        DataError: a test day has no rows, a train day is missing in strict mode, or fewer
            than 2 train days have rows.
    """
    test_month = parse_month(test_month)
    tested = month_last_days(test_month, test_days)
    first_test = date.fromisoformat(tested[0])
    wanted = tuple((first_test - timedelta(days=k)).isoformat() for k in range(train_days, 0, -1))
    have = set(available_days)
    shown = _day_ranges(sorted(have)) or "none"
    absent_tests = [day for day in tested if day not in have]
    if absent_tests:
        raise DataError(
            f"Test day(s) {', '.join(absent_tests)} of {test_month} have no rows in the lake (days with rows: {shown}).",
            f"This use case tests on the last {test_days} day(s) of the test month, and every test day is required to score the models.",
            "Ingest or generate the month completely, or choose another --test-month.",
        )
    missing = tuple(day for day in wanted if day not in have)
    present = tuple(day for day in wanted if day in have)
    if missing and strict:
        raise DataError(
            f"Train day(s) {', '.join(missing)} have no rows in the lake (days with rows: {shown}).",
            f"Strict mode trains only on the complete window of {train_days} days before the test days.",
            f"Either (1) ingest or generate the missing days, (2) rerun with --skip-missing to train on the "
            f"{len(present)} day(s) that have rows, or (3) set window.train_days in the use case YAML.",
        )
    if len(present) < MIN_TRAIN_MONTHS:
        raise DataError(
            f"Only {len(present)} of the {train_days} train days before {tested[0]} have rows in the lake "
            f"(missing: {', '.join(missing)}).",
            f"A model needs at least {MIN_TRAIN_MONTHS} train days, even with --skip-missing. Days with rows: {shown}.",
            "Ingest or generate those days, or choose another --test-month.",
        )
    months = tuple(sorted({day[:7] for day in present} - {test_month}))
    requested = tuple(sorted({day[:7] for day in wanted} - {test_month}))
    return Window(test_month, months, requested, tuple(m for m in requested if m not in months),
                  test_days=tested, train_days=present, missing_train_days=missing)


def _day_ranges(days: list[str]) -> str:
    """'2023-06-01..2023-06-05, 2023-06-08' for a sorted list of ISO dates."""
    ranges: list[list[str]] = []
    for day in days:
        if ranges and date.fromisoformat(day) - date.fromisoformat(ranges[-1][-1]) == timedelta(days=1):
            ranges[-1][1:] = [day]
        else:
            ranges.append([day])
    return ", ".join("..".join(r) for r in ranges)


def resolve_window(
    test_month: str,
    requested: list[str] | tuple[str, ...] | None,
    default_count: int,
    available: list[str],
    strict: bool = True,
    incomplete: list[str] | tuple[str, ...] = (),
) -> Window:
    """Apply the window rules to what the lake has.

    Args:
        test_month: 'YYYY-MM' (validated).
        requested: explicit train months, or None for the ``default_count`` months
            before the test month.
        default_count: number of train months when none are requested.
        available: complete months in the lake.
        strict: fail on any missing train month (``--skip-missing`` turns it off).
        incomplete: months with data files but no completion marker; they count as
            missing, and the error says why.

    Raises:
        UsageError: bad month strings, fewer than 2 requested months, or train months
            not before the test month.
        DataError: test month missing, missing train months in strict mode, or fewer
            than 2 train months available.
    """
    test_month = parse_month(test_month)
    if requested is None:
        wanted = tuple(shift_month(test_month, -k) for k in range(default_count, 0, -1))
    else:
        wanted = tuple(sorted({parse_month(m, "--train-months") for m in requested}))
    if len(wanted) < MIN_TRAIN_MONTHS:
        raise UsageError(
            f"Only {len(wanted)} train month(s) requested ({', '.join(wanted) or 'none'}).",
            f"A model needs at least {MIN_TRAIN_MONTHS} train months.",
            "Pass at least two months to --train-months (comma-separated), or drop the option to use the default window.",
        )
    not_before = [m for m in wanted if m >= test_month]
    if not_before:
        raise UsageError(
            f"Train month(s) {', '.join(not_before)} are not before the test month {test_month}.",
            "A model is judged on a month it has not seen, after the months it learned from.",
            "Choose train months earlier than --test-month.",
        )
    check_test_month(test_month, available, incomplete)
    have = set(available)
    shown = ", ".join(available) or "none"
    partial = set(incomplete)
    missing = tuple(m for m in wanted if m not in have)
    present = tuple(m for m in wanted if m in have)
    if missing and strict:
        raise DataError(
            f"Train month(s) {', '.join(missing)} are missing from the lake (available: {shown}).",
            "Strict mode trains only on the complete window." + _incomplete_note(missing, partial),
            "Either (1) ingest or generate the missing months, (2) rerun with --skip-missing to train on "
            f"the {len(present)} available month(s), or (3) choose months that exist with --train-months.",
        )
    if len(present) < MIN_TRAIN_MONTHS:
        raise DataError(
            f"Only {len(present)} of the requested train months are in the lake "
            f"({', '.join(present) or 'none'}; missing: {', '.join(missing)}).",
            f"A model needs at least {MIN_TRAIN_MONTHS} train months, even with --skip-missing. Available: {shown}.",
            "Ingest or generate more months, or choose months that exist with --train-months.",
        )
    return Window(test_month, present, wanted, missing)


def check_test_month(test_month: str, available: list[str], incomplete: list[str] | tuple[str, ...] = ()) -> None:
    """The test month must be complete in the lake (DataError saying why not)."""
    shown = ", ".join(available) or "none"
    if test_month in set(incomplete):
        raise DataError(
            f"Test month {test_month} is incomplete in the lake.",
            "Its folder has Parquet files but no _SUCCESS marker: a write is still running or was interrupted, "
            "so the month may miss rows.",
            "Wait for the write to finish, or re-ingest or regenerate that month, then run again.",
        )
    if test_month not in set(available):
        raise DataError(
            f"Test month {test_month} is not in the lake.",
            f"The test month is always required to score the models. Available months: {shown}.",
            "Ingest or generate that month, or choose another --test-month.",
        )


def _incomplete_note(months: tuple[str, ...], partial: set[str]) -> str:
    named = [m for m in months if m in partial]
    if not named:
        return ""
    return (f" {', '.join(named)} {'is' if len(named) == 1 else 'are'} incomplete: Parquet files but no _SUCCESS "
            "marker (a write still running or interrupted).")
