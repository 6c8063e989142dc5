"""One synthetic-data generator per use case: real schema, known noise floor."""

from __future__ import annotations

from sparkmlops.datagen import taxi
from sparkmlops.errors import UsageError
from sparkmlops.window import parse_month, shift_month

GENERATORS = {"taxi_fare": taxi.generate}


def month_range(spec: str) -> list[str]:
    """'2023-01:2023-06' (inclusive) or '2023-03' -> list of months."""
    first, _, last = spec.partition(":")
    first = parse_month(first, "--months")
    last = parse_month(last, "--months") if last else first
    if last < first:
        raise UsageError(
            f"--months {spec} ends before it starts.", "The range is FIRST:LAST, inclusive.", "Example: --months 2023-01:2023-06."
        )
    months = [first]
    while months[-1] < last:
        months.append(shift_month(months[-1], 1))
    return months
