"""Which executors a run used, and which it lost on the way (a worker died, a node left).

Spark reschedules the tasks of a lost executor by itself; this module only makes that
visible in the run's report and log, so an operator reading a slow month knows why.
"""

from __future__ import annotations

import threading

from pyspark.sql import SparkSession


class ExecutorWatch:
    """Samples the application's executor ids every ``interval`` seconds while in a ``with`` block.

    Sampling runs in a thread because an executor can come and go between two stages
    (a worker killed while the input is read). In local mode the driver runs the tasks
    itself and there are no executors to watch.
    """

    def __init__(self, spark: SparkSession, interval: float = 1.0) -> None:
        self._spark = spark
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="executor-watch", daemon=True)
        self.seen: set[str] = set()
        self.latest: set[str] = set()

    def __enter__(self) -> "ExecutorWatch":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.sample()
            except Exception:  # the session is stopping; the last sample stands
                return

    def sample(self) -> set[str]:
        """The executors registered now; also remembered in :attr:`seen`."""
        ids = self._spark.sparkContext._jsc.sc().getExecutorIds().mkString(",")
        alive = {executor for executor in str(ids).split(",") if executor}
        self.latest = alive
        self.seen |= alive
        return alive

    def summary(self) -> dict:
        """``seen`` / ``at_end`` / ``lost`` executor ids, sorted, after a final sample."""
        self.sample()
        return {"seen": sorted(self.seen), "at_end": sorted(self.latest), "lost": sorted(self.seen - self.latest)}
