"""Feature stages: one module per use case that needs one, looked up by name.

A feature module exposes ``build_stages(params) -> list[PipelineStage]`` (ending in a
VectorAssembler writing ``features``), ``input_columns(params)`` (the raw columns it
reads) and ``feature_columns(params)`` (the assembled names, for importance reports).
"""

from __future__ import annotations

import importlib
from types import ModuleType

FEATURES_COLUMN = "features"


def feature_module(name: str) -> ModuleType:
    return importlib.import_module(f"sparkmlops.features.{name}")
