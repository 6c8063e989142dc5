"""The JSON file registry of one use case: current / candidate / history.

Layout under ``<root>/<usecase>/``::

    model_registry.json    schema_version, usecase, next_version, current, candidate,
                           history — the single source of truth
    archive/<version>/     every registered model, immutable: model/ + entry.json
    current/ candidate/    copies of an archive version (model/, entry.json) with a
                           VERSION marker written last
    .lock                  one writer at a time (pid, host, run id, since)

Crash safety: a model is saved into ``archive/.tmp-<version>-<uuid>`` and renamed into
place before the JSON names it; the JSON is then replaced atomically (temp file in the
same folder, fsync, ``os.replace``) — that replace is the commit point. ``current/`` and
``candidate/`` are refreshed after the commit (copy into a temp folder, swap with
renames). :meth:`Registry.model_path` serves a slot's folder only when its VERSION marker
matches the JSON and the archive copy otherwise, so a crash at any point loads exactly
the model the JSON names: the old state or the new one, never a mix.
:meth:`Registry.repair` (run whenever the lock is taken) re-syncs the copies and removes
what crashed runs left behind.

All storage goes through a :class:`~sparkmlops.registry.store.Store`:
:class:`~sparkmlops.registry.local_store.LocalStore` (a folder or shared volume) or
:class:`~sparkmlops.registry.s3_store.S3Store` (an ``s3a://bucket/prefix`` root on any
S3-compatible server), so the registry logic is the same for both. It knows no
estimator: a model is whatever ``save_model`` writes into the folder it is given, and
its entry is whatever metadata the caller passes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from sparkmlops.errors import RegistryBusyError, SparkMlopsError, UsageError
from sparkmlops.logs import get_logger
from sparkmlops.processes import pid_alive
from sparkmlops.promotion import Decision
from sparkmlops.registry.local_store import LocalStore
from sparkmlops.registry.s3_store import S3Store
from sparkmlops.registry.store import TEMP_PREFIX, VERSION_MARKER, Store

SCHEMA_VERSION = 1
SLOTS = ("current", "candidate")
REGISTRY_FILE = "model_registry.json"
ENTRY_FILE = "entry.json"
MODEL_DIR = "model"
LOCK_FILE = ".lock"
ROLLED_BACK = "rolled_back"
_VERSION_PATTERN = re.compile(r"^v(\d{4,})$")
# Keys record_run() writes itself; record_extra must not overwrite them.
_RECORD_KEYS = frozenset(
    {"run_key", "run_id", "decided_at", "version", "outcome", "promoted", "reason", "comparison", "previous_current"}
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _version_name(number: int) -> str:
    return f"v{number:04d}"


def _initial_state(usecase: str) -> dict:
    return {"schema_version": SCHEMA_VERSION, "usecase": usecase, "next_version": 1,
            "current": None, "candidate": None, "history": []}


def _current_chain(history: list[dict]) -> list[str]:
    """Replay the history into the stack of versions that were current, oldest first.

    A promotion (of any kind) pushes its version, a rollback pops the top, so repeated
    rollbacks walk further back instead of toggling between two versions.
    """
    chain: list[str] = []
    for record in history:
        version = record.get("version")
        if record.get("outcome") == ROLLED_BACK:
            if chain:
                chain.pop()
            if not chain or chain[-1] != version:  # an older registry without the full chain
                chain.append(version)
        elif record.get("promoted") and (not chain or chain[-1] != version):
            chain.append(version)
    return chain


class Registry:
    """File registry of one use case on a local folder, a shared volume or S3.

    Reading (:meth:`state`, :meth:`history`, :meth:`find_decision`,
    :meth:`model_path`) needs no lock; every write (:meth:`record_run`,
    :meth:`rollback`, :meth:`promote_candidate`, :meth:`repair`) must happen inside
    ``with registry.lock(run_id):``.
    """

    def __init__(self, root: str | os.PathLike, usecase: str) -> None:
        """Point at ``<root>/<usecase>/``; nothing is created until the lock is taken.

        Args:
            root: registry root, a folder, a ``file://`` URI or an ``s3a://bucket/prefix`` URI.
            usecase: use case name (one folder under the root).

        Raises:
            UsageError: the root has another URI scheme or the use case name is not a plain name.
        """
        root_text = os.fspath(root)
        if root_text.startswith("file://"):
            root_text = root_text[len("file://"):]
        if not usecase or usecase in (".", "..") or "/" in usecase or os.sep in usecase:
            raise UsageError(f"'{usecase}' is not a valid use case name for the registry.", "",
                             "Use a plain name such as taxi_fare.")
        self.usecase = usecase
        self.store: Store = _open_store(root_text, usecase)
        self.dir = self.store.uri("")
        self.file = self.store.uri(REGISTRY_FILE)
        self.lock_file = self.store.uri(LOCK_FILE)
        self._holder: dict | None = None  # our lock file's content while we hold it

    # ---- reading -------------------------------------------------------------------
    def state(self) -> dict:
        """The registry document, or an empty initial state (no file is created).

        Raises:
            SparkMlopsError: the file is not valid JSON or has another schema version.
        """
        text = self.store.read_text(REGISTRY_FILE)
        if text is None:
            return _initial_state(self.usecase)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise SparkMlopsError(
                f"Registry file {self.file} is not valid JSON ({error}).",
                "It is only ever replaced atomically, so it was edited or damaged by hand.",
                "Restore it from a backup, or fix the JSON; the models themselves are in archive/.",
            ) from None
        if document.get("schema_version") != SCHEMA_VERSION:
            raise SparkMlopsError(
                f"Registry file {self.file} has schema_version {document.get('schema_version')!r}.",
                f"This version of sparkmlops reads schema_version {SCHEMA_VERSION}.",
                "Use the sparkmlops version that wrote it, or migrate the file.",
            )
        return document

    def history(self) -> list[dict]:
        """Every recorded decision, rollback and forced promotion, oldest first."""
        return self.state()["history"]

    def find_decision(self, run_key: str) -> dict | None:
        """The training decision recorded for ``run_key``, if any (idempotent reruns)."""
        return next((r for r in reversed(self.history()) if r.get("run_key") == run_key), None)

    def newest_decided_month(self, state: dict | None = None) -> str | None:
        """The latest test month a training run was decided on (None: no run yet).

        ``state``: a document the caller already read (saves reading the registry again).
        """
        history = (state or self.state())["history"]
        months = [r["test_month"] for r in history if r.get("run_key") and r.get("test_month")]
        return max(months) if months else None

    def current_after(self, test_month: str, state: dict | None = None) -> str | None:
        """The version that was current right after ``test_month``'s latest training decision (None: never decided)."""
        history = (state or self.state())["history"]
        record = next((r for r in reversed(history) if r.get("run_key") and r.get("test_month") == test_month), None)
        if record is None:
            return None
        return record["version"] if record.get("promoted") else record.get("previous_current")

    def version_path(self, version: str) -> str:
        """Folder of an archived version's model (checked to exist)."""
        self._archived_entry(version)
        return str(self.store.uri(f"{self._archive(version)}/{MODEL_DIR}"))

    def model_path(self, slot: str) -> str | None:
        """Folder to load the slot's model from, or None when the slot is empty.

        Args:
            slot: ``"current"`` or ``"candidate"``.

        Returns:
            ``<slot>/model`` when the slot copy's VERSION marker matches the JSON,
            otherwise ``archive/<version>/model`` — always the model the JSON names.
        """
        _check_slot(slot)
        entry = self.state().get(slot)
        if not entry:
            return None
        version = entry["version"]
        folder = slot if self._marker(slot) == version else self._archive(version)
        return str(self.store.uri(f"{folder}/{MODEL_DIR}"))

    # ---- locking -------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, run_id: str) -> Iterator[None]:
        """Hold the use case's writer lock, then repair what a crashed run left behind.

        Args:
            run_id: written into the lock file so a refused run can name the holder.

        Raises:
            RegistryBusyError: a live process (or one on another host) holds the lock.
        """
        if self._holder is not None:
            raise RegistryBusyError(
                f"The {self.usecase} registry lock is already held by this Registry (run {self._holder['run_id']}).",
                "The lock is not re-entrant.", "Do all writes inside one `with registry.lock(...)` block.",
            )
        self.store.make_root()
        holder = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
        self._acquire(holder)
        self._holder = holder
        try:
            self.repair()
            yield
        finally:
            self._holder = None
            self._release(holder)

    def _acquire(self, holder: dict) -> None:
        content = json.dumps(holder)
        # Few tries: each failed one removed a stale lock, or the holder released meanwhile.
        for _ in range(5):
            if self.store.create_exclusive(LOCK_FILE, content) or self._take_over_if_stale(content):
                return
        raise self._busy(_parse_json_or_empty(self.store.read_text(LOCK_FILE)))

    def _take_over_if_stale(self, content: str) -> bool:
        """Take the lock over if its holder is gone (dead pid on this host, or older than the
        store's stale-lock age); True when the lock is now ours, else raise busy or retry."""
        text = self.store.read_text(LOCK_FILE)
        if text is None:
            return False  # released meanwhile: try again
        holder = _parse_json_or_empty(text)
        pid = holder.get("pid")
        dead_here = holder.get("host") == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid)
        if not (dead_here or self.store.lock_is_expired(holder)):
            raise self._busy(holder)
        if not self.store.replace_stale_lock(LOCK_FILE, text, content):
            return False  # another run was faster: try again
        get_logger().warning(
            f"took over the stale {self.usecase} registry lock of run {holder.get('run_id')} "
            f"({'pid ' + str(pid) + ' on this host is gone' if dead_here else 'it expired'})"
        )
        return True

    def _busy(self, holder: dict) -> RegistryBusyError:
        return RegistryBusyError(
            f"The {self.usecase} registry is locked by run {holder.get('run_id', '?')} "
            f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('since', '?')}).",
            "One writer at a time keeps the registry consistent.",
            f"Wait for that run to finish; if that process is gone, delete {self.lock_file} and rerun.",
        )

    def _release(self, holder: dict) -> None:
        if _parse_json_or_empty(self.store.read_text(LOCK_FILE)) == holder:
            self.store.remove(LOCK_FILE)
        else:  # someone deleted or replaced our lock while we held it: leave theirs alone
            get_logger().warning(f"the {self.usecase} registry lock {self.lock_file} was no longer ours at release")

    def _assert_locked(self) -> None:
        if self._holder is None:
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
        fill_candidate_slot: bool = True,
    ) -> dict:
        """Archive the candidate, update the slots, append the decision.

        A run_key that is already recorded returns the earlier record and changes
        nothing (``save_model`` is not called), so rerunning a month is idempotent.

        Args:
            run_key: identity of the run's inputs (window, data, config, code).
            run_id: this run's id.
            save_model: writes the model to the folder path it is given (must not exist).
            entry: what the slots say about the model (metrics, window, …); ``version``,
                ``path`` (relative to the use case folder) and ``registered_at`` are added.
            decision: the promotion decision for this candidate.
            record_extra: more fields for the history record (metrics, window, …).
            fill_candidate_slot: False keeps the candidate slot as it is (an out-of-order
                month's model is archived and recorded, but is nobody's challenger).

        Returns:
            The appended history record.

        Raises:
            ValueError: ``record_extra`` would overwrite a field the registry writes.
        """
        self._assert_locked()
        clash = _RECORD_KEYS & record_extra.keys()
        if clash:
            raise ValueError(f"record_extra must not set {sorted(clash)}")
        state = self.state()
        earlier = next((r for r in reversed(state["history"]) if r.get("run_key") == run_key), None)
        if earlier is not None:
            get_logger().info(f"run key {run_key} is already recorded as {earlier['version']}; nothing changes")
            return earlier

        version = _version_name(state["next_version"])
        self._archive_model(version, save_model, entry)
        decided_at = _now()
        candidate = {**entry, "version": version, "path": f"archive/{version}/{MODEL_DIR}", "registered_at": decided_at}
        previous_current = state["current"]["version"] if state.get("current") else None
        record = {
            "run_key": run_key, "run_id": run_id, "decided_at": decided_at, "version": version,
            "outcome": decision.outcome, "promoted": decision.promote, "reason": decision.reason,
            "comparison": dict(decision.comparison), "previous_current": previous_current, **record_extra,
        }
        state["next_version"] += 1
        if fill_candidate_slot or decision.promote:
            state["candidate"] = candidate
        if decision.promote:
            state["current"] = {**candidate, "promoted_at": decided_at}
        state["history"].append(record)
        self._commit(state)
        return record

    def rollback(self, run_id: str, reason: str = "") -> dict:
        """Make the model that was current before the latest promotion current again.

        Repeated rollbacks keep walking back (v3 → v2 → v1), they do not toggle.

        Args:
            run_id: the operator's run id, recorded.
            reason: why, recorded in the reason line.

        Returns:
            The appended ``rolled_back`` record.

        Raises:
            UsageError: there is no current model, or it has no predecessor.
        """
        self._assert_locked()
        state = self.state()
        current = state.get("current")
        if not current:
            raise UsageError(f"The {self.usecase} registry has no current model.", "There is nothing to roll back.",
                             "Train a model first.")
        chain = _current_chain(state["history"])
        if not chain or chain[-1] != current["version"]:
            chain.append(current["version"])
        if len(chain) < 2:
            raise UsageError(
                f"Current model {current['version']} of {self.usecase} has no predecessor to roll back to.",
                "No other model was current before it (or earlier rollbacks already went back to the first one).",
                "Promote another archived model with `registry promote --force` instead.",
            )
        previous = chain[-2]
        return self._commit_new_current(state, self._archived_entry(previous), run_id, ROLLED_BACK, current["version"],
                                        f"rolled back from {current['version']} to {previous}", reason)

    def promote_candidate(self, run_id: str, reason: str) -> dict:
        """Force the candidate slot's model into the current slot (a ``forced`` record).

        Args:
            run_id: the operator's run id, recorded.
            reason: why, recorded in the reason line.

        Returns:
            The appended ``forced`` record.

        Raises:
            UsageError: there is no candidate, or it is already the current model.
        """
        self._assert_locked()
        state = self.state()
        candidate = state.get("candidate")
        if not candidate:
            raise UsageError(f"The {self.usecase} registry has no candidate.", "There is nothing to promote.",
                             "Train a model first.")
        current = state.get("current")
        if current and current["version"] == candidate["version"]:
            raise UsageError(f"Candidate {candidate['version']} of {self.usecase} is already the current model.",
                             "Promoting it again would change nothing.", "")
        previous = current["version"] if current else None
        summary = f"forced promotion of {candidate['version']} (was {previous or 'none'})"
        return self._commit_new_current(state, candidate, run_id, "forced", previous, summary, reason)

    def repair(self) -> None:
        """Re-sync the slot copies with the JSON and remove what crashed runs left.

        Deletes temp folders/files (``.tmp-*``) and archive versions the JSON never
        committed (numbered at or above ``next_version``), then re-materialises every
        slot copy whose VERSION marker differs from the JSON. Runs on every lock.
        """
        self._assert_locked()
        leftovers = [name for name in self.store.list("")] + [f"archive/{name}" for name in self.store.list("archive")]
        for key in leftovers:
            if key.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
                get_logger().info(f"removing {self.store.uri(key)}, left by an interrupted registry write")
                self.store.remove(key)
        state = self.state()
        for name in self.store.list("archive"):
            match = _VERSION_PATTERN.match(name)
            if match and int(match.group(1)) >= state["next_version"]:
                get_logger().warning(f"removing {self.store.uri('archive/' + name)}: archived by a run that crashed "
                                     "before its registry commit")
                self.store.remove(f"archive/{name}")
        self._refresh_views(state)

    # ---- private helpers -----------------------------------------------------------
    def _archive(self, version: str) -> str:
        return f"archive/{version}"

    def _marker(self, slot: str) -> str | None:
        text = self.store.read_text(f"{slot}/{VERSION_MARKER}")
        return None if text is None else text.strip()

    def _archived_entry(self, version: str) -> dict:
        """The slot entry of an archived version, checking the model is still there."""
        folder = self._archive(version)
        text = self.store.read_text(f"{folder}/{ENTRY_FILE}")
        if text is None or not self.store.exists(f"{folder}/{MODEL_DIR}"):
            raise UsageError(
                f"Archived model {version} of {self.usecase} is missing from {self.store.uri(folder)}.",
                "Archive folders must never be deleted by hand; the registry history still names it.",
                "Restore the folder from a backup, or promote another model with `registry promote --force`.",
            )
        return {**json.loads(text), "version": version, "path": f"archive/{version}/{MODEL_DIR}"}

    def _archive_model(self, version: str, save_model: Callable[[str], None], entry: dict) -> None:
        """Save the model under a temp name in archive/, then rename it to ``version``."""
        temp = f"archive/{TEMP_PREFIX}{version}-{uuid.uuid4().hex[:8]}"
        self.store.make_folder(temp)
        try:
            save_model(str(self.store.uri(f"{temp}/{MODEL_DIR}")))
            if not self.store.exists(f"{temp}/{MODEL_DIR}"):
                raise RuntimeError(f"save_model did not write anything to {self.store.uri(temp + '/' + MODEL_DIR)}")
            self.store.write_json_atomic(f"{temp}/{ENTRY_FILE}", {**entry, "version": version})
            target = self._archive(version)
            if self.store.exists(target):  # archived by a run that crashed before its commit: the JSON never named it
                self.store.remove(target)
            self.store.rename(temp, target)
        except BaseException:
            self.store.remove(temp)
            raise

    def _commit_new_current(self, state: dict, entry: dict, run_id: str, outcome: str, previous: str | None,
                            summary: str, reason: str) -> dict:
        """Commit an operator's change of the current model (no comparison); returns its record.

        The record's reason is ``summary``, then ``: reason`` when the operator gave one.
        """
        decided_at = _now()
        state["current"] = {**entry, "promoted_at": decided_at}
        record = {
            "run_id": run_id, "decided_at": decided_at, "version": entry["version"], "outcome": outcome,
            "promoted": True, "comparison": {}, "previous_current": previous,
            "reason": summary + (f": {reason}" if reason else ""),
        }
        state["history"].append(record)
        self._commit(state)
        return record

    def _commit(self, state: dict) -> None:
        """The commit point: replace the JSON atomically, then refresh the slot copies."""
        self.store.write_json_atomic(REGISTRY_FILE, state)
        self._refresh_views(state)

    def _refresh_views(self, state: dict) -> None:
        """Bring ``current/`` and ``candidate/`` in line with the committed JSON.

        A failed copy is logged, not raised: the JSON is already committed and
        :meth:`model_path` falls back to the archive until the next repair.
        """
        for slot in SLOTS:
            entry = state.get(slot)
            if not entry or self._marker(slot) == entry["version"]:
                continue
            try:
                self._materialise(slot, entry["version"])
            except OSError as error:
                get_logger().warning(
                    f"could not refresh {self.store.uri(slot)} to {entry['version']} ({error}); the archive copy is "
                    "served until the next run repairs it"
                )

    def _materialise(self, slot: str, version: str) -> None:
        """Copy an archive version into a slot folder, swapping it in with renames."""
        temp = f"{TEMP_PREFIX}{slot}-{uuid.uuid4().hex[:8]}"
        try:
            self.store.copy_tree(self._archive(version), temp)
            self.store.write_marker(temp, version)  # last: a folder with a matching marker is complete
        except BaseException:
            self.store.remove(temp)
            raise
        aside = f"{TEMP_PREFIX}old-{slot}-{uuid.uuid4().hex[:8]}"
        if self.store.exists(slot):
            self.store.rename(slot, aside)
        # A crash here leaves no slot folder: model_path serves the archive, repair refills it.
        self.store.rename(temp, slot)
        self.store.remove(aside)


def _open_store(root: str, usecase: str) -> Store:
    """The store of ``<root>/<usecase>``: S3 for an s3a:// (or s3://) root, else a local folder."""
    if root.startswith(("s3a://", "s3://")):
        return S3Store(f"{root.rstrip('/')}/{usecase}")
    if "://" in root:
        raise UsageError(
            f"Registry root {root} is neither a local path nor an s3a:// URI.",
            "The registry lives on a local or shared-volume folder, or on an S3-compatible store.",
            "Pass a folder or s3a://bucket/prefix to --model-registry-path.",
        )
    return LocalStore(Path(root) / usecase)


def _check_slot(slot: str) -> None:
    if slot not in SLOTS:
        raise ValueError(f"slot must be one of {SLOTS}, got {slot!r}")


def _parse_json_or_empty(text: str | None) -> dict:
    """Parse a small JSON object; an empty or half-written file reads as ``{}``."""
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
