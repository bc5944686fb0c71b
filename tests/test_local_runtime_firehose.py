"""Firehose delivery on the embedded local AWS: limits, buffering, GZIP, prefix expressions, object names."""

from __future__ import annotations

import gzip
import re
import time
from datetime import datetime, timezone

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from helpers import local
from tests.test_local_runtime_kit import make_bucket, make_role, wait_for


def _stream(session, stack, **destination):
    bucket = make_bucket(session, f"{stack}-archive")
    name = f"{stack}-fh"
    config = {"RoleARN": make_role(session, f"{stack}-fh-role"), "BucketARN": f"arn:aws:s3:::{bucket}",
              "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}, **destination}
    session.client("firehose").create_delivery_stream(DeliveryStreamName=name, DeliveryStreamType="DirectPut", ExtendedS3DestinationConfiguration=config)
    return name, bucket


def _objects(session, bucket):
    s3 = session.client("s3")
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_gzip_and_prefix_expressions_give_aws_object_names(session, stack):
    name, bucket = _stream(session, stack, CompressionFormat="GZIP",
                           Prefix="archive/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/",
                           ErrorOutputPrefix="errors/!{firehose:error-output-type}/")
    firehose = session.client("firehose")
    firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b'{"n": 1}\n'}, {"Data": b'{"n": 2}\n'}])
    firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b'{"n": 3}\n'}])
    objects = wait_for(lambda: _objects(session, bucket), "the buffer to be flushed", timeout=10)
    [(key, body)] = objects.items()  # both calls fell in one buffer
    now = datetime.now(timezone.utc)
    pattern = rf"archive/year={now:%Y}/month={now:%m}/day={now:%d}/{name}-1-{now:%Y-%m-%d}-\d\d-\d\d-\d\d-[0-9a-f-]{{36}}\.gz"
    assert re.fullmatch(pattern, key), key
    assert gzip.decompress(body) == b'{"n": 1}\n{"n": 2}\n{"n": 3}\n'


def test_without_prefix_objects_go_under_the_default_hour_path_uncompressed(session, stack):
    name, bucket = _stream(session, stack)
    session.client("firehose").put_record(DeliveryStreamName=name, Record={"Data": b"plain\n"})
    [(key, body)] = wait_for(lambda: _objects(session, bucket), "the object", timeout=10).items()
    assert re.fullmatch(rf"\d{{4}}/\d\d/\d\d/\d\d/{name}-1-\d{{4}}(-\d\d){{5}}-[0-9a-f-]{{36}}", key), key
    assert body == b"plain\n"


def test_full_size_buffer_is_written_at_once(session, stack):
    name, bucket = _stream(session, stack)
    firehose = session.client("firehose")
    started = time.monotonic()
    for _ in range(3):
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x" * 500_000}])  # 1 MiB buffer full after 3
    objects = _objects(session, bucket)
    assert len(objects) == 1 and len(next(iter(objects.values()))) == 1_500_000
    assert time.monotonic() - started < 5


def test_put_record_batch_enforces_aws_limits(session, stack):
    name, bucket = _stream(session, stack)
    firehose = session.client("firehose")
    with pytest.raises(ClientError) as too_many:
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}] * 501)
    assert too_many.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 500" in too_many.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as too_big:
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}, {"Data": b"y" * 1_024_001}])
    assert too_big.value.response["Error"]["Code"] == "ValidationException"
    assert "'records.2.member.data'" in too_big.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as call_too_big:
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"z" * 1_000_000}] * 5)
    assert call_too_big.value.response["Error"]["Code"] == "InvalidArgumentException"
    exact = firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"a" * 1_024_000}] * 4)
    assert exact["FailedPutCount"] == 0
    time.sleep(1.5)
    assert b"y" * 10 not in b"".join(_objects(session, bucket).values()), "nothing of a rejected call is kept"


def test_injected_faults_fail_records_and_calls_and_only_accepted_records_are_delivered(session, stack):
    name, bucket = _stream(session, stack)
    firehose = session.client("firehose", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    local.set_faults(seed=7, firehose_record_failure_rate=0.5, delivery_streams=[name])
    try:
        result = firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": f"{n}\n".encode()} for n in range(40)])
        failed = [n for n, r in enumerate(result["RequestResponses"]) if "ErrorCode" in r]
        assert result["FailedPutCount"] == len(failed) and 5 < len(failed) < 35
        assert {result["RequestResponses"][n]["ErrorCode"] for n in failed} == {"ServiceUnavailableException"}
        local.set_faults(firehose_call_failure_rate=1.0, delivery_streams=[name])
        with pytest.raises(ClientError) as whole:
            firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"lost\n"}])
        assert whole.value.response["Error"]["Code"] == "ServiceUnavailableException"
        with pytest.raises(ValueError, match="between 0 and 1"):
            local.set_faults(lambda_crash_rate=2)
    finally:
        local.clear_faults()
    body = b"".join(wait_for(lambda: _objects(session, bucket), "the object", timeout=10).values())
    assert sorted(int(x) for x in body.split()) == [n for n in range(40) if n not in failed]


def test_service_unavailable_is_a_5xx_that_boto3_retries_as_on_aws_and_a_longer_outage_outlasts_the_retries(session, stack):
    name, bucket = _stream(session, stack)
    standard = session.client("firehose", config=Config(retries={"total_max_attempts": 3, "mode": "standard"}))  # its default
    legacy = session.client("firehose", config=Config(retries={"mode": "legacy"}))  # boto3's default mode: 5 attempts
    try:
        local.set_faults(firehose_call_failures=2, delivery_streams=[name])
        absorbed = standard.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"standard\n"}])
        assert absorbed["FailedPutCount"] == 0 and absorbed["ResponseMetadata"]["RetryAttempts"] == 2
        local.set_faults(firehose_call_failures=1, delivery_streams=[name])
        absorbed = legacy.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"legacy\n"}])
        assert absorbed["ResponseMetadata"]["RetryAttempts"] == 1  # a 400 would not have been retried
        local.set_faults(firehose_call_failures=3, delivery_streams=[name])
        with pytest.raises(ClientError) as outlasted:
            standard.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"lost\n"}])
        error = outlasted.value.response
        assert error["Error"] == {"Code": "ServiceUnavailableException", "Message": "Slow down."}
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 500 and error["ResponseMetadata"]["RetryAttempts"] == 2
        assert local.set_faults(firehose_call_failures=1, delivery_streams=[name])["firehose_calls_still_to_fail"] == 1
        with pytest.raises(ClientError, match="ServiceUnavailableException"):
            session.client("firehose", config=Config(retries={"total_max_attempts": 1, "mode": "standard"})).put_record(
                DeliveryStreamName=name, Record={"Data": b"lost too\n"})
    finally:
        local.clear_faults()
    wait_for(lambda: b"legacy" in b"".join(_objects(session, bucket).values()), "both records", timeout=10)
    time.sleep(1.5)  # one flush later: nothing else arrives
    assert sorted(b"".join(_objects(session, bucket).values()).split()) == [b"legacy", b"standard"], "each accepted once; failed calls kept nothing"
