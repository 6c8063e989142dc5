"""Where tracking goes, whether it is on, and how it appears in reports (no secrets).

Precedence, first that applies: ``--no-tracking`` / ``--tracking-uri URI`` (``run.tracking``),
``SPARKMLOPS_TRACKING=off``, ``MLFLOW_TRACKING_URI``, the YAML's ``paths.tracking``
(default ``mlruns``). A value without a URI scheme is a folder holding the default local
store: ``<folder>/mlflow.db`` (sqlite) and ``<folder>/artifacts/``. ``off`` switches off.

Nothing here imports MLflow: a run with tracking off never loads it.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

OFF = "off"
SWITCH_ENV = "SPARKMLOPS_TRACKING"
_OFF_WORDS = {"off", "false", "0", "no", "disabled"}
DB_FILE, ARTIFACTS = "mlflow.db", "artifacts"
# A tracking server that is down or refusing must cost seconds, not MLflow's default of
# 7 retries with exponential backoff and 120 s timeouts. A user's own values win.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # MLflow prints "View run at …" to stdout otherwise
}
_SECRET_ENV = re.compile(r"PASSWORD|TOKEN|SECRET|ACCESS_KEY|API_KEY")


@dataclass(frozen=True)
class Target:
    """The resolved tracking destination of one run."""

    enabled: bool
    uri: str = ""  # what MLflow connects to (may hold credentials: never print it)
    artifact_root: str | None = None  # explicit experiment artifact location for local stores
    source: str = ""  # which setting decided: --tracking-uri, MLFLOW_TRACKING_URI, paths.tracking, …

    @property
    def shown_uri(self) -> str:
        return redact_uri(self.uri)


def resolve(paths_tracking: str, run_tracking: str | None, environ: dict | None = None) -> Target:
    """The tracking target from the CLI choice, the environment and the YAML (see module doc)."""
    env = os.environ if environ is None else environ
    if run_tracking is not None:
        source = "--no-tracking" if run_tracking == OFF else "--tracking-uri"
        return _target(run_tracking, source)
    if env.get(SWITCH_ENV, "").strip().lower() in _OFF_WORDS:
        return Target(False, source=f"{SWITCH_ENV}={env[SWITCH_ENV]}")
    if env.get("MLFLOW_TRACKING_URI", "").strip():
        return _target(env["MLFLOW_TRACKING_URI"].strip(), "MLFLOW_TRACKING_URI")
    return _target(paths_tracking, "paths.tracking")


def _target(value: str, source: str) -> Target:
    if value.strip().lower() == OFF:
        return Target(False, source=source)
    if "://" not in value and not value.startswith("sqlite:"):  # a folder: the default local store
        folder = Path(value).expanduser().resolve()
        return Target(True, f"sqlite:///{folder / DB_FILE}", (folder / ARTIFACTS).as_uri(), source)
    if value.startswith("sqlite:///"):  # artifacts next to the database, not in ./mlruns of the cwd
        database = Path(value[len("sqlite:///"):])
        return Target(True, value, (database.parent.resolve() / ARTIFACTS).as_uri(), source)
    return Target(True, value, None, source)  # a server (or a database): it decides where artifacts go


def redact_uri(uri: str) -> str:
    """The URI without user, password, query and fragment (tokens travel there)."""
    if "://" not in uri:
        return uri
    parts = urlsplit(uri)
    if "@" not in parts.netloc:  # keeps sqlite:////abs/path intact (urlunsplit would drop a slash)
        return uri.split("?", 1)[0].split("#", 1)[0]
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def scrub(text: str, uri: str = "") -> str:
    """``text`` without the URI's credentials or any secret-looking environment value."""
    secrets = []
    if "://" in uri:
        parts = urlsplit(uri)
        secrets += [parts.password or "", parts.query]
        if "@" in parts.netloc:
            secrets.append(parts.netloc.rsplit("@", 1)[0] + "@")
    secrets += [value for key, value in os.environ.items() if _SECRET_ENV.search(key) and len(value) >= 4]
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def one_line(error: BaseException, uri: str = "", limit: int = 300) -> str:
    """``Type: first line`` of an error, credentials removed, at most ``limit`` characters."""
    lines = str(error).strip().splitlines()
    text = scrub(f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": "), uri)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextlib.contextmanager
def http_limits() -> Iterator[None]:
    """Small MLflow HTTP retries and timeouts for the duration of the block (user values kept)."""
    added = {key: value for key, value in HTTP_DEFAULTS.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
