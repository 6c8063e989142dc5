"""Source adapters: code for a data set whose files are not one Parquet or CSV table.

A use case names its adapter in ``data.source.adapter`` (a module of this package, looked
up by name like feature modules). An adapter exposes::

    read(spark, source: str, config: UsecaseConfig) -> DataFrame

returning the YAML's ``data.columns`` (any order). A column may be returned as text: ingest
then maps ``data.source.null_values`` to null and parses it to its YAML type, checking every
value first (:mod:`sparkmlops.source_checks`). A row the adapter cannot make sense of gets
a non-null ``_malformed`` column (what is wrong) and ``_malformed_at`` (where: file, line);
ingest counts them and stops before writing. From there on the source is ingested like any
other: one month, or split into lake months by ``data.timestamp_column``.

The adapter is the only data-set-specific code: jobs and pipeline never see it.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from sparkmlops.errors import UsageError


def available_adapters() -> list[str]:
    """Names of the adapter modules (modules starting with '_' are helpers)."""
    import sparkmlops.sources as package

    return sorted(info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_"))


def unknown_adapter_message(name: str) -> str:
    return f"data.source.adapter '{name}' is not a source adapter; available: {', '.join(available_adapters()) or 'none'}"


def adapter_module(name: str) -> ModuleType:
    """The adapter module ``sparkmlops.sources.<name>``.

    Raises:
        UsageError: no such adapter (the message lists the available ones).
    """
    if name not in available_adapters():
        raise UsageError(
            f"Unknown source adapter '{name}'.",
            f"{unknown_adapter_message(name)} (modules of sparkmlops.sources).",
            "Fix data.source.adapter in the use case YAML, or remove it to ingest a Parquet or CSV file.",
        )
    return importlib.import_module(f"sparkmlops.sources.{name}")
