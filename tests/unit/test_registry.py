"""The JSON file registry: slots, history, rollback, lock, idempotency and crash safety.

Models are faked by a ``save_model`` that writes a couple of files tagged with the run,
so no Spark is needed; "the model that loads" is the tag found under ``model_path``.
"""

import json
import logging
import os
import socket
from pathlib import Path

import pytest

from sparkmlops.errors import RegistryBusyError, UsageError
from sparkmlops.promotion import Decision
from sparkmlops.registry import SLOTS, Registry, local_store

FIRST = Decision(True, "first_model", "first model: no current model, candidate passed the post-train gate", {})
PROMOTE = Decision(True, "promoted", "promoted: RMSE and MAE improved, R² worse",
                   {"rmse": "improved", "mae": "improved", "r2": "worse"})
REJECT = Decision(False, "rejected", "kept current: only R² improved (RMSE and MAE worse); 2 of 3 needed",
                  {"rmse": "worse", "mae": "worse", "r2": "improved"})
DEAD_PID = 999_999_999  # above any pid_max: never a live process


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


def fake_model(tag: str):
    def save(path: str) -> None:
        os.makedirs(os.path.join(path, "stages"))
        Path(path, "weights.txt").write_text(tag)
        Path(path, "stages", "metadata.json").write_text(json.dumps({"tag": tag}))
    return save


def record(reg: Registry, tag: str, decision: Decision, run_key: str | None = None) -> dict:
    with reg.lock(f"run-{tag}"):
        return record_locked(reg, tag, decision, run_key)


def record_locked(reg: Registry, tag: str, decision: Decision, run_key: str | None = None, save_model=None) -> dict:
    return reg.record_run(
        run_key=run_key or f"key-{tag}", run_id=f"run-{tag}", save_model=save_model or fake_model(tag),
        entry={"tag": tag, "metrics": {"rmse": 1.0, "r2": float("nan")}}, decision=decision,
        record_extra={"test_month": tag},
    )


def loaded_tag(reg: Registry, slot: str) -> str:
    """The tag of the model that ``model_path`` serves, checking both of its files agree."""
    path = Path(reg.model_path(slot))
    tag = (path / "weights.txt").read_text()
    assert json.loads((path / "stages" / "metadata.json").read_text()) == {"tag": tag}
    return tag


def archived(reg: Registry) -> list[str]:
    return sorted(p.name for p in (reg.dir / "archive").iterdir())


def leftovers(reg: Registry) -> list[str]:
    return sorted(str(p.relative_to(reg.dir)) for p in reg.dir.rglob(".*") if p.name != ".lock")


def assert_loads_what_the_json_names(reg: Registry) -> None:
    state = reg.state()
    for slot in SLOTS:
        if state[slot] is None:
            assert reg.model_path(slot) is None
        else:
            assert loaded_tag(reg, slot) == state[slot]["tag"], slot


def assert_views_match(reg: Registry) -> None:
    """Slot folders are complete copies of what the JSON names, and nothing is left over."""
    state = reg.state()
    for slot in SLOTS:
        if state[slot] is not None:
            view = reg.dir / slot
            assert (view / "VERSION").read_text().strip() == state[slot]["version"]
            assert reg.model_path(slot) == str(view / "model")
            assert loaded_tag(reg, slot) == state[slot]["tag"]
            assert json.loads((view / "entry.json").read_text())["version"] == state[slot]["version"]
    assert leftovers(reg) == []
    committed = [f"v{n:04d}" for n in range(1, state["next_version"])]
    assert archived(reg) == committed  # nothing archived that the JSON does not name


@pytest.fixture()
def reg(tmp_path):
    return Registry(tmp_path / "registry", "taxi_fare")


# ---- slots and history ------------------------------------------------------------------
def test_empty_registry_reads_as_initial_state_without_creating_files(reg):
    state = reg.state()
    assert state == {"schema_version": 1, "usecase": "taxi_fare", "next_version": 1,
                     "current": None, "candidate": None, "history": []}
    assert reg.model_path("current") is None and reg.history() == [] and reg.find_decision("x") is None
    assert not reg.dir.exists()


def test_first_run_becomes_current(reg):
    first = record(reg, "a", FIRST)
    state = reg.state()
    assert state["current"]["version"] == state["candidate"]["version"] == first["version"] == "v0001"
    assert first["outcome"] == "first_model" and first["promoted"] is True and first["previous_current"] is None
    assert state["current"]["path"] == "archive/v0001/model" and state["current"]["tag"] == "a"
    assert state["next_version"] == 2
    assert_views_match(reg)


def test_promoted_then_rejected_run(reg):
    record(reg, "a", FIRST)
    second = record(reg, "b", PROMOTE)
    assert reg.state()["current"]["version"] == "v0002" and second["previous_current"] == "v0001"
    assert archived(reg) == ["v0001", "v0002"]
    assert_views_match(reg)

    third = record(reg, "c", REJECT)
    state = reg.state()
    assert state["current"]["version"] == "v0002" and state["candidate"]["version"] == "v0003"
    assert third["promoted"] is False and third["previous_current"] == "v0002"
    assert loaded_tag(reg, "current") == "b" and loaded_tag(reg, "candidate") == "c"
    assert [r["outcome"] for r in reg.history()] == ["first_model", "promoted", "rejected"]
    assert_views_match(reg)


def test_history_record_carries_the_decision_and_the_extras(reg):
    record(reg, "a", FIRST)
    rec = record(reg, "b", PROMOTE)
    assert rec == reg.history()[-1]
    assert {k: rec[k] for k in ("run_key", "run_id", "version", "outcome", "promoted", "reason", "comparison",
                                "previous_current", "test_month")} == {
        "run_key": "key-b", "run_id": "run-b", "version": "v0002", "outcome": "promoted", "promoted": True,
        "reason": PROMOTE.reason, "comparison": PROMOTE.comparison, "previous_current": "v0001", "test_month": "b"}
    assert rec["decided_at"].endswith("+00:00")  # UTC ISO
    # NaN is not JSON: it is stored as null, and the file is strict JSON
    assert reg.state()["candidate"]["metrics"]["r2"] is None
    json.loads(reg.file.read_text(), parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))


def test_record_extra_cannot_overwrite_registry_fields(reg):
    with reg.lock("x"), pytest.raises(ValueError, match="outcome"):
        reg.record_run(run_key="k", run_id="x", save_model=fake_model("x"), entry={}, decision=PROMOTE,
                       record_extra={"outcome": "promoted"})


def test_model_path_rejects_unknown_slots(reg):
    with pytest.raises(ValueError, match="slot"):
        reg.model_path("archive")


@pytest.mark.parametrize("root", ["hdfs:///registry", "gs://bucket/registry"])
def test_unsupported_remote_roots_are_refused_with_a_readable_error(root):
    with pytest.raises(UsageError, match="neither a local path nor an s3a:// URI"):
        Registry(root, "taxi_fare")


def test_file_uri_root_is_a_local_path(tmp_path):
    assert Registry(f"file://{tmp_path}", "taxi_fare").dir == tmp_path / "taxi_fare"


# ---- idempotency ------------------------------------------------------------------------
def test_find_decision_by_run_key_and_rerun_changes_nothing(reg):
    first = record(reg, "a", FIRST, run_key="same-data-same-config")
    assert reg.find_decision("same-data-same-config") == first
    assert reg.find_decision("other") is None
    before = reg.file.read_text()

    def must_not_save(path):
        raise AssertionError("an already recorded run must not save its model again")

    with reg.lock("rerun"):
        again = record_locked(reg, "a2", PROMOTE, run_key="same-data-same-config", save_model=must_not_save)
    assert again == first and reg.file.read_text() == before and archived(reg) == ["v0001"]


# ---- rollback and forced promotion --------------------------------------------------------
def test_rollback_restores_the_previous_current_and_its_view(reg):
    record(reg, "a", FIRST)
    record(reg, "b", PROMOTE)
    record(reg, "c", REJECT)
    with reg.lock("ops"):
        rolled = reg.rollback("ops", "bad predictions")
    state = reg.state()
    assert rolled["outcome"] == "rolled_back" and rolled["version"] == "v0001" and rolled["previous_current"] == "v0002"
    assert "v0002 to v0001" in rolled["reason"] and "bad predictions" in rolled["reason"]
    assert state["current"]["version"] == "v0001" and state["current"]["tag"] == "a"
    assert state["candidate"]["version"] == "v0003"  # the candidate slot is untouched
    assert_views_match(reg)
    with reg.lock("ops"), pytest.raises(UsageError, match="no predecessor"):
        reg.rollback("ops")


def test_repeated_rollbacks_walk_back_instead_of_toggling(reg):
    record(reg, "a", FIRST)
    record(reg, "b", PROMOTE)
    record(reg, "c", PROMOTE)
    with reg.lock("ops"):
        assert reg.rollback("ops")["version"] == "v0002"
        assert reg.rollback("ops")["version"] == "v0001"
    record(reg, "d", PROMOTE)  # v0004, promoted over v0001
    with reg.lock("ops"):
        assert reg.rollback("ops")["version"] == "v0001"
    assert_views_match(reg)


def test_rollback_without_a_current_model_is_a_usage_error(reg):
    with reg.lock("ops"), pytest.raises(UsageError, match="no current model"):
        reg.rollback("ops")


def test_promote_candidate_forces_the_candidate_and_can_be_rolled_back(reg):
    record(reg, "a", FIRST)
    record(reg, "b", REJECT)
    with reg.lock("ops"):
        forced = reg.promote_candidate("ops", "analyst checked it by hand")
    assert forced["outcome"] == "forced" and forced["version"] == "v0002" and forced["previous_current"] == "v0001"
    assert "analyst checked it by hand" in forced["reason"]
    assert reg.state()["current"]["version"] == "v0002"
    assert_views_match(reg)
    with reg.lock("ops"):
        with pytest.raises(UsageError, match="already the current model"):
            reg.promote_candidate("ops", "again")
        assert reg.rollback("ops")["version"] == "v0001"
    assert loaded_tag(reg, "current") == "a"


def test_writes_require_the_lock(reg):
    record(reg, "a", FIRST)
    for write in (
        lambda: record_locked(reg, "x", PROMOTE),
        lambda: reg.rollback("r"),
        lambda: reg.promote_candidate("r", "why"),
        reg.repair,
    ):
        with pytest.raises(RuntimeError, match="need the lock"):
            write()


# ---- lock -------------------------------------------------------------------------------
def test_lock_file_names_its_holder_and_is_removed_on_exit(reg):
    with reg.lock("holder"):
        holder = json.loads(reg.lock_file.read_text())
        assert holder["run_id"] == "holder" and holder["pid"] == os.getpid()
        assert holder["host"] == socket.gethostname() and holder["since"]
    assert not reg.lock_file.exists()


def test_lock_is_released_when_the_block_fails(reg):
    with pytest.raises(KeyError), reg.lock("failing"):
        raise KeyError("boom")
    assert not reg.lock_file.exists()


def test_second_writer_is_refused_while_the_lock_is_held(reg):
    with reg.lock("first"):
        with pytest.raises(RegistryBusyError) as caught:
            with Registry(reg.dir.parent, "taxi_fare").lock("second"):
                pytest.fail("a second writer got the lock")
        message = str(caught.value)
        assert "locked by run first" in message and f"pid {os.getpid()}" in message
        assert str(reg.lock_file) in message  # what to delete if that process is gone
        with pytest.raises(RegistryBusyError):  # the same object is not re-entrant either
            with reg.lock("again"):
                pass
        assert json.loads(reg.lock_file.read_text())["run_id"] == "first"  # the refusal left the lock alone


def test_stale_lock_of_a_dead_process_is_taken_over(reg, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("sparkmlops"), "propagate", True)
    reg.dir.mkdir(parents=True)
    reg.lock_file.write_text(json.dumps({"run_id": "dead", "pid": DEAD_PID, "host": socket.gethostname()}))
    with caplog.at_level(logging.WARNING, logger="sparkmlops"), reg.lock("third"):
        assert json.loads(reg.lock_file.read_text())["run_id"] == "third"
    assert "stale" in caplog.text and "dead" in caplog.text
    assert not reg.lock_file.exists() and leftovers(reg) == []


@pytest.mark.parametrize(
    "content",
    [json.dumps({"run_id": "remote", "pid": DEAD_PID, "host": "another-host"}), ""],
    ids=["dead pid on another host", "empty lock file"],
)
def test_a_lock_that_cannot_be_proven_stale_is_respected(reg, content):
    reg.dir.mkdir(parents=True)
    reg.lock_file.write_text(content)
    with pytest.raises(RegistryBusyError, match="delete"):
        with reg.lock("mine"):
            pass
    assert reg.lock_file.read_text() == content


# ---- atomic writes and simulated crashes ----------------------------------------------------
def test_json_write_is_atomic_and_leaves_no_temp_files(reg, monkeypatch):
    record(reg, "a", FIRST)
    assert leftovers(reg) == []
    before = reg.file.read_text()

    def failing_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(local_store, "_replace", failing_replace)
    with reg.lock("b"), pytest.raises(OSError, match="disk full"):
        record_locked(reg, "b", PROMOTE)
    monkeypatch.undo()
    assert reg.file.read_text() == before
    with reg.lock("repair"):
        pass
    assert_views_match(reg)


@pytest.mark.parametrize("failure", [OSError("disk full"), SimulatedCrash()], ids=["error", "crash"])
def test_failing_save_model_leaves_json_unchanged_and_no_archive_version(reg, failure):
    record(reg, "a", FIRST)
    before = reg.file.read_text()

    def broken(path):
        os.makedirs(path)
        Path(path, "half-written").write_text("x")
        raise failure

    with pytest.raises(type(failure)), reg.lock("b"):
        record_locked(reg, "b", PROMOTE, save_model=broken)
    assert reg.file.read_text() == before and archived(reg) == ["v0001"]
    assert_loads_what_the_json_names(reg)
    assert_views_match(reg)


def test_save_model_that_writes_nothing_is_refused(reg):
    with reg.lock("a"), pytest.raises(RuntimeError, match="did not write"):
        record_locked(reg, "a", FIRST, save_model=lambda path: None)
    assert reg.state()["current"] is None and archived(reg) == []


@pytest.mark.parametrize("crash_at", ["json_replace", "view_refresh"])
def test_crash_at_a_named_step_leaves_old_or_new_state(reg, monkeypatch, crash_at):
    record(reg, "a", FIRST)
    old_state = reg.state()

    def crash(*_args, **_kwargs):
        raise SimulatedCrash()

    if crash_at == "json_replace":
        monkeypatch.setattr(local_store, "_replace", crash)
    else:
        monkeypatch.setattr(Registry, "_materialise", crash)
    with pytest.raises(SimulatedCrash):
        record(reg, "b", PROMOTE)
    monkeypatch.undo()
    state = reg.state()
    expected = "a" if crash_at == "json_replace" else "b"
    assert (state == old_state) == (crash_at == "json_replace")
    assert state["current"]["tag"] == expected and loaded_tag(reg, "current") == expected
    assert_loads_what_the_json_names(reg)
    with reg.lock("repair"):
        pass  # taking the lock repairs the slot copies
    assert_views_match(reg)


def test_failed_view_refresh_after_commit_is_logged_not_raised(reg, monkeypatch, caplog):
    monkeypatch.setattr(logging.getLogger("sparkmlops"), "propagate", True)
    record(reg, "a", FIRST)

    def failing_copy(source, target):
        raise OSError("no space left")

    monkeypatch.setattr(local_store, "_copy_tree", failing_copy)
    with caplog.at_level(logging.WARNING, logger="sparkmlops"):
        rec = record(reg, "b", PROMOTE)
    assert rec["version"] == reg.state()["current"]["version"] == "v0002"  # committed
    assert "could not refresh" in caplog.text
    assert loaded_tag(reg, "current") == "b"  # served from the archive meanwhile
    assert reg.model_path("current") == str(reg.dir / "archive" / "v0002" / "model")
    monkeypatch.undo()
    with reg.lock("repair"):
        pass
    assert_views_match(reg)


# Every file-system step a write goes through: the crash matrix fails each call in turn.
STEPS = ("_replace", "_rename", "_copy_tree", "_write_marker")


def crash_on_call(monkeypatch, number: int) -> list[str]:
    """Make the ``number``-th call to any step raise SimulatedCrash; returns the call log."""
    calls: list[str] = []
    for name in STEPS:
        real = getattr(local_store, name)

        def step(*args, _real=real, _name=name):
            calls.append(_name)
            if len(calls) == number:
                raise SimulatedCrash(f"crash at step {number} ({_name})")
            return _real(*args)

        monkeypatch.setattr(local_store, name, step)
    return calls


def setup_promoted_and_rejected(reg):
    record(reg, "a", FIRST)
    record(reg, "b", PROMOTE)
    record(reg, "c", REJECT)


OPERATIONS = {
    "promoting run": lambda reg: record(reg, "d", PROMOTE),
    "rejected run": lambda reg: record(reg, "d", REJECT),
    "rollback": lambda reg: _locked(reg, lambda: reg.rollback("ops", "why")),
    "forced promotion": lambda reg: _locked(reg, lambda: reg.promote_candidate("ops", "why")),
}


def _locked(reg, write):
    with reg.lock("ops"):
        return write()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_crash_at_any_step_leaves_the_old_or_the_new_state(tmp_path, monkeypatch, operation):
    # the outcome without a crash, for comparison
    clean = Registry(tmp_path / "clean", "taxi_fare")
    setup_promoted_and_rejected(clean)
    OPERATIONS[operation](clean)
    new_slots = {slot: clean.state()[slot]["version"] for slot in SLOTS}

    number, crashes = 0, 0
    while True:
        number += 1
        reg = Registry(tmp_path / f"crash-{number}", "taxi_fare")
        setup_promoted_and_rejected(reg)
        old_state = reg.state()
        old_slots = {slot: old_state[slot]["version"] for slot in SLOTS}
        with monkeypatch.context() as patch:
            calls = crash_on_call(patch, number)
            try:
                OPERATIONS[operation](reg)
            except SimulatedCrash:
                crashes += 1
            else:
                assert len(calls) < number  # ran to the end: every step has been crashed once
                break
        state = reg.state()
        slots = {slot: state[slot]["version"] for slot in SLOTS}
        assert state == old_state or slots == new_slots, f"mixed state after a crash at {calls[-1]} #{number}"
        assert state == old_state or len(state["history"]) == len(old_state["history"]) + 1
        assert_loads_what_the_json_names(reg)  # before any repair
        with reg.lock("next-run"):
            pass  # the next run repairs on taking the lock
        assert_views_match(reg)
        assert {slot: reg.state()[slot]["version"] for slot in SLOTS} in (old_slots, new_slots)
    assert crashes >= 3, "the crash matrix should hit several steps"


def test_newest_month_and_the_version_current_after_each_month(reg):
    assert reg.newest_decided_month() is None and reg.current_after("2023-01") is None
    record(reg, "2023-01", Decision(True, "first_model", "first"))
    record(reg, "2023-02", Decision(False, "rejected", "kept"))
    record(reg, "2023-03", Decision(True, "promoted", "better"))
    assert reg.newest_decided_month() == "2023-03"
    assert [reg.current_after(m) for m in ("2023-01", "2023-02", "2023-03")] == ["v0001", "v0001", "v0003"]
    assert Path(reg.version_path("v0002"), "weights.txt").read_text() == "2023-02"


def test_an_out_of_order_record_leaves_both_slots_alone(reg):
    record(reg, "2023-05", Decision(True, "first_model", "first"))
    record(reg, "2023-06", Decision(False, "rejected", "kept"))
    before = reg.state()
    with reg.lock("run-old"):
        reg.record_run(run_key="key-old", run_id="run-old", save_model=fake_model("2023-01"), entry={"tag": "old"},
                       decision=Decision(False, "out_of_order", "older"), record_extra={"test_month": "2023-01"},
                       fill_candidate_slot=False)
    after = reg.state()
    assert (after["current"], after["candidate"]) == (before["current"], before["candidate"])
    assert after["history"][-1]["version"] == "v0003" and "v0003" in archived(reg)
    assert reg.newest_decided_month() == "2023-06"
