"""The embedded local AWS keeps its state across stop and start (``helpers/local/state_store.py``).

Each test runs its own server on a free port with its own state folder, so the shared test server is not
restarted under the other tests.
"""

from __future__ import annotations

import subprocess
import sys
import time
import warnings

import pytest

from helpers import archive_reader, local, pipeline, verify
from helpers.settings import Settings
from helpers.target import EndpointSession
from tests.conftest import _free_port


@pytest.fixture
def own_server(tmp_path, monkeypatch):
    """(port, state folder, session) of a server of this test's own; stopped at the end."""
    port, folder = _free_port(), tmp_path / "state"
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_STATE", str(folder))
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_PORT", str(port))
    url = local.ensure_running(port)
    sess = EndpointSession(endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    yield port, folder, sess
    local.stop(port)


def _restart(port: int) -> dict:
    assert local.stop(port)
    local.ensure_running(port)
    return local.health(port)


def _archived(sess, deployed) -> list[tuple[str, str]]:
    frame = archive_reader.read_archive(sess, deployed.settings.bucket_name, progress=False, drop_duplicates=False).frame
    return sorted(zip(frame["event_id"], frame["keys"].map(lambda k: k["id"])))


def test_deploy_archive_stop_start_keeps_everything_and_a_stop_mid_run_loses_nothing(own_server):
    port, folder, sess = own_server
    deployed = pipeline.ensure_pipeline(sess, Settings(stack="keep"))
    first = verify.start_run(sess, deployed.settings, deployed.identity, expired=20, future=2, user_deleted=1, save=False)
    assert verify.wait_for_archive(sess, first, timeout=60, progress=False).ok
    before = _archived(sess, deployed)
    sess.client("sqs").send_message(QueueUrl=sess.client("sqs").get_queue_url(QueueName=deployed.settings.failure_queue_name)["QueueUrl"],
                                    MessageBody="kept across the restart")

    health = _restart(port)
    restore = health["state"]["restore"]
    assert restore["restored"] and restore["lost"] == [] and restore["trigger_checkpoints"] == 1
    assert {"dynamodb", "s3", "iam", "lambda", "firehose", "sqs", "cloudwatch"} <= set(restore["services"])
    assert _archived(sess, deployed) == before, "the same archive, object for object"
    again = pipeline.ensure_pipeline(sess, Settings(stack="keep"))
    assert not again.changed, again.summary()  # table, bucket, roles, stream, function, trigger, queue, alarms: all there
    queue = sess.client("sqs").get_queue_url(QueueName=deployed.settings.failure_queue_name)["QueueUrl"]
    assert [m["Body"] for m in sess.client("sqs").receive_message(QueueUrl=queue).get("Messages", [])] == ["kept across the restart"]
    table = sess.client("dynamodb").describe_table(TableName=deployed.settings.table_name)["Table"]
    assert table["ItemCount"] >= 2 or sess.client("dynamodb").scan(TableName=deployed.settings.table_name, Select="COUNT")["Count"] == 2

    # A stop while items are being swept, delivered and buffered: after start all of them are archived.
    second = verify.start_run(sess, deployed.settings, deployed.identity, expired=300, future=0, user_deleted=0,
                              expires_at=int(time.time()) + 1, save=False)
    time.sleep(1.5)
    health = _restart(port)
    assert health["state"]["restore"]["lost"] == []
    report = verify.wait_for_archive(sess, second, timeout=60, progress=False)
    assert report.missing == 0 and report.unexpected == 0, report.describe()
    assert report.archived_unique == 300
    assert set(before) <= set(_archived(sess, deployed)), "the first run's archive is still there"


def _write_state(folder, content: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state.bin").write_bytes(content)


def _state_file(version: str, header: bytes, body: bytes) -> bytes:
    return b"dynamodb-ttl-archive local AWS state\n" + header.replace(b"MOTO", version.encode()) + b"\n" + body


@pytest.mark.parametrize("header, body, reason", [
    (b"", b"", "not a local AWS state file"),
    (b'{"format": 0, "moto": "MOTO"}', b"...", "it has format 0; this version reads format 1"),
    (b'{"format": 1, "moto": "4.1.0"}', b"...", "it was written with moto 4.1.0"),
    (b'{"format": 1, "moto": "MOTO"', b"...", "its header is damaged"),
    (b'{"format": 1, "moto": "MOTO"}', b"truncated pickle", "its data is damaged"),
])
def test_a_corrupt_or_old_state_file_is_set_aside_with_a_message_naming_what_was_lost(tmp_path, header, body, reason):
    import moto

    from helpers.local.state_store import StateStore

    folder = tmp_path / "state"
    content = _state_file(moto.__version__, header, body) if header else b"\x00\x01 not a state file at all"
    _write_state(folder, content)
    report = StateStore(folder).restore()  # in this process: a bad file never reaches moto
    assert not report["restored"] and reason in report["reason"], report
    assert "everything was lost" in report["note"] and "Re-run the notebooks from 01_dynamodb_table on" in report["note"]
    [aside] = [p for p in folder.iterdir() if p.name.startswith("unreadable-")]
    assert aside.read_bytes() == content and not (folder / "state.bin").exists(), "kept for inspection, out of the way"


def test_a_server_with_a_corrupt_state_starts_empty_says_so_and_restarts_cleanly_and_reset_empties_the_folder(tmp_path, monkeypatch):
    port = _free_port()
    folder = tmp_path / "state" / f"port-{port}"  # each port has a folder of its own under TTL_ARCHIVE_LOCAL_STATE
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_STATE", str(tmp_path / "state"))
    content = b"\x00\x01 not a state file at all"
    _write_state(folder, content)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        local.ensure_running(port)  # starts, empty
    try:
        health = local.health(port)
        restore = health["state"]["restore"]
        assert not restore["restored"] and "not a local AWS state file" in restore["reason"]
        assert any(issubclass(w.category, local.server.LocalStateLost) and "moved to" in str(w.message) for w in caught)
        assert any(p["source"] == "state" and p["active"] for p in health["problems"])
        status = subprocess.run([sys.executable, "-m", "helpers.local", "status", "--port", str(port)], capture_output=True, text=True, timeout=60)
        assert status.returncode == 0 and "was not loaded" in status.stdout and "Re-run the notebooks" in status.stdout
        # it serves, and a restart does not stumble over the same file again
        EndpointSession(endpoint_url=local.endpoint_url(port), aws_access_key_id="t", aws_secret_access_key="t",
                        region_name="us-east-1").client("sqs").create_queue(QueueName="after")
        assert _restart(port)["state"]["restore"]["restored"]
    finally:
        local.stop(port)
    reset = subprocess.run([sys.executable, "-m", "helpers.local", "reset", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert reset.returncode == 0 and "saved state emptied" in reset.stdout
    assert list(folder.iterdir()) == []


def test_a_service_that_cannot_be_restored_is_named_with_what_to_re_run(tmp_path):
    import pickle

    import moto

    from helpers.local.state_store import StateStore, describe

    folder = tmp_path / "state"
    body = pickle.dumps({"services": {"sqs": b"not a pickle"}, "runtime": b"nor this"})
    _write_state(folder, _state_file(moto.__version__, b'{"format": 1, "moto": "MOTO", "saved_at": 0}', body))
    report = StateStore(folder).restore()
    assert report["restored"] and report["services"] == []
    assert [(x["service"], x["re_run"]) for x in report["lost"]] == [
        ("sqs", "notebook 04_lambda_trigger; the messages are gone"),
        ("runtime", "nothing: triggers start again from their StartingPosition (items may be archived twice)")]
    lines = describe(report)
    assert "LOST SQS queues with their messages (the failure queue) (sqs): re-run notebook 04_lambda_trigger; the messages are gone" in lines


def test_the_state_folder_is_per_port_under_the_setting_or_the_user_cache_and_off_keeps_memory_only(monkeypatch, tmp_path):
    from helpers.local.state_store import state_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TTL_ARCHIVE_LOCAL_STATE", raising=False)
    assert state_dir(4599) == tmp_path / "cache" / "dynamodb-ttl-archive" / "local-aws-state" / "port-4599"
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_STATE", str(tmp_path / "mine"))
    assert state_dir(4601) == tmp_path / "mine" / "port-4601"
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_STATE", "off")
    assert state_dir(4599) is None


def test_the_state_gate_waits_for_requests_in_progress_holds_new_ones_and_gives_up_instead_of_deadlocking():
    import threading

    from helpers.local.runtime.state import Gate

    gate = Gate()
    gate.acquire_shared()  # a request in progress
    assert not gate.acquire_exclusive(0.2), "a snapshot waits for it, then gives up"
    gate.acquire_shared()  # and new requests were not kept out for good
    gate.release_shared()
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(gate.acquire_exclusive(5)))
    waiter.start()
    time.sleep(0.1)
    entered = threading.Event()
    newcomer = threading.Thread(target=lambda: (gate.acquire_shared(), entered.set(), gate.release_shared()))
    newcomer.start()
    time.sleep(0.1)
    assert not entered.is_set(), "a new request waits while a snapshot is waiting"
    gate.release_shared()  # the request in progress ends: the snapshot runs, then the newcomer
    waiter.join(5)
    assert got == [True] and not entered.is_set()
    gate.release_exclusive()
    newcomer.join(5)
    assert entered.is_set()


def test_the_saver_waits_for_a_quiet_moment_and_under_continuous_change_saves_once_per_interval(tmp_path, monkeypatch):
    import itertools
    import threading

    from helpers.local import state_store

    ticks = itertools.count()
    changing = {"on": True}
    last = {"value": 0}

    def fingerprint():
        if changing["on"]:
            last["value"] = next(ticks)
        return (last["value"],)

    monkeypatch.setattr(state_store, "change_fingerprint", fingerprint)
    monkeypatch.setattr(state_store, "POLL_SECONDS", 0.02)
    monkeypatch.setattr(state_store, "QUIET_SECONDS", 0.2)
    store = state_store.StateStore(tmp_path)
    saves: list[float] = []

    def fake_save(**_):
        saves.append(time.monotonic())
        store._saved_fingerprint = fingerprint()
        return True

    monkeypatch.setattr(store, "save", fake_save)
    worker = threading.Thread(target=store._loop, args=(0.5,), daemon=True)
    worker.start()
    time.sleep(1.3)  # changing all the time: one save per 0.5 s interval, not one per poll
    busy_saves = len(saves)
    changing["on"] = False
    time.sleep(0.6)  # quiet: one more save once it has been quiet for 0.2 s, then none
    store._stop.set()
    worker.join(2)
    assert 1 <= busy_saves <= 4, saves  # (saving on every 0.02 s poll would make it dozens)
    assert len(saves) == busy_saves + 1
