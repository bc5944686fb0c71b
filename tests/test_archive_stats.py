"""helpers.archive_stats: the cost model's inputs measured from an archive, and the Firehose replay."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from helpers import archive_stats, sample
from helpers.cost_model import CostInputs
from helpers.sample_output import FolderDestination


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats")
    w = sample.Workload(days=2, items_per_day=600, start=date(2026, 10, 1), buffer_interval_s=900, seed=11)
    return root, sample.generate(w, FolderDestination(root), workers=1)


def test_inputs_from_a_folder_match_what_was_written(archive):
    root, written = archive
    got = archive_stats.archive_inputs(str(root), sample_objects=10_000)
    assert got.objects == written.objects and got.sampled_objects == written.objects
    assert got.stored_bytes == written.stored_bytes
    assert got.compression_ratio == pytest.approx(written.raw_bytes / written.stored_bytes)
    assert got.line_kb == pytest.approx(written.raw_bytes / written.lines / 1024)
    assert got.items_per_object * got.objects == pytest.approx(written.items)
    assert 2 <= got.days <= 5 and got.objects_per_day == pytest.approx(got.objects / got.days)
    assert 0 <= got.under_128kb_share <= 1


def test_a_sample_of_objects_estimates_the_same_figures(archive):
    root, written = archive
    got = archive_stats.archive_inputs(str(root), sample_objects=20)
    assert got.sampled_objects == 20
    assert got.compression_ratio == pytest.approx(written.raw_bytes / written.stored_bytes, rel=0.25)
    assert got.line_kb == pytest.approx(written.raw_bytes / written.lines / 1024, rel=0.25)


def test_inputs_from_a_bucket_equal_the_folders(tmp_path, session, stack):
    root = tmp_path
    w = sample.Workload(days=1, items_per_day=100, start=date(2026, 10, 1), buffer_interval_s=900, seed=12)
    sample.generate(w, FolderDestination(root), workers=1)
    bucket = f"{stack}-stats"
    s3 = session.client("s3")
    s3.create_bucket(Bucket=bucket)
    for path in (root / "archive").rglob("*.gz"):
        s3.put_object(Bucket=bucket, Key=path.relative_to(root).as_posix(), Body=path.read_bytes())
    from_s3 = archive_stats.archive_inputs(session, bucket, sample_objects=10_000)
    from_folder = archive_stats.archive_inputs(str(root), sample_objects=10_000)
    assert from_s3 == from_folder


def test_the_inputs_feed_the_cost_model(archive):
    root, written = archive
    got = archive_stats.archive_inputs(str(root))
    inputs = CostInputs(**got.cost_inputs())
    assert inputs.item_kb == pytest.approx(got.line_kb, abs=1e-3)
    assert inputs.compression_ratio == pytest.approx(got.compression_ratio, abs=0.01)
    assert inputs.monthly_growth_gb > 0


def test_nothing_to_measure_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        archive_stats.archive_inputs(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="no object"):
        archive_stats.archive_inputs(str(tmp_path))
    with pytest.raises(ValueError, match="sample_objects"):
        archive_stats.archive_inputs(str(tmp_path), sample_objects=0)


@pytest.mark.parametrize("size_mib, interval", [(1, 60), (1, 900), (5, 300), (128, 0)])
def test_the_replay_cuts_objects_as_the_generator_does(size_mib, interval):
    rng = np.random.default_rng(size_mib + interval)
    arrivals = np.sort(rng.uniform(0, 3600, 1000)).round(1)
    sizes = rng.integers(100, 60_000, 1000)
    first, raw = archive_stats.firehose_cut(arrivals, sizes, size_mib, interval)
    w = sample.Workload(start=date(2026, 10, 1), buffer_size_mib=size_mib, buffer_interval_s=interval)
    chunk = sample._Chunk(arrivals.tolist(), sizes.tolist(), b"x" * int(sizes.sum()), 1000, 0)
    stats = {"lines": 0, "split_items": 0, "records": 0}
    objects = list(sample._firehose_objects(w, iter([chunk]), stats))
    assert [o.opened for o in objects] == arrivals[first].tolist()
    assert [sum(len(p) for p in o.parts) for o in objects] == raw.tolist()
