"""A month's predictions as the dashboard shows them: a bounded sample, largest errors first.

The rows come from the predictions the predict run wrote to the lake (the report names
them), streamed by :mod:`.prediction_sample` so memory stays bounded whatever the month's
size. How a row's error is measured is the task's (``prediction_error_spec``); the
task comes from the use case YAML the run used.
"""

from __future__ import annotations

from pathlib import Path

from sparkmlops import config as config_module
from sparkmlops.errors import UsageError
from sparkmlops.reporting import prediction_sample
from sparkmlops.reporting.blocks import Block, Cell, Note, Table

MAX_ROWS = 1000


def _config(usecase: str, config_file: str | None):
    """The YAML the run used when it is still there, else the shipped one of the use case."""
    if config_file and Path(config_file).exists():
        return config_module.load(usecase, config_file)
    try:
        return config_module.load(usecase)
    except UsageError:
        return None


def sample_blocks(predict_report, limit: int, config_file: str | None = None) -> list[Block]:
    """The sample as a table, or a note saying why there is none."""
    if predict_report is None:
        return [Note("This month has no predictions yet.")]
    from sparkmlops.tasks import get_task

    config = _config(predict_report.usecase, config_file)
    if config is None:
        return [Note(f"The use case YAML of {predict_report.usecase} was not found, so the prediction errors cannot be "
                     "measured; pass --config to sparkmlops dashboard.", "warn")]
    spec = get_task(config).prediction_error_spec()
    rows = prediction_sample.largest_errors(predict_report.predictions_uri, spec, limit=min(limit, MAX_ROWS))
    if rows.empty:
        return [Note(f"No predictions found under {predict_report.predictions_uri}.", "warn")]
    blocks: list[Block] = []
    if rows["error"].isna().all():
        blocks.append(Note("The month has no observed target yet, so errors cannot be measured: the first rows are shown."))
    columns = list(rows.columns)
    table_rows = [[Cell.of(_plain(value)) for value in record] for record in rows.itertuples(index=False, name=None)]
    blocks.append(Table(f"sample-{predict_report.month}", columns, table_rows,
                        f"{len(rows)} of {predict_report.prediction_stats.rows:,} predictions of {predict_report.month} "
                        f"(model {predict_report.model_version}), largest absolute error first."))
    return blocks


def _plain(value):
    """pandas / numpy scalars as plain Python values (NaN and NaT as missing)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if not isinstance(value, (int, float, str, bool)):
        return str(value)
    return value
