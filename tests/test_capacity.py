"""helpers.capacity: hand-checked cases (the numbers are worked out in the comments, not by the module)."""

from __future__ import annotations

import argparse
import json
import math
import types

import pytest

from helpers import capacity
from helpers.capacity import CapacityInputs, plan

RATE = 11_600  # a billion deletes a day
# per record on one vCPU (benchmark 34,400 records/s), at 256 MB (256/1769 of a vCPU): 0.029070 / 0.144715 = 0.200874 ms
MS_PER_RECORD_256 = (1000 / 34_400) / (256 / 1769)


def test_a_billion_a_day_in_tokyo_with_estimated_shards():
    p = plan(CapacityInputs(RATE, 1.0, region="ap-northeast-1"))
    # Table: 11,600/s x 30 days = 30,067,200,000 items of 1.1 KB (100 bytes of overhead) = 31,541.4 GB -> 3,155 partitions
    # (writes need only 11,600 WCU / 1,000 = 12). One stream shard per partition.
    assert p.shards == 3155 and p.shards_estimated
    assert p.trigger_concurrency == 3155
    # Each shard gets 11,600 / 3,155 = 3.677 records/s; the 1 s window closes with 3.677 records in the batch.
    assert p.batch_records == pytest.approx(11_600 / 3155)
    # Duration: 5 ms + 3.677 x 0.2009 ms + one PutRecordBatch of 50 ms = 55.74 ms
    assert p.duration_ms == pytest.approx(5 + 11_600 / 3155 * MS_PER_RECORD_256 + 50)
    # One invocation per shard per second.
    assert p.invocations_per_s == pytest.approx(3155)
    # Firehose: one record and one call per invocation; 11,600 lines of 1.25 KB = 14.16 MiB/s.
    f = p.firehose
    assert f["records_per_s"] == pytest.approx(3155) and f["requests_per_s"] == pytest.approx(3155)
    assert f["mib_per_s"] == pytest.approx(11_600 * 1.25 / 1024)
    # Tokyo's default: 100,000 records/s, 1,000 requests/s, 1 MiB/s -> 15 streams, bound by MiB/s (14.16 > 3.16 > 0.03).
    assert f["quota"] == {"records_per_s": 100_000, "requests_per_s": 1_000, "mib_per_s": 1.0}
    assert (f["streams_needed"], f["binding"]) == (15, "mib_per_s")
    # The advice names both the request rate (window: 11,600 / 800 = 14.5 records a batch -> ceil(14.5 / 3.677) = 4 s)
    # and the throughput increase (14.16 x 1.25 -> 18 MiB/s).
    text = " ".join(p.advice)
    assert "batching window to 4 s" in text and "about 18 MiB/s" in text and "15 delivery streams" in text
    # S3: 15 streams of 0.944 MiB/s flush every 60 s or 5 MiB -> max(0.944/5, 1/60) x 15 = 2.83 objects/s, far below 3,500 PUT/s.
    assert p.s3["objects_per_s"] == pytest.approx(15 * max(11_600 * 1.25 / 1024 / 15 / 5, 1 / 60))


def test_a_billion_a_day_in_us_east_1():
    p = plan(CapacityInputs(RATE, 1.0, region="us-east-1"), with_cost=False)
    f = p.firehose
    # N. Virginia's default: 500,000 records/s, 2,000 requests/s, 5 MiB/s -> ceil(14.16 / 5) = 3 streams.
    assert f["quota"] == {"records_per_s": 500_000, "requests_per_s": 2_000, "mib_per_s": 5.0}
    assert (f["streams_needed"], f["binding"]) == (3, "mib_per_s")
    # 3,155 requests/s > 2,000: window ceil((11,600 / 1,600) / 3.677) = 2 s.
    assert any("batching window to 2 s" in a for a in p.advice)


def test_given_shards_fill_whole_batches_and_give_lambda_its_figures():
    p = plan(CapacityInputs(RATE, 1.0, region="us-east-1", shards=100))
    # 116 records/s per shard: the batch fills to BatchSize 100 before the 1 s window ends.
    assert not p.shards_estimated and p.records_per_shard_s == pytest.approx(116)
    assert p.batch_records == 100
    # 6 MB payload / (1.2 x 1 KB + 0.6 KB) = 3,413 records: BatchSize is the limit.
    assert p.batch_limit == 100
    # 5 + 100 x 0.2009 + 50 = 75.09 ms; 116 invocations/s; utilisation 116 x 0.07509 / 100 = 8.7 %.
    assert p.duration_ms == pytest.approx(5 + 100 * MS_PER_RECORD_256 + 50)
    assert p.invocations_per_s == pytest.approx(116)
    assert p.poller_utilisation == pytest.approx(116 * p.duration_ms / 1000 / 100)
    assert p.busy_concurrency == pytest.approx(116 * p.duration_ms / 1000)
    # Per 30-day month: 116 x 2,592,000 = 300.67 M invocations, billed 76 ms at 0.25 GB = 5,712,768 GB-s.
    assert p.gb_seconds_per_month == pytest.approx(116 * 2_592_000 * 0.076 * 0.25)
    # Cost model: 300.67 M requests x 0.20 USD per million = 60.13 USD; the total is the sum of the parts.
    assert p.monthly_cost_usd["lambda_requests"] == pytest.approx(116 * 2_592_000 / 1e6 * 0.20, rel=1e-3)
    parts = {k: v for k, v in p.monthly_cost_usd.items() if k != "total"}
    assert p.monthly_cost_usd["total"] == pytest.approx(sum(parts.values()))
    assert set(parts) == {"lambda_requests", "lambda_duration", "firehose_ingestion", "s3_puts", "s3_storage"}


def test_parallelization_factor_multiplies_concurrency_and_splits_the_shard():
    one = plan(CapacityInputs(RATE, 1.0, shards=100, parallelization_factor=1), with_cost=False)
    two = plan(CapacityInputs(RATE, 1.0, shards=100, parallelization_factor=2), with_cost=False)
    assert (one.trigger_concurrency, two.trigger_concurrency) == (100, 200)
    # 58 records/s per poller: a 1 s window closes with 58 records -> 200 invocations/s.
    assert two.batch_records == pytest.approx(58) and two.invocations_per_s == pytest.approx(200)


def test_an_overloaded_shard_is_reported_with_what_to_change():
    p = plan(CapacityInputs(RATE, 1.0, shards=1), with_cost=False)
    # One shard: 11,600 records/s > 4 polls x 1,000 records; utilisation 11,600 x 0.0751 / 100 = 8.7.
    assert p.poller_utilisation == pytest.approx(11_600 * p.duration_ms / 1000 / 100)
    text = " ".join(p.advice)
    assert "exceeds what Lambda reads from one shard" in text and "raise ParallelizationFactor" in text


def test_large_items_fill_records_and_calls_as_the_archiver_packs_them():
    x = CapacityInputs(1000, 300.0, shards=1000, batching_window_s=300)
    # Lines of 300.25 KB: 3 fit in a 1,000 KiB record, 13 in a 4 MiB call. The 6 MB invocation payload holds
    # 6,144 / (300 x 1.2 + 0.6) = 17 events, so a batch is at most 17 lines: 6 records in 2 calls.
    assert capacity.calls_for(17, x) == (6, 2)
    assert plan(x, with_cost=False).batch_limit == math.floor(6 * 1024 / (300 * 1.2 + 0.6))


def test_a_region_outside_the_quota_list_gets_the_lower_tier_and_says_so():
    quota, note = capacity.firehose_quota("ap-southeast-7")
    assert quota["mib_per_s"] == 1.0 and "not listed" in note


@pytest.mark.parametrize("field,value,match", [
    ("deletes_per_second", 0, "deletes_per_second"), ("item_kb", 401, "400 KB"), ("parallelization_factor", 11, "ParallelizationFactor"),
    ("batching_window_s", 301, "MaximumBatchingWindowInSeconds"), ("region", "Tokyo", "region"),
])
def test_bad_inputs_are_refused_naming_them(field, value, match):
    arguments = {"deletes_per_second": 1.0, "item_kb": 1.0, field: value}
    with pytest.raises(ValueError, match=match):
        CapacityInputs(**arguments)


def test_the_cli_command_prints_the_plan_and_json():
    pytest.importorskip("helpers.cli.context")  # the CLI framework (issue 11) provides Result
    from helpers.cli import capacity as command
    from helpers.cli.context import UsageError
    from helpers.settings import Settings

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--deletes-per-second", "11600", "--item-kb", "1", "--region", "ap-northeast-1", "--no-cost"])
    ctx = types.SimpleNamespace(settings=Settings(parallelization_factor=2))
    result = command.run(args, ctx)
    assert result.exit_code == 0 and "15 at the default quota" in result.text
    data = json.loads(json.dumps(result.data))
    assert data["firehose"]["streams_needed"] == 15
    assert data["inputs"]["parallelization_factor"] == 2  # the stack's setting when the flag is not given
    bad = parser.parse_args(["--deletes-per-second", "10", "--item-kb", "500"])
    with pytest.raises(UsageError, match="--item-kb"):
        command.run(bad, ctx)
