"""Feature stages, looked up by the YAML's ``features.module``.

A feature module exposes ``build_stages(params) -> list[PipelineStage]`` (ending in a
VectorAssembler writing ``features``) and ``input_columns(params)`` (the raw columns it
reads), and may expose ``validate_params(config)`` (raises ValueError naming the key).
``tabular`` serves any table from YAML alone; a data set that truly needs code (taxi's
tariff) has its own module. Feature names for reports come from the assembled column's
metadata, so a module need not list them.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sparkmlops.config import UsecaseConfig

FEATURES_COLUMN = "features"


def available_modules() -> list[str]:
    """Modules of this package that build feature stages (helpers such as taxi_zones are not)."""
    import sparkmlops.features as package

    names = (info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_"))
    return sorted(name for name in names if hasattr(importlib.import_module(f"sparkmlops.features.{name}"), "build_stages"))


def feature_module(name: str) -> ModuleType:
    """The feature module ``sparkmlops.features.<name>``.

    Raises:
        ValueError: no such module (the message lists the available ones).
    """
    if name not in available_modules():
        raise ValueError(f"features.module '{name}' is not a feature module; available: {', '.join(available_modules())}")
    return importlib.import_module(f"sparkmlops.features.{name}")


def validate_params(config: UsecaseConfig) -> None:
    """Check ``features.params`` against the module (ValueError naming the key)."""
    module = feature_module(config.features.module)
    check = getattr(module, "validate_params", None)
    if check is not None:
        check(config)
