"""Fault injection with the real archiver: Firehose failing records and calls, the function crashing
and timing out; after de-duplicating by event id, not one expired item is lost and nothing else is archived."""

from __future__ import annotations

import json
import time
from pathlib import Path

from helpers import local
from tests.test_local_runtime_kit import item, make_bucket, make_function, make_mapping, make_role, make_table, put_items, runtime_status, wait_for
from tests.stream_records import archived_lines

ARCHIVER = Path(__file__).resolve().parents[1] / "helpers" / "archiver.py"
TTL_ONLY = {"Filters": [{"Pattern": json.dumps({"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}})}]}




def test_no_item_is_lost_when_firehose_and_the_function_fail_some_of_the_time(session, stack):
    table, bucket, stream_name, function = f"{stack}-t", f"{stack}-archive", f"{stack}-fh", f"{stack}-archiver"
    stream_arn = make_table(session, table)
    make_bucket(session, bucket)
    session.client("firehose").create_delivery_stream(
        DeliveryStreamName=stream_name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": make_role(session, f"{stack}-fh-role"), "BucketARN": f"arn:aws:s3:::{bucket}",
                                            "CompressionFormat": "GZIP", "Prefix": "ttl/!{timestamp:yyyy/MM/dd}/",
                                            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
                                            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}})
    make_function(session, function, files={"archiver.py": ARCHIVER.read_text()}, handler="archiver.handler", timeout=2,
                  env={"DELIVERY_STREAM_NAME": stream_name, "TTL_ATTRIBUTE": "expires_at", "SAFETY_MARGIN_MS": "500", "MAX_BATCH_RECORDS": "20"})
    make_mapping(session, function, stream_arn, BatchSize=10, FilterCriteria=TTL_ONLY, FunctionResponseTypes=["ReportBatchItemFailures"],
                 BisectBatchOnFunctionError=True, MaximumRetryAttempts=-1)
    before = runtime_status()
    local.set_faults(seed=42, firehose_record_failure_rate=0.2, firehose_call_failure_rate=0.1, lambda_crash_rate=0.15,
                     lambda_timeout_rate=0.15, delivery_streams=[stream_name], functions=[function])
    try:
        now = int(time.time())
        expired = [f"e{n:03d}" for n in range(150)]
        put_items(session, table, [item(k, now - 10, payload={"S": "x" * 200}) for k in expired])
        put_items(session, table, [item("future", now + 3600), item("user-deleted", now + 3600)])
        session.client("dynamodb").delete_item(TableName=table, Key={"id": {"S": "user-deleted"}})

        def archived():
            keys = {line["keys"]["id"] for line in archived_lines(session, bucket)}
            return keys if set(expired) <= keys else None

        wait_for(archived, "every expired item in the archive", timeout=90, interval=1.0)
        after = runtime_status()
    finally:
        local.clear_faults()
    time.sleep(1.5)  # let the last buffer flush
    lines = archived_lines(session, bucket)
    by_event = {}
    for line in lines:
        by_event.setdefault(line["event_id"], line)
    assert sorted(line["keys"]["id"] for line in by_event.values()) == sorted(expired), "exactly the expired items, each once after de-duplication"
    assert all(line["table"] == table and line["ttl"] == now - 10 for line in by_event.values())
    faults = after["FaultService"]
    assert faults.get("lambda_crashes", 0) > before["FaultService"].get("lambda_crashes", 0), "the test must have crashed the function"
    assert faults.get("lambda_timeouts", 0) > before["FaultService"].get("lambda_timeouts", 0), "the test must have timed out the function"
    assert faults.get("firehose_records_failed", 0) > before["FaultService"].get("firehose_records_failed", 0)
    assert faults.get("firehose_calls_failed", 0) > before["FaultService"].get("firehose_calls_failed", 0)
    assert after["StreamTrigger"]["batches_failed"] > before["StreamTrigger"].get("batches_failed", 0)
