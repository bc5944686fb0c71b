"""Restore (helpers/restore.py, helpers/archived_items.py) on the embedded local AWS.

* Round trip through the real pipeline: items of every type (binary, sets and maps nested in lists...) are written
  with a past TTL, deleted by the local TTL sweeper, archived by the deployed archiver through Firehose into S3,
  read back, restored into a new table and read with GetItem: equal type for type.
* Binary keys (B partition key) through the archiver code and codec into S3 directly, then the same restore and
  GetItem comparison.
* The conditional default (existing items are skipped, never overwritten), --overwrite, TTL rules, key and
  pandas selection, UnprocessedItems and throttling injected with nothing lost, a format-1 archive, dry run.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
import uuid
from collections import Counter
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from helpers import archived_items, archiver, item_codec, pipeline, restore, target
from helpers.settings import Settings
from tests.stream_records import lambda_shape

EVERY_BYTE = bytes(range(256))
PLAIN_TYPES = {
    "s": {"S": "text é 🎉 \"q\" \\"},
    "empty_s": {"S": ""},
    "n": {"N": "12345678901234567890123456789012345678"},
    "exp": {"N": "-1.5E-100"},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "nul": {"NULL": True},
    "ss": {"SS": ["b", "a", "é"]},
    "ns": {"NS": ["10", "-1", "0.5", "9.9999999999999999999999999999999999999E+125"]},
    "m": {"M": {"a.b": {"SS": ["x"]}, "deep": {"M": {"ns": {"NS": ["1", "2"]}}}, "l": {"L": [{"S": "x"}]}}},
    "l": {"L": [{"N": "1"}, {"SS": ["p", "q"]}, {"M": {"ns": {"NS": ["3"]}}}, {"L": []}, {"NULL": True}]},
    "a[0]": {"S": "a name that looks like a path"},
    "ttl": {"S": "an attribute named like an envelope column"},
    "item.ttl": {"S": "and one named like its renamed column"},
}
BINARY_TYPES = {
    "b": {"B": EVERY_BYTE},
    "empty_b": {"B": b""},
    "bs": {"BS": [EVERY_BYTE, b"\x00", b"\xff"]},
    "m": {"M": {"inner": {"B": b"\x01\x02"}, "l": {"L": [{"BS": [b"z"]}]}}},
    "l": {"L": [{"B": b"\xfe"}, {"S": "x"}]},
}






def make_table(client, name: str, key_type: str = "S") -> str:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "timestamp", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": key_type}, {"AttributeName": "timestamp", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name)
    return name


def get(client, table: str, key: dict) -> dict:
    return client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


# --------------------------------------------------------------------------- archives written by the archiver code




def stream_record(item: dict, n: int, table: str = "orders", at: int = 1_764_180_000) -> dict:
    image = {k: lambda_shape(v) for k, v in item.items()}
    return {
        "eventID": f"ev-{table}-{n}-{at}",
        "eventName": "REMOVE",
        "awsRegion": "us-east-1",
        "eventSourceARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-01-01T00:00:00.000",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {"ApproximateCreationDateTime": at, "Keys": {k: image[k] for k in ("id", "timestamp")},
                     "OldImage": image, "SequenceNumber": str(1000 + n)},
    }


def write_archive(folder, records: list, name: str = "archive/2025/11/26/18/s-1-2025-11-26-18-00-00-x") -> None:
    """The archiver's lines for ``records``, GZIP, at a Firehose-style key in a folder copy of the bucket."""
    cfg = archiver.Config(delivery_stream_name="s")
    data = b"".join(line for _, line in archiver.encode_records(records, cfg).lines)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data))


def item(i: int, extra: dict, key_type: str = "S", ttl: int = 1_764_000_000) -> dict:
    key = {"S": f"item-{i}"} if key_type == "S" else {"B": f"item-{i}".encode()}
    return {"id": key, "timestamp": {"N": str(i)}, "expires_at": {"N": str(ttl)}, **extra}


# --------------------------------------------------------------------------- the real pipeline


@pytest.fixture(scope="module")
def sess(local_aws):
    return target.session("local")


@pytest.fixture(scope="module")
def archived_through_pipeline(sess):
    """Items of every plain and set type, expired and archived by the deployed pipeline; read back."""
    deployed = pipeline.ensure_pipeline(sess, Settings(stack=f"r{uuid.uuid4().hex[:8]}"))
    settings = deployed.settings
    ddb = sess.client("dynamodb")
    past = int(time.time()) - 60
    originals = [item(i, {**PLAIN_TYPES, **BINARY_TYPES, "kind": {"S": "expired"}}, ttl=past) for i in range(3)]
    started = datetime.now(timezone.utc)
    for it in originals:
        ddb.put_item(TableName=settings.table_name, Item=it)
    deadline = time.monotonic() + 90
    while True:
        loaded = archived_items.load(sess, settings.bucket_name, settings.archive_prefix, since=started.replace(microsecond=0).timestamp() - 5)
        if len(loaded) >= len(originals) or time.monotonic() > deadline:
            break
        time.sleep(1)
    return settings, originals, loaded


def test_every_type_round_trips_through_the_pipeline_into_a_new_table(sess, archived_through_pipeline):
    settings, originals, loaded = archived_through_pipeline
    assert len(loaded) == len(originals), loaded.summary()
    assert all(r.format == 2 and r.envelope["table"] == settings.table_name for r in loaded.records)
    # The frame names columns by the reader's rule: no attribute is lost to an envelope name.
    assert set(loaded.frame["item.ttl"]) == {PLAIN_TYPES["ttl"]["S"]} and set(loaded.frame["item.item.ttl"]) == {PLAIN_TYPES["item.ttl"]["S"]}
    ddb = sess.client("dynamodb")
    copy = make_table(ddb, f"{settings.table_name}-copy")
    report = restore.restore(sess, loaded, copy, progress=False)
    assert report.ok and report.restored == len(originals), report.describe()
    for original in originals:
        got = get(ddb, copy, {"id": original["id"], "timestamp": original["timestamp"]})
        expected = {k: v for k, v in original.items() if k != "expires_at"}  # --ttl remove (the default)
        assert item_codec.equal_items(got, expected), (got, expected)


def test_restore_into_the_original_table_then_again_skips_existing(sess, archived_through_pipeline):
    settings, originals, loaded = archived_through_pipeline
    chosen = archived_items.select(loaded, keys={"id": "item-1"})
    first = restore.restore(sess, chosen, ttl="+30", progress=False)  # the original table by default
    assert first.table == settings.table_name and first.restored == 1 and first.ok
    got = get(sess.client("dynamodb"), settings.table_name, {"id": {"S": "item-1"}, "timestamp": {"N": "1"}})
    assert int(got["expires_at"]["N"]) > time.time() + 29 * 86_400  # a new expiry: TTL will not take it back now
    again = restore.restore(sess, chosen, progress=False)
    assert again.restored == 0 and again.skipped == Counter({"exists": 1}) and again.ok


# --------------------------------------------------------------------------- binary: archiver + codec, local S3 and DynamoDB


def test_binary_of_every_kind_round_trips_from_an_archive_into_a_table(sess, tmp_path):
    originals = [item(i, {**BINARY_TYPES, **PLAIN_TYPES}, key_type="B") for i in range(3)]
    write_archive(tmp_path, [stream_record(it, i) for i, it in enumerate(originals)])
    bucket = f"restore-{uuid.uuid4().hex[:8]}"
    s3 = sess.client("s3")
    s3.create_bucket(Bucket=bucket)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            s3.put_object(Bucket=bucket, Key=path.relative_to(tmp_path).as_posix(), Body=path.read_bytes())
    loaded = archived_items.load(sess, bucket)
    assert len(loaded) == 3 and loaded.frame["b"].iloc[0] == base64.b64encode(EVERY_BYTE).decode()
    ddb = sess.client("dynamodb")
    table = make_table(ddb, f"bin-{uuid.uuid4().hex[:8]}", key_type="B")
    report = restore.restore(sess, loaded, table, ttl="keep", progress=False)
    assert report.ok and report.restored == 3
    assert any("TTL in the past" in w for w in report.warnings)  # keep warns
    for original in originals:
        got = get(ddb, table, {"id": original["id"], "timestamp": original["timestamp"]})
        assert item_codec.equal_items(got, original)


# --------------------------------------------------------------------------- rules, selection, failures


@pytest.fixture
def folder_archive(tmp_path):
    """Six items of table 'orders' deleted an hour apart, plus an older version of item-0."""
    records = [stream_record(item(i, {"n": {"N": str(i)}, "kind": {"S": "even" if i % 2 == 0 else "odd"}}), i, at=1_764_180_000 + 3600 * i) for i in range(6)]
    records.append(stream_record(item(0, {"n": {"N": "-1"}, "kind": {"S": "old"}}), 99, at=1_764_000_000))
    for rec in records:  # Firehose files each object under the hour its first record arrived
        at = datetime.fromtimestamp(rec["dynamodb"]["ApproximateCreationDateTime"], timezone.utc)
        write_archive(tmp_path, [rec], f"archive/{at:%Y/%m/%d/%H}/s-1-{at:%Y-%m-%d-%H-%M-%S}-{rec['eventID']}")
    return tmp_path


def test_select_by_time_key_and_pandas_filter(sess, folder_archive):
    loaded = archived_items.load(sess, folder=str(folder_archive))
    assert len(loaded) == 7 and list(loaded.frame.columns[:3]) == ["event_id", "table", "deleted_at"]
    by_time = archived_items.select(loaded, since="2025-11-26T19:00:00Z", until="2025-11-26T21:00:00Z")
    assert sorted(r.item["id"]["S"] for r in by_time.records) == ["item-1", "item-2"]
    by_key = archived_items.select(loaded, keys=archived_items.parse_key_filters(["id=item-3", "id=item-4", "timestamp=4"]))
    assert [r.item["id"]["S"] for r in by_key.records] == ["item-4"]
    by_frame = archived_items.select(loaded, where=lambda f: (f["kind"] == "odd") & (f["n"] > 1))
    assert sorted(r.item["id"]["S"] for r in by_frame.records) == ["item-3", "item-5"]
    assert len(archived_items.select(loaded, where="kind == 'even'")) == 3
    # Rows chosen on the reader's own frame (read_archive) select by event_id.
    from helpers.archive_reader import read_archive

    theirs = read_archive(str(folder_archive)).frame
    picked = archived_items.select(loaded, event_ids=theirs.loc[theirs["kind"] == "odd", "event_id"])
    assert sorted(r.item["id"]["S"] for r in picked.records) == ["item-1", "item-3", "item-5"]
    with pytest.raises(ValueError, match="NAME=VALUE"):
        archived_items.parse_key_filters(["id"])


def test_default_never_overwrites_and_overwrite_is_explicit(sess, folder_archive):
    loaded = archived_items.load(sess, folder=str(folder_archive))
    ddb = sess.client("dynamodb")
    table = make_table(ddb, f"cond-{uuid.uuid4().hex[:8]}")
    live = {"id": {"S": "item-2"}, "timestamp": {"N": "2"}, "kind": {"S": "live"}}
    ddb.put_item(TableName=table, Item=live)
    report = restore.restore(sess, loaded, table, progress=False)
    assert report.skipped == Counter({"exists": 1, "superseded": 1}) and report.restored == 5 and report.ok
    assert get(ddb, table, {"id": {"S": "item-2"}, "timestamp": {"N": "2"}}) == live  # untouched
    assert get(ddb, table, {"id": {"S": "item-0"}, "timestamp": {"N": "0"}})["kind"] == {"S": "even"}  # latest version
    assert report.calls["put_item"] == 6 and "batch_write_item" not in report.calls
    forced = restore.restore(sess, loaded, table, overwrite=True, progress=False)
    assert forced.restored == 6 and forced.ok and forced.calls["batch_write_item"] == 1
    assert get(ddb, table, {"id": {"S": "item-2"}, "timestamp": {"N": "2"}})["kind"] == {"S": "even"}


def test_dry_run_writes_nothing_and_says_what_it_would(sess, folder_archive):
    loaded = archived_items.load(sess, folder=str(folder_archive))
    ddb = sess.client("dynamodb")
    table = make_table(ddb, f"dry-{uuid.uuid4().hex[:8]}")
    ddb.put_item(TableName=table, Item={"id": {"S": "item-5"}, "timestamp": {"N": "5"}})
    report = restore.restore(sess, loaded, table, dry_run=True, ttl="+1")
    assert ddb.scan(TableName=table)["Count"] == 1
    assert report.ok and len(report.would_write) == 5 and report.skipped == Counter({"exists": 1, "superseded": 1})
    assert "Would write:" in report.describe() and json.dumps(report.to_dict())
    assert all("expires_at" in it for it in report.would_write)


class FlakyClient:
    """A DynamoDB client that leaves items unprocessed and throttles calls before passing them on."""

    def __init__(self, real, unprocessed_every=3, throttle_calls=2):
        self.real, self.unprocessed_every, self.throttle_left = real, unprocessed_every, throttle_calls
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def batch_write_item(self, RequestItems):  # noqa: N803 - boto3 names
        self.calls += 1
        if self.throttle_left:
            self.throttle_left -= 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "BatchWriteItem")
        ((table, requests),) = RequestItems.items()
        keep = requests[:: self.unprocessed_every]  # every third request is "unprocessed"
        send = [r for r in requests if r not in keep] if len(requests) > 1 else requests
        left = keep if len(requests) > 1 else []
        self.real.batch_write_item(RequestItems={table: send})
        return {"UnprocessedItems": {table: left} if left else {}}


def test_unprocessed_items_and_throttling_lose_nothing(sess):
    records = [stream_record(item(i, {"pad": {"S": "x" * 50}}), i) for i in range(60)]
    decoded = [item_codec.decode_record(archiver.archive_line(r)) for r in records]
    ddb = sess.client("dynamodb")
    table = make_table(ddb, f"thr-{uuid.uuid4().hex[:8]}")
    flaky = FlakyClient(ddb)
    sleeps = []
    report = restore.restore(sess, decoded, table, overwrite=True, client=flaky, sleep=sleeps.append, workers=2, progress=False)
    assert report.ok and report.restored == 60 and report.failed == []
    assert report.calls["unprocessed_retry"] >= 3 and report.calls["throttled"] == 2 and len(sleeps) >= 5
    assert ddb.scan(TableName=table, Select="COUNT")["Count"] == 60


def test_items_never_processed_are_reported_failed_with_their_keys(sess):
    records = [stream_record(item(i, {}), i) for i in range(3)]
    decoded = [item_codec.decode_record(archiver.archive_line(r)) for r in records]
    ddb = sess.client("dynamodb")
    table = make_table(ddb, f"fail-{uuid.uuid4().hex[:8]}")

    class NeverClient(FlakyClient):
        def batch_write_item(self, RequestItems):  # noqa: N803
            return {"UnprocessedItems": RequestItems}

    report = restore.restore(sess, decoded, table, overwrite=True, client=NeverClient(ddb), sleep=lambda s: None, max_attempts=3, progress=False)
    assert not report.ok and report.restored == 0 and len(report.failed) == 3
    assert {f["key"]["id"] for f in report.failed} == {"item-0", "item-1", "item-2"}
    assert "unprocessed after 3 attempts" in report.failed[0]["reason"]


def test_items_lacking_the_target_key_fail_before_any_write(sess, folder_archive):
    loaded = archived_items.load(sess, folder=str(folder_archive))
    ddb = sess.client("dynamodb")
    other = f"other-{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=other, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    report = restore.restore(sess, loaded, other, progress=False)
    assert report.restored == 0 and len(report.failed) == 7 and "no key attribute pk (S)" in report.failed[0]["reason"]
    assert "put_item" not in report.calls


def test_format_1_archive_restores_best_effort_and_with_assumed_types(sess, tmp_path):
    line = {"event_id": "f1", "table": "orders", "deleted_at": "2025-11-26T18:00:00Z", "ttl_attribute": "expires_at",
            "ttl": 1764000000, "keys": {"id": "old", "timestamp": 1},
            "item": {"id": "old", "timestamp": 1, "expires_at": 1764000000, "tags": ["a", "b"], "n": 1.25}, "format": 1}
    path = tmp_path / "archive/2025/11/26/18/old-1"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(line) + "\n")
    loaded = archived_items.load(sess, folder=str(tmp_path))
    assert loaded.records[0].ambiguous == ["/tags"] and loaded.frame["ambiguous"].iloc[0] == ["/tags"]
    ddb = sess.client("dynamodb")
    table = make_table(ddb, f"f1-{uuid.uuid4().hex[:8]}")
    assert restore.restore(sess, loaded, table, progress=False).ok
    assert get(ddb, table, {"id": {"S": "old"}, "timestamp": {"N": "1"}})["tags"] == {"L": [{"S": "a"}, {"S": "b"}]}
    exact = archived_items.load(sess, folder=str(tmp_path), assume_types={"tags": "SS"})
    assert restore.restore(sess, exact, table, overwrite=True, progress=False).ok
    got = get(ddb, table, {"id": {"S": "old"}, "timestamp": {"N": "1"}})
    assert got["tags"]["SS"] and sorted(got["tags"]["SS"]) == ["a", "b"] and got["n"] == {"N": "1.25"}


def test_bad_input_fails_before_any_aws_call(sess, folder_archive):
    loaded = archived_items.load(sess, folder=str(folder_archive))

    class NoCalls:
        def __getattr__(self, name):
            raise AssertionError(f"unexpected AWS call {name}")

    for kwargs, message in [({"ttl": "+0"}, "remove, keep or"), ({"ttl": "later"}, "remove, keep or"),
                            ({"rate": 0}, "positive"), ({"table": "a b"}, "table")]:
        with pytest.raises(ValueError, match=message):
            restore.restore(sess, loaded, **{"table": "t-ok", **kwargs}, client=NoCalls())
    with pytest.raises(restore.TableNotFound, match="does not exist"):
        restore.restore(sess, loaded, "no-such-table-xyz")


def test_rate_limiter_spaces_items():
    clock = [0.0]
    slept = []
    limiter = restore.RateLimiter(10, clock=lambda: clock[0], sleep=lambda s: (slept.append(s), clock.__setitem__(0, clock[0] + s)))
    for _ in range(4):
        limiter.acquire(5)
    assert clock[0] == pytest.approx(1.5) and len(slept) == 3  # 20 items at 10/s: the last batch starts at 1.5 s


def test_restore_from_archive_selects_and_restores_for_the_command_line(sess, folder_archive):
    ddb = sess.client("dynamodb")
    table = make_table(ddb, f"cli-{uuid.uuid4().hex[:8]}")
    said = []
    settings = Settings(stack="t-cli", bucket_name="unused-with-a-folder")
    chosen, report = restore.restore_from_archive(sess, settings, folder=str(folder_archive), since="2025-11-26T20:00Z",
                                                  keys={"id": ["item-2", "item-3", "item-9"]}, to_table=table, say=said.append)
    assert len(chosen) == 2 and report.restored == 2 and report.ok
    assert any("2 items selected" in s for s in said)
    none, empty = restore.restore_from_archive(sess, settings, folder=str(folder_archive), keys={"id": ["nope"]}, to_table=table)
    assert len(none) == 0 and empty.selected == 0 and empty.calls == Counter()


def test_scratch_table_like_the_source_is_created_once_and_deleted_only_when_ours(sess, archived_through_pipeline):
    settings, _, loaded = archived_through_pipeline
    name = f"{settings.table_name}-restored"
    assert restore.ensure_table_like(sess, settings, name) == "created"
    assert restore.ensure_table_like(sess, settings, name) == "already there"
    assert restore.restore(sess, loaded, name, progress=False).ok
    other = make_table(sess.client("dynamodb"), f"foreign-{uuid.uuid4().hex[:8]}")
    assert restore.delete_table_if_ours(sess, settings, other) == "kept: not created by this stack"
    assert restore.delete_table_if_ours(sess, settings, settings.table_name).startswith("kept")
    assert restore.delete_table_if_ours(sess, settings, name) == "deleted"
    assert restore.delete_table_if_ours(sess, settings, name) == "not found"


@pytest.mark.timeout(180)
def test_notebook_08_restores_the_stacks_archive_and_cleans_up(sess, archived_through_pipeline, tmp_path, monkeypatch):
    from pathlib import Path

    import nbformat

    from helpers.notebook_runner import run_notebook

    settings, originals, _ = archived_through_pipeline
    monkeypatch.setenv("TTL_ARCHIVE_STACK", settings.stack)  # inherited by the kernel, with the run's local AWS port
    executed = run_notebook(Path(__file__).resolve().parent.parent / "notebooks" / "08_restore.ipynb", tmp_path, timeout=120)
    text = "\n".join(out.get("text", "") for cell in nbformat.read(executed, as_version=4).cells for out in cell.get("outputs", []))
    assert f"restored {len(originals)} into {settings.table_name}-restored" in text
    assert "equal to the archived item, type for type: True" in text and f"skipped: exists: {len(originals)}" in text
    assert text.rstrip().endswith("deleted")


def test_a_batch_with_an_invalid_item_is_retried_one_by_one_and_only_that_item_fails(sess):
    records = [stream_record(item(i, {}), i) for i in range(3)]
    records[1]["dynamodb"]["OldImage"]["id"] = {"S": ""}  # DynamoDB rejects an empty key value: the whole batch fails
    decoded = [item_codec.decode_record(archiver.archive_line(r)) for r in records]
    ddb = sess.client("dynamodb")
    table = make_table(ddb, f"inv-{uuid.uuid4().hex[:8]}")
    report = restore.restore(sess, decoded, table, overwrite=True, progress=False)
    assert report.restored == 2 and len(report.failed) == 1 and not report.ok
    assert report.failed[0]["key"]["id"] == "" and "ValidationException" in report.failed[0]["reason"]
    assert report.calls["batch_write_item"] == 1 and report.calls["put_item"] == 3


def test_a_filter_that_cannot_be_applied_is_a_clear_error(sess, folder_archive):
    loaded = archived_items.load(sess, folder=str(folder_archive))
    with pytest.raises(ValueError, match="no_such_column"):
        archived_items.select(loaded, where="no_such_column > 3")


def test_ttl_on_a_key_attribute_is_kept_with_a_warning_and_versions_order_by_deletion_time(sess):
    early = stream_record(item(1, {"v": {"S": "first"}}), 1, at=1_764_180_000)
    late = stream_record(item(1, {"v": {"S": "second"}}), 2, at=1_764_180_000)
    late["dynamodb"]["ApproximateCreationDateTime"] = 1_764_180_000.5  # half a second later: ...00.500000Z
    decoded = [item_codec.decode_record(archiver.archive_line(r, ttl_attribute="timestamp")) for r in (late, early)]
    ddb = sess.client("dynamodb")
    table = make_table(ddb, f"ttlkey-{uuid.uuid4().hex[:8]}")
    report = restore.restore(sess, decoded, table, progress=False)  # --ttl remove asked; timestamp is the sort key
    assert report.ok and report.restored == 1 and report.skipped == Counter({"superseded": 1})
    assert any("key attribute" in w for w in report.warnings)
    assert get(ddb, table, {"id": {"S": "item-1"}, "timestamp": {"N": "1"}})["v"] == {"S": "second"}


# --------------------------------------------------------------------------- load: in-process, a folder copy of the bucket

HOUR_18 = 1_764_180_000  # 2025-11-26T18:00:00Z


def put_object(folder, key: str, lines: list) -> str:
    path = folder / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"".join((ln if isinstance(ln, bytes) else ln.encode()) + b"\n" for ln in lines)))
    return key


def line_of(n: int, at: float) -> str:
    return archiver.archive_line(stream_record(item(n, {}), n, at=at))


def ids(items) -> list:
    return [r.item["id"]["S"] for r in items.records]


def test_load_keeps_exactly_the_records_deleted_in_since_until(tmp_path):
    # One object filed at 18:00 holding deletions at 18:00:00, 18:29:59, 18:30:00 and 18:59:59.
    put_object(tmp_path, "archive/2025/11/26/18/s-1-2025-11-26-18-00-00-a", [line_of(i, HOUR_18 + s) for i, s in enumerate((0, 1799, 1800, 3599))])
    assert ids(archived_items.load(None, folder=str(tmp_path), since="2025-11-26T18:30:00Z")) == ["item-2", "item-3"]
    assert ids(archived_items.load(None, folder=str(tmp_path), until="2025-11-26T18:30:00Z")) == ["item-0", "item-1"]
    both = archived_items.load(None, folder=str(tmp_path), since="2025-11-26T18:29:59Z", until="2025-11-26T18:59:59Z")
    assert ids(both) == ["item-1", "item-2"]


def test_load_reads_no_object_filed_an_hour_or_more_after_until(tmp_path):
    for h in (17, 18, 19):  # Firehose files an object under the hour its first record arrived
        put_object(tmp_path, f"archive/2025/11/26/{h}/s-1-2025-11-26-{h}-05-00-x", [line_of(h, HOUR_18 + (h - 18) * 3600 + 300)])
    loaded = archived_items.load(None, folder=str(tmp_path), until="2025-11-26T18:00:00Z")
    # 17:xx and 18:xx may hold records deleted before 18:00 (delivered up to an hour late); 19:xx may not.
    assert ids(loaded) == ["item-17"] and loaded.objects == 2


def test_load_removes_duplicate_deliveries_and_keeps_reading_after_one(tmp_path):
    put_object(tmp_path, "archive/2025/11/26/18/s-1-2025-11-26-18-00-00-a", [line_of(0, HOUR_18), line_of(1, HOUR_18 + 1)])
    # Firehose delivered item-1 again (a retried batch), followed by a new record in the same object.
    put_object(tmp_path, "archive/2025/11/26/18/s-1-2025-11-26-18-10-00-b", [line_of(1, HOUR_18 + 1), line_of(2, HOUR_18 + 2)])
    loaded = archived_items.load(None, folder=str(tmp_path))
    assert ids(loaded) == ["item-0", "item-1", "item-2"] and loaded.duplicates == 1 and loaded.objects == 2
    assert archived_items.load(None, folder=str(tmp_path), until="2025-11-26T18:00:01Z").duplicates == 1


def test_load_skips_damaged_lines_names_each_and_keeps_reading(tmp_path):
    split = line_of(3, HOUR_18 + 3)
    half = len(split) // 2
    key = put_object(tmp_path, "archive/2025/11/26/18/s-1-2025-11-26-18-00-00-a", [
        line_of(0, HOUR_18),
        "[1, 2]",  # line 2: JSON, not a record
        json.dumps({"part_of": "ev-split", "part": 1, "parts": 2, "data": split[half:]}),  # line 3: waits for part 0
        line_of(1, HOUR_18 + 1),
        json.dumps({"part_of": "ev-lost", "part": 0, "parts": 3, "data": "{"}),  # line 5: its other parts never come
        json.dumps({"part_of": "ev-bad", "part": 0, "parts": 2, "data": "{not"}),  # lines 6 and 7 join into no JSON
        json.dumps({"part_of": "ev-bad", "part": 1, "parts": 2, "data": " json"}),
        json.dumps({"part_of": "ev-split", "part": 0, "parts": 3, "data": split[:half]}),  # line 8: says 3 parts
        json.dumps({"part_of": "ev-split", "part": 0, "parts": 2, "data": split[:half]}),  # line 9: completes line 3's record
        line_of(2, HOUR_18 + 2),
    ])
    loaded = archived_items.load(None, folder=str(tmp_path))
    assert ids(loaded) == ["item-0", "item-1", "item-2", "item-3"]  # item-3 joined from lines 3 and 9
    assert loaded.records[3].item == item_codec.decode_record(split).item and loaded.frame["object_key"].iloc[3] == key
    assert loaded.problems[0] == f"{key} line 2: not an archive record"
    assert loaded.problems[1].startswith(f"{key} line 6: not valid JSON (")
    assert loaded.problems[2:] == [f"{key} line 8: part 0 of ev-split says 3 parts, an earlier one said 2",
                                   f"{key} line 5: record ev-lost incomplete: parts [0] of 3 found; skipped"]


def test_select_by_event_ids_keeps_the_other_conditions_and_the_archive_counts(tmp_path):
    put_object(tmp_path, "archive/2025/11/26/18/s-1-2025-11-26-18-00-00-a", [line_of(i, HOUR_18 + i) for i in range(4)] + [line_of(0, HOUR_18)])
    loaded = archived_items.load(None, folder=str(tmp_path))
    picked = archived_items.select(loaded, keys={"id": ["item-1", "item-2"]}, event_ids=[r.event_id for r in loaded.records[2:]])
    assert ids(picked) == ["item-2"] and list(picked.frame["event_id"]) == [loaded.records[2].event_id]
    assert (picked.objects, picked.duplicates, picked.problems) == (1, 1, [])
