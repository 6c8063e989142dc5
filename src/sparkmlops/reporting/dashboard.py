"""``sparkmlops dashboard``: run the Streamlit app (:mod:`.dashboard_app`), on 127.0.0.1 by default.

Streamlit runs in its own process (``python -m streamlit run``) with usage statistics
off and no browser opened; the app finds the reports and registry through the
environment. Ctrl-C stops it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

from sparkmlops.errors import EXIT_OK, UsageError

APP = Path(__file__).with_name("dashboard_app.py")
HOST = "127.0.0.1"


def command(port: int, host: str = HOST) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", host, "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--global.developmentMode", "false", "--client.toolbarMode", "viewer"]


def environment(reports_dir: str, registry: str, usecase: str | None) -> dict[str, str]:
    env = {**os.environ, "SPARKMLOPS_DASHBOARD_REPORTS": str(Path(reports_dir).resolve()),
           "SPARKMLOPS_DASHBOARD_REGISTRY": registry if "://" in registry else str(Path(registry).resolve())}
    if usecase:
        env["SPARKMLOPS_DASHBOARD_USECASE"] = usecase
    return env


def serve(reports_dir: str, registry: str, port: int, usecase: str | None = None, host: str = HOST) -> int:
    """Run the dashboard until interrupted; returns its exit code."""
    if importlib.util.find_spec("streamlit") is None:
        raise UsageError("The dashboard needs Streamlit, which is not installed in this environment.",
                         "It is an optional extra so batch-only installs stay small.",
                         "Install it with: pip install 'sparkmlops[dashboard]' (scripts/setup.sh does).")
    print(f"dashboard on http://{host}:{port} (read-only; Ctrl-C stops it)", flush=True)
    process = subprocess.Popen(command(port, host), env=environment(reports_dir, registry, usecase))

    def stop(signum, frame):  # a kill of this process (a service manager, a test) stops Streamlit too
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        return EXIT_OK
