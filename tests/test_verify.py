"""helpers.verify without the pipeline: decoding archive objects by content, joining split lines,
the report's verdicts, and saving / resuming a run."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from helpers import verify
from helpers.archive_reader import PartJoiner, object_lines
from helpers.target import Identity


def _run(**overrides) -> verify.TestRun:
    values = dict(
        run_id="r1", stack="s", table_name="s-items", bucket_name="b", archive_prefix="archive/", partition_key="id",
        sort_key="timestamp", ttl_attribute="expires_at", sort_value=1, written_at=time.time(), write_seconds=0.1,
        expires_at=0, refreshed_until=0, counts={"expired": 1, "future": 1, "user_deleted": 1},
        future_expires_at=int(time.time()) + 3600,
    )
    values.update(overrides)
    return verify.TestRun(**values)


def test_objects_are_decoded_by_content_not_by_name():
    text = b'{"a": 1}\n{"b": 2}\n'
    assert object_lines(text) == [b'{"a": 1}', b'{"b": 2}']
    assert object_lines(gzip.compress(text)) == [b'{"a": 1}', b'{"b": 2}']
    assert object_lines(gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"b": 2}\n')) == [b'{"a": 1}', b'{"b": 2}']
    assert object_lines(b"\x1f\x8b not really gzip") == []
    assert object_lines(gzip.compress(text)[:-12]) == [b'{"a": 1}']  # truncated: the whole lines before the damage


def test_split_lines_are_joined_into_one_record():
    record = json.dumps({"event_id": "e1", "keys": {"id": "verify-r1-expired-000000"}, "item": {"id": "x"}, "format": 1})
    half = len(record) // 2
    scanner = verify.ArchiveScanner.__new__(verify.ArchiveScanner)
    scanner.run = _run()
    scanner.parts = PartJoiner()
    part0 = json.dumps({"part_of": "e1", "part": 0, "parts": 2, "data": record[:half], "format": 1})
    part1 = json.dumps({"part_of": "e1", "part": 1, "parts": 2, "data": record[half:], "format": 1})
    assert scanner._parse(part1) is None
    assert scanner._parse(part0)["event_id"] == "e1"
    assert scanner.parts.pending == {}


def test_report_verdicts():
    good = verify.Report("r", 10, 10, 0, 0, 0, 1, 1.0, controls_kept=2, controls_expected_kept=2)
    assert good.ok and good.raise_for_problems() is good
    pending = verify.Report("r", 10, 7, 0, 0, 3, 1, 1.0, missing_sample=["k1"], controls_kept=2, controls_expected_kept=2)
    assert not pending.ok
    with pytest.raises(AssertionError, match="3 expired items are not archived"):
        pending.raise_for_problems()
    assert pending.raise_for_problems(allow_pending=True) is pending  # AWS: TTL takes days
    wrong = verify.Report("r", 10, 10, 0, 1, 0, 1, 1.0, unexpected_ids=["verify-r-future-0"], controls_kept=2, controls_expected_kept=2)
    with pytest.raises(AssertionError, match="1 items archived that must not be"):
        wrong.raise_for_problems(allow_pending=True)
    gone = verify.Report("r", 10, 10, 0, 0, 0, 1, 1.0, controls_kept=1, controls_expected_kept=2)
    with pytest.raises(AssertionError, match="only 1 of 2 items that must stay"):
        gone.raise_for_problems(allow_pending=True)
    payload = good.to_dict()
    assert {"expired_written", "archived_unique", "duplicates", "unexpected", "missing", "s3_objects", "seconds", "ok"} <= payload.keys()
    assert "sample_record" not in payload


def test_future_items_stop_being_controls_once_their_own_ttl_has_passed():
    run = _run()
    assert set(run.control_ids) == {"verify-r1-future-000000", "verify-r1-user_deleted-000000"}
    later = _run(future_expires_at=int(time.time()) - 1)
    assert later.control_ids == ["verify-r1-user_deleted-000000"]


def test_a_saved_run_is_found_again_for_the_same_stack_account_and_region(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from helpers.settings import Settings

    settings = Settings(stack="st")
    ident = Identity("123456789012", "eu-west-1", "arn:aws:iam::123456789012:user/me", None)
    assert verify.load_run(settings, ident) is None
    run = _run()
    verify.save_run(run, verify.run_path(settings, ident.account_id, ident.region))
    assert verify.load_run(settings, ident) == run
    assert verify.load_run(Settings(stack="other"), ident) is None
    verify.run_path(settings, ident.account_id, ident.region).write_text("{not json")
    assert verify.load_run(settings, ident) is None


def test_invalid_counts_are_refused_before_writing(session):
    from helpers.settings import Settings

    ident = Identity("123456789012", "us-east-1", "arn:aws:iam::123456789012:user/me", None)
    with pytest.raises(ValueError, match="number of expired items"):
        verify.start_run(session, Settings(stack="st"), ident, expired=-1, save=False)
    with pytest.raises(ValueError, match="five years"):
        verify.start_run(session, Settings(stack="st"), ident, expired=1, expires_at=int(time.time()) - 6 * 365 * 24 * 3600, save=False)


def test_a_run_keeps_counts_not_key_lists_and_reads_runs_saved_with_key_lists():
    run = _run(counts={"expired": 3, "future": 2, "user_deleted": 0, "refreshed": 0})
    assert run.expired_ids == ["verify-r1-expired-000000", "verify-r1-expired-000001", "verify-r1-expired-000002"]
    assert run.parse_key("verify-r1-future-000001") == ("future", 1)
    assert run.parse_key("verify-r1-future-000002") is None  # beyond what was written
    assert run.parse_key("verify-r2-expired-000000") is None and run.parse_key("other") is None
    assert run.key("expired", 1_234_567) == "verify-r1-expired-1234567"
    old = json.loads(run.to_json())
    old["ids"] = {kind: run.ids_of(kind) for kind in old.pop("counts")}
    assert verify.TestRun.from_json(json.dumps(old)) == run


def test_the_check_counts_duplicates_unexpected_and_missing_from_what_s3_holds(session):
    """A hand-made archive: a duplicate delivery, a split line, a control that must not be there, another run's line."""
    bucket = f"verify-check-{int(time.time() * 1000)}"
    s3 = session.client("s3")
    s3.create_bucket(Bucket=bucket)
    session.client("dynamodb").create_table(
        TableName=bucket, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "timestamp", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "timestamp", "KeyType": "RANGE"}])
    run = _run(bucket_name=bucket, table_name=bucket, counts={"expired": 4, "future": 1, "user_deleted": 1, "refreshed": 0},
               written_at=time.time() - 5)

    def line(key: str, event: str) -> str:
        return json.dumps({"event_id": event, "keys": {"id": key, "timestamp": 1}, "item": {"id": key}, "format": 1})

    long = line("verify-r1-expired-000002", "e2")
    half = len(long) // 2
    parts = [json.dumps({"part_of": "e2", "part": i, "parts": 2, "data": d, "format": 1}) for i, d in enumerate((long[:half], long[half:]))]
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime())
    body = "\n".join([line("verify-r1-expired-000000", "e0"), line("verify-r1-expired-000000", "e0"), *parts,
                      line("verify-r1-future-000000", "e9"), line("verify-r2-expired-000003", "x1")]) + "\n"
    s3.put_object(Bucket=bucket, Key=f"archive/{hour}/a.gz", Body=gzip.compress(body.encode()))
    s3.put_object(Bucket=bucket, Key=f"archive/{hour}/b", Body=(line("verify-r1-expired-000001", "e1") + "\n").encode())
    report = verify.check(session, run)
    assert (report.expired_written, report.archived_unique, report.missing) == (4, 3, 1)
    assert report.missing_sample == ["verify-r1-expired-000003"]
    assert report.duplicates == 1
    assert report.unexpected == 1 and report.unexpected_ids == ["verify-r1-future-000000"]
    assert report.s3_objects == 2
    assert report.sample_record["keys"]["id"] == "verify-r1-expired-000000"
    assert report.controls_kept == 0 and report.controls_expected_kept == 1 and not report.ok  # the future item is not in the table
