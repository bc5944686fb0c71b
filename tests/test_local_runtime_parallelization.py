"""ParallelizationFactor on the embedded local AWS: several batches of one shard at once, and the records of
one item (its key) in order and never in two batches at the same time."""

from __future__ import annotations

import json
import time

from tests.test_local_runtime_kit import item, make_bucket, make_function, make_mapping, make_table, put_items, spy_calls, wait_for

SLEEP = 0.4  # seconds each invocation takes (the spy sleeps after recording its start)
KEYS = [f"k{n}" for n in range(6)]
VERSIONS = 2  # each key is written twice: INSERT, MODIFY


def _calls_with_start(session, bucket):
    """The spy's calls, each with its start time: the spy names its record calls/<time_ns>-<request id>.json."""
    s3 = session.client("s3")
    keys = sorted(o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="calls/") for o in page.get("Contents", []))
    calls = []
    for key in keys:
        call = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        call["start"] = int(key.split("/")[1].split("-")[0]) / 1e9
        calls.append(call)
    return calls


def _run(session, stack, factor):
    """Write every version of every key with the mapping disabled, enable it, wait for all records;
    returns the spy's calls with their start times."""
    table, bucket, function = f"{stack}-t", f"{stack}-spy", f"{stack}-fn"
    stream = make_table(session, table, ttl_attribute=None)
    make_bucket(session, bucket)
    make_function(session, function, env={"SPY_BUCKET": bucket, "BEHAVIOUR": "sleep", "SLEEP": str(SLEEP)}, timeout=10)
    uuid = make_mapping(session, function, stream, Enabled=False, BatchSize=2, ParallelizationFactor=factor)
    for version in range(VERSIONS):
        put_items(session, table, [item(key, version={"N": str(version)}) for key in KEYS])
    session.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=True)
    total = len(KEYS) * VERSIONS
    wait_for(lambda: sum(len(c["ids"]) for c in spy_calls(session, bucket)) >= total, f"{total} records", timeout=60)
    time.sleep(SLEEP)  # the last calls' sleep ends
    return _calls_with_start(session, bucket)


def _overlapping(calls):
    """The most calls running at one moment (each lasts at least SLEEP from its start)."""
    edges = sorted([(c["start"], 1) for c in calls] + [(c["start"] + SLEEP, -1) for c in calls])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def _assert_item_order(calls):
    """Each key's records arrive in sequence order, and a call holding a key starts only after the previous
    call holding that key has finished (it slept SLEEP)."""
    seen: dict[str, tuple[int, float]] = {}
    for call in sorted(calls, key=lambda c: c["start"]):
        for key, seq in zip(call["ids"], call["seqs"]):
            if key in seen:
                last_seq, last_start = seen[key]
                assert int(seq) > last_seq, f"{key}: sequence {seq} after {last_seq}"
                if last_start != call["start"]:
                    assert call["start"] >= last_start + SLEEP * 0.95, f"{key} in two batches at once"
            seen[key] = (int(seq), call["start"])
    assert sorted(seen) == sorted(KEYS)


def test_parallelization_factor_runs_batches_of_one_shard_concurrently_keeping_each_item_in_order(session, stack):
    calls = _run(session, stack, 3)
    records = [(k, s) for c in calls for k, s in zip(c["ids"], c["seqs"])]
    assert len(records) == len(KEYS) * VERSIONS and len(set(s for _, s in records)) == len(records)  # each record once
    assert all(len(c["ids"]) <= 2 for c in calls)  # BatchSize per concurrent batch
    peak = _overlapping(calls)
    assert 2 <= peak <= 3, f"expected 2-3 concurrent batches with ParallelizationFactor 3, saw {peak}"
    _assert_item_order(calls)


def test_without_parallelization_one_batch_at_a_time(session, stack):
    calls = _run(session, stack, 1)
    assert _overlapping(calls) == 1
    _assert_item_order(calls)
