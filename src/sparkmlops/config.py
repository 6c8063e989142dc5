"""Typed configuration: ``conf/usecases/<name>.yaml`` plus CLI overrides.

The YAML is validated at load time by pydantic (frozen models, unknown keys
forbidden); a bad file raises :class:`UsageError` naming the file, the key and what is
allowed. CLI options override YAML values through :func:`apply_overrides`, which
re-validates, so an override gets the same checks as the file.

A use case names its ``task`` (regression, classification or forecasting); metric
names, gates and the estimator (or, for forecasting, the per-series model) are checked
against it (:mod:`sparkmlops.tasks.catalog`, :mod:`sparkmlops.models.params`,
:mod:`sparkmlops.models.forecast_params`).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sparkmlops.errors import UsageError
from sparkmlops.models.forecast_params import ForecastingConfig
from sparkmlops.models.params import ESTIMATORS, ModelConfig
from sparkmlops.tasks.catalog import CLASSIFICATION, FORECASTING, METRICS, REGRESSION

#: Spark SQL type names a raw column may be cast to when the lake is read.
ColumnType = Literal["long", "int", "double", "string", "timestamp", "boolean"]
_NAME_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")


def expand_names(names: list[str] | dict[str, Any]) -> list[str] | dict[str, Any]:
    """Expand ``sensor_{000..589}`` into ``sensor_000`` … ``sensor_589`` (zero-padded like the first bound).

    Wide tables (SECOM's 590 sensors) are then a line of YAML, not 590.
    """
    def one(name: str) -> list[str]:
        found = _NAME_RANGE.search(name)
        if not found:
            return [name]
        low, high = found.group(1), found.group(2)
        width = len(low) if low.startswith("0") else 0
        if int(high) < int(low):
            raise ValueError(f"'{name}': the range {{{low}..{high}}} ends before it starts")
        return [name[:found.start()] + str(i).zfill(width) + name[found.end():] for i in range(int(low), int(high) + 1)]

    if isinstance(names, dict):
        return {expanded: value for name, value in names.items() for expanded in one(str(name))}
    return [expanded for name in names for expanded in one(str(name))]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelsConfig(_Frozen):
    """Classification: the target's two values (compared as text, so 1 / -1 and Yes / No both work)."""

    positive: str = Field(description="the class the metrics call positive (rain: Yes; SECOM: 1 = fail)")
    negative: str

    @field_validator("positive", "negative", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float, bool)) else value

    @model_validator(mode="after")
    def _different(self) -> LabelsConfig:
        if self.positive == self.negative:
            raise ValueError("data.labels.positive and data.labels.negative must differ")
        return self


class SourceConfig(_Frozen):
    """How ``ingest`` reads a source (an adapter, when named, wins over ``format``)."""

    format: Literal["parquet", "csv"] = "parquet"
    adapter: str | None = Field(default=None, description="module under sparkmlops.sources for a multi-file source")
    null_values: list[str] = Field(default_factory=list,
                                   description="texts that mean missing in the source's text columns (CSV: e.g. NA)")
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="CSV: the field separator")

    @field_validator("adapter")
    @classmethod
    def _known_adapter(cls, name: str | None) -> str | None:
        from sparkmlops.sources import available_adapters, unknown_adapter_message

        if name is not None and name not in available_adapters():
            raise ValueError(unknown_adapter_message(name))
        return name


class DataConfig(_Frozen):
    """Where the monthly Parquet lives and what a month must contain."""

    base_path: str = Field(description="lake root: a local folder, file:// or s3a:// URI")
    target: str
    timestamp_column: str
    columns: dict[str, ColumnType] = Field(description="required raw columns and their canonical types")
    column_aliases: dict[str, str] = Field(default_factory=dict, description="other spelling -> canonical name")
    labels: LabelsConfig | None = Field(default=None, description="classification: the target's two values")
    generator: str | None = Field(default=None, description="module under sparkmlops.datagen for `generate`")
    generator_options: dict[str, Any] = Field(default_factory=dict, description="passed to the generator (goat: animals)")
    series_column: str | None = Field(default=None, description="forecasting: the column naming each series")
    source: SourceConfig = SourceConfig()

    @field_validator("columns", mode="before")
    @classmethod
    def _expand(cls, columns: Any) -> Any:
        return expand_names(columns) if isinstance(columns, dict) else columns

    @model_validator(mode="after")
    def _target_and_timestamp_are_columns(self) -> DataConfig:
        for key in ("target", "timestamp_column", "series_column"):
            if getattr(self, key) is not None and getattr(self, key) not in self.columns:
                raise ValueError(f"data.{key} '{getattr(self, key)}' must be one of data.columns")
        for alias, canonical in self.column_aliases.items():
            if canonical not in self.columns:
                raise ValueError(f"data.column_aliases maps '{alias}' to '{canonical}', which is not in data.columns")
        if self.columns[self.timestamp_column] != "timestamp":
            raise ValueError(f"data.timestamp_column '{self.timestamp_column}' must have type timestamp in data.columns")
        kind = self.columns[self.target]
        if self.labels is not None and kind in ("long", "int", "double"):
            try:
                float(self.labels.positive), float(self.labels.negative)
            except ValueError:
                raise ValueError(f"data.labels must be numbers because the target {self.target} is a {kind} column "
                                 f"(got '{self.labels.positive}' and '{self.labels.negative}')") from None
        return self


class WindowConfig(_Frozen):
    """Months (the default) or days: ``unit: day`` trains on ``train_days`` days and tests on
    the ``test_days`` days after them; ``--test-month M`` then tests the last days of M."""

    unit: Literal["month", "day"] = "month"
    train_months: int = Field(default=3, ge=2, le=36, description="train months before the test month")
    train_days: int = Field(default=5, ge=2, le=62, description="unit day: train days before the test days")
    test_days: int = Field(default=2, ge=1, le=28, description="unit day: test days at the end of the test month")
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


class Bucket(_Frozen):
    name: str
    low: float
    high: float | None = None  # None: no upper bound


class EvaluationConfig(_Frozen):
    metrics: tuple[str, str, str] = Field(description="the three promotion metrics (names of the task's metrics)")
    buckets: list[Bucket] = Field(default_factory=list, description="regression: target ranges for per-bucket errors")
    error_causes: dict[str, str] = Field(
        default_factory=dict, description="name -> SQL predicate over the scored rows naming a likely cause"
    )
    large_error_quantile: float = Field(default=0.99, gt=0.5, lt=1)
    calibration_bins: int = Field(default=10, ge=2, le=100, description="classification: rows of the calibration table")

    @field_validator("metrics")
    @classmethod
    def _distinct(cls, metrics: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(metrics)) != len(metrics):
            raise ValueError("evaluation.metrics must name three different metrics")
        return metrics


class PromotionConfig(_Frozen):
    min_improved: int = Field(default=2, ge=1, le=3)
    min_delta: dict[str, float] = Field(default_factory=dict, description="smaller changes count as ties")

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
    """Post-train thresholds and the post-predict checks.

    Regression: a prediction is in range when ``prediction_min <= p < prediction_max``. The
    out-of-range share is measured on the raw model output; the default tolerance (0)
    fails a month on a single out-of-range row, and a use case loosens it explicitly.
    Classification: probabilities must be finite and in [0, 1]; ``positive_share`` bounds
    the share of rows predicted positive.
    """

    post_train: dict[str, Threshold] = Field(default_factory=dict)
    mae_at_most_rmse: bool = True
    prediction_min: float = Field(default=0.0, allow_inf_nan=False)
    prediction_max: float = Field(default=500.0, allow_inf_nan=False)
    prediction_out_of_range_tolerance: float = Field(
        default=0.0, ge=0, le=1, allow_inf_nan=False,
        description="share of predictions (0-1) allowed outside [prediction_min, prediction_max) before the gate fails",
    )
    prediction_clip: bool = Field(
        default=False, description="write out-of-range predictions as prediction_min / prediction_max (flagged)"
    )
    prediction_worst_rows: int = Field(
        default=10, ge=0, le=1000, description="how many of the farthest out-of-range rows the predict report lists"
    )
    positive_share: Threshold = Field(
        default=Threshold(), description="classification: bounds on the share of rows predicted positive"
    )

    @model_validator(mode="after")
    def _range_is_not_empty(self) -> GatesConfig:
        if not self.prediction_min < self.prediction_max:
            raise ValueError(
                f"gates.prediction_min ({self.prediction_min:g}) must be below gates.prediction_max ({self.prediction_max:g})"
            )
        return self


PolicyAction = Literal["warn", "consider_candidate", "fail"]


class DriftConfig(_Frozen):
    """How drift between a model's training window and a scored month is measured and flagged."""

    enabled: bool = True
    bins: int = Field(default=10, ge=2, le=50, description="numeric features: quantile bins of the training window")
    max_categories: int = Field(default=50, ge=1, le=1000,
                                description="string features: the training window's most frequent values kept; the rest is 'other'")
    psi_threshold: float = Field(default=0.2, gt=0, allow_inf_nan=False, description="a feature with a larger PSI is flagged")
    category_share_threshold: float = Field(default=0.1, gt=0, le=1,
                                            description="a category whose share moves by more than this is flagged")
    unseen_share_threshold: float = Field(default=0.05, gt=0, le=1,
                                          description="flag a string feature when more of its rows hold values the training window never had")
    missing_rate_threshold: float = Field(default=0.05, gt=0, le=1,
                                          description="flag a feature whose missing share moves by more than this")
    prediction_psi_threshold: float = Field(default=0.2, gt=0, allow_inf_nan=False,
                                            description="flag the predictions when their PSI is larger")
    prediction_reference_rows: int = Field(
        default=200_000, ge=1_000,
        description="train: the reference prediction distribution comes from a seeded sample of about this many "
                    "training rows (scoring the whole window cost most of the drift step); features use every row")


class DriftPolicy(_Frozen):
    """What too many drifted features do to a run."""

    max_flagged_features: int = Field(default=0, ge=0, description="more flagged features (the prediction counts as one) trigger the action")
    action: PolicyAction = "warn"


class LiveMetricsPolicy(_Frozen):
    """What the current model's metrics on a month it never saw do to a train run."""

    thresholds: dict[str, Threshold] = Field(default_factory=dict, description="metric -> min / max (exclusive)")
    action: PolicyAction = "warn"


class PolicyConfig(_Frozen):
    drift: DriftPolicy = DriftPolicy()
    live_metrics: LiveMetricsPolicy = LiveMetricsPolicy()


class MonitoringConfig(_Frozen):
    """Drift measurement and the policy that acts on drift and live performance."""

    drift: DriftConfig = DriftConfig()
    policy: PolicyConfig = PolicyConfig()


class PathsConfig(_Frozen):
    registry: str = "registry"
    reports: str = "reports"
    tracking: str = Field(default="mlruns", description="MLflow: a folder (local store mlflow.db + artifacts/), "
                                                        "a tracking URI, or off (see sparkmlops.tracking.settings)")


class RunOptions(_Frozen):
    """Per-run choices that come from the command line, not the YAML."""

    test_month: str | None = None
    train_months: tuple[str, ...] | None = None
    dry_run: bool = False
    force: bool = False
    tracking: str | None = None  # --tracking-uri URI, or "off" for --no-tracking


class UsecaseConfig(_Frozen):
    usecase: str
    task: Literal["regression", "classification", "forecasting"]
    data: DataConfig
    window: WindowConfig = WindowConfig()
    cleaning: CleaningConfig = CleaningConfig()
    features: FeaturesConfig | None = None  # regression and classification
    model: ModelConfig | None = None
    forecasting: ForecastingConfig | None = None  # forecasting
    evaluation: EvaluationConfig
    promotion: PromotionConfig = PromotionConfig()
    gates: GatesConfig = GatesConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    paths: PathsConfig = PathsConfig()
    run: RunOptions = RunOptions()
    source_file: str = Field(default="", exclude=True)
    # dotted key -> value of every command-line option applied on top of the file
    overrides: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _no_leaking_features(self) -> UsecaseConfig:
        if self.features is not None and self.data.target in self.features.forbidden_columns:
            raise ValueError("features.forbidden_columns must not list the target itself")
        return self

    @model_validator(mode="after")
    def _fits_the_task(self) -> UsecaseConfig:
        """Metric names, gates, estimator and labels must be the task's."""
        known = METRICS[self.task]
        allowed = f"the {self.task} metrics are {', '.join(known)}"
        for where, names in (("evaluation.metrics", self.evaluation.metrics),
                             ("promotion.min_delta", self.promotion.min_delta),
                             ("gates.post_train", self.gates.post_train),
                             ("monitoring.policy.live_metrics.thresholds", self.monitoring.policy.live_metrics.thresholds)):
            unknown = [name for name in names if name not in known]
            if unknown:
                raise ValueError(f"{where} names {', '.join(unknown)}, not a metric of task {self.task}; {allowed}")
        if self.task == FORECASTING:
            return self._fits_forecasting()
        if self.features is None or self.model is None:
            raise ValueError(f"a {self.task} use case needs the features and model sections")
        if self.forecasting is not None or self.window.unit != "month":
            raise ValueError("the forecasting section and window.unit: day apply to task forecasting only")
        if self.model.task != self.task:
            raise ValueError(f"model.type {self.model.type} is a {self.model.task} estimator, but task is {self.task}")
        if self.task == CLASSIFICATION and self.data.labels is None:
            raise ValueError("a classification use case needs data.labels (positive and negative values of the target)")
        if self.task == REGRESSION and (self.model.class_weight != "none" or self.model.threshold.tune != "none"):
            raise ValueError("model.class_weight and model.threshold apply to classification only")
        return self

    def _fits_forecasting(self) -> UsecaseConfig:
        if self.forecasting is None or self.data.series_column is None:
            raise ValueError("a forecasting use case needs data.series_column and the forecasting section")
        if self.features is not None or self.model is not None:
            raise ValueError("a forecasting use case has no features or model section: its per-series model is "
                             "the forecasting section")
        for name in self.forecasting.exogenous:
            if name not in self.data.columns or self.data.columns[name] not in ("double", "long", "int"):
                raise ValueError(f"forecasting.exogenous names {name}, not a numeric column of data.columns")
        if self.data.columns[self.data.target] != "double":
            raise ValueError(f"the forecast target {self.data.target} must be a double column")
        return self

    @model_validator(mode="after")
    def _feature_params_fit_the_module(self) -> UsecaseConfig:
        from sparkmlops.features import validate_params  # imports the module: Spark ML stages

        if self.features is not None:
            validate_params(self)
        return self


def conf_dir() -> Path:
    """The folder holding ``usecases/*.yaml``: $SPARKMLOPS_CONF_DIR, else ./conf."""
    return Path(os.environ.get("SPARKMLOPS_CONF_DIR", "conf"))


def available_usecases() -> list[str]:
    return sorted(p.stem for p in (conf_dir() / "usecases").glob("*.yaml"))


def _format_validation_error(source: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        if loc[:1] == ["model"] and loc[1:2] and loc[1] in ESTIMATORS:
            del loc[1]  # pydantic names the chosen estimator in the path: model.<type>.params…
        key = ".".join(loc)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            problems.append(f"key '{key}' is not a known key (check the spelling; see the configuration reference in README.md)")
        elif item["type"] == "union_tag_invalid":
            problems.append(f"key '{key}.type' is '{item['input'].get('type')}', not a known estimator "
                            f"(known: {', '.join(ESTIMATORS)})")
        else:
            problems.append(f"key '{key}': {message}" if key else message)
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
