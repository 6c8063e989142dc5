"""Generic tabular features, configured in YAML only.

::

    features:
      module: tabular
      params:
        numeric: [MinTemp, MaxTemp, "sensor_{000..589}"]   # imputed with the training window's median
        categorical: [Location, WindGustDir]               # indexed; unseen and missing values get their own index
        date_parts: {Date: [month, dayofyear]}             # numeric parts of timestamp columns
        derived: {temp_range: "MaxTemp - MinTemp"}         # numeric SQL expressions over raw columns
        drop_constant: true                                # decided on the training window
        max_missing_share: 0.5                             # drop columns missing more often on the training window
        imputation: median                                 # or mean
        encoding: index                                    # or onehot (for linear models)

Everything is learned by one Estimator, :class:`TabularFeatures`, whose fit decides on the
training rows which columns to drop (one aggregation for all columns, however many), then
fits built-in stages (SQLTransformer, Imputer, StringIndexer, optional OneHotEncoder,
VectorAssembler) and returns them as a PipelineModel: pure-JVM stages that persist inside
the use case's model, so predict reproduces the training features exactly.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyspark import keyword_only
from pyspark.ml import Estimator, Pipeline, PipelineModel
from pyspark.ml.feature import Imputer, OneHotEncoder, SQLTransformer, StringIndexer, VectorAssembler
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame

from sparkmlops.features import FEATURES_COLUMN

DATE_PARTS = ("year", "month", "dayofmonth", "dayofweek", "dayofyear", "hour", "weekofyear")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TabularParams(BaseModel):
    """``features.params`` of the tabular module."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    date_parts: dict[str, list[Literal["year", "month", "dayofmonth", "dayofweek", "dayofyear", "hour", "weekofyear"]]] = \
        Field(default_factory=dict)
    derived: dict[str, str] = Field(default_factory=dict, description="new numeric column -> Spark SQL expression")
    drop_constant: bool = True
    max_missing_share: float = Field(default=0.5, gt=0, le=1)
    imputation: Literal["median", "mean"] = "median"
    encoding: Literal["index", "onehot"] = "index"

    @field_validator("numeric", "categorical", mode="before")
    @classmethod
    def _expand(cls, names: Any) -> Any:
        from sparkmlops.config import expand_names

        return expand_names(names) if isinstance(names, list) else names


def parse_params(params: dict[str, Any]) -> TabularParams:
    return TabularParams.model_validate(params)


def _referenced(expression: str) -> set[str]:
    return set(_IDENTIFIER.findall(re.sub(r"'[^']*'", "", expression)))


def validate_params(config) -> None:
    """The columns exist with fitting types, and nothing reads the target or a forbidden column."""
    params = parse_params(config.features.params)
    columns, target = config.data.columns, config.data.target
    banned = {target, *config.features.forbidden_columns}
    named = [*params.numeric, *params.categorical, *params.date_parts]
    if not named and not params.derived:
        raise ValueError("features.params names no column: list numeric, categorical, date_parts or derived columns")
    missing = sorted({name for name in named if name not in columns})
    if missing:
        raise ValueError(f"features.params names {', '.join(missing[:10])}, not in data.columns")
    leaking = sorted({name for name in named if name in banned}
                     | {f"{name} (derived)" for name, expression in params.derived.items() if _referenced(expression) & banned})
    if leaking:
        raise ValueError(f"features.params uses the target or a forbidden column: {', '.join(leaking)}")
    not_numeric = [name for name in params.numeric if columns[name] in ("string", "timestamp")]
    if not_numeric:
        raise ValueError(f"features.params.numeric lists non-numeric column(s) {', '.join(not_numeric[:10])}; "
                         "use categorical or date_parts")
    not_time = [name for name in params.date_parts if columns[name] != "timestamp"]
    if not_time:
        raise ValueError(f"features.params.date_parts lists {', '.join(not_time)}, which are not timestamp columns")
    clash = set(params.derived) & set(columns)
    if clash:
        raise ValueError(f"features.params.derived would overwrite raw column(s) {', '.join(sorted(clash))}")


def input_columns(params: dict[str, Any] | None = None) -> list[str]:
    """Raw columns the features read (identifiers in derived expressions included; the caller
    keeps those that are data columns)."""
    parsed = parse_params(params or {})
    derived = sorted({name for expression in parsed.derived.values() for name in _referenced(expression)})
    return list(dict.fromkeys([*parsed.numeric, *parsed.categorical, *parsed.date_parts, *derived]))


def build_stages(params: dict[str, Any] | None = None) -> list[Estimator]:
    parsed = parse_params(params or {})
    date_parts = [f"{column}:{part}" for column, parts in parsed.date_parts.items() for part in parts]
    return [TabularFeatures(
        numericCols=parsed.numeric, categoricalCols=parsed.categorical, dateParts=date_parts,
        derivedNames=list(parsed.derived), derivedExpressions=list(parsed.derived.values()),
        dropConstant=parsed.drop_constant, maxMissingShare=parsed.max_missing_share,
        imputation=parsed.imputation, encoding=parsed.encoding, outputCol=FEATURES_COLUMN,
    )]


class TabularFeatures(Estimator, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable):
    """Learns the use case's tabular features on the training rows; its model is a PipelineModel.

    ``fit`` sets ``fit_summary`` on the returned model (kept and dropped columns with the
    reason), which the task stores with the model's metadata.
    """

    numericCols = Param(Params._dummy(), "numericCols", "numeric input columns", TypeConverters.toListString)
    categoricalCols = Param(Params._dummy(), "categoricalCols", "categorical input columns", TypeConverters.toListString)
    dateParts = Param(Params._dummy(), "dateParts", "'column:part' entries, part one of " + ", ".join(DATE_PARTS),
                      TypeConverters.toListString)
    derivedNames = Param(Params._dummy(), "derivedNames", "names of derived numeric columns", TypeConverters.toListString)
    derivedExpressions = Param(Params._dummy(), "derivedExpressions", "Spark SQL expressions of the derived columns",
                               TypeConverters.toListString)
    dropConstant = Param(Params._dummy(), "dropConstant", "drop columns constant on the training rows",
                         TypeConverters.toBoolean)
    maxMissingShare = Param(Params._dummy(), "maxMissingShare", "drop columns missing in a larger share of training rows",
                            TypeConverters.toFloat)
    imputation = Param(Params._dummy(), "imputation", "median or mean", TypeConverters.toString)
    encoding = Param(Params._dummy(), "encoding", "index or onehot", TypeConverters.toString)

    @keyword_only
    def __init__(self, *, numericCols=None, categoricalCols=None, dateParts=None, derivedNames=None,
                 derivedExpressions=None, dropConstant=True, maxMissingShare=0.5, imputation="median",
                 encoding="index", outputCol=FEATURES_COLUMN) -> None:
        super().__init__()
        self._setDefault(numericCols=[], categoricalCols=[], dateParts=[], derivedNames=[], derivedExpressions=[],
                         dropConstant=True, maxMissingShare=0.5, imputation="median", encoding="index",
                         outputCol=FEATURES_COLUMN)
        self._set(**self._input_kwargs)

    def _derived_sql(self) -> dict[str, str]:
        """New numeric column -> SQL: the YAML's derived expressions and the date parts."""
        sql = {name: f"CAST(({expression}) AS DOUBLE)"
               for name, expression in zip(self.getOrDefault("derivedNames"), self.getOrDefault("derivedExpressions"))}
        for entry in self.getOrDefault("dateParts"):
            column, part = entry.split(":")
            if part not in DATE_PARTS:
                raise ValueError(f"date part '{part}' of {column} is not one of {', '.join(DATE_PARTS)}")
            sql[f"{column}__{part}"] = f"CAST({part}(`{column}`) AS DOUBLE)"
        return sql

    def _profile(self, frame: DataFrame, numeric: list[str], categorical: list[str]) -> dict[str, dict]:
        """Missing share and constancy of every candidate column, in one aggregation.

        Written as SQL text: one py4j Column per aggregate costs seconds for SECOM's 590 columns.
        """
        aggregates = ["count(1) AS `__rows`"]
        for i, name in enumerate(numeric):
            present = f"nanvl(CAST(`{name}` AS DOUBLE), CAST(NULL AS DOUBLE))"  # NaN counts as missing
            aggregates += [f"count({present}) AS n{i}", f"min({present}) AS lo{i}", f"max({present}) AS hi{i}"]
        for i, name in enumerate(categorical):
            aggregates += [f"count(`{name}`) AS cn{i}", f"approx_count_distinct(`{name}`) AS cd{i}"]
        row = frame.selectExpr(*aggregates).first().asDict()  # one row, whatever the width: bounded
        rows = row["__rows"] or 0
        profile = {}
        for i, name in enumerate(numeric):
            profile[name] = {"missing_share": 1 - row[f"n{i}"] / rows if rows else 1.0,
                             "constant": row[f"n{i}"] == 0 or row[f"lo{i}"] == row[f"hi{i}"]}
        for i, name in enumerate(categorical):
            profile[name] = {"missing_share": 1 - row[f"cn{i}"] / rows if rows else 1.0, "constant": row[f"cd{i}"] <= 1}
        return profile

    def _fit(self, dataset: DataFrame) -> PipelineModel:
        derived = self._derived_sql()
        stages: list = []
        if derived:
            selects = ", ".join(f"{sql} AS `{name}`" for name, sql in derived.items())
            stages.append(SQLTransformer(statement=f"SELECT *, {selects} FROM __THIS__"))
        frame = stages[0].transform(dataset) if stages else dataset
        numeric = [*self.getOrDefault("numericCols"), *derived]
        categorical = self.getOrDefault("categoricalCols")
        profile = self._profile(frame, numeric, categorical)
        max_missing, drop_constant = self.getOrDefault("maxMissingShare"), self.getOrDefault("dropConstant")
        dropped: dict[str, str] = {}
        for name, facts in profile.items():
            if facts["missing_share"] > max_missing:
                dropped[name] = f"missing in {facts['missing_share']:.1%} of training rows"
            elif drop_constant and facts["constant"]:
                dropped[name] = "constant on the training rows"
        kept_numeric = [name for name in numeric if name not in dropped]
        kept_categorical = [name for name in categorical if name not in dropped]
        if not kept_numeric and not kept_categorical:
            raise ValueError("every feature column was dropped on the training rows (constant or mostly missing): "
                             + "; ".join(f"{name}: {why}" for name, why in list(dropped.items())[:10]))
        assembled = []
        if kept_numeric:
            imputed = [f"{name}__imputed" for name in kept_numeric]
            stages.append(SQLTransformer(statement="SELECT *, " + ", ".join(
                f"CAST(`{name}` AS DOUBLE) AS `{name}__double`" for name in kept_numeric) + " FROM __THIS__"))
            stages.append(Imputer(inputCols=[f"{name}__double" for name in kept_numeric], outputCols=imputed,
                                  strategy=self.getOrDefault("imputation")))
            assembled += imputed
        if kept_categorical:
            indexed = [f"{name}__index" for name in kept_categorical]
            # keep: unseen categories and missing values get their own index instead of failing
            stages.append(StringIndexer(inputCols=kept_categorical, outputCols=indexed, handleInvalid="keep"))
            if self.getOrDefault("encoding") == "onehot":
                encoded = [f"{name}__onehot" for name in kept_categorical]
                stages.append(OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"))
                indexed = encoded
            assembled += indexed
        stages.append(VectorAssembler(inputCols=assembled, outputCol=self.getOrDefault("outputCol"), handleInvalid="keep"))
        model = Pipeline(stages=stages).fit(dataset)
        model.fit_summary = {"numeric": kept_numeric, "categorical": kept_categorical, "dropped": dropped}
        return model
