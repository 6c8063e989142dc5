"""How a written prediction row's error is computed: plain data, free of Spark.

The task says it (:meth:`~sparkmlops.tasks.base.Task.prediction_error_spec`); readers of
the predictions folder (:mod:`sparkmlops.reporting.prediction_sample`) apply it with
pyarrow, so the report and the dashboard never branch on a use case or task name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    """The columns of a predictions row and how their difference is its error.

    Attributes:
        target: the observed value, under the target's YAML name (null: not observed).
        prediction: the written prediction (classification: the positive-class probability).
        positive_label: None for a numeric target: the error is |prediction − target|.
            Set for classification: the error is |prediction − y| with y = 1 where the
            target is this label (compared as a number when the target column is
            numeric, else as text) and 0 otherwise.
    """

    target: str
    prediction: str
    positive_label: str | None = None
