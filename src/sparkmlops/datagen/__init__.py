"""Synthetic-data generators: real schema, real quirks, a known best possible score.

A use case names its generator in ``data.generator`` (a module of this package). Each
module's ``generate(spark, config, months, rows_per_month, seed)`` writes the months to
the use case's lake (``YYYY/MM`` folders with ``_SUCCESS``) and returns
``{"usecase": …, "months": {month: manifest}}``; every manifest holds ``rows`` and
``best_possible`` (metric -> the best value a model can reach on that month, e.g.
``{"rmse": 3.71}`` or ``{"roc_auc": 0.88}``), also written to ``<base>/_manifests/``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

from sparkmlops.errors import UsageError
from sparkmlops.window import shift_month


def available_generators() -> list[str]:
    import sparkmlops.datagen as package

    return sorted(info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_"))


def generator_module(name: str | None, usecase: str) -> ModuleType:
    """The generator module a use case names, or a UsageError saying which exist."""
    if not name or name not in available_generators():
        what = f"names generator '{name}', which does not exist" if name else "names no data.generator"
        raise UsageError(
            f"Use case {usecase} {what}.",
            f"Generators: {', '.join(available_generators())}.",
            "Set data.generator in the use case YAML, or ingest real data instead.",
        )
    return importlib.import_module(f"sparkmlops.datagen.{name}")

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
