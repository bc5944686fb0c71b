"""helpers.archive_reader: the listing goes on while the first objects download, every object is a download
task of its own, and the order, the counts and the failures stay what a read of a finished listing gives."""

from __future__ import annotations

import gzip
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from helpers import archive_reader as ar
from helpers.archive_reader import _download, _fast, _listing, _sources

from .test_archive_reader import archive_line, body, bucket, object_key, put, simple_item  # noqa: F401 - bucket is a fixture


def _objects(folder: Path, count: int) -> list[str]:
    keys = []
    for m in range(count):
        key = object_key("archive/", minute=m, name=f"o{m:03d}")
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body([archive_line(simple_item(m), f"e{m:03d}")]))
        keys.append(key)
    return keys


def test_s3_lists_a_small_first_page_then_full_pages_in_key_order(session, bucket, monkeypatch):
    monkeypatch.setattr(_sources, "FIRST_PAGE_KEYS", 10)
    keys = [object_key("archive/", minute=m, name=f"o{m:03d}") for m in range(25)]
    for key in reversed(keys):
        put(session, bucket, key, body([archive_line(simple_item(1))]))

    pages = list(ar.S3Source(session, bucket, 4).list_pages("archive/"))

    assert [len(p) for p in pages] == [10, 15]  # then S3's own page size (1,000)
    assert [ref.key for page in pages for ref in page] == sorted(keys)
    assert all(abs(pd.Timestamp.now(tz="UTC") - ref.stored_at) < pd.Timedelta(hours=1) for page in pages for ref in page)


def test_downloads_start_while_the_listing_goes_on(tmp_path, monkeypatch):
    _objects(tmp_path, 6)
    first_read = threading.Event()
    waited = []
    real_read = ar.FolderSource.read

    def list_pages(self, prefix):
        refs = list(self.list(prefix))
        yield refs[:2]
        waited.append(first_read.wait(timeout=10))  # a read of the first page before the second is listed
        yield refs[2:]

    monkeypatch.setattr(ar.FolderSource, "list_pages", list_pages)
    monkeypatch.setattr(ar.FolderSource, "read", lambda self, key: first_read.set() or real_read(self, key))
    got = ar.read_archive(tmp_path, error_prefix=None, max_workers=2, progress=False)

    assert waited == [True]
    assert got.frame["event_id"].tolist() == [f"e{m:03d}" for m in range(6)] and not got.problems


def test_a_listing_that_fails_half_way_raises_and_leaves_no_thread_behind(tmp_path, monkeypatch):
    _objects(tmp_path, 4)

    def list_pages(self, prefix):
        yield list(self.list(prefix))[:2]
        raise PermissionError("ListObjectsV2 denied on the second page")

    monkeypatch.setattr(ar.FolderSource, "list_pages", list_pages)
    with pytest.raises(PermissionError, match="second page"):
        ar.read_archive(tmp_path, max_workers=2, progress=False)
    for thread in threading.enumerate():
        if thread.name.startswith(("archive-lister", "archive-reader", "archive-parser")):
            thread.join(timeout=5)
            assert not thread.is_alive(), thread.name


def test_each_object_of_a_job_is_a_download_task_of_its_own():
    # Three objects of one job meet at a barrier: only three threads downloading at once get past it.
    barrier = threading.Barrier(3, timeout=10)
    data = body([archive_line(simple_item(1), "e-1")])

    class Source:
        def read(self, key):
            barrier.wait()
            return data

    refs = tuple(_sources.ObjectRef(f"archive/k{i}", len(data), None) for i in range(3))
    with ThreadPoolExecutor(3) as pool, ThreadPoolExecutor(1) as parser:
        decoded = _download.submit_job(pool, parser, Source(), (refs, False), True).result(timeout=30)

    assert [d.ref.key for d in decoded] == [r.key for r in refs]
    assert all(not d.problems and d.lines == 1 for d in decoded)


class _Interrupted(BaseException):
    """Not an Exception: what a download must not swallow, and what must not leave the job waiting."""


def test_a_download_that_raises_beyond_exception_settles_its_job():
    class Source:
        def read(self, key):
            if key.endswith("1"):
                raise _Interrupted()
            return gzip.compress(b"")

    refs = tuple(_sources.ObjectRef(f"archive/k{i}", 1, None) for i in range(3))
    with ThreadPoolExecutor(2) as pool, ThreadPoolExecutor(1) as parser:
        job = _download.submit_job(pool, parser, Source(), (refs, False), True)
        with pytest.raises(_Interrupted):
            job.result(timeout=30)


def test_a_folder_is_read_in_the_key_order_s3_lists_not_path_order(tmp_path):
    # "-" (0x2d) sorts before "/" (0x2f) in a key; a path compares folder names first.
    for key, event_id in (("archive/x/a", "e-slash"), ("archive/x-y/a", "e-dash")):
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body([archive_line(simple_item(1), event_id)]))

    got = ar.read_archive(tmp_path, progress=False)

    assert got.objects["key"].tolist() == ["archive/x-y/a", "archive/x/a"]
    assert got.frame["event_id"].tolist() == ["e-dash", "e-slash"]


def test_a_key_listed_twice_is_read_once_and_one_out_of_order_is_read_and_logged(caplog):
    refs = [_sources.ObjectRef(k, 1, None) for k in ("archive/b", "archive/b", "archive/c", "archive/a", "archive/d")]

    class Source:
        def list_pages(self, prefix):
            yield refs[:3]
            yield refs[3:]

    listing = _listing.Listing(Source(), "archive/", None, None, None, ar._read.timedelta(hours=1))
    with caplog.at_level(logging.WARNING):
        pages = list(listing.pages())

    assert [[r.key for r in page] for page, errors in pages] == [["archive/b", "archive/c"], ["archive/a", "archive/d"]]
    assert listing.archive_objects == 4 and "out of key order: archive/a after archive/c" in caplog.text


def test_the_listing_counts_archive_and_error_objects_apart(tmp_path, caplog):
    _objects(tmp_path, 2)
    error_key = object_key("errors/", name="err")
    (tmp_path / error_key).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / error_key).write_bytes(body(['{"attemptsMade": 1, "errorCode": "Lambda.Failed", "rawData": "eA=="}']))

    with caplog.at_level(logging.INFO, logger="helpers.archive_reader"):
        got = ar.read_archive(tmp_path, progress=False)

    assert len(got.error_objects) == 1 and "listed 2 archive objects and 1 error objects" in caplog.text


def test_an_error_prefix_that_is_the_archive_prefix_keeps_every_archive_object(tmp_path):
    keys = _objects(tmp_path, 2)

    got = ar.read_archive(tmp_path, prefix="archive/", error_prefix="archive/", progress=False)

    assert got.objects["key"].tolist() == keys and len(got.frame) == 2 and got.error_objects.empty


def test_the_progress_bar_grows_with_the_listing(tmp_path, monkeypatch, capsys):
    _objects(tmp_path, 30)

    def list_pages(self, prefix):
        refs = list(self.list(prefix))
        yield refs[:5]  # too few for a bar on their own
        yield refs[5:]

    monkeypatch.setattr(ar.FolderSource, "list_pages", list_pages)
    got = ar.read_archive(tmp_path, error_prefix=None, max_workers=2)

    assert len(got.frame) == 30 and "30/30" in capsys.readouterr().err


def test_the_skipped_count_is_final_when_the_read_ends(tmp_path):
    for hour in ("10", "18", "23"):
        key = object_key("archive/", hour=hour, name=f"h{hour}")
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body([archive_line(simple_item(int(hour)), f"e{hour}")]))

    got = ar.read_archive(tmp_path, start="2026-11-26T18:00:00Z", end="2026-11-26T19:00:00Z", progress=False)

    assert got.skipped_objects == 2 and got.objects["key"].str.contains("/18/").all()


def test_envelope_fields_typed_up_front_read_as_inference_would(tmp_path):
    # The fast path gives pyarrow the envelope's text fields and format up front: a field no row has is
    # still absent, a date-like text stays text, and a number where text belongs sends the object to
    # the exact path (the same problem as engine="python" reports).
    lines = [
        archive_line(simple_item(1), "e-plain"),
        json.dumps({"event_id": "e-bare", "item": {"id": "x"}, "format": 1}),  # no table, region, ...
        archive_line(simple_item(2), "e-date-table", table="2026-11-26"),
    ]
    odd = json.dumps({"event_id": "e-number-table", "table": 7, "item": {"id": "y"}, "format": 1})
    for name, text in (("a", lines), ("b", [odd])):
        path = tmp_path / object_key("archive/", name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body(text))

    fast = ar.read_archive(tmp_path, progress=False)
    exact = ar.read_archive(tmp_path, progress=False, engine="python")

    problems = [(p.key, p.line, p.reason) for p in fast.problems]
    assert problems == [(p.key, p.line, p.reason) for p in exact.problems] and [r for _, _, r in problems] == ["not an archive record: table is not text"]
    assert list(fast.frame.columns) == list(exact.frame.columns) and len(fast.frame) == 3
    for column in ("event_id", "table", "region", "sequence_number", "ttl_attribute"):
        assert fast.frame[column].astype(object).where(fast.frame[column].notna(), None).tolist() == \
            exact.frame[column].astype(object).where(exact.frame[column].notna(), None).tolist(), column
    assert fast.frame.set_index("event_id").loc["e-date-table", "table"] == "2026-11-26"
    assert _fast._arrow_table(body(lines[1:2], compress=False)).schema.names[:2] == ["event_id", "format"]


def test_jobs_hold_at_most_a_jobs_stored_bytes_and_grow_with_the_listing():
    large = [_sources.ObjectRef(f"archive/l{i}", _download.JOB_STORED_BYTES, None) for i in range(8)]
    assert [len(group) for group, _ in _download.jobs(large, False, 1)] == [1] * 8  # not 2 objects a job: too many bytes

    small = [_sources.ObjectRef(f"archive/s{i:02d}", 1, None) for i in range(16)]
    progress = _download._Progress(False, "test")
    pages = iter([(small[:4], False), (small[4:], False)])
    sizes = [len(group) for group, _ in _download.paged_jobs(pages, 1, progress)]
    assert sizes == [1, 1, 1, 1, 4, 4, 4]  # a quarter of the objects listed so far: 4 listed, then 16
    assert progress.total == 16


def test_an_unexpected_failure_while_parsing_is_a_problem_of_each_object_of_its_job(tmp_path, monkeypatch):
    keys = _objects(tmp_path, 3)

    def broken(*args):
        raise RuntimeError("the parser broke")

    monkeypatch.setattr(_download, "decode", broken)
    got = ar.read_archive(tmp_path, error_prefix=None, max_workers=1, progress=False)

    assert got.frame.empty
    assert [(p.key, p.reason) for p in got.problems] == [(key, "unexpected RuntimeError: the parser broke") for key in keys]


def test_a_folder_object_is_stored_at_its_file_time(tmp_path):
    key, = _objects(tmp_path, 1)
    os.utime(tmp_path / key, (1_764_000_000, 1_764_000_000))

    got = ar.read_archive(tmp_path, progress=False)

    assert got.objects["stored_at"].tolist() == [pd.Timestamp(1_764_000_000, unit="s", tz="UTC")]


def test_a_range_open_at_one_end_reads_from_its_start_or_up_to_its_end(tmp_path):
    for hour in ("10", "18", "23"):
        key = object_key("archive/", hour=hour, name=f"h{hour}")
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body([archive_line(simple_item(int(hour)), f"e{hour}", deleted_at=f"2026-11-26T{hour}:30:00Z")]))

    since = ar.read_archive(tmp_path, start="2026-11-26T18:00:00Z", progress=False)
    until = ar.read_archive(tmp_path, end="2026-11-26T18:00:00Z", progress=False)

    assert since.frame["event_id"].tolist() == ["e18", "e23"] and until.frame["event_id"].tolist() == ["e10"]


def test_keys_that_are_not_a_map_read_as_the_exact_path_reads_them(tmp_path):
    path = tmp_path / object_key("archive/", name="odd-keys")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body([json.dumps({"event_id": "e-1", "keys": "id=1", "item": {"id": "1"}, "format": 1})]))

    fast = ar.read_archive(tmp_path, progress=False)
    exact = ar.read_archive(tmp_path, progress=False, engine="python")

    assert fast.frame["keys"].tolist() == exact.frame["keys"].tolist() and fast.problems == exact.problems
