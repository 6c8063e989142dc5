"""Tasks: what differs between regression, classification and forecasting, asked by the pipeline.

The pipeline, registry, reports, gates and CLI never branch on a use case's name or
task; they call the task (:class:`~sparkmlops.tasks.base.Task`) for labels, fitting,
scoring, metrics, error analysis, gates and what predict writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sparkmlops.config import UsecaseConfig
    from sparkmlops.tasks.base import Task


def get_task(config: UsecaseConfig) -> Task:
    """The task object for ``config.task``."""
    from sparkmlops.tasks.catalog import CLASSIFICATION, FORECASTING

    if config.task == FORECASTING:
        from sparkmlops.tasks.forecasting import ForecastingTask

        return ForecastingTask(config)
    if config.task == CLASSIFICATION:
        from sparkmlops.tasks.classification import ClassificationTask

        return ClassificationTask(config)
    from sparkmlops.tasks.regression import RegressionTask

    return RegressionTask(config)
