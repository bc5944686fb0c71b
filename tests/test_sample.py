"""helpers.sample: the generated archive is what the pipeline would write for the stated workload."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pytest

from helpers import archive_reader, archiver, sample
from helpers.sample_output import FolderDestination, S3Destination

START = date(2026, 10, 1)


def small(**overrides) -> sample.Workload:
    values = dict(days=2, items_per_day=400, start=START, ttl_days=2, seed=7)
    values.update(overrides)
    return sample.Workload(**values)


def _objects(root):
    return sorted(p for p in (root / "archive").rglob("*.gz"))


def _key_time(name: str) -> datetime:
    y, mo, d, h, mi, s = map(int, re.search(r"-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-[0-9a-f-]{36}\.gz$", name).groups())
    return datetime(y, mo, d, h, mi, s, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    w = small()
    result = sample.generate(w, FolderDestination(root), workers=1)
    read = archive_reader.read_archive(str(root), prefix="archive/", progress=False)
    return w, root, result, read


def test_every_item_is_archived_once_through_the_archivers_lines(generated):
    w, root, result, read = generated
    assert result.action == "created" and result.items == w.items == 800
    assert len(read.frame) == 800 and read.duplicates == 0 and not read.problems
    assert read.frame["event_id"].is_unique
    assert set(read.frame["table"].astype(str)) == {w.table}
    first = gzip.decompress(_objects(root)[0].read_bytes()).split(b"\n")[0]
    line = json.loads(first)
    assert list(line)[:6] == ["event_id", "sequence_number", "table", "region", "event_source_arn", "deleted_at"]
    assert line["format"] >= 1 and line["ttl_attribute"] == "expires_at"


def test_ttl_is_write_time_plus_ttl_days_and_the_lag_follows_the_model(generated):
    w, _, _, read = generated
    f = read.frame
    written = pd.to_datetime(f["timestamp"], unit="ms", utc=True)
    ttl_gap = (f["ttl"] - written).dt.total_seconds()
    assert ttl_gap.between(w.ttl_days * 86400 - 1, w.ttl_days * 86400).all()
    lag = (f["deleted_at"] - f["ttl"]).dt.total_seconds()
    assert lag.min() >= w.lag.min_seconds - 1 and lag.max() <= w.lag.max_hours * 3600
    assert 0.5 * w.lag.median_minutes * 60 < lag.median() < 2 * w.lag.median_minutes * 60


def test_objects_follow_firehose_keys_buffer_interval_and_gzip(generated):
    w, root, result, read = generated
    files = _objects(root)
    assert len(files) == result.objects > 1
    for path in files:
        key = path.relative_to(root).as_posix()
        moment = _key_time(key)
        assert key.startswith(moment.strftime("archive/%Y/%m/%d/%H/") + f"{w.stream}-1-")
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    by_object = read.frame.groupby("object_key", observed=True)["deleted_at"].agg(["min", "max"])
    for key, row in by_object.iterrows():
        opened = pd.Timestamp(_key_time(key))
        # records reach Firehose after the trigger's window and the invocation, and stay one interval at most
        assert row["min"] <= opened
        assert row["max"] < opened + pd.Timedelta(seconds=w.buffer_interval_s)
    days = sorted({_key_time(p.name).date() for p in files})
    assert days[0] == date(2026, 10, 3) and days[-1] >= date(2026, 10, 4)


def test_the_daily_rhythm_peaks_at_the_peak_hour():
    w = sample.Workload(days=3, items_per_day=20_000, start=START, peak_hour=13, rhythm=0.6, seed=3)
    t = sample.timeline(w)
    hours = ((t.write % 86400) // 3600).astype(int)
    counts = np.bincount(hours, minlength=24)
    assert counts.argmax() in (12, 13, 14) and counts.argmin() in (0, 1, 2)
    assert 3 < counts.max() / counts.min() < 5  # (1 + 0.6) / (1 - 0.6) = 4
    per_day = np.bincount(((t.write - w.first_write) // 86400).astype(int))
    assert per_day.tolist() == [20_000] * 3


def test_trigger_batches_respect_batch_size_and_window():
    w = small(items_per_day=30_000, days=1, batch_size=3, batching_window_s=2)
    t = sample.timeline(w)
    sizes = t.batch_ends - t.batch_starts
    assert sizes.max() == 3 and sizes.sum() == w.items
    spans = t.deleted[t.batch_ends - 1] - t.deleted[t.batch_starts]
    assert spans.max() <= 2
    assert (t.invoked >= t.deleted[t.batch_ends - 1]).all()


def test_a_fixed_lag_gives_every_item_the_same_lag():
    lag = sample.LagModel.fixed(90)
    values = lag.sample(np.random.default_rng(1), 1000)
    assert (values == 90).all()
    assert "every item" in lag.describe()


@pytest.mark.parametrize(
    "overrides, field",
    [({"days": 0}, "days"), ({"buffer_size_mib": 129}, "buffer_size_mib"), ({"buffer_interval_s": 901}, "buffer_interval_s"),
     ({"rhythm": 1.5}, "rhythm"), ({"sort_key": "expires_at"}, "three different names"), ({"prefix": "archive"}, "prefix"), ({"start": "2026-10-01"}, "start"), ({"stream": "bad name"}, "DELIVERY_STREAM_NAME")],
)
def test_invalid_workloads_are_refused_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        small(**overrides)


def test_lag_model_rejects_a_share_beyond_one():
    with pytest.raises(ValueError, match="tail_share"):
        sample.LagModel(tail_share=2)


def _cut(w, arrivals, sizes):
    chunk = sample._Chunk(list(arrivals), list(sizes), b"x" * sum(sizes), len(sizes), 0)
    stats = {"lines": 0, "split_items": 0, "records": 0}
    return [(o.opened, o.written, sum(len(p) for p in o.parts)) for o in sample._firehose_objects(w, iter([chunk]), stats)]


def test_the_buffer_is_written_when_it_reaches_its_size():
    w = small(buffer_size_mib=1, buffer_interval_s=900)
    mib = 1024 * 1024
    objects = _cut(w, [float(t) for t in range(10)], [300_000] * 10)
    # 4 records of 300,000 bytes pass 1 MiB: written at the 4th record's arrival, the next buffer opens at the 5th
    assert objects == [(0.0, 3.0, 1_200_000), (4.0, 7.0, 1_200_000), (8.0, 908.0, 600_000)]
    assert all(size < mib + 300_000 for _, _, size in objects)


def test_the_buffer_is_written_when_its_interval_has_passed():
    w = small(buffer_interval_s=60)
    objects = _cut(w, [0.0, 30.0, 59.9, 60.0, 200.0, 259.0, 400.0], [10] * 7)
    assert objects == [(0.0, 60.0, 30), (60.0, 120.0, 10), (200.0, 260.0, 20), (400.0, 460.0, 10)]
    every_record = _cut(small(buffer_interval_s=0), [0.0, 0.0, 1.0], [5, 5, 5])
    assert len(every_record) == 3


def test_generation_is_idempotent_and_never_writes_over_other_objects(generated, tmp_path):
    w, root, result, _ = generated
    before = _objects(root)
    again = sample.generate(w, FolderDestination(root), workers=1)
    assert again.action == "already there" and again.objects == result.objects and _objects(root) == before
    with pytest.raises(ValueError, match="another workload"):
        sample.generate(small(seed=8), FolderDestination(root), workers=1)
    foreign = tmp_path / "archive" / "2026" / "x.gz"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"not ours")
    with pytest.raises(ValueError, match="already holds objects"):
        sample.generate(small(), FolderDestination(tmp_path), workers=1)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [foreign]


def test_same_seed_same_archive_on_one_or_two_processes(tmp_path):
    w = small(days=1, items_per_day=3000)
    one, two = tmp_path / "one", tmp_path / "two"
    sample.generate(w, FolderDestination(one), workers=1)
    sample.generate(w, FolderDestination(two), workers=2)
    files = [p.relative_to(one) for p in _objects(one)]
    assert files == [p.relative_to(two) for p in _objects(two)]
    assert all((one / f).read_bytes() == (two / f).read_bytes() for f in files)


def test_the_archivers_own_encoding_and_packing_are_called(tmp_path, monkeypatch):
    calls = {"encode": 0, "pack": 0}
    encode, pack = archiver.encode_records, archiver.pack_records

    def counting_encode(records, config):
        calls["encode"] += 1
        return encode(records, config)

    def counting_pack(lines, target):
        calls["pack"] += 1
        return pack(lines, target)

    monkeypatch.setattr(archiver, "encode_records", counting_encode)
    monkeypatch.setattr(archiver, "pack_records", counting_pack)
    w = small(days=1, items_per_day=200)
    sample.generate(w, FolderDestination(tmp_path), workers=1)
    assert calls["encode"] == calls["pack"] == len(sample.timeline(w).batch_starts)


def test_a_bucket_destination_on_the_local_aws(session, stack):
    bucket = f"{stack}-sample"
    with pytest.raises(ValueError, match="does not exist"):
        S3Destination(session, bucket)
    session.client("s3").create_bucket(Bucket=bucket)
    w = small(days=1, items_per_day=150, prefix="sample-archive/")
    result = sample.generate(w, S3Destination(session, bucket), workers=1)
    read = archive_reader.read_archive(session, bucket, "sample-archive/", progress=False)
    assert len(read.frame) == 150 and len(read.objects) == result.objects
    assert sample.generate(w, S3Destination(session, bucket), workers=1).action == "already there"


def test_the_sample_folder_name_differs_for_another_stacks_workload_and_is_stable_for_the_same():
    """A learner who runs notebook 06 for two stacks gets two archives side by side, not a refusal."""
    import dataclasses

    from helpers import sample

    base = sample.Workload(days=1, items_per_day=10, start=date(2026, 1, 1))
    other = dataclasses.replace(base, table="another-stack-items")
    assert sample.folder_name(base) == sample.folder_name(dataclasses.replace(base))
    assert sample.folder_name(base) != sample.folder_name(other)
    assert sample.folder_name(base).startswith("sample-20260101-1d-10perday-")
