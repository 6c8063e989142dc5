"""The estimators a use case may choose in YAML, each with typed, validated parameters.

Plain pydantic models (no Spark import), so a bad ``model:`` section fails when the
config loads, naming the key and the allowed values. Parameter names are Spark's own
(``maxDepth``, ``numTrees`` …): they are passed to the Spark estimator as they are.
:mod:`sparkmlops.models.estimators` builds the Spark object from these.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sparkmlops.tasks.catalog import CLASSIFICATION, REGRESSION


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- parameters per estimator (Spark's names and defaults, with sane bounds) ----------
class _TreeParams(_Frozen):
    maxDepth: int = Field(default=5, ge=1, le=30)
    maxBins: int = Field(default=32, ge=2)
    minInstancesPerNode: int = Field(default=1, ge=1)
    subsamplingRate: float = Field(default=1.0, gt=0, le=1)
    seed: int = 42


class GbtParams(_TreeParams):
    maxDepth: int = Field(default=6, ge=1, le=30)
    maxIter: int = Field(default=50, ge=1, le=1000)
    stepSize: float = Field(default=0.1, gt=0, le=1)
    checkpointInterval: int = Field(default=10, ge=1)


class RandomForestParams(_TreeParams):
    numTrees: int = Field(default=50, ge=1, le=2000)
    featureSubsetStrategy: str = Field(default="auto", pattern=r"^(auto|all|onethird|sqrt|log2|0?\.\d+|1(\.0)?|[1-9]\d*)$")
    bootstrap: bool = True


class LogisticRegressionParams(_Frozen):
    maxIter: int = Field(default=100, ge=1, le=10_000)
    regParam: float = Field(default=0.0, ge=0)
    elasticNetParam: float = Field(default=0.0, ge=0, le=1)
    standardization: bool = True
    fitIntercept: bool = True
    tol: float = Field(default=1e-6, gt=0)


# ---- choices around the estimator ----------------------------------------------------
SEARCH_METRICS = {  # our metric name -> the Spark evaluator's
    REGRESSION: {"rmse": "rmse", "mae": "mae", "r2": "r2"},
    CLASSIFICATION: {"roc_auc": "areaUnderROC", "pr_auc": "areaUnderPR"},
}


class SearchConfig(_Frozen):
    """A parameter grid searched on the training window only (never the test month)."""

    method: Literal["train_validation_split", "cross_validation"] = "train_validation_split"
    grid: dict[str, list[Any]] = Field(description="estimator parameter -> values to try")
    metric: str | None = Field(default=None, description="what the search optimises (default: the task's first)")
    train_ratio: float = Field(default=0.75, gt=0, lt=1, description="train_validation_split: share used to fit")
    folds: int = Field(default=3, ge=2, le=20, description="cross_validation: number of folds")
    parallelism: int = Field(default=1, ge=1, le=64, description="models fitted at the same time")
    seed: int = 42

    @model_validator(mode="after")
    def _non_empty(self) -> SearchConfig:
        if not self.grid or any(not values for values in self.grid.values()):
            raise ValueError("model.search.grid needs at least one parameter, each with at least one value")
        return self


class ThresholdConfig(_Frozen):
    """Classification: the probability above which a row is predicted positive."""

    tune: Literal["none", "f1", "balanced_accuracy"] = Field(
        default="none", description="tune it on a validation slice of the training window for this metric")
    value: float = Field(default=0.5, gt=0, lt=1, description="the threshold when it is not tuned")
    validation_fraction: float = Field(default=0.2, ge=0.05, le=0.5, description="share of the training rows held out to tune")


class _ModelBase(_Frozen):
    task: ClassVar[str]
    params_model: ClassVar[type[_Frozen]]
    search: SearchConfig | None = None
    class_weight: Literal["none", "balanced"] = Field(
        default="none", description="classification: weight rows so each class counts equally")
    threshold: ThresholdConfig = ThresholdConfig()

    @model_validator(mode="after")
    def _grid_fits_the_estimator(self) -> _ModelBase:
        if self.search is None:
            return self
        allowed = set(self.params_model.model_fields)
        unknown = sorted(set(self.search.grid) - allowed)
        if unknown:
            raise ValueError(f"model.search.grid names {unknown}, not parameters of {self.type}; "  # type: ignore[attr-defined]
                             f"allowed: {sorted(allowed)}")
        base = self.params.model_dump()  # type: ignore[attr-defined]
        for name, values in self.search.grid.items():
            for value in values:
                self.params_model.model_validate({**base, name: value})  # raises with the bound that failed
        metrics = SEARCH_METRICS[self.task]
        if self.search.metric is not None and self.search.metric not in metrics:
            raise ValueError(f"model.search.metric '{self.search.metric}' cannot drive a {self.task} search; "
                             f"allowed: {sorted(metrics)}")
        return self


class GbtRegressorConfig(_ModelBase):
    task: ClassVar[str] = REGRESSION
    params_model: ClassVar[type[_Frozen]] = GbtParams
    type: Literal["gbt_regressor"]
    params: GbtParams = GbtParams()


class RandomForestRegressorConfig(_ModelBase):
    task: ClassVar[str] = REGRESSION
    params_model: ClassVar[type[_Frozen]] = RandomForestParams
    type: Literal["random_forest_regressor"]
    params: RandomForestParams = RandomForestParams()


class GbtClassifierConfig(_ModelBase):
    task: ClassVar[str] = CLASSIFICATION
    params_model: ClassVar[type[_Frozen]] = GbtParams
    type: Literal["gbt_classifier"]
    params: GbtParams = GbtParams()


class RandomForestClassifierConfig(_ModelBase):
    task: ClassVar[str] = CLASSIFICATION
    params_model: ClassVar[type[_Frozen]] = RandomForestParams
    type: Literal["random_forest_classifier"]
    params: RandomForestParams = RandomForestParams()


class LogisticRegressionConfig(_ModelBase):
    task: ClassVar[str] = CLASSIFICATION
    params_model: ClassVar[type[_Frozen]] = LogisticRegressionParams
    type: Literal["logistic_regression"]
    params: LogisticRegressionParams = LogisticRegressionParams()


ModelConfig = Annotated[
    Union[GbtRegressorConfig, RandomForestRegressorConfig, GbtClassifierConfig, RandomForestClassifierConfig,
          LogisticRegressionConfig],
    Field(discriminator="type"),
]
ESTIMATORS = ("gbt_regressor", "random_forest_regressor", "gbt_classifier", "random_forest_classifier", "logistic_regression")
