"""Structured logging: one line per stage with its duration and row count.

``--log-format json`` writes JSON lines; every line carries the run id.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextlib import contextmanager
from typing import Iterator

LOGGER_NAME = "sparkmlops"


class _RunIdFilter(logging.Filter):
    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = self.run_id
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "run_id": getattr(record, "run_id", None),
            "message": record.getMessage(),
        }
        document.update(getattr(record, "fields", {}))
        return json.dumps(document, default=str)


def configure(run_id: str, log_format: str = "text", level: int = logging.INFO) -> logging.Logger:
    """(Re)configure the sparkmlops logger for one run; logs go to stderr."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(run_id)s] %(message)s", "%H:%M:%S"))
    handler.addFilter(_RunIdFilter(run_id))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


class StageTimer:
    """Collects per-stage durations (and row counts) for the report."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.rows: dict[str, int] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        """Time a stage; set ``info["rows"]`` inside the block to log its row count."""
        info: dict = {}
        start = time.perf_counter()
        try:
            yield info
        finally:
            seconds = time.perf_counter() - start
            self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 3)
            fields = {"stage": name, "seconds": round(seconds, 3)}
            if "rows" in info:
                self.rows[name] = int(info["rows"])
                fields["rows"] = int(info["rows"])
            text = f"stage={name} seconds={seconds:.2f}" + (f" rows={info['rows']}" if "rows" in info else "")
            get_logger().info(text, extra={"fields": fields})
