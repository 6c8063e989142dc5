"""A local Spark standalone cluster (master + N workers on 127.0.0.1): start, stop, status.

The pip pyspark ships ``bin/spark-class`` but not ``sbin/start-master.sh``, so each daemon
is one ``spark-class`` process started here in its own process group. Everything a
cluster needs to be stopped again lives in one run folder::

    <run_dir>/cluster.json        master URL, web UI URL, ports, pids, start time
    <run_dir>/pids/<name>.pid     one per daemon (master, worker-1, worker-2, …)
    <run_dir>/logs/<name>.log     the daemon's stdout + stderr
    <run_dir>/work/<name>/        a worker's work dir (executor logs, app files)

``stop`` signals exactly the process groups recorded there and nothing else. The master's
JSON API (``http://127.0.0.1:<webui>/json/`` — with the trailing slash) tells which
workers are ALIVE and which executors an application ran where.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sparkmlops.errors import SparkMlopsError, UsageError
from sparkmlops.processes import pid_alive

HOST = "127.0.0.1"


class ClusterError(SparkMlopsError):
    """The cluster did not come up (exit 1); the message names the log to read."""


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    port: int
    webui_url: str
    state: str
    cores: int
    cores_used: int
    memory_mb: int
    pid: int | None = None


@dataclass(frozen=True)
class ClusterStatus:
    master_url: str
    webui_url: str
    alive: bool
    workers: list[WorkerInfo] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    @property
    def alive_workers(self) -> list[WorkerInfo]:
        return [worker for worker in self.workers if worker.state == "ALIVE"]


def spark_class() -> Path:
    """``bin/spark-class`` of the installed pyspark (also SPARK_HOME's parent)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "bin" / "spark-class"


def port_free(port: int, host: str = HOST) -> bool:
    """True when a server could listen on ``host:port`` now.

    The probe binds the way servers (Spark's Netty and Jetty among them) bind: with
    SO_REUSEADDR. Without it, sockets of a just-stopped cluster that sit in TIME_WAIT for
    about a minute would make a free port look taken.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError:
            return False
    return True


def _read_pids(run_dir: Path) -> dict[str, int]:
    folder = run_dir / "pids"
    if not folder.is_dir():
        return {}
    return {path.stem: int(path.read_text().strip()) for path in sorted(folder.glob("*.pid"))}


def master_json(webui_url: str, timeout: float = 2.0) -> dict | None:
    """The master's ``/json/`` answer, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{webui_url}/json/", timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def _launch(name: str, arguments: list[str], run_dir: Path, env: dict[str, str]) -> int:
    log_path = run_dir / "logs" / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen([str(spark_class()), *arguments], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    (run_dir / "pids" / f"{name}.pid").write_text(f"{process.pid}\n")
    return process.pid


def start(
    run_dir: Path,
    workers: int = 2,
    cores: int = 1,
    memory: str = "2g",
    master_port: int = 7077,
    webui_port: int = 8080,
    python: str = sys.executable,
    timeout: float = 90,
    extra_env: dict[str, str] | None = None,
) -> ClusterStatus:
    """Start a master and ``workers`` workers on 127.0.0.1 and wait until all are ALIVE.

    Args:
        run_dir: folder for pid files, logs, work dirs and cluster.json.
        workers, cores, memory: number of workers and what each offers.
        master_port, webui_port: the master's RPC and web UI ports; worker ``i`` (from 1)
            uses web UI port ``webui_port + i``.
        python: interpreter for the executors' Python workers (must have pyarrow and sparkmlops).
        timeout: seconds to wait for every worker to register.

    Raises:
        UsageError: a cluster recorded in ``run_dir`` is still running, or a port is taken.
        ClusterError: the cluster did not come up in time (what was started is stopped).
    """
    run_dir = Path(run_dir).resolve()
    running = [pid for pid in _read_pids(run_dir).values() if pid_alive(pid)]
    if running:
        raise UsageError(
            f"A cluster started from {run_dir} is still running (pids {', '.join(map(str, running))}).",
            "One run folder tracks one cluster, so that stop knows exactly what to stop.",
            f"Use `sparkmlops cluster status --run-dir {run_dir}`, stop it first, or pass another --run-dir.",
        )
    ports = [master_port, webui_port, *[webui_port + i for i in range(1, workers + 1)]]
    taken = [port for port in ports if not port_free(port)]
    if taken:
        raise UsageError(
            f"Port(s) {', '.join(map(str, taken))} on {HOST} are already in use.",
            "The master needs its RPC and web UI ports and each worker a web UI port (web UI port + i).",
            "Stop what uses them, or pass --master-port / --webui-port.",
        )
    for sub in ("pids", "logs", "work"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_LOCAL_IP": HOST, "PYSPARK_PYTHON": python,
           "SPARK_HOME": str(spark_class().parents[1]), **(extra_env or {})}
    master_url, webui_url = f"spark://{HOST}:{master_port}", f"http://{HOST}:{webui_port}"
    pids = [_launch("master", ["org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(master_port),
                               "--webui-port", str(webui_port)], run_dir, env)]
    for index in range(1, workers + 1):
        work_dir = run_dir / "work" / f"worker-{index}"
        work_dir.mkdir(exist_ok=True)
        pids.append(_launch(f"worker-{index}", [
            "org.apache.spark.deploy.worker.Worker", master_url, "--host", HOST, "--cores", str(cores),
            "--memory", memory, "--webui-port", str(webui_port + index), "--work-dir", str(work_dir),
        ], run_dir, env))
    (run_dir / "cluster.json").write_text(json.dumps({
        "master_url": master_url, "webui_url": webui_url, "master_port": master_port, "webui_port": webui_port,
        "workers": workers, "cores": cores, "memory": memory, "pids": pids,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }, indent=2))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = status(run_dir)
        if len(current.alive_workers) >= workers:
            return current
        dead = [name for name, pid in _read_pids(run_dir).items() if not pid_alive(pid)]
        if dead:
            break
        time.sleep(0.5)
    stop(run_dir)
    raise ClusterError(
        f"The Spark standalone cluster in {run_dir} did not come up within {timeout:.0f} s.",
        f"Not every worker registered with the master at {master_url}.",
        f"Read {run_dir / 'logs'}/master.log and worker-*.log (Java 17 on PATH? enough memory?).",
    )


def stop(run_dir: Path, timeout: float = 30) -> list[int]:
    """Stop the processes recorded in ``run_dir`` (TERM, then KILL); returns the pids stopped.

    Only process groups whose leader pid is in the pid files are signalled, so nothing
    else on the machine is touched; a second call finds no pid files and stops nothing.
    """
    run_dir = Path(run_dir).resolve()
    pids = _read_pids(run_dir)
    stopped = []
    # workers first, so the master does not log them as lost while it still runs
    for name in sorted(pids, key=lambda n: n == "master"):
        pid = pids[name]
        if pid_alive(pid):
            _signal_group(pid, signal.SIGTERM)
            stopped.append(pid)
    deadline = time.monotonic() + timeout
    # Reap while waiting: a daemon this process started stays a zombie (and "alive" to
    # kill(pid, 0)) until reaped, which made every stop wait out the whole timeout.
    while time.monotonic() < deadline:
        _reap(stopped)
        if not any(pid_alive(pid) for pid in stopped):
            break
        time.sleep(0.2)
    for pid in stopped:
        if pid_alive(pid):
            _signal_group(pid, signal.SIGKILL)
    for name in pids:
        (run_dir / "pids" / f"{name}.pid").unlink(missing_ok=True)
    _reap(stopped)
    return stopped


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the daemon's process group (spark-class runs java as a child)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):  # already gone: that is what stopping wants
            os.kill(pid, sig)


def _reap(pids: list[int]) -> None:
    """Collect exit statuses of daemons started by this process (no zombies left behind)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):  # started by another process: its parent reaps it
            os.waitpid(pid, os.WNOHANG)


def kill_worker(run_dir: Path, index: int) -> int:
    """SIGKILL worker ``index`` (from 1) and its executors — a crashed node, for fault tests."""
    run_dir = Path(run_dir).resolve()
    pid = _read_pids(run_dir)[f"worker-{index}"]
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        _reap([pid])
        time.sleep(0.1)
    return pid


def status(run_dir: Path) -> ClusterStatus:
    """Master URL, workers (state, cores, memory, our pid) and pids of the cluster in ``run_dir``."""
    run_dir = Path(run_dir).resolve()
    record_path = run_dir / "cluster.json"
    if not record_path.is_file():
        raise UsageError(f"No cluster was started from {run_dir}.", "", "Run `sparkmlops cluster start` first.")
    record = json.loads(record_path.read_text())
    pids = _read_pids(run_dir)
    answer = master_json(record["webui_url"])
    workers = []
    for raw in (answer or {}).get("workers", []):
        webui = raw.get("webuiaddress", "")
        index = _worker_index(webui, record["webui_port"])
        workers.append(WorkerInfo(
            id=raw.get("id", ""), host=raw.get("host", ""), port=int(raw.get("port", 0)), webui_url=webui,
            state=raw.get("state", ""), cores=int(raw.get("cores", 0)), cores_used=int(raw.get("coresused", 0)),
            memory_mb=int(raw.get("memory", 0)), pid=pids.get(f"worker-{index}") if index else None,
        ))
    return ClusterStatus(record["master_url"], record["webui_url"], answer is not None and answer.get("status") == "ALIVE",
                         workers, [pid for pid in pids.values() if pid_alive(pid)])


def _worker_index(webui: str, master_webui_port: int) -> int | None:
    try:
        return int(webui.rsplit(":", 1)[1]) - master_webui_port
    except (IndexError, ValueError):
        return None


def active_apps(webui_url: str) -> list[str]:
    """Ids of the applications running on the master now."""
    return [app["id"] for app in (master_json(webui_url) or {}).get("activeapps", [])]


def executor_hosts(webui_url: str, app_id: str) -> list[str]:
    """Ids of the workers that ran (or run) executors of ``app_id``.

    Each worker's own ``/json/`` lists ``executors`` and ``finishedexecutors`` with their
    ``appid``; the master's answer gives the workers' web UI addresses.
    """
    workers = []
    for worker in (master_json(webui_url) or {}).get("workers", []):
        answer = master_json(worker.get("webuiaddress", ""))
        if not answer:
            continue
        executors = [*answer.get("executors", []), *answer.get("finishedexecutors", [])]
        if any(executor.get("appid") == app_id for executor in executors):
            workers.append(worker["id"])
    return sorted(workers)


def format_status(current: ClusterStatus) -> str:
    """A short table: master, then one line per worker."""
    lines = [f"master {current.master_url}  web UI {current.webui_url}  {'ALIVE' if current.alive else 'NOT ANSWERING'}"]
    for worker in current.workers:
        lines.append(f"  {worker.id:45} {worker.state:6} cores {worker.cores_used}/{worker.cores}  "
                     f"memory {worker.memory_mb} MB  pid {worker.pid or '-'}")
    if not current.workers:
        lines.append("  (no workers registered)")
    return "\n".join(lines)
