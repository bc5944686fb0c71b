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
        expires_at=0, refreshed_until=0, ids={"expired": ["verify-r1-expired-000000"], "future": ["verify-r1-future-000000"],
                                              "user_deleted": ["verify-r1-user_deleted-000000"]},
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
