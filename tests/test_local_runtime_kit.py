"""Building blocks for the local runtime tests (tests/test_local_runtime_*.py), plus the test that
the moto internals the runtime patches are still the ones it was written for.

Resources are made with boto3 directly (the deployment helpers are tested elsewhere). Every name
carries the test's unique ``stack`` so tests never see each other's resources.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any, Callable

import boto3

ROLE_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}

# A handler whose behaviour the tests choose through environment variables. Every invocation is
# recorded in the SPY_BUCKET (key calls/<ns>-<request id>.json) before the chosen behaviour runs.
SPY_HANDLER = r'''
import json, os, time
import boto3

_s3 = boto3.client("s3")
_calls_in_this_process = 0


def handler(event, context):
    global _calls_in_this_process
    _calls_in_this_process += 1
    records = event.get("Records", []) if isinstance(event, dict) else []
    ids = [r["dynamodb"]["Keys"]["id"]["S"] for r in records]
    seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
    _s3.put_object(
        Bucket=os.environ["SPY_BUCKET"],
        Key="calls/%d-%s.json" % (time.time_ns(), context.aws_request_id),
        Body=json.dumps({
            "event": event, "ids": ids, "seqs": seqs,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "function_name": context.function_name, "memory_limit_in_mb": context.memory_limit_in_mb,
            "request_id": context.aws_request_id,
            "env": {k: os.environ.get(k) for k in ("AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "GREETING", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")},
        }),
    )
    behaviour = os.environ.get("BEHAVIOUR", "ok")
    poison = os.environ.get("POISON", "")
    if behaviour == "fail_first" and _calls_in_this_process <= int(os.environ.get("FAIL_TIMES", "1")):
        raise RuntimeError("failing on purpose, call %d" % _calls_in_this_process)
    if behaviour == "always_fail":
        raise RuntimeError("always failing")
    if behaviour == "fail_on_poison" and poison in ids:
        raise ValueError("poison record " + poison)
    if behaviour == "report_poison":
        return {"batchItemFailures": [{"itemIdentifier": s} for i, s in zip(ids, seqs) if i in poison.split(",")]}
    if behaviour == "report_invalid":
        return {"batchItemFailures": [{"itemIdentifier": ""}]}
    if behaviour == "crash":
        os._exit(3)
    if behaviour == "sleep":
        time.sleep(float(os.environ.get("SLEEP", "10")))
    if behaviour == "echo":
        return {"echo": event, "remaining_ms": context.get_remaining_time_in_millis()}
    return {"ids": ids}
'''


def zip_source(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}; last value {value!r}")
        time.sleep(interval)


def make_table(session: boto3.Session, name: str, *, ttl_attribute: str | None = "expires_at", view: str = "NEW_AND_OLD_IMAGES", range_key: bool = False) -> str:
    """A table with a stream (and TTL on ``ttl_attribute``); returns the stream ARN."""
    ddb = session.client("dynamodb")
    keys = [{"AttributeName": "id", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "id", "AttributeType": "S"}]
    if range_key:
        keys.append({"AttributeName": "n", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "n", "AttributeType": "N"})
    ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attrs, BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    if ttl_attribute:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute})
    return ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def make_bucket(session: boto3.Session, name: str) -> str:
    session.client("s3").create_bucket(Bucket=name)
    return name


def make_role(session: boto3.Session, name: str) -> str:
    return session.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ROLE_TRUST))["Role"]["Arn"]


def make_function(session: boto3.Session, name: str, *, files: dict[str, str] | None = None, handler: str = "spy.handler",
                  env: dict[str, str] | None = None, timeout: int = 10, memory: int = 256) -> str:
    """A function from a zip of ``files`` (default: the spy handler); returns its ARN."""
    role = make_role(session, f"{name}-role")
    code = zip_source(files or {"spy.py": SPY_HANDLER})
    return session.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler=handler, Code={"ZipFile": code},
        Timeout=timeout, MemorySize=memory, Environment={"Variables": env or {}},
    )["FunctionArn"]


def make_mapping(session: boto3.Session, function: str, stream_arn: str, **options: Any) -> str:
    options.setdefault("StartingPosition", "TRIM_HORIZON")
    return session.client("lambda").create_event_source_mapping(FunctionName=function, EventSourceArn=stream_arn, **options)["UUID"]


def make_queue(session: boto3.Session, name: str) -> tuple[str, str]:
    sqs = session.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def spy_calls(session: boto3.Session, bucket: str) -> list[dict[str, Any]]:
    """Every invocation the spy handler recorded, oldest first."""
    s3 = session.client("s3")
    keys = sorted(o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="calls/") for o in page.get("Contents", []))
    return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]


def put_items(session: boto3.Session, table: str, items: list[dict[str, Any]]) -> None:
    ddb = session.client("dynamodb")
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]})


def item(key: str, ttl: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": {"S": key}}
    if ttl is not None:
        body["expires_at"] = ttl if isinstance(ttl, dict) else {"N": str(ttl)}
    body.update(extra)
    return body


def runtime_status() -> dict[str, Any]:
    from helpers import local

    return local.health()["runtime"]


# ----------------------------------------------------------------------------------------- tests


def test_moto_internals_are_the_ones_the_runtime_patches():
    """Fails loudly when a moto upgrade changes anything the local runtime patches or reads."""
    from helpers.local.runtime import moto_compat

    assert moto_compat.problems() == []


def test_the_server_refuses_to_start_patching_an_unsupported_moto(monkeypatch):
    from helpers.local.runtime import moto_compat

    monkeypatch.setattr(moto_compat, "_version", lambda: (5, 3, 0))
    try:
        moto_compat.check()
    except RuntimeError as err:
        assert "outside the supported range 5.2.x" in str(err)
    else:
        raise AssertionError("check() accepted moto 5.3")
