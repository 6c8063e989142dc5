"""Sliding window: which month is tested and which months train the model.

Rules (the seed's): the test month is always required; fewer than 2 train months is an
error; strict mode (default) fails on any missing train month and says how to fix it;
``--skip-missing`` continues with the months that exist when those two minimums hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

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

    def as_dict(self) -> dict:
        return {
            "test_month": self.test_month,
            "train_months": list(self.train_months),
            "requested_train_months": list(self.requested_train_months),
            "missing_train_months": list(self.missing_train_months),
        }


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
    have = set(available)
    shown = ", ".join(available) or "none"
    partial = set(incomplete)
    if test_month in partial:
        raise DataError(
            f"Test month {test_month} is incomplete in the lake.",
            "Its folder has Parquet files but no _SUCCESS marker: a write is still running or was interrupted, "
            "so the month may miss rows.",
            "Wait for the write to finish, or re-ingest or regenerate that month, then run again.",
        )
    if test_month not in have:
        raise DataError(
            f"Test month {test_month} is not in the lake.",
            f"The test month is always required to score the models. Available months: {shown}.",
            "Ingest or generate that month, or choose another --test-month.",
        )
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


def _incomplete_note(months: tuple[str, ...], partial: set[str]) -> str:
    named = [m for m in months if m in partial]
    if not named:
        return ""
    return (f" {', '.join(named)} {'is' if len(named) == 1 else 'are'} incomplete: Parquet files but no _SUCCESS "
            "marker (a write still running or interrupted).")
