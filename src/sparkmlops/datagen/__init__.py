"""One synthetic-data generator per use case: real schema, real quirks, known noise floor.

``GENERATORS[usecase](spark, config, months, rows_per_month, seed)`` writes the months
to the use case's lake and returns ``{"usecase": …, "months": {month: manifest}}``.
"""

from __future__ import annotations

import re

from sparkmlops.datagen import taxi
from sparkmlops.errors import UsageError
from sparkmlops.window import shift_month

GENERATORS = {"taxi_fare": taxi.generate}

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_range(spec: str) -> list[str]:
    """Months of a ``FIRST:LAST`` range (both included) or of a single month.

    Args:
        spec: e.g. ``"2023-01:2023-06"`` or ``"2023-03"``.

    Returns:
        The months in order, e.g. ``["2023-01", …, "2023-06"]``.

    Raises:
        UsageError: a part is not a YYYY-MM month, there are more than two parts, or
            the range ends before it starts.
    """
    parts = [part.strip() for part in spec.split(":")] if isinstance(spec, str) else []
    if not 1 <= len(parts) <= 2 or not all(_MONTH.match(part) for part in parts):
        raise UsageError(
            f"--months '{spec}' is not a month or a month range.",
            "Months are written YYYY-MM with a month from 01 to 12, and a range is FIRST:LAST with both ends included.",
            "Example: --months 2023-01:2023-06, or --months 2023-03 for a single month.",
        )
    first, last = parts[0], parts[-1]
    if last < first:  # YYYY-MM strings sort in time order
        raise UsageError(
            f"--months {spec} ends before it starts.",
            "A range is FIRST:LAST with FIRST no later than LAST.",
            f"Swap the two ends: --months {last}:{first}.",
        )
    months = [first]
    while months[-1] < last:
        months.append(shift_month(months[-1], 1))
    return months
