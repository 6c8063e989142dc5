import json
import os

import pytest

from sparkmlops import registry as registry_module
from sparkmlops.errors import RegistryBusyError
from sparkmlops.promotion import Decision
from sparkmlops.registry import Registry

PROMOTE = Decision(True, "promoted", "promoted: RMSE and MAE improved, R² worse", {})
REJECT = Decision(False, "rejected", "kept current", {})


def fake_model(tag: str):
    def save(path: str) -> None:
        os.makedirs(path)
        with open(os.path.join(path, "weights.txt"), "w") as stream:
            stream.write(tag)
    return save


def record(reg: Registry, tag: str, decision: Decision, run_key: str | None = None) -> dict:
    with reg.lock(f"run-{tag}"):
        return reg.record_run(run_key=run_key or f"key-{tag}", run_id=f"run-{tag}", save_model=fake_model(tag),
                              entry={"metrics": {"rmse": 1.0}}, decision=decision, record_extra={"test_month": tag})


def loaded_tag(reg: Registry, slot: str) -> str:
    with open(os.path.join(reg.model_path(slot), "weights.txt")) as stream:
        return stream.read()


@pytest.fixture()
def reg(tmp_path):
    return Registry(tmp_path, "taxi_fare")


def test_first_then_promoted_then_rejected(reg):
    record(reg, "a", Decision(True, "first_model", "first model", {}))
    second = record(reg, "b", PROMOTE)
    record(reg, "c", REJECT)
    state = reg.state()
    assert state["current"]["version"] == "v0002" and state["candidate"]["version"] == "v0003"
    assert second["previous_current"] == "v0001"
    assert loaded_tag(reg, "current") == "b" and loaded_tag(reg, "candidate") == "c"
    assert sorted(p.name for p in (reg.dir / "archive").iterdir()) == ["v0001", "v0002", "v0003"]
    assert (reg.dir / "current" / "VERSION").read_text().strip() == "v0002"
    assert [r["outcome"] for r in reg.history()] == ["first_model", "promoted", "rejected"]
    assert not [p for p in reg.dir.rglob(".*") if p.name != ".lock"]  # no temp files left


def test_rollback_restores_the_previous_current(reg):
    record(reg, "a", Decision(True, "first_model", "first model", {}))
    record(reg, "b", PROMOTE)
    with reg.lock("ops"):
        rolled = reg.rollback("ops", "bad predictions")
    assert rolled["outcome"] == "rolled_back" and reg.state()["current"]["version"] == "v0001"
    assert loaded_tag(reg, "current") == "a" and "bad predictions" in rolled["reason"]


def test_find_decision_by_run_key(reg):
    record(reg, "a", PROMOTE, run_key="same-data-same-config")
    assert reg.find_decision("same-data-same-config")["version"] == "v0001"
    assert reg.find_decision("other") is None


def test_writes_require_the_lock(reg):
    with pytest.raises(RuntimeError, match="need the lock"):
        reg.record_run(run_key="k", run_id="r", save_model=fake_model("x"), entry={}, decision=PROMOTE, record_extra={})


def test_second_writer_is_refused_and_stale_lock_is_taken_over(reg):
    with reg.lock("first"):
        with pytest.raises(RegistryBusyError, match="locked by run first"):
            with Registry(reg.dir.parent, "taxi_fare").lock("second"):
                pass
    reg.dir.mkdir(parents=True, exist_ok=True)
    reg.lock_file.write_text(json.dumps({"run_id": "dead", "pid": 999_999_999, "host": os.uname().nodename}))
    with reg.lock("third"):
        assert json.loads(reg.lock_file.read_text())["run_id"] == "third"
    assert not reg.lock_file.exists()


def test_failing_save_leaves_state_and_archive_untouched(reg):
    record(reg, "a", Decision(True, "first_model", "first model", {}))
    before = reg.file.read_text()

    def broken(path):
        os.makedirs(path)
        raise OSError("disk full")

    with reg.lock("b"), pytest.raises(OSError):
        reg.record_run(run_key="k", run_id="b", save_model=broken, entry={}, decision=PROMOTE, record_extra={})
    assert reg.file.read_text() == before
    assert sorted(p.name for p in (reg.dir / "archive").iterdir()) == ["v0001"]


@pytest.mark.parametrize("crash_at", ["json_replace", "view_refresh"])
def test_crash_between_steps_leaves_old_or_new_state_never_a_mix(reg, monkeypatch, crash_at):
    record(reg, "a", Decision(True, "first_model", "first model", {}))
    old_state = reg.state()
    if crash_at == "json_replace":
        monkeypatch.setattr(registry_module, "write_json_atomic", _raise)
    else:
        monkeypatch.setattr(Registry, "_materialise", lambda self, slot, version: _raise())
    with pytest.raises(SystemError):
        record(reg, "b", PROMOTE)
    monkeypatch.undo()
    state = reg.state()
    assert state in (old_state,) or state["current"]["version"] == "v0002"
    expected = "a" if state == old_state else "b"
    # whatever the JSON says is exactly what loads, even before repair
    assert loaded_tag(reg, "current") == expected
    with reg.lock("repair"):
        pass  # taking the lock repairs the slot copies
    assert (reg.dir / "current" / "VERSION").read_text().strip() == state["current"]["version"]
    assert not list(reg.dir.glob(".tmp-*")) and not list((reg.dir / "archive").glob(".tmp-*"))


def _raise(*_args, **_kwargs):
    raise SystemError("simulated crash")
