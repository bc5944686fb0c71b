"""helpers.archive_reader.archive_to_parquet: the archive streamed object by object into a Parquet dataset
partitioned by day, never more than ``chunk_rows`` rows (plus one object's) held at once."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from helpers import archive_reader as ar
from helpers import archiver
from helpers.archive_reader import _collect, _dedup

from .test_archive_reader_names import record

ROWS_PER_OBJECT = 3


def _write(folder, key: str, lines: list[str]) -> None:
    path = folder / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress("".join(line + "\n" for line in lines).encode()))


def _line(n: int, day: int, **item) -> str:
    rec = record(n, {"n": n, "ttl": f"text-{n}", "item.ttl": n * 10, **item})
    rec["dynamodb"]["ApproximateCreationDateTime"] = 1795651200 + (day * 86400) + n  # 2026-11-26 + day
    return archiver.archive_line(rec)


@pytest.fixture
def archive(tmp_path):
    """Three days, three lines an object; a re-delivered line, a record split into parts across objects,
    a damaged line and one item whose "score" is text where the others hold a number."""
    folder = tmp_path / "bucket"
    n = 0
    for day in range(3):
        for o in range(3):
            key = f"archive/2026/11/{26 + day}/18/s-1-2026-11-{26 + day}-18-{o:02d}-00-x"
            lines = []
            for _ in range(ROWS_PER_OBJECT):
                lines.append(_line(n, day, score="high" if n == 7 else Decimal(n) / 4, nested={"a": [n, {"b": "c"}]}))
                n += 1
            _write(folder, key, lines)
    _write(folder, "archive/2026/11/28/19/s-1-2026-11-28-19-00-00-dup", [_line(4, 0, score=Decimal("1.00"), nested={"a": [4, {"b": "c"}]}), "{not json"])
    big = _line(100, 2, essay="é" * 300)
    parts = [json.dumps({"part_of": "evt-100", "part": i, "parts": 2, "data": big[i * 300:(i + 1) * 300] if i == 0 else big[300:], "format": 1}) for i in range(2)]
    _write(folder, "archive/2026/11/28/20/s-1-2026-11-28-20-00-00-p0", parts[:1])
    _write(folder, "archive/2026/11/28/20/s-1-2026-11-28-20-30-00-p1", parts[1:])
    return folder


def test_the_dataset_holds_what_read_archive_reads_split_by_day_in_small_files(archive, tmp_path, monkeypatch):
    held = []
    real = _collect.Collector.take_frame
    monkeypatch.setattr(_collect.Collector, "take_frame", lambda self: held.append(self.pending) or real(self))

    export = ar.archive_to_parquet(archive, tmp_path / "out", chunk_rows=4, progress=False)
    monkeypatch.undo()

    whole = ar.read_archive(archive, progress=False)
    assert export.rows == len(whole.frame) == 28 and export.duplicates == whole.duplicates == 1
    assert [(p.key, p.line) for p in export.problems] == [(p.key, p.line) for p in whole.problems] and len(export.problems) == 1
    # Bounded: never more than chunk_rows + one object's rows held, and written in many small pieces.
    assert len(held) >= 28 // (4 + ROWS_PER_OBJECT - 1) and max(held) <= 4 + ROWS_PER_OBJECT - 1 == export.largest_chunk
    assert all(pq.ParquetFile(f).metadata.num_rows <= 4 for f in export.files)
    assert export.days == ["2026-11-26", "2026-11-27", "2026-11-28"]
    assert {f.parent.name for f in export.files} == {f"deleted_date={d}" for d in export.days}
    back = ar.read_parquet(export.path)
    assert back["event_id"].tolist() == whole.frame["event_id"].tolist()
    assert list(ar.iter_items(back)) == list(ar.iter_items(whole.frame))
    assert back["item.ttl"].tolist() == whole.frame["item.ttl"].tolist() and back["item.item.ttl"].tolist() == whole.frame["item.item.ttl"].tolist()
    assert back["deleted_at"].tolist() == whole.frame["deleted_at"].tolist()


def test_the_dataset_is_one_table_for_pyarrow_with_the_day_column(archive, tmp_path):
    export = ar.archive_to_parquet(archive, tmp_path / "out", chunk_rows=5, progress=False, engine="python")

    dataset = ar.parquet_dataset(export.path)
    table = dataset.to_table(filter=ds.field("deleted_date") == "2026-11-27")

    assert dataset.count_rows() == 28 and table.num_rows == 9
    assert set(table.column("deleted_at").to_pandas().dt.strftime("%Y-%m-%d")) == {"2026-11-27"}
    assert {"item.ttl", "item.item.ttl", "score", "deleted_date"} <= set(dataset.schema.names)


def test_a_time_range_and_duplicates_kept(archive, tmp_path):
    export = ar.archive_to_parquet(archive, tmp_path / "out", start="2026-11-27", end="2026-11-28", drop_duplicates=False, progress=False)

    assert export.days == ["2026-11-27"] and export.rows == 9 and export.out_of_range == 0
    kept = ar.archive_to_parquet(archive, tmp_path / "all", drop_duplicates=False, progress=False)
    assert kept.rows == 29 and kept.duplicates == 1


def test_bad_arguments_fail_before_reading(archive, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("not mine")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        ar.archive_to_parquet(archive, tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "not mine"
    with pytest.raises(ValueError, match="chunk_rows"):
        ar.archive_to_parquet(archive, tmp_path / "new", chunk_rows=0)
    with pytest.raises(FileNotFoundError):
        ar.archive_to_parquet(tmp_path / "nope", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_the_digest_set_finds_duplicates_across_calls_and_within_one():
    seen = _dedup.DigestSet()
    assert seen.first_seen([f"e{i}" for i in range(100)]) is None
    assert seen.first_seen(["e5", "new", "new", "e99"]) == [False, True, False, False]
    for i in range(20):  # many runs, merged as they grow
        seen.first_seen([f"x{i}-{j}" for j in range(i + 1)])
    assert len(seen) == 100 + 1 + sum(range(1, 21)) and len(seen.runs) <= 8
    assert seen.first_seen(["x19-0", "x3-3", "fresh"]) == [False, False, True]
    assert all((high[1:] >= high[:-1]).all() and len(high) == len(low) for high, low in seen.runs)  # each run sorted


def test_an_s3_archive_streams_into_the_dataset_too(session, stack, archive, tmp_path):
    bucket = f"{stack}-archive"
    s3 = session.client("s3")
    s3.create_bucket(Bucket=bucket)
    for path in sorted(p for p in archive.rglob("*") if p.is_file()):
        s3.put_object(Bucket=bucket, Key=path.relative_to(archive).as_posix(), Body=path.read_bytes())

    export = ar.archive_to_parquet(session, tmp_path / "out", bucket, "archive/", chunk_rows=10, progress=False)

    assert export.rows == 28 and export.source == f"s3://{bucket}/" and len(export.problems) == 1
    assert ar.read_parquet(export.path)["event_id"].tolist() == ar.read_archive(archive, progress=False).frame["event_id"].tolist()
    with pytest.raises(ValueError, match="bucket"):
        ar.archive_to_parquet(session, tmp_path / "other")


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_rows_are_written_as_soon_as_chunk_rows_are_held_on_both_paths(tmp_path, engine):
    folder = tmp_path / "bucket"
    for o in range(4):  # plain records the fast path reads: chunk_rows rows an object
        lines = [json.dumps({"event_id": f"e{o}-{i}", "item": {"n": i}, "format": 1, "deleted_at": "2026-11-26T18:00:00Z"}) for i in range(3)]
        _write(folder, f"archive/2026/11/26/18/s-1-2026-11-26-18-{o:02d}-00-x", lines)

    export = ar.archive_to_parquet(folder, tmp_path / "new" / "out", chunk_rows=3, engine=engine, max_workers=1, progress=False)

    assert export.rows == 12 and export.largest_chunk == 3  # each object written as it completes a chunk
    assert [pq.ParquetFile(f).metadata.num_rows for f in export.files] == [3, 3, 3, 3]
    single = ar.archive_to_parquet(folder, tmp_path / "single", chunk_rows=1, engine=engine, max_workers=1, progress=False)
    assert single.rows == 12 and len(single.files) == 12


def test_the_day_comes_from_the_dataset_s_own_folders_only(tmp_path):
    folder = tmp_path / "bucket"
    lines = [json.dumps({"event_id": "e-day", "item": {"n": 1}, "format": 1, "deleted_at": "2026-11-26T18:00:00Z"}),
             json.dumps({"event_id": "e-no-day", "item": {"n": 2}, "format": 1})]
    _write(folder, "archive/2026/11/26/18/s-1-2026-11-26-18-00-00-x", lines)
    root = tmp_path / "deleted_date=1999-01-01" / "out"  # a folder above the dataset that looks like a day folder

    ar.archive_to_parquet(folder, root, max_workers=1, progress=False)
    table = ar.parquet_dataset(root).to_table()

    assert sorted(zip(table.column("event_id").to_pylist(), table.column("deleted_date").to_pylist())) == [("e-day", "2026-11-26"), ("e-no-day", None)]
