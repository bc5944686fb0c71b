"""The TTL sweeper and the trigger's delivery logic run IN the test process, on moto's in-process backends.

The embedded local AWS runs this code in its own server process, where a test can only watch the outcome
(and mutmut's switch does not reach). Here the same code reads moto's backends under ``mock_aws()``: the
sweeper is called with a chosen ``now``, and a ``MappingPoller`` is stepped by hand with the function
invocation replaced by a fake that records each event and answers what the test chooses. The stream
patches of :mod:`helpers.local.runtime.streams` are applied for the test only (and undone after it).
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
import uuid
import zipfile
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Callable

import boto3
import pytest
from moto import mock_aws

from helpers.local.runtime import streams, sweeper, trigger, trigger_config
from helpers.local.runtime.lambda_runtime import Invocation
from helpers.local.runtime.state import METRICS, PROBLEMS, SETTINGS
from helpers.local.runtime.sweeper import FIVE_YEARS_SECONDS, TtlSweeper

ACCOUNT = "123456789012"
REGION = "us-east-1"
NOW = 1_800_000_000
TTL_IDENTITY = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


@pytest.fixture
def aws(monkeypatch):
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    if not streams._originals:  # the server process installs them for good; here only for this test
        from moto.awslambda.models import LambdaBackend
        from moto.dynamodb.models.table import StreamShard

        monkeypatch.setitem(streams._originals, "init", StreamShard.__init__)
        monkeypatch.setitem(streams._originals, "create_esm", LambdaBackend.create_event_source_mapping)
        monkeypatch.setattr(StreamShard, "__init__", streams._shard_init)
        monkeypatch.setattr(StreamShard, "add", streams._shard_add)
        monkeypatch.setattr(StreamShard, "get", streams._shard_get)
        monkeypatch.setattr(LambdaBackend, "create_event_source_mapping", streams._create_event_source_mapping)
    monkeypatch.setattr(SETTINGS, "retry_seconds", 0.0)
    monkeypatch.setattr(SETTINGS, "poll_seconds", 0.01)
    monkeypatch.setattr(trigger_config, "_pattern_cache", {})  # compiled filters: each test compiles its own
    METRICS.clear()
    PROBLEMS.clear()
    with mock_aws():
        yield boto3.Session(region_name=REGION)
    METRICS.clear()
    PROBLEMS.clear()


def make_table(session, name: str = "t", ttl: str | None = "expires_at", sort_key: bool = False) -> str:
    ddb = session.client("dynamodb")
    keys = [{"AttributeName": "id", "KeyType": "HASH"}] + ([{"AttributeName": "sk", "KeyType": "RANGE"}] if sort_key else [])
    attrs = [{"AttributeName": "id", "AttributeType": "S"}] + ([{"AttributeName": "sk", "AttributeType": "S"}] if sort_key else [])
    arn = ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attrs, BillingMode="PAY_PER_REQUEST",
                           StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]["LatestStreamArn"]
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})
    return arn


def put(session, table: str, key: str, ttl: Any = None, sk: str | None = None) -> None:
    item: dict[str, Any] = {"id": {"S": key}}
    if sk is not None:
        item["sk"] = {"S": sk}
    if ttl is not None:
        item["expires_at"] = ttl if isinstance(ttl, dict) else {"N": str(ttl)}
    session.client("dynamodb").put_item(TableName=table, Item=item)


def keys(session, table: str) -> set[str]:
    return {i["id"]["S"] + ("/" + i["sk"]["S"] if "sk" in i else "") for i in session.client("dynamodb").scan(TableName=table)["Items"]}


def shard_records(table: str) -> list[dict[str, Any]]:
    from moto.dynamodb.models import dynamodb_backends

    return [r.record for r in dynamodb_backends[ACCOUNT][REGION].tables[table].stream_shard.items]


# ---------------------------------------------------------------------------------------------- the sweeper
def test_sweep_deletes_exactly_the_items_expired_under_aws_rules_and_marks_their_remove_records(aws):
    make_table(aws, "t")
    cases = {
        "expired": NOW - 60, "a-second-ago": NOW - 1, "fraction": {"N": f"{NOW - 1}.5"}, "exactly-five-years": NOW - FIVE_YEARS_SECONDS,
        "exactly-now": NOW, "future": NOW + 1, "beyond-five-years": NOW - FIVE_YEARS_SECONDS - 1, "string": {"S": str(NOW - 60)},
        "set": {"NS": [str(NOW - 60)]}, "missing": None,
    }
    for key, ttl in cases.items():
        put(aws, "t", key, ttl)
    assert TtlSweeper().sweep_once(now=NOW) == 4
    assert keys(aws, "t") == {"exactly-now", "future", "beyond-five-years", "string", "set", "missing"}
    removes = [r for r in shard_records("t") if r["eventName"] == "REMOVE"]
    assert sorted(r["dynamodb"]["Keys"]["id"]["S"] for r in removes) == ["a-second-ago", "exactly-five-years", "expired", "fraction"]
    assert all(r["userIdentity"] == TTL_IDENTITY for r in removes)
    assert {r["dynamodb"]["OldImage"]["id"]["S"] for r in removes} == {"a-second-ago", "exactly-five-years", "expired", "fraction"}
    assert not any("userIdentity" in r for r in shard_records("t") if r["eventName"] == "INSERT")
    assert TtlSweeper().sweep_once(now=NOW) == 0  # nothing more on a second pass


def test_sweep_on_a_table_with_a_sort_key_deletes_only_the_expired_item_of_a_partition(aws):
    make_table(aws, "c", sort_key=True)
    put(aws, "c", "p", NOW - 10, sk="old")
    put(aws, "c", "p", NOW + 10, sk="new")
    put(aws, "c", "q", NOW - 10, sk="old")
    assert TtlSweeper().sweep_once(now=NOW) == 2
    assert keys(aws, "c") == {"p/new"}
    api_delete_after = [r for r in shard_records("c") if r["eventName"] == "REMOVE"]
    assert sorted((r["dynamodb"]["Keys"]["id"]["S"], r["dynamodb"]["Keys"]["sk"]["S"]) for r in api_delete_after) == [("p", "old"), ("q", "old")]


def test_sweep_once_covers_every_ttl_enabled_table_and_skips_the_others(aws):
    make_table(aws, "on")
    make_table(aws, "none", ttl=None)
    make_table(aws, "off")
    aws.client("dynamodb").update_time_to_live(TableName="off", TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"})
    make_table(aws, "other-attr", ttl="gone_at")
    make_table(aws, "on2")
    for table in ("on", "none", "off", "other-attr", "on2"):
        put(aws, table, "x", NOW - 10)
    put(aws, "on2", "y", NOW - 10)
    assert TtlSweeper().sweep_once(now=NOW) == 3
    assert {t: keys(aws, t) for t in ("on", "none", "off", "other-attr", "on2")} == {
        "on": set(), "none": {"x"}, "off": {"x"}, "other-attr": {"x"}, "on2": set()}


def test_sweep_without_now_uses_the_clock(aws):
    make_table(aws, "t")
    put(aws, "t", "past", int(time.time()) - 30)
    put(aws, "t", "later", int(time.time()) + 3600)
    assert TtlSweeper().sweep_once() == 1
    assert keys(aws, "t") == {"later"}


def test_more_items_than_one_delete_chunk_are_all_deleted(aws, monkeypatch):
    monkeypatch.setattr(sweeper, "DELETE_CHUNK", 2)  # 200 in the code: the same loop over chunks, with fewer items
    make_table(aws, "big")
    count = 7
    for n in range(count):
        put(aws, "big", f"k{n}", NOW - 5)
    put(aws, "big", "keep", NOW + 5)
    assert TtlSweeper().sweep_once(now=NOW) == count
    assert keys(aws, "big") == {"keep"}


def test_items_refreshed_or_deleted_between_scan_and_delete_are_left_alone(aws, monkeypatch):
    make_table(aws, "t")
    for key in ("refreshed", "deleted", "rewritten-as-string", "still-expired"):
        put(aws, "t", key, NOW - 10)
    original = sweeper._current
    changed: list[bool] = []

    def meanwhile(table, hash_key, range_key):  # a client writes after the scan, before the delete-time check
        if not changed:
            changed.append(True)
            streams._deleting_for_ttl.active = False  # these are a client's requests, not the sweeper's deletes
            put(aws, "t", "refreshed", NOW + 3600)
            put(aws, "t", "rewritten-as-string", {"S": str(NOW - 10)})
            aws.client("dynamodb").delete_item(TableName="t", Key={"id": {"S": "deleted"}})
            streams._deleting_for_ttl.active = True
        return original(table, hash_key, range_key)

    monkeypatch.setattr(sweeper, "_current", meanwhile)
    assert TtlSweeper().sweep_once(now=NOW) == 1
    assert keys(aws, "t") == {"refreshed", "rewritten-as-string"}
    ttl_removes = [r["dynamodb"]["Keys"]["id"]["S"] for r in shard_records("t") if r.get("userIdentity") == TTL_IDENTITY]
    assert ttl_removes == ["still-expired"]
    user_removes = [r["dynamodb"]["Keys"]["id"]["S"] for r in shard_records("t") if r["eventName"] == "REMOVE" and "userIdentity" not in r]
    assert user_removes == ["deleted"]


def test_sweep_publishes_the_deleted_count_per_table_to_cloudwatch(aws, monkeypatch):
    from moto.cloudwatch.models import cloudwatch_backends

    monkeypatch.setenv("TZ", "Asia/Kolkata")  # a machine not on UTC: the datum must still carry the UTC second
    time.tzset()
    try:
        make_table(aws, "a")
        make_table(aws, "b")
        for n in range(3):
            put(aws, "a", f"k{n}", NOW - 10)
        put(aws, "b", "k", NOW + 10)  # nothing deleted from b: no datum
        before = int(time.time())
        assert TtlSweeper().sweep_once(now=NOW) == 3
        after = time.time()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    data = [d for d in cloudwatch_backends[ACCOUNT][REGION].metric_data if d.namespace == "AWS/DynamoDB"]
    assert sum(d.value for d in data) == 3.0 and 1 <= len(data) <= 2  # one datum per second of deletion
    for d in data:
        assert (d.name, d.unit, [(x.name, x.value) for x in d.dimensions]) == ("TimeToLiveDeletedItemCount", "Count", [("TableName", "a")])
        assert d.timestamp.tzinfo is None and d.timestamp.microsecond == 0  # naive UTC, the whole second
        assert before <= d.timestamp.replace(tzinfo=timezone.utc).timestamp() <= after


def test_a_failed_metric_does_not_stop_the_deletes_and_is_reported(aws, monkeypatch):
    from moto.cloudwatch.models import CloudWatchBackend

    def broken(self, namespace, data):
        raise RuntimeError("cloudwatch down")

    monkeypatch.setattr(CloudWatchBackend, "put_metric_data", broken)
    make_table(aws, "m")
    put(aws, "m", "k", NOW - 10)
    PROBLEMS.clear()
    assert TtlSweeper().sweep_once(now=NOW) == 1
    assert keys(aws, "m") == set()
    assert [(p["source"], p["key"], p["error"], p["active"]) for p in PROBLEMS.snapshot()] == [("ttl", "metric:m", "RuntimeError: cloudwatch down", True)]
    PROBLEMS.clear()


def test_ttl_value_reads_only_a_top_level_number():
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    def with_ttl(value):
        return Item(DynamoType({"S": "a"}), None, {"id": {"S": "a"}, **({"expires_at": value} if value else {})})

    assert sweeper.ttl_value(with_ttl({"N": "1700000000.25"}), "expires_at") == Decimal("1700000000.25")
    assert sweeper.ttl_value(with_ttl({"S": "1700000000"}), "expires_at") is None
    assert sweeper.ttl_value(with_ttl(None), "expires_at") is None
    assert sweeper.ttl_value(with_ttl({"N": "not a number"}), "expires_at") is None
    assert not sweeper.is_expired(with_ttl({"N": "not a number"}), "expires_at", NOW)


# ---------------------------------------------------------------------------------------------- the trigger
class FakeFunction:
    """Stands in for the invocation: records each event's keys and sequence numbers, answers ``answer(call, ids)``."""

    def __init__(self, answer: Callable[[int, list[str]], Any] | None = None):
        self.calls: list[list[str]] = []
        self.seqs: list[list[int]] = []
        self.events: list[dict[str, Any]] = []
        self.answer = answer or (lambda call, ids: None)

    def __call__(self, cfg, segment) -> Invocation:
        self.functions = getattr(self, "functions", []) + [cfg.function_arn]
        event = json.loads('{"Records":[' + ",".join(r.json for r in segment) + "]}")
        self.events.append(event)
        ids = [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]]
        self.calls.append(ids)
        self.seqs.append([int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]])
        got = self.answer(len(self.calls), ids)
        if got == "error":
            return Invocation(f"req-{len(self.calls)}", False, b'{"errorType":"RuntimeError","errorMessage":"no"}', {"errorType": "RuntimeError"})
        return Invocation(f"req-{len(self.calls)}", True, json.dumps(got).encode())


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return None\n")
    return buf.getvalue()


def make_mapping(session, table: str = "s", items: list[str] = (), queue: bool = True, **mapping: Any) -> SimpleNamespace:
    stream = make_table(session, table, ttl=None)
    for key in items:
        put(session, table, key)
    role = session.client("iam").create_role(RoleName=f"r-{table}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    fn = session.client("lambda").create_function(FunctionName=f"f-{table}", Runtime="python3.12", Role=role, Handler="app.handler",
                                                  Code={"ZipFile": _zip()})["FunctionArn"]
    dest = None
    if queue:
        url = session.client("sqs").create_queue(QueueName=f"dlq-{table}")["QueueUrl"]
        dest = session.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        mapping.setdefault("DestinationConfig", {"OnFailure": {"Destination": dest}})
    mapping.setdefault("StartingPosition", "TRIM_HORIZON")
    esm = session.client("lambda").create_event_source_mapping(EventSourceArn=stream, FunctionName=fn, **mapping)
    poller = trigger.MappingPoller(ACCOUNT, REGION, esm["UUID"], threading.Event())
    return SimpleNamespace(uuid=esm["UUID"], stream=stream, function=fn, dest=dest, poller=poller, table=table)


def seqs_of(table: str) -> dict[str, int]:
    """Key -> sequence number of its (first) INSERT record."""
    out: dict[str, int] = {}
    for r in shard_records(table):
        out.setdefault(r["dynamodb"]["Keys"]["id"]["S"], int(r["dynamodb"]["SequenceNumber"]))
    return out


@pytest.fixture
def sent(monkeypatch):
    messages: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(trigger, "send_on_failure", lambda dest, body: messages.append((dest, json.loads(body))))
    return messages


def drive(m: SimpleNamespace, fake: FakeFunction, monkeypatch, steps: int = 20) -> int:
    """Step the poller until it has nothing more to do; returns the steps taken."""
    monkeypatch.setattr(m.poller, "_invoke", fake)
    for n in range(steps):
        cfg = m.poller.config()
        if not m.poller._step(cfg):
            return n + 1
    raise AssertionError("the poller never caught up")


def test_records_are_delivered_in_order_in_batches_and_the_checkpoint_follows(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b", "c", "d", "e"], BatchSize=2)
    seq = seqs_of("s")
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends[ACCOUNT][REGION].tables["s"].stream_shard
    fake = FakeFunction()
    monkeypatch.setattr(m.poller, "_invoke", fake)
    positions = []
    while m.poller._step(m.poller.config()):
        positions.append(m.poller.position)
    assert fake.calls == [["a", "b"], ["c", "d"], ["e"]]
    assert fake.functions == [m.function] * 3
    assert positions == [seq["b"] + 1, seq["d"] + 1, seq["e"] + 1]
    assert m.poller.shard_id == shard.id and m.poller.caught_up
    record = fake.events[0]["Records"][0]
    assert (record["eventName"], record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == ("INSERT", "aws:dynamodb", m.stream, REGION)
    assert record["dynamodb"]["Keys"] == {"id": {"S": "a"}} and record["dynamodb"]["SequenceNumber"] == str(seq["a"])
    assert sent == []


def test_latest_starts_after_the_records_written_before_the_mapping(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["old1", "old2"], StartingPosition="LATEST")
    put(aws, "s", "new")
    fake = FakeFunction()
    drive(m, fake, monkeypatch)
    assert fake.calls == [["new"]]


def test_records_matching_no_filter_are_skipped_and_the_checkpoint_moves_past_them(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b", "c"], FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["REMOVE"]})}]})
    aws.client("dynamodb").delete_item(TableName="s", Key={"id": {"S": "b"}})
    put(aws, "s", "d")
    fake = FakeFunction()
    drive(m, fake, monkeypatch)
    assert fake.calls == [["b"]]
    assert [r["eventName"] for r in fake.events[0]["Records"]] == ["REMOVE"]
    last = max(int(r["dynamodb"]["SequenceNumber"]) for r in shard_records("s"))
    assert m.poller.position == last + 1


def test_a_failed_batch_is_retried_whole_then_the_shard_moves_on(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b", "c"], BatchSize=2)
    fake = FakeFunction(lambda call, ids: "error" if call == 1 else None)
    drive(m, fake, monkeypatch)
    assert fake.calls == [["a", "b"], ["a", "b"], ["c"]]
    assert sent == []


def test_retries_exhausted_discard_the_batch_with_aws_shaped_metadata(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b", "c", "d"], BatchSize=3, MaximumRetryAttempts=2)
    seq = seqs_of("s")
    now = int(time.time())
    for record, arrival in zip(shard_records("s"), (now - 30, now - 20, now - 10, now)):
        record["dynamodb"]["ApproximateCreationDateTime"] = arrival
    fake = FakeFunction(lambda call, ids: "error" if "a" in ids else None)
    drive(m, fake, monkeypatch)
    assert fake.calls == [["a", "b", "c"]] * 3 + [["d"]]
    assert m.poller.position == seq["d"] + 1
    assert len(sent) == 1
    dest, message = sent[0]
    assert dest == m.dest
    assert message["requestContext"] == {"requestId": "req-3", "functionArn": m.function, "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3}
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert message["version"] == "1.0"
    assert message["DDBStreamBatchInfo"] == {
        "shardId": m.poller.shard_id, "startSequenceNumber": str(seq["a"]), "endSequenceNumber": str(seq["c"]),
        "approximateArrivalOfFirstRecord": trigger._iso(now - 30), "approximateArrivalOfLastRecord": trigger._iso(now - 10),
        "batchSize": 3, "streamArn": m.stream}
    assert message["timestamp"].endswith("Z") and len(message["timestamp"]) == len("2026-01-01T00:00:00.000Z")
    assert abs(datetime.strptime(message["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp() - time.time()) < 60


def test_zero_retries_discards_after_the_first_failure_and_without_a_destination_nothing_is_sent(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b"], queue=False, MaximumRetryAttempts=0)
    fake = FakeFunction(lambda call, ids: "error")
    drive(m, fake, monkeypatch)
    assert fake.calls == [["a", "b"]]
    assert sent == []
    assert m.poller.position == seqs_of("s")["b"] + 1


def test_bisect_isolates_the_poison_record_and_only_it_is_discarded(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b", "c", "d"], BatchSize=4, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0)
    seq = seqs_of("s")
    fake = FakeFunction(lambda call, ids: "error" if "c" in ids else None)
    drive(m, fake, monkeypatch)
    assert fake.calls == [["a", "b", "c", "d"], ["a", "b"], ["c", "d"], ["c"], ["d"]]
    assert len(sent) == 1
    info = sent[0][1]["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (str(seq["c"]), str(seq["c"]), 1)
    assert sent[0][1]["requestContext"]["approximateInvokeCount"] == 1
    assert m.poller.position == seq["d"] + 1


def test_bisect_halves_have_their_own_retries(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b"], BisectBatchOnFunctionError=True, MaximumRetryAttempts=1)
    fake = FakeFunction(lambda call, ids: "error" if ids == ["b"] or len(ids) == 2 else None)
    drive(m, fake, monkeypatch)
    assert fake.calls == [["a", "b"], ["a"], ["b"], ["b"]]
    assert [s[1]["requestContext"]["approximateInvokeCount"] for s in sent] == [2]
    assert sent[0][1]["DDBStreamBatchInfo"]["batchSize"] == 1


def test_reported_item_failures_resume_from_the_lowest_reported_record(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b", "c", "d"], FunctionResponseTypes=["ReportBatchItemFailures"])
    seq = seqs_of("s")
    answers = {1: {"batchItemFailures": [{"itemIdentifier": str(seq["d"])}, {"itemIdentifier": str(seq["b"])}]}}
    fake = FakeFunction(lambda call, ids: answers.get(call))
    drive(m, fake, monkeypatch)
    assert fake.calls == [["a", "b", "c", "d"], ["b", "c", "d"]]
    assert sent == []
    assert m.poller.position == seq["d"] + 1


def test_reported_item_failures_count_as_retries_and_the_rest_is_discarded_without_function_error(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b", "c"], FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=1)
    seq = seqs_of("s")
    fake = FakeFunction(lambda call, ids: {"batchItemFailures": [{"itemIdentifier": str(seq["c"])}]})
    drive(m, fake, monkeypatch)
    assert fake.calls == [["a", "b", "c"], ["c"]]
    assert len(sent) == 1
    message = sent[0][1]
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert message["requestContext"]["approximateInvokeCount"] == 2 and message["requestContext"]["requestId"] == "req-2"
    assert message["DDBStreamBatchInfo"]["startSequenceNumber"] == str(seq["c"]) and message["DDBStreamBatchInfo"]["batchSize"] == 1


def test_an_unknown_item_identifier_fails_the_whole_batch(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b"], FunctionResponseTypes=["ReportBatchItemFailures"])
    fake = FakeFunction(lambda call, ids: {"batchItemFailures": [{"itemIdentifier": "42"}]} if call == 1 else None)
    drive(m, fake, monkeypatch)
    assert fake.calls == [["a", "b"], ["a", "b"]]


def test_without_report_batch_item_failures_a_reported_failure_is_a_success(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b"])
    seq = seqs_of("s")
    fake = FakeFunction(lambda call, ids: {"batchItemFailures": [{"itemIdentifier": str(seq["a"])}]})
    drive(m, fake, monkeypatch)
    assert fake.calls == [["a", "b"]]


def test_item_failures_response_rules(aws):
    m = make_mapping(aws, items=["a", "b"], queue=False, FunctionResponseTypes=["ReportBatchItemFailures"])
    cfg = m.poller.config()
    segment = [trigger.Item(11, 0, ""), trigger.Item(12, 0, ""), trigger.Item(13, 0, "")]

    def judge(payload: bytes, ok: bool = True, config=cfg):
        return trigger.MappingPoller._item_failures(config, Invocation("r", ok, payload), segment)

    assert judge(b'{"batchItemFailures":[{"itemIdentifier":"13"},{"itemIdentifier":"12"}]}') == (True, 12)
    assert judge(b'{"batchItemFailures":[{"itemIdentifier":"12"},{"itemIdentifier":"13"}]}') == (True, 12)
    assert judge(b'{"batchItemFailures":[{"itemIdentifier":"11"}]}') == (True, 11)
    assert judge(b'{"batchItemFailures":[]}') == (True, None)
    assert judge(b'{"batchItemFailures":null}') == (True, None)
    assert judge(b'{"other":1}') == (True, None)
    assert judge(b"null") == (True, None)
    assert judge(b"") == (True, None)
    assert judge(b"[1,2]") == (True, None)
    assert judge(b"not json") == (True, None)
    assert judge(b'{"batchItemFailures":"12"}') == (False, None)
    assert judge(b'{"batchItemFailures":[{"itemIdentifier":12}]}') == (False, None)
    assert judge(b'{"batchItemFailures":[{"itemIdentifier":""}]}') == (False, None)
    assert judge(b'{"batchItemFailures":[{"id":"12"}]}') == (False, None)
    assert judge(b'{"batchItemFailures":["12"]}') == (False, None)
    assert judge(b'{"batchItemFailures":[{"itemIdentifier":"12"},{"itemIdentifier":"99"}]}') == (False, None)
    assert judge(b'{"batchItemFailures":[{"itemIdentifier":"12"}]}', config=dataclasses.replace(cfg, report_item_failures=False)) == (True, None)


def test_records_older_than_the_maximum_age_are_discarded_at_the_exact_edge(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["old", "edge", "new"], MaximumRecordAgeInSeconds=60)
    records = shard_records("s")
    for record, arrival in zip(records, (NOW - 61, NOW - 60, NOW - 1)):
        record["dynamodb"]["ApproximateCreationDateTime"] = arrival
    monkeypatch.setattr(trigger, "time", SimpleNamespace(time=lambda: NOW, monotonic=time.monotonic))
    monkeypatch.setattr(streams, "_trim", lambda shard: None)  # the records are 'old' by a fake clock only
    fake = FakeFunction()
    drive(m, fake, monkeypatch)
    assert fake.calls == [["edge", "new"]]
    assert len(sent) == 1
    message = sent[0][1]
    assert message["requestContext"]["condition"] == "RecordAgeExceeded" and message["requestContext"]["approximateInvokeCount"] == 0
    assert str(uuid.UUID(message["requestContext"]["requestId"])) == message["requestContext"]["requestId"]
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert message["DDBStreamBatchInfo"]["batchSize"] == 1
    assert message["DDBStreamBatchInfo"]["approximateArrivalOfFirstRecord"] == trigger._iso(NOW - 61)
    assert message["DDBStreamBatchInfo"]["shardId"] == m.poller.shard_id
    assert message["timestamp"] == trigger._iso(NOW, millis=True)


def test_a_whole_batch_too_old_is_not_invoked(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b"], MaximumRecordAgeInSeconds=60)
    for record in shard_records("s"):
        record["dynamodb"]["ApproximateCreationDateTime"] = NOW - 100
    monkeypatch.setattr(trigger, "time", SimpleNamespace(time=lambda: NOW, monotonic=time.monotonic))
    fake = FakeFunction()
    drive(m, fake, monkeypatch)
    assert fake.calls == []
    assert [s[1]["DDBStreamBatchInfo"]["batchSize"] for s in sent] == [2]
    assert m.poller.position == seqs_of("s")["b"] + 1


def test_batching_window_waits_for_more_records_unless_the_batch_is_full(aws, sent, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(trigger, "time", SimpleNamespace(time=time.time, monotonic=lambda: clock[0]))
    m = make_mapping(aws, items=[], BatchSize=3, MaximumBatchingWindowInSeconds=2)
    fake = FakeFunction()
    monkeypatch.setattr(m.poller, "_invoke", fake)
    assert m.poller._step(m.poller.config()) is False and m.poller.caught_up  # nothing yet
    put(aws, "s", "a")
    start = m.poller.position
    assert m.poller._step(m.poller.config()) is True and fake.calls == []
    put(aws, "s", "b")
    clock[0] += 1.0
    assert m.poller._step(m.poller.config()) is True and fake.calls == []
    assert m.poller.position == start or start is None
    clock[0] += 1.0  # exactly the window: it has ended
    assert m.poller._step(m.poller.config()) is True
    assert fake.calls == [["a", "b"]]
    for key in ("c", "d", "e"):  # a full batch goes at once
        put(aws, "s", key)
    assert m.poller._step(m.poller.config()) is True
    assert fake.calls == [["a", "b"], ["c", "d", "e"]]
    put(aws, "s", "f")  # a new window starts from this record
    assert m.poller._step(m.poller.config()) is True and len(fake.calls) == 2
    clock[0] += 2.0
    assert m.poller._step(m.poller.config()) is True and fake.calls[-1] == ["f"]


def _failing_for(monkeypatch, bad: str, times: int = 1_000) -> None:
    """lambda_record fails for the record of key ``bad`` (its first ``times`` calls), as a bug of the emulator would."""
    original = trigger.lambda_record
    calls = [0]

    def failing(raw, arn):
        if raw["dynamodb"]["Keys"]["id"]["S"] == bad and calls[0] < times:
            calls[0] += 1
            raise ValueError("cannot")
        return original(raw, arn)

    monkeypatch.setattr(trigger, "lambda_record", failing)


@pytest.mark.parametrize("queue", [True, False])
def test_a_record_the_trigger_cannot_prepare_is_tried_three_times_then_set_aside(aws, sent, monkeypatch, queue):
    m = make_mapping(aws, items=["a", "bad", "c"], queue=queue)
    seq = seqs_of("s")
    shard_records("s")[1]["dynamodb"]["ApproximateCreationDateTime"] -= 100  # its own arrival, not the time it is set aside
    _failing_for(monkeypatch, "bad")
    fake = FakeFunction()
    monkeypatch.setattr(m.poller, "_invoke", fake)
    assert m.poller._step(m.poller.config()) is True
    assert fake.calls == [["a"]] and m.poller.position == seq["bad"]
    assert PROBLEMS.snapshot() == []
    key = f"{m.uuid}/{seq['bad']}"
    detail = {"source": "trigger", "key": key, "mapping": m.uuid, "function_arn": m.function, "stream_arn": m.stream,
              "shard_id": m.poller.shard_id, "sequence_number": str(seq["bad"]), "keys": {"id": {"S": "bad"}}, "error": "ValueError: cannot"}
    for attempt in (1, 2):
        assert m.poller._step(m.poller.config()) is False
        [problem] = PROBLEMS.snapshot()
        assert {k: problem[k] for k in detail} == detail
        assert (problem["attempts"], problem["count"], problem["active"]) == (attempt, attempt, True)
    assert m.poller.position == seq["bad"] and sent == []
    assert m.poller._step(m.poller.config()) is True
    assert fake.calls == [["a"], ["c"]] and m.poller.position == seq["c"] + 1
    [problem] = PROBLEMS.snapshot()
    assert {k: problem[k] for k in detail} == detail
    assert (problem["attempts"], problem["active"]) == (3, False)
    assert problem["outcome"] == f"set aside, sent to {m.dest if queue else 'no OnFailure destination'}"
    assert {k: METRICS.get(f"trigger.{k}") for k in ("record_errors", "records_set_aside", "records_discarded", "runtime_errors")} == {
        "record_errors": 3, "records_set_aside": 1, "records_discarded": 1, "runtime_errors": 3}
    if not queue:
        assert sent == []
        return
    assert len(sent) == 1
    message = sent[0][1]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted" and message["requestContext"]["approximateInvokeCount"] == 3
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    info = message["DDBStreamBatchInfo"]
    arrival = trigger._iso(shard_records("s")[1]["dynamodb"]["ApproximateCreationDateTime"])
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"], info["approximateArrivalOfFirstRecord"], info["shardId"]) == (
        str(seq["bad"]), str(seq["bad"]), 1, arrival, m.poller.shard_id)


def test_a_record_that_fails_to_prepare_once_is_delivered_when_it_works_again(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["bad", "c", "d"])
    seq = seqs_of("s")
    _failing_for(monkeypatch, "bad", times=2)
    fake = FakeFunction()
    monkeypatch.setattr(m.poller, "_invoke", fake)
    assert [m.poller._step(m.poller.config()) for _ in range(4)] == [False, False, True, False]
    assert fake.calls == [["bad", "c", "d"]]
    assert sent == [] and METRICS.get("trigger.records_set_aside") == 0
    assert m.poller.position == seq["d"] + 1 and m.poller._record_errors == {}


def test_a_record_that_failed_to_prepare_and_is_filtered_out_afterwards_does_not_stall_the_next(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["bad", "c"])
    _failing_for(monkeypatch, "bad")
    fake = FakeFunction()
    monkeypatch.setattr(m.poller, "_invoke", fake)
    assert m.poller._step(m.poller.config()) is False
    aws.client("lambda").update_event_source_mapping(UUID=m.uuid, FilterCriteria={"Filters": [{"Pattern": json.dumps({"dynamodb": {"Keys": {"id": {"S": ["c"]}}}})}]})
    monkeypatch.setattr(trigger, "lambda_record", _original_lambda_record)
    drive(m, fake, monkeypatch)
    assert fake.calls == [["c"]] and sent == []


_original_lambda_record = trigger.lambda_record


def test_a_filtered_record_before_an_unpreparable_one_is_checkpointed(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["skip", "bad"], FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["REMOVE"]})}]})
    seq = seqs_of("s")
    _failing_for(monkeypatch, "bad")
    monkeypatch.setattr(m.poller, "_invoke", FakeFunction())
    assert m.poller._step(m.poller.config()) is False
    assert m.poller.position == seq["bad"]


def test_no_checkpoint_when_the_mapping_is_deleted_or_the_poller_stopped_while_retrying(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b"])
    start_seq = seqs_of("s")["a"]

    def delete_then_fail(call, ids):
        aws.client("lambda").delete_event_source_mapping(UUID=m.uuid)
        return "error"

    fake = FakeFunction(delete_then_fail)
    monkeypatch.setattr(m.poller, "_invoke", fake)
    cfg = m.poller.config()
    assert m.poller._step(cfg) is False
    assert fake.calls == [["a", "b"]] and m.poller.position == start_seq and sent == []

    n = make_mapping(aws, table="s2", items=["x"])
    fake2 = FakeFunction(lambda call, ids: n.poller._stop.set() or "error")
    monkeypatch.setattr(n.poller, "_invoke", fake2)
    assert n.poller._step(n.poller.config()) is False
    assert fake2.calls == [["x"]] and n.poller.position == seqs_of("s2")["x"] and sent == []


def test_a_large_lane_is_sent_in_batches_of_at_most_batch_size(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a"], queue=False, BatchSize=2)
    cfg = m.poller.config()
    fake = FakeFunction()
    monkeypatch.setattr(m.poller, "_invoke", fake)
    items = [trigger.Item(n, 0, json.dumps({"dynamodb": {"Keys": {"id": {"S": f"k{n}"}}, "SequenceNumber": str(n)}})) for n in range(5)]
    assert m.poller._deliver_in_batches(cfg, "shard", items) is True
    assert fake.seqs == [[0, 1], [2, 3], [4]]


def test_parallel_lanes_keep_each_items_records_in_order_and_deliver_each_once(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a"], queue=False, BatchSize=2)
    cfg = dataclasses.replace(m.poller.config(), parallelization=3)
    fake = FakeFunction()
    lock = threading.Lock()

    def safe(cfg_, segment):
        with lock:
            return fake(cfg_, segment)

    monkeypatch.setattr(m.poller, "_invoke", safe)
    items = [trigger.Item(n, 0, json.dumps({"dynamodb": {"Keys": {"id": {"S": f"k{n % 4}"}}, "SequenceNumber": str(n)}})) for n in range(12)]
    assert m.poller._deliver_lanes(cfg, "shard", items) is True
    delivered = [s for batch in fake.seqs for s in batch]
    assert sorted(delivered) == list(range(12))
    assert all(len(batch) <= 2 for batch in fake.seqs)
    for key in range(4):
        assert [s for s in delivered if s % 4 == key] == [key, key + 4, key + 8]
    lanes = {trigger._lane(i, 3) for i in items}
    assert len(lanes) > 1 and all(trigger._lane(i, 1) == 0 for i in items)


def _step_all(m: SimpleNamespace, fake: FakeFunction, monkeypatch) -> None:
    monkeypatch.setattr(m.poller, "_invoke", fake)
    for _ in range(20):
        if not m.poller._step(m.poller.config()):
            return
    raise AssertionError("the poller never caught up")


@pytest.mark.parametrize("room, expected", [(0, [["a", "b"], ["c", "d"]]), (-1, [["a"], ["b"], ["c"], ["d"]])])
def test_the_payload_limit_splits_batches_at_its_exact_edge(aws, sent, monkeypatch, room, expected):
    """The invocation payload ({"Records":[...]}) may reach the limit but not exceed it (the 6 MB made small here)."""
    m = make_mapping(aws, items=["a", "b", "c", "d"], BatchSize=10, MaximumBatchingWindowInSeconds=300)
    record = trigger.lambda_record(shard_records("s")[0], m.stream)
    length = len(json.dumps(record, separators=(",", ":")))
    monkeypatch.setattr(trigger, "PAYLOAD_LIMIT", len('{"Records":[]}') + 2 * (length + 1) + room)
    fake = FakeFunction()
    _step_all(m, fake, monkeypatch)  # the batches are more than half the limit: sent at once despite the window
    assert fake.calls == expected
    assert all(len(json.dumps(e, separators=(",", ":"))) <= trigger.PAYLOAD_LIMIT for e in fake.events)
    assert m.poller.position == seqs_of("s")["d"] + 1


@pytest.mark.parametrize("room, expected", [(0, [[0, 1], [2, 3], [4]]), (-1, [[0], [1], [2], [3], [4]])])
def test_a_lane_is_split_into_invocations_at_the_payload_limit(aws, sent, monkeypatch, room, expected):
    m = make_mapping(aws, items=["a"], queue=False, BatchSize=10)
    cfg = m.poller.config()
    items = [trigger.Item(n, 0, json.dumps({"dynamodb": {"Keys": {"id": {"S": f"k{n}"}}, "SequenceNumber": str(n)}})) for n in range(5)]
    monkeypatch.setattr(trigger, "PAYLOAD_LIMIT", len('{"Records":[]}') + 2 * (len(items[0].json) + 1) + room)
    fake = FakeFunction()
    monkeypatch.setattr(m.poller, "_invoke", fake)
    assert m.poller._deliver_in_batches(cfg, "shard", items) is True
    assert fake.seqs == expected


def test_two_unpreparable_records_in_a_row_at_the_end_are_both_set_aside_and_the_checkpoint_passes_them(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "bad1", "bad2"], queue=False)
    seq = seqs_of("s")
    original = trigger.lambda_record

    def failing(raw, arn):
        if raw["dynamodb"]["Keys"]["id"]["S"].startswith("bad"):
            raise ValueError("cannot")
        return original(raw, arn)

    monkeypatch.setattr(trigger, "lambda_record", failing)
    fake = FakeFunction()
    monkeypatch.setattr(m.poller, "_invoke", fake)
    # a, then bad1 three times (the third sets it aside and meets bad2), bad2 twice more, then nothing left
    assert [m.poller._step(m.poller.config()) for _ in range(6)] == [True, False, False, False, False, True]
    assert fake.calls == [["a"]]
    assert m.poller.position == seq["bad2"] + 1 and METRICS.get("trigger.records_set_aside") == 2
    assert m.poller._step(m.poller.config()) is False and METRICS.get("trigger.record_errors") == 6  # nothing tried again


def test_a_new_shard_restarts_the_checkpoint_and_a_gone_stream_is_idle(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b"])
    seq = seqs_of("s")
    fake = FakeFunction()
    monkeypatch.setattr(m.poller, "_invoke", fake)
    m.poller.shard_id, m.poller.position = "shardId-of-an-older-stream", seq["b"] + 1000
    assert m.poller._step(m.poller.config()) is True
    assert fake.calls == [["a", "b"]] and m.poller.position == seq["b"] + 1
    cfg = m.poller.config()
    aws.client("dynamodb").delete_table(TableName="s")
    assert m.poller._step(cfg) is False


def test_latest_without_a_remembered_position_starts_at_the_streams_end(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b"], StartingPosition="LATEST")
    cfg = dataclasses.replace(m.poller.config(), latest_sequence_number=None)
    fake = FakeFunction()
    monkeypatch.setattr(m.poller, "_invoke", fake)
    assert m.poller._step(cfg) is False and fake.calls == []
    assert m.poller.position == seqs_of("s")["b"] + 1


def test_iso_times_are_utc_with_milliseconds_when_asked(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert trigger._iso(1_800_000_000.123456) == "2027-01-15T08:00:00Z"
        assert trigger._iso(1_800_000_000.123456, millis=True) == "2027-01-15T08:00:00.123Z"
        assert trigger._iso(1_800_000_000.9999, millis=True) == "2027-01-15T08:00:00.999Z"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the lane thread dies on purpose
def test_a_lane_that_fails_keeps_the_checkpoint_and_its_discards_name_the_shard(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a"], BatchSize=2, MaximumRetryAttempts=0)
    cfg = dataclasses.replace(m.poller.config(), parallelization=2)
    items = [trigger.Item(n, NOW, json.dumps({"dynamodb": {"Keys": {"id": {"S": f"k{n}"}}, "SequenceNumber": str(n)}})) for n in range(8)]
    assert len({trigger._lane(i, 2) for i in items}) == 2

    def broken(cfg_, segment):
        raise RuntimeError("the lane thread dies")

    monkeypatch.setattr(m.poller, "_invoke", broken)
    assert m.poller._deliver_lanes(cfg, "shard-x", items) is False
    monkeypatch.setattr(m.poller, "_invoke", FakeFunction(lambda call, ids: "error"))
    assert m.poller._deliver_lanes(cfg, "shard-x", items) is True
    assert {s[1]["DDBStreamBatchInfo"]["shardId"] for s in sent} == {"shard-x"} and len(sent) >= 2


def test_the_event_carries_binary_keys_and_images_as_base64_and_the_records_own_ids(aws, sent, monkeypatch):
    import base64

    ddb = aws.client("dynamodb")
    stream = ddb.create_table(TableName="bin", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "B"}], BillingMode="PAY_PER_REQUEST",
                              StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]["LatestStreamArn"]
    ddb.put_item(TableName="bin", Item={"id": {"B": b"\x00k"}, "v": {"B": b"\xffold"}})
    ddb.put_item(TableName="bin", Item={"id": {"B": b"\x00k"}, "v": {"B": b"\xffnew"}})
    raws = shard_records("bin")
    record = trigger.lambda_record(raws[1], stream)
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    assert record["dynamodb"]["Keys"] == {"id": {"B": b64(b"\x00k")}}
    assert record["dynamodb"]["NewImage"] == {"id": {"B": b64(b"\x00k")}, "v": {"B": b64(b"\xffnew")}}
    assert record["dynamodb"]["OldImage"] == {"id": {"B": b64(b"\x00k")}, "v": {"B": b64(b"\xffold")}}
    assert (record["eventID"], record["eventVersion"], record["eventName"]) == (raws[1]["eventID"], "1.1", "MODIFY")
    json.dumps(record)  # plain JSON, as the function receives it


def test_a_bisected_half_that_aged_out_meanwhile_is_discarded_and_the_other_half_still_delivered(aws, sent, monkeypatch):
    m = make_mapping(aws, items=["a", "b", "c", "d"], BisectBatchOnFunctionError=True, MaximumRecordAgeInSeconds=60)
    for record, arrival in zip(shard_records("s"), (NOW - 50, NOW - 50, NOW, NOW)):
        record["dynamodb"]["ApproximateCreationDateTime"] = arrival
    clock = [float(NOW)]
    monkeypatch.setattr(trigger, "time", SimpleNamespace(time=lambda: clock[0], monotonic=time.monotonic))
    monkeypatch.setattr(streams, "_trim", lambda shard: None)

    def answer(call, ids):
        if call == 1:
            clock[0] += 20  # a and b are now 70 s old
            return "error"
        return None

    fake = FakeFunction(answer)
    drive(m, fake, monkeypatch)
    assert fake.calls == [["a", "b", "c", "d"], ["c", "d"]]
    assert [(x[1]["requestContext"]["condition"], x[1]["DDBStreamBatchInfo"]["batchSize"]) for x in sent] == [("RecordAgeExceeded", 2)]


def test_ttl_only_filter_delivers_the_sweepers_deletes_with_their_identity_and_nothing_else(aws, sent, monkeypatch):
    ttl_only = json.dumps({"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}})
    m = make_mapping(aws, items=[], FilterCriteria={"Filters": [{"Pattern": ttl_only}]})
    aws.client("dynamodb").update_time_to_live(TableName="s", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    put(aws, "s", "expired", NOW - 10)
    put(aws, "s", "user-deleted", NOW + 10)
    aws.client("dynamodb").delete_item(TableName="s", Key={"id": {"S": "user-deleted"}})
    assert TtlSweeper().sweep_once(now=NOW) == 1
    fake = FakeFunction()
    drive(m, fake, monkeypatch)
    assert fake.calls == [["expired"]]
    record = fake.events[0]["Records"][0]
    assert record["eventName"] == "REMOVE" and record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert record["dynamodb"]["OldImage"]["expires_at"] == {"N": str(NOW - 10)}


def test_a_filter_entry_without_a_pattern_matches_everything():
    assert trigger.matches_filters({"eventName": "INSERT"}, [{}])
