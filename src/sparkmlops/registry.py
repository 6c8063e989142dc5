"""The JSON file registry of one use case: current / candidate / history.

Layout under ``<root>/<usecase>/``::

    model_registry.json    schema_version, current, candidate, history (the truth)
    archive/<version>/     every trained model, immutable (model/ + entry.json)
    current/ candidate/    copies of an archive version, with a VERSION marker
    .lock                  one writer at a time

Crash safety: the JSON file is the single source of truth and is replaced atomically
(temp file + fsync + rename). A model is saved into a temp folder and renamed into
``archive/`` before the JSON names it; ``current/`` and ``candidate/`` are refreshed
after the JSON commit. :meth:`Registry.model_path` serves a slot's folder only when its
VERSION marker matches the JSON, else the archive copy, so a crash at any point loads
either the old state or the new one, never a mix. :meth:`Registry.repair` re-syncs the
copies (it runs whenever the lock is taken).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from sparkmlops.errors import RegistryBusyError, UsageError
from sparkmlops.logs import get_logger
from sparkmlops.promotion import Decision
from sparkmlops.reports import write_json_atomic

SCHEMA_VERSION = 1
SLOTS = ("current", "candidate")
REGISTRY_FILE = "model_registry.json"
VERSION_MARKER = "VERSION"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Registry:
    """File registry of one use case (local path or shared volume)."""

    def __init__(self, root: str | os.PathLike, usecase: str) -> None:
        root_text = str(root)
        if root_text.startswith("file://"):
            root_text = root_text[len("file://"):]
        if "://" in root_text:
            raise UsageError(
                f"Registry root {root_text} is not a local path.",
                "This version keeps the registry on a local or shared-volume path.",
                "Pass a folder to --model-registry-path (a volume every node mounts).",
            )
        self.usecase = usecase
        self.dir = Path(root_text) / usecase
        self.file = self.dir / REGISTRY_FILE
        self.lock_file = self.dir / ".lock"
        self._locked_by: str | None = None

    # ---- reading -------------------------------------------------------------------
    def state(self) -> dict:
        """The registry document, or an empty initial state (nothing is created)."""
        try:
            return json.loads(self.file.read_text())
        except FileNotFoundError:
            return {"schema_version": SCHEMA_VERSION, "usecase": self.usecase, "next_version": 1,
                    "current": None, "candidate": None, "history": []}

    def history(self) -> list[dict]:
        return self.state()["history"]

    def find_decision(self, run_key: str) -> dict | None:
        """The training decision recorded for ``run_key``, if any (idempotent reruns)."""
        return next((r for r in self.history() if r.get("run_key") == run_key), None)

    def model_path(self, slot: str) -> str | None:
        """Folder to load the slot's model from, or None when the slot is empty."""
        entry = self.state().get(slot)
        if not entry:
            return None
        view = self.dir / slot
        if self._marker(view) == entry["version"]:
            return str(view / "model")
        return str(self._archive(entry["version"]) / "model")

    # ---- locking -------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, run_id: str) -> Iterator[None]:
        """Hold the use case's writer lock; refuse while another live run holds it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        holder = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
        while True:
            try:
                handle = os.open(self.lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                break
            except FileExistsError:
                self._break_stale_lock_or_raise()
        with os.fdopen(handle, "w") as stream:
            json.dump(holder, stream)
        self._locked_by = run_id
        try:
            self.repair()
            yield
        finally:
            self._locked_by = None
            self.lock_file.unlink(missing_ok=True)

    def _break_stale_lock_or_raise(self) -> None:
        try:
            holder = json.loads(self.lock_file.read_text() or "{}")
        except FileNotFoundError:
            return  # released meanwhile: try again
        except json.JSONDecodeError:
            holder = {}
        same_host = holder.get("host") == socket.gethostname()
        if same_host and isinstance(holder.get("pid"), int) and not _pid_alive(holder["pid"]):
            get_logger().warning(f"taking over a stale registry lock of run {holder.get('run_id')} (pid {holder['pid']} is gone)")
            self.lock_file.unlink(missing_ok=True)
            return
        raise RegistryBusyError(
            f"The {self.usecase} registry is locked by run {holder.get('run_id', '?')} "
            f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('since', '?')}).",
            "One writer at a time keeps the registry consistent.",
            f"Wait for that run to finish; if that process is gone, delete {self.lock_file} and rerun.",
        )

    def _assert_locked(self) -> None:
        if self._locked_by is None:
            raise RuntimeError("registry writes need the lock: use `with registry.lock(run_id):`")

    # ---- writing -------------------------------------------------------------------
    def record_run(
        self,
        *,
        run_key: str,
        run_id: str,
        save_model: Callable[[str], None],
        entry: dict,
        decision: Decision,
        record_extra: dict,
    ) -> dict:
        """Archive the candidate, update the slots, append the decision; return the record."""
        self._assert_locked()
        state = self.state()
        version = f"v{state['next_version']:04d}"
        self._archive_model(version, save_model, entry)
        new_entry = {**entry, "version": version, "registered_at": _now()}
        previous_current = state["current"]["version"] if state.get("current") else None
        record = {
            "run_key": run_key, "run_id": run_id, "decided_at": _now(), "version": version,
            "outcome": decision.outcome, "promoted": decision.promote, "reason": decision.reason,
            "comparison": decision.comparison, "previous_current": previous_current, **record_extra,
        }
        state["next_version"] += 1
        state["candidate"] = new_entry
        if decision.promote:
            state["current"] = {**new_entry, "promoted_at": record["decided_at"]}
        state["history"].append(record)
        self._commit(state)
        return record

    def rollback(self, run_id: str, reason: str = "") -> dict:
        """Make the model that was current before the latest promotion current again."""
        self._assert_locked()
        state = self.state()
        current = state.get("current")
        if not current:
            raise UsageError(f"The {self.usecase} registry has no current model.", "There is nothing to roll back.", "Train first.")
        previous = next(
            (r["previous_current"] for r in reversed(state["history"])
             if r.get("promoted") and r.get("version") == current["version"] and r.get("previous_current")),
            None,
        )
        if previous is None:
            raise UsageError(
                f"Current model {current['version']} of {self.usecase} has no predecessor to roll back to.",
                "It was the first model promoted.", "Promote another model with `registry promote --force` instead.",
            )
        entry = json.loads((self._archive(previous) / "entry.json").read_text())
        state["current"] = {**entry, "version": previous, "promoted_at": _now()}
        record = {"run_id": run_id, "decided_at": _now(), "version": previous, "outcome": "rolled_back",
                  "promoted": True, "previous_current": current["version"],
                  "reason": f"rolled back from {current['version']} to {previous}" + (f": {reason}" if reason else "")}
        state["history"].append(record)
        self._commit(state)
        return record

    def promote_candidate(self, run_id: str, reason: str) -> dict:
        """Force the candidate slot's model into the current slot."""
        self._assert_locked()
        state = self.state()
        candidate = state.get("candidate")
        if not candidate:
            raise UsageError(f"The {self.usecase} registry has no candidate.", "There is nothing to promote.", "Train first.")
        previous = state["current"]["version"] if state.get("current") else None
        state["current"] = {**candidate, "promoted_at": _now()}
        record = {"run_id": run_id, "decided_at": _now(), "version": candidate["version"], "outcome": "forced",
                  "promoted": True, "previous_current": previous, "reason": f"forced promotion: {reason}"}
        state["history"].append(record)
        self._commit(state)
        return record

    def repair(self) -> None:
        """Re-sync slot folders with the JSON and remove leftovers of crashed runs."""
        for leftover in list(self.dir.glob(".tmp-*")) + list((self.dir / "archive").glob(".tmp-*")):
            shutil.rmtree(leftover, ignore_errors=True)
        state = self.state()
        for slot in SLOTS:
            entry = state.get(slot)
            if entry and self._marker(self.dir / slot) != entry["version"]:
                self._materialise(slot, entry["version"])

    # ---- private helpers -----------------------------------------------------------
    def _archive(self, version: str) -> Path:
        return self.dir / "archive" / version

    @staticmethod
    def _marker(folder: Path) -> str | None:
        try:
            return (folder / VERSION_MARKER).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _archive_model(self, version: str, save_model: Callable[[str], None], entry: dict) -> None:
        target = self._archive(version)
        temp = self.dir / "archive" / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
        temp.mkdir(parents=True)
        try:
            save_model(str(temp / "model"))
            write_json_atomic(temp / "entry.json", {**entry, "version": version})
            if target.exists():  # left by a run that crashed before its JSON commit
                shutil.rmtree(target)
            os.rename(temp, target)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    def _commit(self, state: dict) -> None:
        """The commit point: replace the JSON, then refresh the slot copies."""
        write_json_atomic(self.file, state)
        for slot in SLOTS:
            entry = state.get(slot)
            if entry and self._marker(self.dir / slot) != entry["version"]:
                self._materialise(slot, entry["version"])

    def _materialise(self, slot: str, version: str) -> None:
        """Copy an archive version into a slot folder; the VERSION marker is written last."""
        temp = self.dir / f".tmp-{slot}-{uuid.uuid4().hex[:8]}"
        shutil.copytree(self._archive(version), temp)
        (temp / VERSION_MARKER).write_text(version + "\n")
        view, old = self.dir / slot, self.dir / f".tmp-old-{slot}-{uuid.uuid4().hex[:8]}"
        if view.exists():
            os.rename(view, old)
        os.rename(temp, view)
        shutil.rmtree(old, ignore_errors=True)
