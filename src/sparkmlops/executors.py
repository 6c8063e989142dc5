"""Which executors a run used, and which it lost on the way (a worker died, a node left).

Spark reschedules the tasks of a lost executor by itself; this module only makes that
visible in the run's report and log, so an operator reading a slow month knows why.
"""

from __future__ import annotations

import threading

from py4j.java_gateway import is_instance_of
from pyspark.sql import SparkSession

# Only a scheduler backend with a cluster manager behind it knows executor ids; asking
# local mode's backend logs "Requesting executors is not supported" on every call.
_ALLOCATION_CLIENT = "org.apache.spark.ExecutorAllocationClient"


def has_cluster_manager(spark: SparkSession) -> bool:
    """True when the application's executors come from a cluster manager (standalone, YARN, k8s), not local mode."""
    backend = spark.sparkContext._jsc.sc().schedulerBackend()
    return bool(is_instance_of(spark.sparkContext._gateway, backend, _ALLOCATION_CLIENT))


class ExecutorWatch:
    """Samples the application's executor ids every ``interval`` seconds while in a ``with`` block.

    Sampling runs in a thread because an executor can come and go between two stages
    (a worker killed while the input is read). In local mode the driver runs the tasks
    itself: there are no executors to watch, and the watch does nothing.
    """

    def __init__(self, spark: SparkSession, interval: float = 1.0) -> None:
        self._spark = spark
        self._interval = interval
        self.watching = has_cluster_manager(spark)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="executor-watch", daemon=True)
        self.seen: set[str] = set()
        self.latest: set[str] = set()

    def __enter__(self) -> "ExecutorWatch":
        if self.watching:
            self.sample()
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.sample()
            except Exception:  # the session is stopping; the last sample stands
                return

    def sample(self) -> set[str]:
        """The executors registered now; also remembered in :attr:`seen`."""
        if not self.watching:
            return set()
        ids = self._spark.sparkContext._jsc.sc().getExecutorIds().mkString(",")
        alive = {executor for executor in str(ids).split(",") if executor}
        self.latest = alive
        self.seen |= alive
        return alive

    def summary(self) -> dict:
        """``watched`` and the ``seen`` / ``at_end`` / ``lost`` executor ids, sorted, after a final sample."""
        self.sample()
        return {"watched": self.watching, "seen": sorted(self.seen), "at_end": sorted(self.latest),
                "lost": sorted(self.seen - self.latest)}
