"""Checks on a predictions folder written by `sparkmlops predict`."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def assert_target_is_the_lakes(written: DataFrame, lake_month: DataFrame, target: str) -> None:
    """Each written row's inputs and observed target are one of the lake month's rows.

    A multiset difference over every column both sides have: a row whose target was
    changed, dropped or taken from another row is not in the lake, and fails.
    """
    lake_columns = set(lake_month.columns)
    columns = [name for name in written.columns if name in lake_columns]
    assert target in columns, f"{target} is not written: {written.columns}"
    types = dict(written.dtypes)
    lake_rows = lake_month.select(*[F.col(name).cast(types[name]).alias(name) for name in columns])
    assert written.select(*columns).exceptAll(lake_rows).count() == 0
    assert written.filter(F.col(target).isNotNull()).count() > 0
