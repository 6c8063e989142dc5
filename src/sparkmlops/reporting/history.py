"""A use case's runs as the views read them: every month's reports, the live series, the registry.

Only reads. A document that cannot be read (a newer or unknown schema, damaged JSON) does
not hide the others: its month carries the one-paragraph reason and the views show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkmlops.errors import SparkMlopsError
from sparkmlops.reporting import contract
from sparkmlops.reporting.models import LivePerformance

MONTH_FOLDER = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


@dataclass
class MonthReports:
    month: str
    train: Any = None  # a TrainReport model (per task), or None
    predict: Any = None  # a PredictReport model, or None
    problems: list[str] = field(default_factory=list)


@dataclass
class RegistryView:
    """The registry's two slots as the views show them (None when it could not be read)."""

    current: dict | None
    candidate: dict | None
    problem: str | None = None


@dataclass
class UseCaseHistory:
    usecase: str
    months: list[MonthReports]  # oldest first
    live: LivePerformance | None
    registry: RegistryView | None
    problems: list[str] = field(default_factory=list)

    @property
    def task(self) -> str | None:
        for entry in reversed(self.months):
            for report in (entry.train, entry.predict):
                if report is not None:
                    return report.task
        return None

    def month(self, month: str) -> MonthReports | None:
        return next((entry for entry in self.months if entry.month == month), None)

    @property
    def latest_train(self):
        return next((entry.train for entry in reversed(self.months) if entry.train is not None), None)

    @property
    def latest_predict(self):
        return next((entry.predict for entry in reversed(self.months) if entry.predict is not None), None)

    @property
    def trained(self) -> list:
        """The train reports, oldest month first."""
        return [entry.train for entry in self.months if entry.train is not None]


def usecases(reports_dir: str | Path) -> list[str]:
    """The use cases with a folder under ``reports_dir`` that holds at least one month or index."""
    root = Path(reports_dir)
    if not root.is_dir():
        return []
    return sorted(folder.name for folder in root.iterdir() if folder.is_dir() and (
        (folder / "latest.json").exists() or any(MONTH_FOLDER.match(child.name) for child in folder.iterdir())))


def _read(kind: str, path: Path, problems: list[str]):
    try:
        return contract.read(kind, path)
    except contract.ReportSchemaError as error:
        problems.append(str(error))
        return None


def registry_view(registry_root: str | None, usecase: str) -> RegistryView | None:
    """The current and candidate slots, or the reason they could not be read."""
    if not registry_root:
        return None
    from sparkmlops.registry import Registry

    try:
        state = Registry(registry_root, usecase).state()
    except (SparkMlopsError, OSError) as error:
        return RegistryView(None, None, problem=str(error))
    return RegistryView(state.get("current"), state.get("candidate"))


def load(reports_dir: str | Path, usecase: str, registry_root: str | None = None, until: str | None = None) -> UseCaseHistory:
    """Every month's train and predict report of ``usecase`` under ``reports_dir``, oldest first.

    ``until`` (YYYY-MM) keeps the months up to and including it: the report as it stood then.
    """
    root = Path(reports_dir) / usecase
    months = []
    folders = sorted(child for child in root.iterdir() if child.is_dir() and MONTH_FOLDER.match(child.name)) if root.is_dir() else []
    folders = [folder for folder in folders if until is None or folder.name[:7] <= until]
    for folder in folders:
        entry = MonthReports(folder.name)
        entry.train = _read("train", folder / "train_report.json", entry.problems)
        entry.predict = _read("predict", folder / "predict_report.json", entry.problems)
        if entry.train or entry.predict or entry.problems:
            months.append(entry)
    problems: list[str] = []
    live = _read("live_performance", root / "live_performance.json", problems)
    if live is not None and until is not None:
        live.entries = [entry for entry in live.entries if entry.month[:7] <= until]
    return UseCaseHistory(usecase, months, live, registry_view(registry_root, usecase), problems)
