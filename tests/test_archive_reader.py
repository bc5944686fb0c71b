"""helpers.archive_reader: the archive (S3 on the embedded local AWS, or a folder copy) into pandas.

Test archives are written here from the documented line format (docs/architecture.md, "Archive line
format") by a small writer that shares no code with the reader; the round trip through the real
archiver (helpers/archiver.py) is at the end.
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import archive_reader as ar
from helpers import archiver
from helpers.archive_reader import _fast
from helpers.archive_reader._columns import _column

DAY = "2026/11/26"

# Every DynamoDB type, in the low-level AttributeValue form a stream record's OldImage carries.
ITEM_EVERY_TYPE = {
    "id": {"S": "order-1"},
    "timestamp": {"N": "1"},
    "expires_at": {"N": "1764180000"},
    "name": {"S": "Grüße ✓ \"quoted\"\nnewline"},
    "exact38": {"N": "1234567890123456789012345678901234567.8"},  # 38 significant digits
    "big_int": {"N": "12345678901234567890123456789012345678"},  # 38 digits, beyond 64 bits
    "count": {"N": "42"},
    "price": {"N": "19.99"},
    "tiny": {"N": "-1E-130"},
    "blob": {"B": b"\x00\x01\xfe\xff"},
    "active": {"BOOL": True},
    "nothing": {"NULL": True},
    "attrs": {"M": {"n": {"N": "99999999999999999999999999999999999999"}, "flag": {"BOOL": False}, "none": {"NULL": True},
                    "deep": {"L": [{"S": "x"}, {"N": "1.5"}, {"M": {"b": {"B": b"\x07"}}}]}}},
    "history": {"L": [{"N": "1"}, {"S": "two"}, {"L": []}, {"M": {}}]},
    "tags": {"SS": ["b", "a", "c"]},
    "scores": {"NS": ["10", "9.5", "-1", "1E+2"]},
    "blobs": {"BS": [b"\x02", b"\x01\x00", b"\x01"]},
}


# --------------------------------------------------------------------------- an independent writer


def _number(text: str) -> int | Decimal:
    return int(text) if text.lstrip("-").isdigit() else Decimal(text)


def plain(av: dict) -> object:
    """The documented plain conversion of one AttributeValue (what the reader must give back)."""
    (kind, value), = av.items()
    if kind == "S":
        return value
    if kind == "N":
        return _number(value)
    if kind == "B":
        return base64.b64encode(value).decode()
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: plain(v) for k, v in value.items()}
    if kind == "L":
        return [plain(v) for v in value]
    if kind == "SS":
        return sorted(value)
    if kind == "NS":
        return [_number(v) for v in sorted(value, key=Decimal)]
    if kind == "BS":
        return [base64.b64encode(v).decode() for v in sorted(value)]
    raise AssertionError(kind)


def json_text(av: dict) -> str:
    """JSON text of one AttributeValue, numbers written with DynamoDB's own digits."""
    (kind, value), = av.items()
    if kind == "N":
        return value
    if kind == "NS":
        return "[" + ",".join(sorted(value, key=Decimal)) + "]"
    if kind == "M":
        return "{" + ",".join(f"{json.dumps(k)}:{json_text(v)}" for k, v in value.items()) + "}"
    if kind == "L":
        return "[" + ",".join(json_text(v) for v in value) + "]"
    return json.dumps(plain(av), ensure_ascii=False)


def archive_line(item: dict, event_id: str | None = None, deleted_at: str = f"{DAY.replace('/', '-')}T18:00:00Z", table: str = "orders") -> str:
    """One archive line in the documented format, for an item given as AttributeValues."""
    event_id = event_id or uuid.uuid4().hex
    keys = {k: item[k] for k in ("id", "timestamp") if k in item}
    ttl = item.get("expires_at", {}).get("N")
    envelope = {
        "event_id": event_id,
        "sequence_number": f"1{uuid.uuid4().int % 10**20:020d}",  # 21 digits, beyond 64 bits
        "table": table,
        "region": "us-east-1",
        "event_source_arn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-11-26T00:00:00.000",
        "deleted_at": deleted_at,
        "ttl_attribute": "expires_at",
    }
    head = json.dumps(envelope)[:-1]
    return (
        f'{head}, "ttl": {ttl if ttl is not None else "null"}, "keys": {json_text({"M": keys})}, '
        f'"item": {json_text({"M": item})}, "format": 1}}'
    )


def simple_item(i: int, ttl: int = 1764180000, **extra: dict) -> dict:
    return {"id": {"S": f"id-{i}"}, "timestamp": {"N": str(i)}, "expires_at": {"N": str(ttl)}, "payload": {"S": "x" * (i % 7)}, **extra}


def object_key(prefix: str, hour: str = "18", minute: int = 0, name: str = "") -> str:
    return f"{prefix}{DAY}/{hour}/stream-1-{DAY.replace('/', '-')}-{hour}-{minute:02d}-00-{name or uuid.uuid4().hex[:8]}"


def body(lines: list[str], compress: bool = True) -> bytes:
    data = "".join(line + "\n" for line in lines).encode()
    return gzip.compress(data) if compress else data


def split_into_parts(line: str, event_id: str, size: int) -> list[str]:
    pieces = [line[i : i + size] for i in range(0, len(line), size)]
    return [json.dumps({"part_of": event_id, "part": i, "parts": len(pieces), "data": p, "format": 1}) for i, p in enumerate(pieces)]


@pytest.fixture
def bucket(session, stack) -> str:
    name = f"{stack}-archive"
    session.client("s3").create_bucket(Bucket=name)
    return name


def put(session, bucket: str, key: str, data: bytes) -> None:
    session.client("s3").put_object(Bucket=bucket, Key=key, Body=data)


def items_equal(got: dict, expected: dict) -> bool:
    """Equality as documented: float columns hold values whose repr is the original number."""
    if set(got) != set(expected):
        return False
    for name, value in expected.items():
        g = got[name]
        if isinstance(g, float):
            if Decimal(repr(g)) != value:
                return False
        elif g != value or type(g) is not type(value):
            return False
    return True


# --------------------------------------------------------------------------- tests


def test_round_trip_every_dynamodb_type_comes_back_exact(session, bucket):
    other = {**ITEM_EVERY_TYPE, "id": {"S": "order-2"}, "timestamp": {"N": "2"}, "price": {"N": "0.1"}}
    put(session, bucket, object_key("archive/"), body([archive_line(ITEM_EVERY_TYPE, "a1"), archive_line(other, "a2")]))

    result = ar.read_archive(session, bucket, "archive/")

    assert result.problems == [] and result.duplicates == 0
    frame = result.frame
    assert list(frame["event_id"]) == ["a1", "a2"]
    got = list(ar.iter_items(frame))
    # A NULL top-level attribute reads as a missing value (documented); NULL inside maps/lists is kept.
    expected = [{k: plain(v) for k, v in item.items() if k != "nothing"} for item in (ITEM_EVERY_TYPE, other)]
    for g, e in zip(got, expected):
        assert items_equal(g, e), (g, e)
    assert frame["nothing"].isna().all()
    # Exact numbers: 38 digits survive; nested NULL, numbers and binaries are intact.
    assert frame["exact38"][0] == Decimal("1234567890123456789012345678901234567.8")
    assert frame["big_int"][0] == 12345678901234567890123456789012345678
    assert frame["attrs"][0]["n"] == 99999999999999999999999999999999999999
    assert frame["attrs"][0]["none"] is None and frame["attrs"][0]["deep"][2] == {"b": base64.b64encode(b"\x07").decode()}
    assert frame["scores"][0] == [-1, Decimal("9.5"), 10, Decimal("1E+2")]
    assert frame["blobs"][0] == [base64.b64encode(b).decode() for b in (b"\x01", b"\x01\x00", b"\x02")]
    # Sensible dtypes.
    dtypes = frame.dtypes.astype(str).to_dict()
    assert dtypes["timestamp"] == "int64" and dtypes["count"] == "int64" and dtypes["expires_at"] == "int64"
    assert dtypes["price"] == "float64" and dtypes["active"] == "bool"
    assert dtypes["exact38"] == "object" and dtypes["big_int"] == "object" and dtypes["tiny"] == "float64"
    assert dtypes["deleted_at"] == "datetime64[ns, UTC]" and str(frame["ttl"].dt.tz) == "UTC"
    assert frame["ttl"][0] == pd.Timestamp(1764180000, unit="s", tz="UTC")
    assert frame["keys"][0] == {"id": "order-1", "timestamp": 1}
    assert frame["object_key"][0].startswith("archive/2026/11/26/18/")
    assert frame["record_bytes"][0] == len(archive_line(ITEM_EVERY_TYPE, "a1").encode()) + 1  # with its newline


def test_gzip_and_plain_objects_are_decoded_by_content_not_name(session, bucket):
    put(session, bucket, object_key("archive/", name="plain.gz"), body([archive_line(simple_item(1), "p1")], compress=False))
    put(session, bucket, object_key("archive/", name="packed.json"), body([archive_line(simple_item(2), "g1")], compress=True))
    # Two GZIP members concatenated are one valid GZIP stream.
    put(session, bucket, object_key("archive/", name="multi"), body([archive_line(simple_item(3), "m1")]) + body([archive_line(simple_item(4), "m2")]))

    result = ar.read_archive(session, bucket)

    assert result.problems == []
    assert sorted(result.frame["event_id"]) == ["g1", "m1", "m2", "p1"]
    compressed = dict(zip(result.objects["key"].str.rsplit("-", n=1).str[-1], result.objects["compressed"]))
    assert compressed == {"plain.gz": False, "packed.json": True, "multi": True}


def test_duplicate_deliveries_are_removed_by_default_and_counted(session, bucket):
    lines = [archive_line(simple_item(i), f"e{i}") for i in range(3)]
    put(session, bucket, object_key("archive/", minute=1), body(lines))
    put(session, bucket, object_key("archive/", minute=2), body([lines[1], lines[2], lines[2]]))  # a retried batch

    result = ar.read_archive(session, bucket)
    kept = ar.read_archive(session, bucket, drop_duplicates=False)

    assert list(result.frame["event_id"]) == ["e0", "e1", "e2"] and result.duplicates == 3
    assert len(kept.frame) == 6 and kept.duplicates == 3
    assert "3 duplicate deliveries removed" in result.summary()


def test_a_damaged_line_is_reported_with_key_and_line_and_skipped(session, bucket, caplog):
    key = object_key("archive/")
    good = [archive_line(simple_item(i), f"e{i}") for i in range(3)]
    lines = [good[0], good[1][:40], '{"event_id": "x", "format": 1}', "[1, 2]", good[2]]
    put(session, bucket, key, body(lines))

    with caplog.at_level("WARNING", logger="helpers.archive_reader"):
        result = ar.read_archive(session, bucket)

    assert list(result.frame["event_id"]) == ["e0", "e2"]
    assert [(p.key, p.line) for p in result.problems] == [(key, 2), (key, 3), (key, 4)]
    assert "not valid JSON" in result.problems[0].reason and "item" in result.problems[1].reason
    assert list(result.objects["rows"]) == [2] and list(result.objects["problems"]) == [3]
    assert f"{key} line 2" in caplog.text  # logged, not silent
    assert list(result.problems_frame()["line"]) == [2, 3, 4]


def test_a_truncated_gzip_object_keeps_the_lines_before_the_damage(session, bucket):
    lines = [archive_line(simple_item(i, payload={"S": uuid.uuid4().hex * 20}), f"e{i}") for i in range(50)]
    whole = body(lines)
    key = object_key("archive/", minute=1)
    put(session, bucket, key, whole[: len(whole) // 2])
    put(session, bucket, object_key("archive/", minute=2), body([archive_line(simple_item(99), "ok")]))
    put(session, bucket, object_key("archive/", minute=3), b"\x1f\x8bnot really gzip")

    result = ar.read_archive(session, bucket)

    reasons = [p.reason for p in result.problems]
    assert any("truncated GZIP" in r for r in reasons), reasons
    bad_key = result.objects["key"][2]
    assert [p.line for p in result.problems if p.key == bad_key] == [None]
    assert result.objects["problems"].tolist()[1:] == [0, 1]
    recovered = result.frame[result.frame["object_key"] == key]
    assert 0 < len(recovered) < 50
    assert list(recovered["event_id"]) == [f"e{i}" for i in range(len(recovered))]
    assert "ok" in set(result.frame["event_id"])


def test_an_empty_archive_gives_an_empty_frame_with_the_envelope_columns(session, bucket):
    result = ar.read_archive(session, bucket)

    assert result.empty and result.problems == [] and len(result.objects) == 0
    assert list(result.frame.columns) == list(ar.ENVELOPE_COLUMNS)
    assert str(result.frame["deleted_at"].dtype) == "datetime64[ns, UTC]"
    assert "empty" in result.summary()
    missing = ar.read_archive(session, bucket + "-nope", missing_ok=True)
    assert missing.missing and "does not exist" in missing.summary()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ar.read_archive(session, bucket + "-nope")


def test_the_time_range_downloads_only_objects_that_can_hold_items_in_range(session, bucket):
    # Objects filed under 16h, 18h (two), 20h on 2026-11-26, and one a day later.
    layout = {
        "archive/2026/11/26/16/s-1-2026-11-26-16-00-00-a": "2026-11-26T16:00:00Z",
        "archive/2026/11/26/18/s-1-2026-11-26-18-00-00-b": "2026-11-26T18:00:00Z",
        "archive/2026/11/26/18/s-1-2026-11-26-18-30-00-c": "2026-11-26T18:29:00Z",
        "archive/2026/11/26/20/s-1-2026-11-26-20-00-00-d": "2026-11-26T20:00:00Z",
        "archive/2026/11/27/18/s-1-2026-11-27-18-00-00-e": "2026-11-27T18:00:00Z",
    }
    for n, (key, deleted_at) in enumerate(layout.items()):
        put(session, bucket, key, body([archive_line(simple_item(n), f"e{n}", deleted_at=deleted_at)]))
    late = "archive/2026/11/26/19/s-1-2026-11-26-19-00-00-late"  # deleted in range, delivered in the next hour
    put(session, bucket, late, body([archive_line(simple_item(9), "late", deleted_at="2026-11-26T18:59:59Z")]))
    downloaded: list[str] = []
    listed: list[str] = []
    session.events.register("provide-client-params.s3.GetObject", lambda params, **_: downloaded.append(params["Key"]))
    session.events.register("provide-client-params.s3.ListObjectsV2", lambda params, **_: listed.append(params.get("Prefix", "")))

    result = ar.read_archive(session, bucket, start="2026-11-26T18:00:00Z", end=pd.Timestamp("2026-11-26 19:00"), error_prefix=None)

    assert sorted(result.frame["event_id"]) == ["e1", "e2", "late"]
    assert sorted(downloaded) == sorted([*list(layout)[1:3], late])
    assert result.skipped_objects == 2  # 16h and 20h were listed (same day) but not downloaded
    assert "archive/2026/11/26/" in listed and not any(p.startswith("archive/2026/11/27") for p in listed)
    assert result.out_of_range == 0
    # Rows are filtered by deletion time too: objects of 18h hold items deleted from 18:00 on.
    narrow = ar.read_archive(session, bucket, start="2026-11-26T18:10:00Z", end="2026-11-26T18:40:00Z")
    assert list(narrow.frame["event_id"]) == ["e2"] and narrow.out_of_range == 2


def test_error_prefix_objects_are_read_and_reported_separately(session, bucket):
    put(session, bucket, object_key("archive/"), body([archive_line(simple_item(1), "good")]))
    raw = (archive_line(simple_item(2), "failed-1") + "\n").encode()
    error_lines = [
        json.dumps({"attemptsMade": 4, "arrivalTimestamp": 1764180000000, "errorCode": "S3.AccessDenied", "errorMessage": "Access Denied", "rawData": base64.b64encode(raw).decode()}),
        "garbage",
    ]
    error_key = f"errors/processing-failed/{DAY}/18/s-1-2026-11-26-18-00-00-x"
    put(session, bucket, error_key, body(error_lines))

    result = ar.read_archive(session, bucket)

    assert list(result.frame["event_id"]) == ["good"]
    assert list(result.error_objects["key"]) == [error_key] and len(result.objects) == 1
    rec = result.error_records.iloc[0]
    assert rec["error_code"] == "S3.AccessDenied" and rec["event_id"] == "failed-1" and rec["attempts"] == 4
    assert rec["arrived_at"] == pd.Timestamp(1764180000, unit="s", tz="UTC") and rec["raw_bytes"] == len(raw)
    assert [(p.key, p.line) for p in result.problems] == [(error_key, 2)]
    assert "1 records in 1 error objects" in result.summary()


def test_an_error_prefix_inside_the_archive_prefix_is_kept_out_of_the_rows(session, bucket):
    put(session, bucket, object_key("archive/"), body([archive_line(simple_item(1), "good")]))
    put(session, bucket, "archive/errors/x", body([json.dumps({"errorCode": "E", "rawData": ""})]))

    result = ar.read_archive(session, bucket, error_prefix="archive/errors/")

    assert list(result.frame["event_id"]) == ["good"] and result.problems == []
    assert list(result.error_records["error_code"]) == ["E"]


def test_a_record_split_into_parts_is_joined_even_across_objects(session, bucket):
    big = simple_item(1, payload={"S": "é" * 3000})
    line = archive_line(big, "big")
    parts = split_into_parts(line, "big", 1000)
    assert len(parts) >= 3
    put(session, bucket, object_key("archive/", minute=1), body(parts[:2] + [archive_line(simple_item(2), "small")]))
    put(session, bucket, object_key("archive/", minute=2), body(parts[2:] + parts[:1]))  # a re-delivered part too
    put(session, bucket, object_key("archive/", minute=3), body(split_into_parts(archive_line(simple_item(3), "lost"), "lost", 50)[:-1]))

    result = ar.read_archive(session, bucket)

    assert sorted(result.frame["event_id"]) == ["big", "small"]
    row = result.frame.set_index("event_id").loc["big"]
    assert row["payload"] == "é" * 3000
    assert [p.reason for p in result.problems] == [p.reason for p in result.problems if "lost" in p.reason and "incomplete" in p.reason]
    assert len(result.problems) == 1


def test_a_local_folder_copy_reads_the_same_as_the_bucket(session, bucket, tmp_path):
    s3 = session.client("s3")
    keys = [object_key("archive/", minute=m) for m in range(3)]
    for m, key in enumerate(keys):
        put(session, bucket, key, body([archive_line(simple_item(10 * m + i), f"e{m}-{i}") for i in range(4)], compress=m != 1))
    for key in keys:  # the copy `aws s3 sync s3://bucket folder` makes
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    from_s3 = ar.read_archive(session, bucket)
    from_folder = ar.read_archive(tmp_path, progress=False)
    ranged = ar.read_archive(str(tmp_path), start="2026-11-26T18:00:00Z", end="2026-11-26T19:00:00Z")

    pd.testing.assert_frame_equal(from_s3.frame, from_folder.frame)
    assert len(from_folder.frame) == 12 and from_folder.source == f"folder {tmp_path}"
    assert len(ranged.frame) == 12
    with pytest.raises(FileNotFoundError):
        ar.read_archive(tmp_path / "nope")


def test_parquet_export_keeps_types_and_nested_values(session, bucket, tmp_path):
    put(session, bucket, object_key("archive/"), body([archive_line(ITEM_EVERY_TYPE, "a1"), archive_line(simple_item(2), "a2")]))
    result = ar.read_archive(session, bucket)

    path = result.to_parquet(tmp_path / "out" / "archive.parquet")
    back = ar.read_parquet(path)

    assert path.exists() and len(back) == 2
    assert back["attrs"][0] == result.frame["attrs"][0]  # nested, exact (JSON text in the file)
    assert back["keys"][1] == {"id": "id-2", "timestamp": 2}
    assert back["scores"][0] == [-1, Decimal("9.5"), 10, Decimal("1E+2")]
    assert back["exact38"][0] == Decimal("1234567890123456789012345678901234567.8")
    assert back["big_int"][0] == 12345678901234567890123456789012345678
    assert back["deleted_at"].equals(result.frame["deleted_at"])
    assert (back["ttl"] == result.frame["ttl"]).all()
    assert back["timestamp"].tolist() == [1, 2] and back["event_id"].tolist() == ["a1", "a2"]
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    assert str(schema.field("attrs").type) in {"string", "large_string"} and str(schema.field("exact38").type).startswith("decimal")


def test_numbers_get_the_narrowest_exact_dtype():
    assert _column([1, 2, None]).dtype == "Int64"
    assert _column([1, Decimal("2.5")]).dtype == np.float64
    assert _column([Decimal("0.1"), Decimal("1.23456789012345678")]).dtype == object
    assert _column([2**63, 1]).dtype == object
    assert _column([True, None]).dtype == "boolean"
    assert _column(["a", 1]).dtype == object


def test_a_source_must_be_a_session_with_a_bucket_or_a_folder(session):
    with pytest.raises(ValueError, match="bucket"):
        ar.read_archive(session)
    with pytest.raises(ValueError, match="session"):
        ar.read_archive("s3://bucket/archive/")
    with pytest.raises(TypeError):
        ar.read_archive(42)
    with pytest.raises(ValueError, match="after start"):
        ar.read_archive(Path("."), start="2026-01-02", end="2026-01-01")


def test_object_hour_reads_dated_folders_or_the_firehose_name():
    assert ar.object_hour("archive/2026/11/26/18/s-1-2026-11-26-18-05-00-x") == pd.Timestamp("2026-11-26 18:00", tz="UTC")
    assert ar.object_hour("archive/table=a/s-1-2026-11-26-07-05-00-0a1b") == pd.Timestamp("2026-11-26 07:00", tz="UTC")
    assert ar.object_hour("archive/whatever") is None


def test_the_fast_path_and_the_exact_path_give_the_same_values(session, bucket, tmp_path, monkeypatch):
    nested = {"address": {"M": {"city": {"S": "Berlin"}, "zip": {"S": "10115"}}}, "tags": {"SS": ["x", "y"]}, "total": {"N": "12.5"}, "flag": {"BOOL": True}}
    for m in range(2):
        put(session, bucket, object_key("archive/", minute=m), body([archive_line(simple_item(10 * m + i, **nested), f"e{m}{i}") for i in range(5)]))
    calls = []
    real = _fast._arrow_table
    monkeypatch.setattr(_fast, "_arrow_table", lambda text: calls.append(1) or real(text))

    fast = ar.read_archive(session, bucket)
    exact = ar.read_archive(session, bucket, engine="python")

    assert len(calls) == 2  # both objects went through pyarrow
    assert list(fast.frame.columns) == list(exact.frame.columns)
    flat = [c for c in exact.frame.columns if exact.frame[c].dtype != object]
    pd.testing.assert_frame_equal(fast.frame[flat], exact.frame[flat])
    for name in ("keys", "address", "tags"):
        assert fast.frame[name].tolist() == exact.frame[name].tolist()
    back = ar.read_parquet(fast.to_parquet(tmp_path / "fast.parquet"))
    assert back["address"].tolist() == exact.frame["address"].tolist()


# --------------------------------------------------------------------------- through the real archiver


class _FirehoseToS3:
    """Stands in for Firehose: each PutRecordBatch becomes one GZIP object of the records' Data, under
    the dated key layout Firehose uses (records concatenated with no delimiter, as Firehose does)."""

    def __init__(self, session, bucket: str, stream: str) -> None:
        self.s3 = session.client("s3")
        self.bucket = bucket
        self.stream = stream
        self.calls = 0

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict]) -> dict:  # noqa: N803 - boto3's names
        self.calls += 1
        data = b"".join(r["Data"] for r in Records)
        key = f"archive/{DAY}/18/{DeliveryStreamName}-1-2026-11-26-18-{self.calls:02d}-00-{uuid.uuid4()}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=gzip.compress(data))
        return {"FailedPutCount": 0, "Encrypted": False, "RequestResponses": [{"RecordId": uuid.uuid4().hex} for _ in Records]}


class _Context:
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def _lambda_shape(av: object) -> object:
    """AttributeValues as a Lambda event carries them: binary values as base64 text."""
    if isinstance(av, dict):
        return {k: (base64.b64encode(v).decode() if k == "B" else [base64.b64encode(b).decode() for b in v] if k == "BS" else _lambda_shape(v)) for k, v in av.items()}
    if isinstance(av, list):
        return [_lambda_shape(v) for v in av]
    return av


def _ttl_remove(n: int, item: dict) -> dict:
    return {
        "eventID": f"evt-{n}",
        "eventName": "REMOVE",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-26T00:00:00.000",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "ApproximateCreationDateTime": 1764180000 + n,
            "Keys": {"id": item["id"], "timestamp": item["timestamp"]},
            "OldImage": item,
            "SequenceNumber": f"{10**20 + n}",
            "StreamViewType": "OLD_IMAGE",
        },
    }


def test_round_trip_through_the_archiver_gives_back_every_type_exactly(session, bucket, monkeypatch):
    monkeypatch.setenv("DELIVERY_STREAM_NAME", "orders-archive")
    monkeypatch.setenv("MAX_RECORD_BYTES", "2048")  # the big item below is split into part lines
    firehose = _FirehoseToS3(session, bucket, "orders-archive")
    archiver.set_firehose_client(firehose)
    big = {**ITEM_EVERY_TYPE, "id": {"S": "order-big"}, "timestamp": {"N": "3"}, "essay": {"S": "ü" * 3000}}
    other = {**ITEM_EVERY_TYPE, "id": {"S": "order-2"}, "timestamp": {"N": "2"}, "price": {"N": "0.1"}}
    originals = [ITEM_EVERY_TYPE, other, big]
    event = {"Records": [_ttl_remove(n, _lambda_shape(item)) for n, item in enumerate(originals)]}
    try:
        response = archiver.handler(event, _Context())
        archiver.handler({"Records": event["Records"][:1]}, _Context())  # a re-delivered batch: a duplicate
    finally:
        archiver.set_firehose_client(None)

    result = ar.read_archive(session, bucket)

    assert response == {"batchItemFailures": []} and firehose.calls == 2
    s3 = session.client("s3")
    stored = b"".join(gzip.decompress(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in result.objects["key"])
    assert b'"part_of"' in stored  # the big item really came as part lines
    assert result.problems == [] and result.duplicates == 1
    frame = result.frame.set_index("event_id").loc[["evt-0", "evt-1", "evt-2"]]
    expected = [{k: plain(v) for k, v in item.items() if k != "nothing"} for item in originals]
    for got, want in zip(ar.iter_items(frame.reset_index()), expected):
        assert items_equal(got, want), (got, want)
    assert frame["nothing"].isna().all()
    assert list(frame["deleted_at"]) == [pd.Timestamp(1764180000 + n, unit="s", tz="UTC") for n in range(3)]
    assert (frame["ttl"] == pd.Timestamp(1764180000, unit="s", tz="UTC")).all()
    assert frame["keys"].tolist()[1] == {"id": "order-2", "timestamp": 2}
    assert set(frame["table"]) == {"orders"} and set(frame["sequence_number"]) == {f"{10**20 + n}" for n in range(3)}


def test_text_that_looks_like_a_date_stays_text(session, bucket):
    item = simple_item(1, shipped={"S": "2026-11-20"}, history={"L": [{"M": {"at": {"S": "2026-11-21T10:00:00Z"}}}]})
    put(session, bucket, object_key("archive/"), body([archive_line(item, "d1")]))

    frame = ar.read_archive(session, bucket).frame

    assert frame["shipped"][0] == "2026-11-20" and frame["history"][0] == [{"at": "2026-11-21T10:00:00Z"}]


# --------------------------------------------------------------------------- many small objects, one pyarrow call


def _small_objects(folder: Path, count: int, lines: int, item_of) -> None:
    for m in range(count):
        path = folder / object_key("archive/", minute=m, name=f"o{m:03d}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body([archive_line(item_of(m, i), f"e{m:03d}-{i}") if (m, i) != (10, 0) else archive_line(item_of(3, 0), "e003-0") for i in range(lines)]))


def test_small_objects_parsed_together_keep_their_keys_lines_and_values(tmp_path, monkeypatch):
    nested = {"address": {"M": {"city": {"S": "Berlin"}, "zip": {"S": "10115"}}}, "tags": {"SS": ["x", "y"]}, "total": {"N": "12.5"}, "flag": {"BOOL": True}}
    _small_objects(tmp_path, 24, 3, lambda m, i: simple_item(10 * m + i, **nested))
    calls = []
    real = _fast._arrow_table
    monkeypatch.setattr(_fast, "_arrow_table", lambda text: calls.append(1) or real(text))

    fast = ar.read_archive(tmp_path, max_workers=1)
    exact = ar.read_archive(tmp_path, max_workers=1, engine="python")

    assert 0 < len(calls) < 24  # several objects per pyarrow call
    assert fast.problems == [] and fast.duplicates == exact.duplicates == 1 and len(fast.frame) == 24 * 3 - 1
    assert list(fast.frame.columns) == list(exact.frame.columns)
    flat = [c for c in exact.frame.columns if exact.frame[c].dtype != object]
    pd.testing.assert_frame_equal(fast.frame[flat], exact.frame[flat])
    for name in ("keys", "address", "tags"):
        assert fast.frame[name].tolist() == exact.frame[name].tolist()
    assert fast.frame["object_line"].tolist()[:6] == [1, 2, 3, 1, 2, 3]
    assert fast.objects["rows"].tolist() == exact.objects["rows"].tolist() and fast.objects["lines"].sum() == 24 * 3


def test_objects_that_cannot_be_parsed_together_are_read_one_by_one(tmp_path, caplog):
    # "code" is text in every object but one, where it is a number: pyarrow cannot read them as one
    _small_objects(tmp_path, 12, 2, lambda m, i: simple_item(10 * m + i, code={"N": "7"} if m == 5 else {"S": "x"}))

    with caplog.at_level("DEBUG", logger="helpers.archive_reader"):
        fast = ar.read_archive(tmp_path, max_workers=1)
    assert any("read together" in r.getMessage() and "each on its own" in r.getMessage() for r in caplog.records)
    exact = ar.read_archive(tmp_path, max_workers=1, engine="python")

    assert fast.problems == [] and len(fast.frame) == len(exact.frame) == 12 * 2 - 1
    assert fast.frame["code"].tolist() == exact.frame["code"].tolist() and fast.frame["code"].tolist().count(7) == 2
    assert fast.frame["event_id"].tolist() == exact.frame["event_id"].tolist()
    assert fast.frame["object_line"].tolist() == exact.frame["object_line"].tolist()


def test_a_long_number_in_one_object_of_a_batch_is_read_exactly_and_the_others_stay_fast(tmp_path, monkeypatch):
    # Object 4 holds a 17-digit fraction and a 20-digit integer: float64 and int64 would change them.
    long_ones = {"ratio": {"N": "0.12345678901234567"}, "big": {"N": "12345678901234567890"}}
    _small_objects(tmp_path, 10, 2, lambda m, i: simple_item(10 * m + i, **(long_ones if m == 4 else {"ratio": {"N": "0.5"}})))
    exact_calls = []
    real = _fast.parse_lines
    monkeypatch.setattr(_fast, "parse_lines", lambda out, *a: exact_calls.append(out.ref.key) or real(out, *a))

    fast = ar.read_archive(tmp_path, max_workers=1)
    exact = ar.read_archive(tmp_path, max_workers=1, engine="python")

    assert fast.problems == [] and len(fast.frame) == len(exact.frame) == 10 * 2
    assert len(exact_calls) == 1 and exact_calls[0].endswith("-o004")  # only that object took the exact path
    ratio = fast.frame["ratio"].tolist()
    assert ratio == exact.frame["ratio"].tolist() and Decimal("0.12345678901234567") in ratio
    assert 12345678901234567890 in fast.frame["big"].tolist()


@pytest.mark.parametrize("text, found", [
    (b'{"n":1234567890123456}\n', True),          # 16 digits after a colon
    (b'{"n":[1,123456789012345.6]}\n', True),     # after a comma, a fraction
    (b"1234567890123456\n", True),               # at the start of the text
    (b'{"n":123456789012345}\n', False),         # 15 characters: exact in float64
    (b'{"s":"x1234567890123456789"}\n', False),   # inside a string, after a letter
    (b'{"s":"1234567890123456789"}\n', False),    # inside a string, after the quote
    (b'{"n":-1.5e+300000000000}\n', True),        # sign, exponent: all number characters
    (b'{"n":null}\n', True),                       # a JSON null: Arrow cannot tell it from absent
    (b'{"s":"nullable"}\n', True),                 # null inside a string: conservative, the exact path
    (b'{"s":"NULL","n":1}\n', False),              # only the lowercase literal is JSON's null
])
def test_the_exact_path_scan_finds_numbers_of_16_characters_outside_strings_and_nulls(text, found):
    assert _fast._needs_exact(text) is found
    assert _fast._needs_exact(b'{"a":1}\n' * 3 + text) is found  # after other objects' lines


@pytest.mark.parametrize("conflict", [False, True], ids=["same types", "a column of two types"])
def test_tables_joined_as_they_arrive_give_the_frame_of_the_exact_path(tmp_path, monkeypatch, conflict):
    # A tiny join size, so the collector joins the fast path's tables while reading (the benchmark's
    # 100,000 items do at the default) and the frame keeps the joined chunks apart.
    from helpers.archive_reader import _collect, _columns

    monkeypatch.setattr(_collect, "COMPACT_ROWS", 8)
    monkeypatch.setattr(_columns, "COMPACT_ROWS", 8)
    nested = {"address": {"M": {"city": {"S": "Berlin"}}}, "tags": {"SS": ["x", "y"]}, "total": {"N": "12.5"}}
    code = lambda m: {"N": "7"} if conflict and m == 17 else {"S": f"c{m}"}  # noqa: E731
    _small_objects(tmp_path, 24, 3, lambda m, i: simple_item(10 * m + i, code=code(m), **nested))

    fast = ar.read_archive(tmp_path, max_workers=1)
    exact = ar.read_archive(tmp_path, max_workers=1, engine="python")

    assert fast.problems == [] and len(fast.frame) == len(exact.frame) == 24 * 3 - 1
    if not conflict:
        assert fast.frame["event_id"].array._pa_array.num_chunks > 1  # joined chunks kept, not copied again
    flat = [c for c in exact.frame.columns if exact.frame[c].dtype != object]
    pd.testing.assert_frame_equal(fast.frame[flat], exact.frame[flat])
    for name in ("keys", "address", "tags", "code"):
        assert fast.frame[name].tolist() == exact.frame[name].tolist()
    assert fast.frame["object_line"].tolist() == exact.frame["object_line"].tolist()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own CPU priority is a Linux feature")
def test_parsing_yields_the_cpu_to_a_local_server_only(session, bucket, tmp_path, monkeypatch):
    import os
    import threading

    from helpers.archive_reader import _download

    _small_objects(tmp_path, 8, 2, lambda m, i: simple_item(10 * m + i))
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            put(session, bucket, path.relative_to(tmp_path).as_posix(), path.read_bytes())
    seen = []
    real = _download.decompress
    monkeypatch.setattr(_download, "decompress", lambda raw: seen.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))) or real(raw))
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    from_folder = ar.read_archive(tmp_path, max_workers=2)
    folder_seen, seen[:] = list(seen), []
    from_local_s3 = ar.read_archive(session, bucket, max_workers=2)  # the embedded local AWS, on 127.0.0.1

    assert len(from_folder.frame) == len(from_local_s3.frame) == 16 and len(folder_seen) == len(seen) == 8
    assert all(name.startswith("archive-parser") and priority == mine for name, priority in folder_seen)
    assert all(name.startswith("archive-parser") and priority == min(19, mine + _download.PARSER_NICENESS) for name, priority in seen)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # the caller's own thread is untouched


def test_deletion_delay_chart_picks_a_readable_unit():
    import pandas as pd

    from helpers import archive_charts

    def label(delays_seconds):
        ttl = pd.Timestamp("2026-11-26T00:00:00Z")
        frame = pd.DataFrame({"ttl": [ttl] * len(delays_seconds), "deleted_at": [ttl + pd.Timedelta(seconds=s) for s in delays_seconds]})
        fig = archive_charts.deletion_delay(frame)
        return fig.axes[0].get_xlabel()

    assert label([1, 2, 3]).startswith("seconds from the TTL time to the delete")  # the embedded local AWS sweeps every second
    assert label([600, 1800]).startswith("minutes from the TTL time to the delete")
    assert label([3600 * 5, 3600 * 30]).startswith("hours from the TTL time to the delete")  # AWS: within a few days


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_the_time_range_keeps_its_start_and_drops_its_end_on_both_paths(tmp_path, monkeypatch, engine):
    """[start, end): an item deleted exactly at ``end`` belongs to the next range (ranges side by side
    must not count it twice), on the fast (pyarrow) path as on the exact one."""
    at = {"before": "17:59:59", "start": "18:00:00", "inside": "18:29:59", "end": "18:30:00", "after": "18:45:00"}
    key = tmp_path / object_key("archive/", minute=0)
    key.parent.mkdir(parents=True)
    lines = [archive_line(simple_item(i), f"e-{name}", deleted_at=f"2026-11-26T{t}Z") for i, (name, t) in enumerate(at.items())]
    key.write_bytes(body(lines))
    calls = []
    real = _fast._arrow_table
    monkeypatch.setattr(_fast, "_arrow_table", lambda text: calls.append(1) or real(text))

    got = ar.read_archive(tmp_path, start="2026-11-26T18:00:00Z", end="2026-11-26T18:30:00Z", engine=engine, max_workers=1, progress=False)

    assert sorted(got.frame["event_id"]) == ["e-inside", "e-start"]
    assert got.out_of_range == 3
    assert len(calls) == (1 if engine == "auto" else 0)  # the fast path read it (or, for "python", did not)


# --------------------------------------------------------------------------- edges found by mutation testing (issue 15)


def _folder_object(folder: Path, key: str, data: bytes) -> str:
    path = folder / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return key


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_deletion_times_keep_their_offset_and_microseconds_on_both_paths(tmp_path, engine):
    stamps = {"e-offset": "2026-11-26T20:00:00+02:00", "e-micro": "2026-11-26T18:00:00.123456Z", "e-naive": "2026-11-26T18:00:01.5"}
    _folder_object(tmp_path, object_key("archive/"), body([archive_line(simple_item(i), eid, deleted_at=t) for i, (eid, t) in enumerate(stamps.items())]))

    got = ar.read_archive(tmp_path, engine=engine, max_workers=1, progress=False)

    assert got.problems == []
    assert dict(zip(got.frame["event_id"], got.frame["deleted_at"])) == {
        "e-offset": pd.Timestamp("2026-11-26T18:00:00Z"),
        "e-micro": pd.Timestamp("2026-11-26T18:00:00.123456Z"),
        "e-naive": pd.Timestamp("2026-11-26T18:00:01.5Z"),
    }


def test_a_ttl_at_the_edge_of_the_usable_range_is_no_time():
    # 2**62 s either way is the reader's bound (beyond it a ttl is not a time); just inside it is kept
    edge = 2**62
    rows = {n: ar._decode.record_row({"event_id": "e", "item": {}, "ttl": n}, 1)[0][8] for n in (-edge, edge, -edge + 1, edge - 1)}
    assert rows == {-edge: ar._decode.NAT, edge: ar._decode.NAT, -edge + 1: -edge + 1, edge - 1: edge - 1}


def test_gzip_padded_with_zero_bytes_and_blank_lines_keeps_every_line(tmp_path):
    data = gzip.compress(b'a\n\n  \nb\n') + gzip.compress(b"c\n") + b"\x00" * 512
    assert ar.object_lines(data) == [b"a", b"b", b"c"]

    lines = [archive_line(simple_item(i), f"e-{i}") for i in range(3)]
    _folder_object(tmp_path, object_key("archive/"), body(lines) + b"\x00" * 512)
    got = ar.read_archive(tmp_path, max_workers=1, progress=False)
    assert got.problems == [] and got.frame["event_id"].tolist() == ["e-0", "e-1", "e-2"]


def test_a_truncated_gzip_object_names_the_lines_read_and_the_cut_line(tmp_path):
    import zlib

    lines = [archive_line(simple_item(i), f"e-{i}") for i in range(8)]
    data = body(lines)
    cut = data[: len(data) * 2 // 3]
    text = zlib.decompressobj(wbits=31).decompress(cut)
    whole = text.count(b"\n")
    assert 0 < whole < 8 and not text.endswith(b"\n")  # the cut falls inside a line
    key = _folder_object(tmp_path, object_key("archive/"), cut)

    got = ar.read_archive(tmp_path, max_workers=1, progress=False)

    assert got.frame["event_id"].tolist() == [f"e-{i}" for i in range(whole)]
    (damage, partial) = got.problems
    assert (damage.key, damage.line) == (key, None) and f"; {whole} lines before the damage were read" in damage.reason
    assert (partial.key, partial.line, partial.reason) == (key, whole + 1, "incomplete last line (cut by the damage above): skipped")


def test_only_a_damaged_last_line_is_hinted_as_a_missing_newline(tmp_path):
    good = [archive_line(simple_item(i), f"e-{i}") for i in range(2)]
    key = _folder_object(tmp_path, object_key("archive/"), f"{good[0]}\n{{not json\n{good[1]}\n{{cut".encode())

    got = ar.read_archive(tmp_path, max_workers=1, progress=False)

    assert got.frame["event_id"].tolist() == ["e-0", "e-1"]
    assert [(p.key, p.line, p.reason.startswith("not valid JSON"), p.reason.endswith("missing newline at the end of the object?")) for p in got.problems] == [
        (key, 2, True, False), (key, 4, True, True)]


def test_damaged_split_records_are_reported_at_their_first_part(tmp_path):
    def part(event_id, i, n, data):
        return json.dumps({"part_of": event_id, "part": i, "parts": n, "data": data, "format": 1})

    no_id = json.dumps({"item": {"a": 1}, "format": 1})
    lines = [
        part("evt-a", 0, 2, '{"event_id": "evt-a", "ite'), part("evt-a", 1, 2, "m: broken"),  # joins into invalid JSON
        part("evt-b", 0, 2, "[1, "), part("evt-b", 1, 2, "2]"),  # a JSON list, not a record
        part("evt-c", 0, 2, no_id[:10]), part("evt-c", 1, 2, no_id[10:]),  # a record without event_id
        json.dumps({"part_of": "evt-d", "part": 2, "parts": 2, "data": "x"}),  # part index out of range
        part("evt-e", 0, 2, "{"), part("evt-e", 1, 3, "}"),  # the parts disagree on their count
    ]
    key = _folder_object(tmp_path, object_key("archive/"), body(lines))

    got = ar.read_archive(tmp_path, max_workers=1, progress=False)

    assert len(got.frame) == 0
    found = {(p.key, p.line): p.reason for p in got.problems}
    assert set(found) == {(key, line) for line in (1, 3, 5, 7, 9, 8)}
    assert found[(key, 1)].startswith("record evt-a joined from 2 parts is not valid JSON (")
    assert found[(key, 3)] == "record evt-b joined from 2 parts: joined parts are not a JSON object"
    assert found[(key, 5)] == "record evt-c joined from 2 parts: not an archive record: no event_id"
    assert found[(key, 7)] == "malformed part line (needs part_of, part, parts, data)"
    assert found[(key, 9)] == "part 1 of evt-e says 3 parts, an earlier one said 2"
    assert found[(key, 8)] == "record evt-e incomplete: parts [0] of 2 found; skipped"


def test_firehose_error_records_keep_code_message_and_only_a_numeric_arrival(tmp_path):
    raw = base64.b64encode((archive_line(simple_item(1), "evt-1") + "\n").encode()).decode()
    records = [
        {"attemptsMade": 4, "arrivalTimestamp": 1764180000123, "errorCode": "Lambda.FunctionError", "errorMessage": "boom", "rawData": raw},
        {"attemptsMade": 1, "approximateArrivalTimestamp": "soon", "errorCode": "X", "errorMessage": "late", "rawData": raw},
        {"attemptsMade": 1, "approximateArrivalTimestamp": True, "errorCode": "Y", "errorMessage": "flag", "rawData": raw},
        # the archiver packs several lines into one Firehose record: the first one names it
        {"attemptsMade": 2, "errorCode": "Z", "errorMessage": "packed", "rawData": base64.b64encode(
            (archive_line(simple_item(2), "evt-2") + "\n" + archive_line(simple_item(3), "evt-3") + "\n").encode()).decode()},
    ]
    _folder_object(tmp_path, f"errors/{DAY}/18/err-1", body([json.dumps(r) for r in records]))
    # an error object filed more than late_delivery after the range's end is not read
    _folder_object(tmp_path, "errors/2026/11/27/05/err-2", body([json.dumps(records[0])]))

    got = ar.read_archive(tmp_path, start="2026-11-26T00:00:00Z", end="2026-11-27T00:00:00Z", max_workers=1, progress=False)

    errors = got.error_records
    assert errors["error_code"].tolist() == ["Lambda.FunctionError", "X", "Y", "Z"]
    assert errors["error_message"].tolist() == ["boom", "late", "flag", "packed"]
    assert errors["event_id"].tolist() == ["evt-1"] * 3 + ["evt-2"]
    assert errors["arrived_at"].tolist()[0] == pd.Timestamp(1764180000123, unit="ms", tz="UTC")
    assert errors["arrived_at"][1:].isna().all()
    assert got.error_objects["key"].tolist() == [f"errors/{DAY}/18/err-1"] and got.skipped_objects == 1


def test_objects_that_fail_to_download_are_problems_with_no_counts(tmp_path, monkeypatch):
    keys = [_folder_object(tmp_path, object_key("archive/", minute=m), body([archive_line(simple_item(m), f"e-{m}")])) for m in range(3)]
    real = ar.FolderSource.read

    def read(self, key):
        if key == keys[0]:
            raise ar._sources.ReadFailed("gone")
        if key == keys[1]:
            raise RuntimeError("boom")
        return real(self, key)

    monkeypatch.setattr(ar.FolderSource, "read", read)
    got = ar.read_archive(tmp_path, max_workers=1, progress=False)

    assert got.frame["event_id"].tolist() == ["e-2"]
    assert [(p.key, p.line, p.reason) for p in got.problems] == [(keys[0], None, "gone"), (keys[1], None, "unexpected RuntimeError: boom")]
    objects = got.objects.set_index("key")
    for key in keys[:2]:
        assert objects.loc[key, ["compressed", "decompressed_bytes", "lines", "rows"]].isna().all()
        assert objects.loc[key, "problems"] == 1
    assert objects.loc[keys[2], ["lines", "rows", "problems"]].tolist() == [1, 1, 0]


@pytest.mark.parametrize("progress, objects, shown", [(True, 1, True), (False, 20, False)])
def test_the_progress_argument_decides_the_bar(tmp_path, capsys, progress, objects, shown):
    for m in range(objects):
        _folder_object(tmp_path, object_key("archive/", minute=m), body([archive_line(simple_item(m))]))
    ar.read_archive(tmp_path, max_workers=1, progress=progress)
    assert (f"reading folder {tmp_path}" in capsys.readouterr().err) is shown


def test_an_empty_range_a_missing_folder_and_a_prefix_without_slash(tmp_path):
    with pytest.raises(ValueError, match="must be after start"):
        ar.read_archive(tmp_path, start="2026-11-26T18:00:00Z", end="2026-11-26T18:00:00Z")

    missing = ar.read_archive(tmp_path / "nothing", missing_ok=True)
    assert missing.missing and len(missing.frame) == 0
    assert list(missing.error_objects.columns) == list(missing.objects.columns) and len(missing.error_objects) == 0

    # prefix "arch": its only folder is a year folder, but a file next to it belongs to the prefix too
    _folder_object(tmp_path, f"arch{DAY}/18/stream-1", body([archive_line(simple_item(1), "e-dated")]))
    _folder_object(tmp_path, "arch-undated", body([archive_line(simple_item(2), "e-undated")]))
    got = ar.read_archive(tmp_path, prefix="arch", start="2026-11-26T00:00:00Z", end="2026-11-27T00:00:00Z", max_workers=1, progress=False)
    assert sorted(got.frame["event_id"]) == ["e-dated", "e-undated"]


class _FailingS3:
    """A boto3 session whose S3 client answers every call with one error code."""

    def __init__(self, code: str) -> None:
        self.code = code

    def client(self, name, config=None):
        from botocore.exceptions import ClientError

        code = self.code

        class Client:
            def head_bucket(self, **kw):
                raise ClientError({"Error": {"Code": code, "Message": "m"}}, "HeadBucket")

            def get_object(self, **kw):
                raise ClientError({"Error": {"Code": code, "Message": "m"}}, "GetObject")

        return Client()


@pytest.mark.parametrize("code, exists", [("404", False), ("NoSuchBucket", False), ("NotFound", False),
                                          ("403", PermissionError), ("AccessDenied", PermissionError), ("Forbidden", PermissionError)])
def test_s3_bucket_checks_tell_missing_from_denied(code, exists):
    src = ar._sources.make_source(_FailingS3(code), "b", 4)
    if exists is PermissionError:
        with pytest.raises(PermissionError, match="access to bucket b denied"):
            src.exists()
    else:
        assert src.exists() is False


@pytest.mark.parametrize("code, says", [("NoSuchKey", "deleted between listing and download"), ("InvalidObjectState", "run RestoreObject first"),
                                        ("AccessDenied", "access denied: the caller needs s3:GetObject"), ("403", "access denied"),
                                        ("SlowDown", "GetObject failed: SlowDown: m")])
def test_s3_download_errors_say_what_to_do(code, says):
    src = ar._sources.make_source(_FailingS3(code), "b", 4)
    with pytest.raises(ar._sources.ReadFailed, match=says):
        src.read("k")


def test_ints_join_fractions_as_floats_only_where_float_is_exact_and_big_ints_stay_exact():
    assert _column([1000, Decimal("0.5"), None]).tolist()[:2] == [1000.0, 0.5] and _column([1000, Decimal("0.5")]).dtype == np.float64
    assert _column([2**53, Decimal("0.5")]).dtype == np.float64 and _column([-(2**53), Decimal("0.5")]).dtype == np.float64
    assert _column([2**53 + 1, Decimal("0.5")]).dtype == object  # float64 would round it
    big = _column([2**63, None])  # beyond int64: exact Python ints, not pandas' UInt64 guess
    assert isinstance(big, np.ndarray) and big.dtype == object and big.tolist() == [2**63, None]


def test_frames_joined_keep_a_column_only_one_has_with_its_type():
    from helpers.archive_reader._columns import concat_frames

    one = pd.DataFrame({"id": ["a"], "n": np.array([7], dtype=np.int64), "flag": np.array([True])})
    two = pd.DataFrame({"id": ["b"]})

    joined = concat_frames([one, two])

    assert joined["n"].dtype == "Int64" and joined["n"].tolist() == [7, pd.NA]
    assert joined["flag"].dtype == "boolean" and joined["flag"].tolist() == [True, pd.NA]


def _record_text(event_id: str, item: dict, **envelope) -> str:
    return json.dumps({"event_id": event_id, "table": "orders", "item": item, "format": 1, **envelope})


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_records_without_times_read_as_missing_utc_times_on_both_paths(tmp_path, monkeypatch, engine):
    _folder_object(tmp_path, object_key("archive/"), body([_record_text(f"e-{i}", {"n": i}) for i in range(3)]))
    calls = []
    real = _fast._arrow_table
    monkeypatch.setattr(_fast, "_arrow_table", lambda text: calls.append(1) or real(text))

    frame = ar.read_archive(tmp_path, engine=engine, max_workers=1, progress=False).frame

    assert len(calls) == (1 if engine == "auto" else 0)
    assert frame["n"].tolist() == [0, 1, 2]
    for name in ("deleted_at", "ttl"):
        assert isinstance(frame[name].dtype, pd.DatetimeTZDtype) and str(frame[name].dt.tz) == "UTC" and frame[name].isna().all()


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_envelope_values_of_the_wrong_type_read_the_same_on_both_paths(tmp_path, engine):
    good = _record_text("e-good", {"n": 1}, ttl=1764180000)
    _folder_object(tmp_path, object_key("archive/", minute=1), body([good, _record_text("e-fraction-format", {"n": 2}).replace('"format": 1', '"format": 1.0')]))
    _folder_object(tmp_path, object_key("archive/", minute=2), body([_record_text("e-text-ttl", {"n": 3}, ttl="soon")]))
    _folder_object(tmp_path, object_key("archive/", minute=3), body([_record_text("e-fraction-ttl", {"n": 4}, ttl=1764180000.5)]))

    got = ar.read_archive(tmp_path, engine=engine, max_workers=1, progress=False)

    assert [p.line for p in got.problems] == [2] and "archive format Decimal('1.0') unknown" in got.problems[0].reason
    ttl = dict(zip(got.frame["event_id"], got.frame["ttl"]))
    assert ttl["e-good"] == ttl["e-fraction-ttl"] == pd.Timestamp(1764180000, unit="s", tz="UTC") and pd.isna(ttl["e-text-ttl"])


def test_the_fast_path_reads_nested_values_into_arrow_columns_from_a_fresh_start(tmp_path, monkeypatch):
    monkeypatch.setattr(_fast, "_ARROW_TYPES", _fast._LazyTypes())  # as in a new process: the type checks not built yet
    _folder_object(tmp_path, object_key("archive/"), body([_record_text(f"e-{i}", {"address": {"city": "Berlin", "zip": str(i)}}) for i in range(2)]))

    fast = ar.read_archive(tmp_path, max_workers=1, progress=False).frame
    exact = ar.read_archive(tmp_path, engine="python", max_workers=1, progress=False).frame

    assert isinstance(fast["address"].dtype, pd.ArrowDtype) and exact["address"].dtype == object
    assert fast["address"].tolist() == exact["address"].tolist() == [{"city": "Berlin", "zip": "0"}, {"city": "Berlin", "zip": "1"}]


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_parquet_of_a_filtered_frame_keeps_each_row_with_its_own_values(tmp_path, engine):
    lines = [_record_text(f"e-{i}", {"n": i, "address": {"city": f"c{i}"}, "tags": [i, i + 1]}) for i in range(5)]
    _folder_object(tmp_path / "bucket", object_key("archive/"), body(lines))
    frame = ar.read_archive(tmp_path / "bucket", engine=engine, max_workers=1, progress=False).frame
    odd = frame[frame["n"] % 2 == 1]

    path = ar.write_parquet(odd, tmp_path / "new" / "folder" / "odd.parquet")
    back = ar.read_parquet(path)

    import pyarrow.parquet as pq

    assert list(back.columns) == list(frame.columns) == pq.read_schema(path).names  # no index column for other readers
    assert back["event_id"].tolist() == ["e-1", "e-3"] and back["n"].tolist() == [1, 3]
    assert back["address"].tolist() == [{"city": "c1"}, {"city": "c3"}] and back["tags"].tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_a_time_range_drops_records_without_a_deletion_time_on_both_paths(tmp_path, monkeypatch, engine):
    # in one object with timed records, the fast path sees the missing deleted_at as a null
    lines = [_record_text("e-timed", {"n": 1}, deleted_at="2026-11-26T18:00:00Z"), _record_text("e-untimed", {"n": 2})]
    _folder_object(tmp_path, object_key("archive/"), body(lines))
    calls = []
    real = _fast._arrow_table
    monkeypatch.setattr(_fast, "_arrow_table", lambda text: calls.append(1) or real(text))

    got = ar.read_archive(tmp_path, start="2026-11-26T00:00:00Z", end="2026-11-27T00:00:00Z", engine=engine, max_workers=1, progress=False)

    assert len(calls) == (1 if engine == "auto" else 0)
    assert got.frame["event_id"].tolist() == ["e-timed"] and got.out_of_range == 1


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_envelope_text_that_is_not_text_is_a_problem_not_a_crash(tmp_path, engine):
    bad = {"table": {"name": "orders"}, "region": ["us-east-1"], "sequence_number": 12, "event_source_arn": {"arn": "x"}, "ttl_attribute": 5}
    keys = {}
    for m, (name, value) in enumerate(bad.items()):
        good = _record_text(f"e-good-{m}", {"n": m}, region="us-east-1", event_source_arn="arn:x", ttl_attribute="ttl", sequence_number="1")
        _folder_object(tmp_path, object_key("archive/", minute=m), body([good]))
        # alone in its object, so the fast path sees a column of that type (not one it cannot join with text)
        keys[name] = _folder_object(tmp_path, object_key("archive/", minute=10 + m), body([_record_text(f"e-bad-{m}", {"n": m}, **{name: value})]))

    got = ar.read_archive(tmp_path, engine=engine, max_workers=1, progress=False)

    assert got.frame["event_id"].tolist() == [f"e-good-{m}" for m in range(len(bad))]
    assert [(p.key, p.line, p.reason) for p in got.problems] == [(keys[name], 1, f"not an archive record: {name} is not text") for name in bad]
