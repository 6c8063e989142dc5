"""Typed configuration: ``conf/usecases/<name>.yaml`` plus CLI overrides.

The YAML is validated at load time by pydantic (frozen models, unknown keys
forbidden); a bad file raises :class:`UsageError` naming the file, the key and what is
allowed. CLI options override YAML values through :func:`apply_overrides`, which
re-validates, so an override gets the same checks as the file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sparkmlops.errors import UsageError

#: Spark SQL type names a raw column may be cast to when the lake is read.
ColumnType = Literal["long", "int", "double", "string", "timestamp", "boolean"]
MetricName = Literal["rmse", "mae", "r2"]

# Direction of each metric: the promotion rule and the gates read it from here.
HIGHER_IS_BETTER: dict[str, bool] = {"rmse": False, "mae": False, "r2": True}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Frozen):
    """Where the monthly Parquet lives and what a month must contain."""

    base_path: str = Field(description="lake root: a local folder, file:// or s3a:// URI")
    target: str
    timestamp_column: str
    columns: dict[str, ColumnType] = Field(description="required raw columns and their canonical types")
    column_aliases: dict[str, str] = Field(default_factory=dict, description="other spelling -> canonical name")

    @model_validator(mode="after")
    def _target_and_timestamp_are_columns(self) -> DataConfig:
        for key in ("target", "timestamp_column"):
            if getattr(self, key) not in self.columns:
                raise ValueError(f"data.{key} '{getattr(self, key)}' must be one of data.columns")
        for alias, canonical in self.column_aliases.items():
            if canonical not in self.columns:
                raise ValueError(f"data.column_aliases maps '{alias}' to '{canonical}', which is not in data.columns")
        return self


class WindowConfig(_Frozen):
    train_months: int = Field(default=3, ge=2, le=36, description="train months before the test month")
    strict: bool = True


class CleaningConfig(_Frozen):
    min_retention: float = Field(default=0.8, gt=0, le=1)
    # name -> Spark SQL predicate a valid row satisfies; `_lake_month` ('YYYY-MM') is
    # the month folder the row was read from.
    rules: dict[str, str] = Field(default_factory=dict)


class FeaturesConfig(_Frozen):
    module: str = Field(description="module under sparkmlops.features that builds the feature stages")
    params: dict[str, Any] = Field(default_factory=dict)
    forbidden_columns: list[str] = Field(
        default_factory=list, description="raw columns that leak the target and must never be features"
    )


class GbtParams(_Frozen):
    maxDepth: int = Field(default=6, ge=1, le=30)
    maxIter: int = Field(default=50, ge=1, le=1000)
    stepSize: float = Field(default=0.1, gt=0, le=1)
    subsamplingRate: float = Field(default=1.0, gt=0, le=1)
    maxBins: int = Field(default=32, ge=2)
    minInstancesPerNode: int = Field(default=1, ge=1)
    checkpointInterval: int = Field(default=10, ge=1)
    seed: int = 42


class ModelConfig(_Frozen):
    type: Literal["gbt_regressor"] = "gbt_regressor"
    params: GbtParams = GbtParams()


class Bucket(_Frozen):
    name: str
    low: float
    high: float | None = None  # None: no upper bound


class EvaluationConfig(_Frozen):
    metrics: tuple[MetricName, MetricName, MetricName] = ("rmse", "mae", "r2")
    buckets: list[Bucket] = Field(default_factory=list, description="target ranges for per-bucket errors")
    error_causes: dict[str, str] = Field(
        default_factory=dict, description="name -> SQL predicate over the scored rows naming a likely cause"
    )
    large_error_quantile: float = Field(default=0.99, gt=0.5, lt=1)

    @field_validator("metrics")
    @classmethod
    def _distinct(cls, metrics: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(metrics)) != len(metrics):
            raise ValueError("evaluation.metrics must name three different metrics")
        return metrics


class PromotionConfig(_Frozen):
    min_improved: int = Field(default=2, ge=1, le=3)
    min_delta: dict[MetricName, float] = Field(default_factory=dict, description="smaller changes count as ties")

    @field_validator("min_delta")
    @classmethod
    def _non_negative(cls, deltas: dict[str, float]) -> dict[str, float]:
        for name, delta in deltas.items():
            if not (delta >= 0 and math.isfinite(delta)):
                raise ValueError(f"min_delta.{name} must be a finite number >= 0")
        return deltas


class Threshold(_Frozen):
    min: float | None = None
    max: float | None = None


class GatesConfig(_Frozen):
    post_train: dict[MetricName, Threshold] = Field(default_factory=dict)
    mae_at_most_rmse: bool = True
    prediction_min: float = 0.0
    prediction_max: float = 500.0


class PathsConfig(_Frozen):
    registry: str = "registry"
    reports: str = "reports"


class RunOptions(_Frozen):
    """Per-run choices that come from the command line, not the YAML."""

    test_month: str | None = None
    train_months: tuple[str, ...] | None = None
    dry_run: bool = False
    force: bool = False


class UsecaseConfig(_Frozen):
    usecase: str
    task: Literal["regression"] = "regression"
    data: DataConfig
    window: WindowConfig = WindowConfig()
    cleaning: CleaningConfig = CleaningConfig()
    features: FeaturesConfig
    model: ModelConfig = ModelConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    promotion: PromotionConfig = PromotionConfig()
    gates: GatesConfig = GatesConfig()
    paths: PathsConfig = PathsConfig()
    run: RunOptions = RunOptions()
    source_file: str = Field(default="", exclude=True)
    # dotted key -> value of every command-line option applied on top of the file
    overrides: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _no_leaking_features(self) -> UsecaseConfig:
        if self.data.target in self.features.forbidden_columns:
            raise ValueError("features.forbidden_columns must not list the target itself")
        return self


def conf_dir() -> Path:
    """The folder holding ``usecases/*.yaml``: $SPARKMLOPS_CONF_DIR, else ./conf."""
    return Path(os.environ.get("SPARKMLOPS_CONF_DIR", "conf"))


def available_usecases() -> list[str]:
    return sorted(p.stem for p in (conf_dir() / "usecases").glob("*.yaml"))


def _format_validation_error(source: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "is not a known key (check the spelling; see the configuration reference in README.md)"
        problems.append(f"key '{key}' {message}" if item["type"] == "extra_forbidden" else f"key '{key}': {message}")
    return f"Config {source} is invalid: " + "; ".join(problems) + "."


def validate(raw: dict[str, Any], source: str, described_as: str | None = None) -> UsecaseConfig:
    """Build a :class:`UsecaseConfig` from a plain dict or raise :class:`UsageError`.

    Args:
        raw: the YAML content (plus overrides).
        source: the YAML file it came from (kept in ``source_file``).
        described_as: how an error names the input (default: ``source``).
    """
    try:
        config = UsecaseConfig.model_validate(raw)
    except ValidationError as error:
        raise UsageError(
            _format_validation_error(described_as or source, error),
            fix="Fix the file (or the command-line option that set the key) and run again.",
        ) from None
    return config.model_copy(update={"source_file": source})


def load(usecase: str | None, config_file: str | None = None) -> UsecaseConfig:
    """Load a use case by name from the conf folder, or from an explicit YAML file.

    Args:
        usecase: use case name (``conf/usecases/<usecase>.yaml``); may be None when
            ``config_file`` is given.
        config_file: a YAML file that replaces the use case's file.

    Raises:
        UsageError: unknown use case, unreadable YAML or invalid content.
    """
    if config_file:
        path = Path(config_file)
    elif usecase:
        path = conf_dir() / "usecases" / f"{usecase}.yaml"
        if not path.is_file():
            known = ", ".join(available_usecases()) or "none found"
            raise UsageError(
                f"Unknown use case '{usecase}'.",
                f"There is no {path} (known use cases: {known}).",
                "Pass one of the known names to --usecase, or --config FILE for a YAML of your own.",
            )
    else:
        raise UsageError("No use case given.", "Every command needs --usecase NAME or --config FILE.", "")
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"Config file {path} does not exist.", "", "Check the --config path.") from None
    except yaml.YAMLError as error:
        raise UsageError(f"Config file {path} is not valid YAML.", str(error).replace("\n", " "), "Fix the syntax.") from None
    if not isinstance(raw, dict):
        raise UsageError(f"Config file {path} must hold a mapping of keys.", "", "See conf/usecases/taxi_fare.yaml.")
    if usecase and raw.get("usecase") != usecase:
        raise UsageError(
            f"Config file {path} is for use case '{raw.get('usecase')}', not '{usecase}'.",
            "The usecase key must match --usecase so registries and reports are not mixed up.",
            "Fix the usecase key or the --usecase option.",
        )
    return validate(raw, str(path))


def apply_overrides(config: UsecaseConfig, overrides: dict[str, Any]) -> UsecaseConfig:
    """Return a re-validated copy with dotted-key overrides (``{"data.base_path": ...}``).

    ``None`` values are skipped; the applied ones are added to ``overrides`` so a report
    can say which values did not come from the file.
    """
    raw = config.model_dump()
    applied = {dotted: value for dotted, value in overrides.items() if value is not None}
    for dotted, value in applied.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    updated = validate(raw, config.source_file, f"{config.source_file} (with command-line options)")
    return updated.model_copy(update={"overrides": {**config.overrides, **applied}})
