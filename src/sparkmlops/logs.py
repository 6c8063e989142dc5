"""Structured logging: one line per stage with its duration and row count.

``--log-format json`` writes JSON lines; every line carries the run id. The console gets
the stage lines and readable errors; a run's log file (next to its report) gets the same
lines plus tracebacks, and Spark's own log lines (see :mod:`sparkmlops.spark_logs`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path
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


class _WithoutTraceback(logging.Formatter):
    """Console only: a traceback belongs in the run's log file, not in front of the user."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def _formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return _JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s [%(run_id)s] %(message)s", "%H:%M:%S")


def configure(run_id: str, log_format: str = "text", verbose: bool = False, level: int = logging.INFO) -> logging.Logger:
    """(Re)configure the sparkmlops logger for one run; logs go to stderr (tracebacks only with ``verbose``)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter(log_format) if verbose else _WithoutTraceback(_formatter(log_format)))
    handler.addFilter(_RunIdFilter(run_id))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def attach_log_file(path: Path, run_id: str, log_format: str = "text") -> Path:
    """Start the run's log file (replacing an earlier run's) and copy the sparkmlops logger into it.

    The file is opened in append mode because Spark's log4j appender writes into it too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(_formatter(log_format))
    handler.addFilter(_RunIdFilter(run_id))
    get_logger().addHandler(handler)
    return path


def write_to_log_file(message: str, level: int = logging.ERROR) -> None:
    """Put a line into the run's log file only (the console already shows it, e.g. the error paragraph)."""
    logger = get_logger()
    record = logger.makeRecord(logger.name, level, __file__, 0, message, None, None)
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def log_file() -> Path | None:
    """The current run's log file, if one is attached."""
    for handler in get_logger().handlers:
        if isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return None


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
