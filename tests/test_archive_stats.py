"""helpers.archive_stats: the cost model's inputs measured from an archive, and the Firehose replay."""

from __future__ import annotations

import gzip
import socket
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from helpers import archive_stats, sample
from helpers.cost_model import CostInputs
from helpers.sample_output import FolderDestination
from helpers.settings import Settings, SettingsError
from helpers.target import identity


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


def test_hand_computed_figures_from_three_objects(tmp_path):
    # three objects at 00:00 on Nov 1, 2 and 3: they span 2 days and the last hour = 49/24 days
    lines = [b'{"item":{"id":"%d"}}\n' % i for i in range(6)]
    raw = b"".join(lines)
    stored = 0
    for day in (1, 2, 3):
        folder = tmp_path / "archive" / "2026" / "11" / f"{day:02d}" / "00"
        folder.mkdir(parents=True)
        data = gzip.compress(raw)
        stored += len(data)
        (folder / f"s-1-2026-11-{day:02d}-00-00-00-x{day}.gz").write_bytes(data)
    got = archive_stats.archive_inputs(str(tmp_path))
    assert (got.objects, got.sampled_objects, got.stored_bytes) == (3, 3, stored)
    assert got.days == pytest.approx(49 / 24) and got.objects_per_day == pytest.approx(3 * 24 / 49)
    assert got.items_per_object == 6 and got.items_per_day == pytest.approx(18 * 24 / 49)
    assert got.line_kb == pytest.approx(len(raw) / 6 / 1024)
    assert got.compression_ratio == pytest.approx(3 * len(raw) / stored)
    assert got.median_object_kb == pytest.approx(stored / 3 / 1024) and got.under_128kb_share == 1
    growth = 18 * 24 / 49 * 30.4375 * len(raw) / 6 / 1024 / 1024 / 1024
    assert got.cost_inputs()["monthly_growth_gb"] == pytest.approx(growth, abs=1e-4)


# ----------------------------------------------------------------------- notebook 07's choice of archive


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def _no_session():
    raise AssertionError("no AWS session may be made for this source")


def test_a_folder_setting_wins_and_measures_its_archive_prefix(archive):
    root, written = archive
    got = archive_stats.archive_for_cost(Settings(), {"TTL_ARCHIVE_COST_ARCHIVE_DIR": str(root)}, session=_no_session)
    assert got.source == "folder" and got.where == f"{root}/archive/" and "TTL_ARCHIVE_COST_ARCHIVE_DIR" in got.reason
    assert got.measured == archive_stats.archive_inputs(str(root))
    assert got.cost_inputs() == got.measured.cost_inputs()
    assert archive_stats.archive_for_cost(Settings(), {}, folder=str(root), session=_no_session).measured == got.measured
    text = got.describe()
    assert text.startswith(f"Inputs measured from the folder {root}/archive/")
    assert f"{got.measured.objects:,} objects" in text and f"item_kb={got.cost_inputs()['item_kb']}" in text


def test_a_wrong_folder_setting_is_an_error_naming_it(tmp_path):
    for folder, words in ((tmp_path / "missing", "does not exist"), (tmp_path, "no archive object")):
        with pytest.raises(SettingsError, match=f"TTL_ARCHIVE_COST_ARCHIVE_DIR.*{words}"):
            archive_stats.archive_for_cost(Settings(), {"TTL_ARCHIVE_COST_ARCHIVE_DIR": str(folder)}, session=_no_session)


def test_a_stopped_local_aws_is_not_started(monkeypatch):
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_PORT", _free_port())
    got = archive_stats.archive_for_cost(Settings(), {}, session=_no_session)
    assert got.source == "defaults" and got.measured is None and got.cost_inputs() == {}
    assert "not running" in got.reason and got.describe().startswith("Inputs: the defaults above")


def test_the_aws_target_measures_the_bucket_only_when_asked(session, stack):
    aws = replace(Settings(stack=stack), target="aws")
    got = archive_stats.archive_for_cost(aws, {}, session=_no_session)
    assert got.source == "defaults" and "TTL_ARCHIVE_COST_FROM_BUCKET=true" in got.reason
    with pytest.raises(SettingsError, match="TTL_ARCHIVE_COST_FROM_BUCKET"):
        archive_stats.archive_for_cost(aws, {"TTL_ARCHIVE_COST_FROM_BUCKET": "maybe"}, session=_no_session)
    asked = archive_stats.archive_for_cost(aws, {"TTL_ARCHIVE_COST_FROM_BUCKET": "true"}, session=lambda: session)
    assert asked.source == "defaults" and "does not exist" in asked.reason  # asked, but nothing deployed
    assert archive_stats.archive_for_cost(aws, {}, from_bucket=True, session=lambda: session).reason == asked.reason
    assert archive_stats.archive_for_cost(aws, {"TTL_ARCHIVE_COST_FROM_BUCKET": "true"}, from_bucket=False, session=_no_session).source == "defaults"


def test_the_running_local_aws_measures_the_stacks_bucket(tmp_path, session, stack):
    settings = Settings(stack=stack)
    empty = archive_stats.archive_for_cost(settings, {}, session=lambda: session)
    assert empty.source == "defaults" and "does not exist" in empty.reason
    w = sample.Workload(days=1, items_per_day=100, start=date(2026, 10, 1), buffer_interval_s=900, seed=13)
    sample.generate(w, FolderDestination(tmp_path), workers=1)
    who = identity(session)
    bucket = settings.with_account(who.account_id, who.region).bucket_name
    s3 = session.client("s3")
    s3.create_bucket(Bucket=bucket)
    assert archive_stats.archive_for_cost(settings, {}, session=lambda: session).reason.endswith("holds no archive object yet (run 05_verify)")
    for path in (tmp_path / "archive").rglob("*.gz"):
        s3.put_object(Bucket=bucket, Key=path.relative_to(tmp_path).as_posix(), Body=path.read_bytes())
    got = archive_stats.archive_for_cost(settings, {}, session=lambda: session)
    assert got.source == "bucket" and got.where == f"s3://{bucket}/archive/" and "embedded local AWS is running" in got.reason
    assert got.measured == archive_stats.archive_inputs(str(tmp_path))
    assert got.describe().startswith(f"Inputs measured from the bucket s3://{bucket}/archive/")


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
