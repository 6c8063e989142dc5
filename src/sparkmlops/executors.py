"""Which executors a run used, and which it lost on the way (a worker died, a node left).

Spark reschedules the tasks of a lost executor by itself; this module only makes that
visible in the run's report and log, so an operator reading a slow month knows why.
"""

from __future__ import annotations

from pyspark.sql import SparkSession


class ExecutorWatch:
    """Samples the application's executor ids at stage boundaries (empty in local mode,
    where the driver runs the tasks itself)."""

    def __init__(self, spark: SparkSession) -> None:
        self._spark = spark
        self.seen: set[str] = set()
        self.latest: set[str] = set()
        self.sample()

    def sample(self) -> set[str]:
        """The executors registered now; also remembered in :attr:`seen`."""
        ids = self._spark.sparkContext._jsc.sc().getExecutorIds().mkString(",")
        alive = {executor for executor in str(ids).split(",") if executor}
        self.latest = alive
        self.seen |= alive
        return alive

    def summary(self) -> dict:
        """``seen`` / ``at_end`` / ``lost`` executors, sorted, after a final sample."""
        self.sample()
        return {"seen": sorted(self.seen), "at_end": sorted(self.latest), "lost": sorted(self.seen - self.latest)}
