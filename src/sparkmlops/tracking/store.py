"""The MLflow side: experiments, runs, model artifacts, the registered model and its aliases.

Imported only when tracking is on (``import mlflow`` costs 1.5-2 s). Everything goes
through one explicit :class:`MlflowClient` — no global tracking URI or active run — so a
run's tracking cannot leak into another's.

Model versions carry the JSON registry's identity as tags (``sparkmlops_version`` = v0003,
``sparkmlops_run_id``): that pair, not MLflow's own numbering, finds the MLflow version of a
JSON version when the aliases follow a decision, a forced promotion or a rollback.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import mlflow
import mlflow.spark
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.models.signature import ModelSignature
from mlflow.types import ColSpec, Schema

from sparkmlops.reports import json_safe
from sparkmlops.tracking.content import experiment_name, model_name
from sparkmlops.tracking.settings import Target

MODEL_PATH = "model"
VERSION_TAG, RUN_TAG = "sparkmlops_version", "sparkmlops_run_id"
ALIASES = ("champion", "challenger")
_BATCH = 100  # MLflow's limit of params (and tags) per log_batch call
# data.columns types -> MLflow column types
_COLUMN_TYPES = {"long": "long", "int": "integer", "double": "double", "string": "string",
                 "timestamp": "datetime", "boolean": "boolean"}


def _missing(error: MlflowException) -> bool:
    return getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"


class Tracker:
    """One use case's experiment and registered model on one tracking target."""

    def __init__(self, target: Target, usecase: str) -> None:
        self.target = target
        self.usecase = usecase
        self.model_name = model_name(usecase)
        self.client = MlflowClient(target.uri, registry_uri=target.uri)

    # ---- runs ------------------------------------------------------------------------
    def experiment_id(self) -> str:
        """``sparkmlops/<usecase>``, created on first use (restored if someone deleted it)."""
        name = experiment_name(self.usecase)
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            location = f"{self.target.artifact_root}/{self.usecase}" if self.target.artifact_root else None
            try:
                return self.client.create_experiment(name, artifact_location=location,
                                                     tags={"sparkmlops.usecase": self.usecase})
            except MlflowException:  # created by a concurrent run of another registry meanwhile
                experiment = self.client.get_experiment_by_name(name)
                if experiment is None:
                    raise
        if experiment.lifecycle_stage == "deleted":
            self.client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id

    def start_run(self, experiment_id: str, name: str, tags: dict[str, str], parent: str | None = None) -> str:
        tags = {**tags, "mlflow.parentRunId": parent} if parent else tags
        return self.client.create_run(experiment_id, run_name=name, tags=tags).info.run_id

    def log(self, run_id: str, params: dict[str, str] | None = None, metrics: dict[str, float] | None = None) -> None:
        """Params and metrics in as few requests as MLflow's batch limits allow."""
        now = int(time.time() * 1000)
        params_list = [Param(k, v) for k, v in (params or {}).items()]
        metrics_list = [Metric(k, v, now, 0) for k, v in (metrics or {}).items()]
        for start in range(0, max(len(params_list), len(metrics_list), 1), _BATCH):
            chunk_params, chunk_metrics = params_list[start:start + _BATCH], metrics_list[start:start + _BATCH]
            if chunk_params or chunk_metrics:
                self.client.log_batch(run_id, metrics=chunk_metrics, params=chunk_params)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        items = [RunTag(k, v) for k, v in tags.items()]
        for start in range(0, len(items), _BATCH):
            self.client.log_batch(run_id, tags=items[start:start + _BATCH])

    def log_files(self, run_id: str, paths: list[Path], folder: str) -> None:
        for path in paths:
            self.client.log_artifact(run_id, str(path), folder)

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status)

    def finish_quietly(self, run_id: str) -> None:
        """Mark a run FAILED if the server still answers (it may be why we are here)."""
        try:
            self.client.set_terminated(run_id, "FAILED")
        except Exception as error:  # noqa: BLE001 - best effort after the real error, which the report names
            from sparkmlops.logs import get_logger

            get_logger().debug(f"could not mark MLflow run {run_id} FAILED: {type(error).__name__}: {error}")

    # ---- model artifacts -------------------------------------------------------------
    def log_spark_model(self, run_id: str, pipeline_model, columns: dict[str, str], metadata: dict,
                        dfs_tmpdir: str | None) -> None:
        """The PipelineModel in MLflow's spark flavor (loadable with ``mlflow.spark.load_model``).

        ``save_model`` + ``log_artifacts`` rather than ``log_model``: with a server's
        ``mlflow-artifacts:/`` root, ``log_model`` first tries a Spark write to that URI, which
        fails with a Java stack trace in the run's log before it falls back to this path.
        Explicit pip requirements keep MLflow from inferring them in a second Spark process (25 s).
        """
        signature = ModelSignature(
            inputs=Schema([ColSpec(_COLUMN_TYPES[kind], name) for name, kind in columns.items()]),
            outputs=Schema([ColSpec("double", "prediction")]),
        )
        with tempfile.TemporaryDirectory(prefix="sparkmlops-mlflow-") as tmp:
            local = os.path.join(tmp, MODEL_PATH)
            mlflow.spark.save_model(pipeline_model, local, pip_requirements=requirements(), signature=signature,
                                    metadata=_yaml_safe(metadata), dfs_tmpdir=dfs_tmpdir)
            self.client.log_artifacts(run_id, local, MODEL_PATH)

    def log_folder_model(self, run_id: str, spark, folder_uri: str, metadata: dict, kind: str) -> None:
        """A saved model folder as it is (the goat's per-series Parquet table) plus an ``MLmodel``
        file naming its kind and how to load it (``ModelArtifact.load``); not a pyfunc."""
        with tempfile.TemporaryDirectory(prefix="sparkmlops-mlflow-") as tmp:
            local = Path(tmp) / MODEL_PATH
            copy_to_local(spark, folder_uri, local)
            model = Model(artifact_path=MODEL_PATH, run_id=run_id, metadata=_yaml_safe(metadata))
            model.add_flavor("sparkmlops", artifact_kind=kind,
                             loader="sparkmlops.models.artifact.ModelArtifact.load")
            model.save(str(local / "MLmodel"))
            self.client.log_artifacts(run_id, str(local), MODEL_PATH)

    # ---- registered model and aliases --------------------------------------------------
    def register(self, run_id: str, tags: dict[str, str], description: str) -> str:
        """A new version of ``sparkmlops-<usecase>`` from the run's ``model`` artifact."""
        try:
            self.client.create_registered_model(
                self.model_name, tags={"sparkmlops.usecase": self.usecase},
                description=f"sparkmlops {self.usecase}: every candidate; aliases follow the JSON registry "
                            "(champion = current, challenger = candidate not promoted).")
        except MlflowException as error:
            if getattr(error, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise
        version = self.client.create_model_version(self.model_name, f"runs:/{run_id}/{MODEL_PATH}", run_id=run_id,
                                                   tags=tags, description=description)
        return str(version.version)

    def find_version(self, entry: dict | None) -> str | None:
        """The MLflow version registered for a JSON registry entry (its version and run id)."""
        if not entry or not entry.get("version"):
            return None
        found = self.client.search_model_versions(
            f"name='{self.model_name}' and tags.{VERSION_TAG}='{entry['version']}'")
        matching = [int(v.version) for v in found
                    if v.tags.get(RUN_TAG) == entry.get("run_id") or not entry.get("run_id")]
        return str(max(matching)) if matching else None

    def sync_aliases(self, state: dict) -> dict:
        """Point ``champion`` at the JSON current model and ``challenger`` at a candidate that was
        not promoted; an alias whose JSON model has no MLflow version is removed, not left stale.

        Returns alias -> ``{"version": MLflow version, "sparkmlops_version": JSON version}`` or
        ``None`` (with ``missing`` naming JSON versions that have no MLflow version).
        """
        current, candidate = state.get("current"), state.get("candidate")
        wanted = {"champion": current,
                  "challenger": candidate if candidate and (not current or candidate["version"] != current["version"])
                  else None}
        aliases, missing = {}, []
        for alias, entry in wanted.items():
            version = self.find_version(entry)
            if version:
                self.client.set_registered_model_alias(self.model_name, alias, version)
                aliases[alias] = {"version": version, "sparkmlops_version": entry["version"]}
                continue
            aliases[alias] = None
            if entry:
                missing.append(entry["version"])
            try:
                self.client.delete_registered_model_alias(self.model_name, alias)
            except MlflowException as error:
                if not _missing(error) and getattr(error, "error_code", "") != "INVALID_PARAMETER_VALUE":
                    raise
        return {"aliases": aliases, **({"missing": missing} if missing else {})}


def requirements() -> list[str]:
    """Pinned from this environment. The pipeline's feature stages live in the sparkmlops package,
    which is not on PyPI: a loader needs it installed (its wheel: scripts/build_wheel.sh)."""
    import pandas
    import pyarrow
    import pyspark

    return [f"mlflow=={mlflow.__version__}", f"pyspark=={pyspark.__version__}", f"pandas=={pandas.__version__}",
            f"pyarrow=={pyarrow.__version__}"]


def copy_to_local(spark, uri: str, target: Path) -> None:
    """Copy a model folder the driver can read (local folder, file:// or s3a://) to ``target``."""
    if "://" not in uri or uri.startswith("file://"):
        shutil.copytree(uri.removeprefix("file://"), target)
        return
    jvm = spark.sparkContext._jvm
    source = jvm.org.apache.hadoop.fs.Path(uri)
    source.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).copyToLocalFile(
        False, source, jvm.org.apache.hadoop.fs.Path(target.resolve().as_uri()), True)


def _yaml_safe(value: dict) -> dict:
    """MLmodel is YAML: plain JSON types only (NaN as null)."""
    return json.loads(json.dumps(json_safe(value), default=str))
