"""The registry on an s3a:// root, against a real S3 server (moto on 127.0.0.1, checking keys).

Same behaviour as the local folder: slots, history, rollback, lock, idempotency, crash
safety; plus the store failures (missing bucket, rejected keys, server down) as exit-3
errors that name endpoint and bucket and never the secret.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest

from sparkmlops.errors import DataError, RegistryBusyError
from sparkmlops.promotion import Decision
from sparkmlops.registry import SLOTS, Registry
from sparkmlops.registry.s3_store import S3Store
from tests.support.s3server import exported, free_port, start_s3_server

BUCKET = "registry-bucket"
FIRST = Decision(True, "first_model", "first model", {})
PROMOTE = Decision(True, "promoted", "promoted: RMSE and MAE improved", {"rmse": "improved", "mae": "improved"})
REJECT = Decision(False, "rejected", "kept current: 1 of 3 improved", {"rmse": "worse"})


class SimulatedCrash(BaseException):
    """Stands for the process dying."""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s3 = start_s3_server(tmp_path_factory.mktemp("s3-registry"), auth=True)
    s3.create_bucket(BUCKET)
    try:
        with exported(s3.env()):
            yield s3
    finally:
        s3.stop()


@pytest.fixture()
def reg(server, request):
    return Registry(f"s3a://{BUCKET}/{request.node.name.replace('[', '-').replace(']', '')}", "taxi_fare")


def split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


def fake_model(server, tag: str):
    """What Spark's PipelineModel.save does to an s3a:// path: a few objects under it."""
    def save(path: str) -> None:
        bucket, key = split(path)
        server.client().put_object(Bucket=bucket, Key=f"{key}/weights.txt", Body=tag.encode())
        server.client().put_object(Bucket=bucket, Key=f"{key}/stages/metadata.json", Body=json.dumps({"tag": tag}).encode())
    return save


def record(reg, server, tag, decision, run_key=None):
    with reg.lock(f"run-{tag}"):
        return reg.record_run(run_key=run_key or f"key-{tag}", run_id=f"run-{tag}", save_model=fake_model(server, tag),
                              entry={"tag": tag}, decision=decision, record_extra={"test_month": tag})


def loaded_tag(reg, server, slot: str) -> str:
    bucket, key = split(reg.model_path(slot))
    tag = server.client().get_object(Bucket=bucket, Key=f"{key}/weights.txt")["Body"].read().decode()
    meta = json.loads(server.client().get_object(Bucket=bucket, Key=f"{key}/stages/metadata.json")["Body"].read())
    assert meta == {"tag": tag}
    return tag


def keys(server, reg, under: str = "") -> list[str]:
    bucket, prefix = split(str(reg.dir))
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/{under}")
    return sorted(item["Key"][len(prefix) + 1:] for page in pages for item in page.get("Contents", []))


def test_first_model_promotion_and_rejection_on_s3(reg, server):
    record(reg, server, "a", FIRST)
    record(reg, server, "b", PROMOTE)
    record(reg, server, "c", REJECT)
    state = reg.state()
    assert [r["version"] for r in state["history"]] == ["v0001", "v0002", "v0003"]
    assert state["current"]["version"] == "v0002" and state["candidate"]["version"] == "v0003"
    assert loaded_tag(reg, server, "current") == "b" and loaded_tag(reg, server, "candidate") == "c"
    assert reg.model_path("current").startswith(f"s3a://{BUCKET}/")
    stored = keys(server, reg)
    assert "model_registry.json" in stored and "current/VERSION" in stored
    assert {k.split("/")[1] for k in stored if k.startswith("archive/")} == {"v0001", "v0002", "v0003"}
    assert not any(".tmp-" in k for k in stored) and ".lock" not in stored


def test_rerun_of_a_recorded_run_key_changes_nothing(reg, server):
    first = record(reg, server, "a", FIRST)
    before = keys(server, reg)
    again = record(reg, server, "a-again", FIRST, run_key="key-a")
    assert again == first and keys(server, reg) == before and reg.find_decision("key-a")["version"] == "v0001"


def test_rollback_walks_back_and_restores_the_earlier_model(reg, server):
    for tag, decision in (("a", FIRST), ("b", PROMOTE), ("c", PROMOTE)):
        record(reg, server, tag, decision)
    with reg.lock("ops"):
        first = reg.rollback("ops", "bad month")
        second = reg.rollback("ops")
    assert (first["version"], second["version"]) == ("v0002", "v0001")
    assert loaded_tag(reg, server, "current") == "a"
    assert server.client().get_object(Bucket=BUCKET, Key=split(str(reg.dir))[1] + "/current/VERSION")["Body"].read() == b"v0001\n"


def test_lock_is_exclusive_and_released(reg, server):
    other = Registry(reg.dir.rsplit("/", 1)[0], "taxi_fare")
    with reg.lock("first"):
        with pytest.raises(RegistryBusyError, match="locked by run first"):
            with other.lock("second"):
                pass
        assert ".lock" in keys(server, reg)
    assert ".lock" not in keys(server, reg)
    with other.lock("second"):
        pass


@pytest.mark.parametrize("holder", [
    {"run_id": "dead", "pid": 999_999_999, "host": socket.gethostname(), "since": "2026-01-01T00:00:00+00:00"},
    {"run_id": "old", "pid": 1, "host": "another-host", "since": (datetime.now(timezone.utc) - timedelta(hours=7)).isoformat()},
])
def test_a_stale_lock_is_taken_over(reg, server, holder):
    bucket, prefix = split(str(reg.dir))
    server.client().put_object(Bucket=bucket, Key=f"{prefix}/.lock", Body=json.dumps(holder).encode())
    with reg.lock("new"):
        assert json.loads(reg.store.read_text(".lock"))["run_id"] == "new"
    assert ".lock" not in keys(server, reg)


def test_a_recent_lock_of_another_host_is_respected(reg, server):
    bucket, prefix = split(str(reg.dir))
    holder = {"run_id": "busy", "pid": 1, "host": "another-host", "since": datetime.now(timezone.utc).isoformat()}
    server.client().put_object(Bucket=bucket, Key=f"{prefix}/.lock", Body=json.dumps(holder).encode())
    with pytest.raises(RegistryBusyError, match="locked by run busy"):
        with reg.lock("new"):
            pass
    assert json.loads(reg.store.read_text(".lock"))["run_id"] == "busy"


def test_conditional_create_lets_only_one_writer_win(reg, server):
    store = S3Store(reg.store.uri(""))
    assert store.create_exclusive("race", "one") is True
    assert store.create_exclusive("race", "two") is False
    assert store.read_text("race") == "one"
    assert store.replace_stale_lock("race", "not what is there", "three") is False
    assert store.replace_stale_lock("race", "one", "three") is True and store.read_text("race") == "three"


@pytest.mark.parametrize("crash_at", range(1, 12))
def test_a_crash_at_any_store_step_leaves_the_old_or_the_new_state(reg, server, monkeypatch, crash_at):
    record(reg, server, "a", FIRST)
    old = reg.state()
    calls = []
    for name in ("_put", "copy_tree", "remove"):
        real = getattr(S3Store, name)

        def step(self, *args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            if len(calls) == crash_at:
                raise SimulatedCrash(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(S3Store, name, step)
    try:
        with reg.lock("b"):
            reg.record_run(run_key="key-b", run_id="run-b", save_model=fake_model(server, "b"), entry={"tag": "b"},
                           decision=PROMOTE, record_extra={})
        crashed = False
    except SimulatedCrash:
        crashed = True
    monkeypatch.undo()
    state = reg.state()
    assert state == old or state["current"]["version"] == "v0002"
    expected = "a" if state == old else "b"
    assert loaded_tag(reg, server, "current") == expected  # before any repair
    bucket, prefix = split(str(reg.dir))
    server.client().delete_object(Bucket=bucket, Key=f"{prefix}/.lock")  # the crashed process is gone
    with reg.lock("next"):
        pass
    for slot in SLOTS:
        version = reg.state()[slot]["version"]
        assert reg.store.read_text(f"{slot}/VERSION").strip() == version
    assert not any(".tmp-" in key for key in keys(server, reg))
    if not crashed:
        assert len(calls) < crash_at


def test_missing_bucket_is_a_data_error(server):
    with pytest.raises(DataError, match="bucket does not exist.*'no-such-registry-bucket'") as caught:
        with Registry("s3a://no-such-registry-bucket/reg", "taxi_fare").lock("x"):
            pass
    assert server.endpoint in str(caught.value)


def test_wrong_keys_are_rejected_without_leaking_the_secret(server, monkeypatch):
    monkeypatch.setenv("MINIO_ACCESS_KEY", "AKIAWRONG")
    monkeypatch.setenv("MINIO_SECRET_KEY", "never-print-this-secret")
    with pytest.raises(DataError, match="rejected the credentials") as caught:
        Registry(f"s3a://{BUCKET}/wrong-keys", "taxi_fare").state()
    assert "never-print-this-secret" not in str(caught.value) and BUCKET in str(caught.value)


def test_server_down_is_a_data_error_within_bounded_time(server, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MINIO_ENDPOINT", dead)
    started = time.monotonic()
    with pytest.raises(DataError, match="did not answer") as caught:
        Registry(f"s3a://{BUCKET}/down", "taxi_fare").state()
    assert dead in str(caught.value) and time.monotonic() - started < 30
