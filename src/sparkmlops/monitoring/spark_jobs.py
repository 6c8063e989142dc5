"""Count the Spark jobs a block of code runs (the drift step reports its own count)."""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import Iterator

from pyspark.sql import SparkSession

_GROUP_PROPERTIES = ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel")


@dataclass
class JobCount:
    jobs: int = 0
    seconds: float = 0.0


@contextlib.contextmanager
def counted_jobs(spark: SparkSession, description: str) -> Iterator[JobCount]:
    """Run the block in a job group of its own; on exit ``jobs`` and ``seconds`` are set.

    The caller's job group (if any) is restored afterwards, so a scheduler's group is kept.
    """
    context = spark.sparkContext
    saved = {key: context.getLocalProperty(key) for key in _GROUP_PROPERTIES}
    group = f"sparkmlops-drift-{uuid.uuid4().hex[:12]}"
    context.setJobGroup(group, description)
    count, started = JobCount(), time.perf_counter()
    try:
        yield count
    finally:
        count.seconds = round(time.perf_counter() - started, 3)
        count.jobs = len(context.statusTracker().getJobIdsForGroup(group))
        for key, value in saved.items():
            context.setLocalProperty(key, value)
