"""The stream trigger (event source mapping poller) and Lambda execution on the embedded local AWS."""

from __future__ import annotations

import json
import time

from tests.test_local_runtime_kit import (
    item, make_bucket, make_function, make_mapping, make_queue, make_table, put_items, spy_calls, wait_for,
)

TTL_ONLY = {"Filters": [{"Pattern": json.dumps({"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}})}]}


def _pipeline(session, stack, *, env=None, timeout=10, ttl=True, **mapping):
    """Table + spy function + mapping with ``mapping`` options: (table, stream ARN, spy bucket, function name)."""
    table, bucket, function = f"{stack}-t", f"{stack}-spy", f"{stack}-fn"
    stream = make_table(session, table, ttl_attribute="expires_at" if ttl else None)
    make_bucket(session, bucket)
    make_function(session, function, env={"SPY_BUCKET": bucket, **(env or {})}, timeout=timeout)
    make_mapping(session, function, stream, **mapping)
    return table, stream, bucket, function


def _ids(calls):
    return [c["ids"] for c in calls]


def _messages(session, url, count, timeout=30):
    sqs = session.client("sqs")
    got: list = []

    def poll():
        got.extend(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
        return len(got) >= count

    wait_for(poll, f"{count} OnFailure message(s)", timeout=timeout)
    return [json.loads(m["Body"]) for m in got]


def test_lambda_event_has_aws_shape_and_the_worker_has_lambda_context_and_environment(session, stack):
    table, stream, bucket, function = _pipeline(session, stack, env={"GREETING": "hello"}, BatchSize=10)
    put_items(session, table, [item("a", int(time.time()) - 1)])
    calls = wait_for(lambda: [c for c in spy_calls(session, bucket) if any(r["eventName"] == "REMOVE" for r in c["event"]["Records"])] and spy_calls(session, bucket), "the TTL REMOVE to be delivered")
    records = [r for c in calls for r in c["event"]["Records"]]
    insert, remove = records[0], records[-1]
    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    assert list(remove) == ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "userIdentity", "eventSourceARN"]
    assert "userIdentity" not in insert
    assert remove["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert remove["eventSource"] == "aws:dynamodb" and remove["eventVersion"] == "1.1"
    assert remove["awsRegion"] == "us-east-1" and remove["eventSourceARN"] == stream
    dynamodb = remove["dynamodb"]
    assert isinstance(dynamodb["ApproximateCreationDateTime"], int) and abs(dynamodb["ApproximateCreationDateTime"] - time.time()) < 60
    assert dynamodb["Keys"] == {"id": {"S": "a"}} and dynamodb["OldImage"]["id"] == {"S": "a"} and "NewImage" not in dynamodb
    assert dynamodb["StreamViewType"] == "NEW_AND_OLD_IMAGES" and int(dynamodb["SequenceNumber"]) > int(insert["dynamodb"]["SequenceNumber"])
    assert isinstance(dynamodb["SizeBytes"], int)
    first = calls[0]
    assert first["function_name"] == function and first["memory_limit_in_mb"] == 256
    assert 0 < first["remaining_ms"] <= 10_000
    assert first["env"]["AWS_REGION"] == "us-east-1" and first["env"]["AWS_LAMBDA_FUNCTION_NAME"] == function
    assert first["env"]["GREETING"] == "hello" and first["env"]["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert first["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"


def test_ttl_only_filter_drops_inserts_and_user_deletes_and_moves_past_them(session, stack):
    table, stream, bucket, _ = _pipeline(session, stack, FilterCriteria=TTL_ONLY, BatchSize=100)
    ddb = session.client("dynamodb")
    now = int(time.time())
    put_items(session, table, [item("user-deleted", now + 3600), item("kept", now + 3600)])
    ddb.delete_item(TableName=table, Key={"id": {"S": "user-deleted"}})
    put_items(session, table, [item("expired-1", now - 1), item("expired-2", now - 1)])
    wait_for(lambda: sorted(i for c in spy_calls(session, bucket) for i in c["ids"]) == ["expired-1", "expired-2"], "both TTL deletes", timeout=20)
    time.sleep(1.0)
    records = [r for c in spy_calls(session, bucket) for r in c["event"]["Records"]]
    assert {r["eventName"] for r in records} == {"REMOVE"}
    assert all(r["userIdentity"]["principalId"] == "dynamodb.amazonaws.com" for r in records)


def test_batch_size_is_honoured_and_records_arrive_in_order(session, stack):
    table, stream, bucket, function = _pipeline(session, stack, Enabled=False, BatchSize=3)
    written = [f"k{n:02d}" for n in range(10)]
    for key in written:
        put_items(session, table, [item(key)])
    uuid = session.client("lambda").list_event_source_mappings(FunctionName=function)["EventSourceMappings"][0]["UUID"]
    session.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=True)
    calls = wait_for(lambda: sum(len(c["ids"]) for c in spy_calls(session, bucket)) >= 10 and spy_calls(session, bucket), "10 records")
    assert [len(ids) for ids in _ids(calls)] == [3, 3, 3, 1]
    assert [i for ids in _ids(calls) for i in ids] == written
    seqs = [int(s) for c in calls for s in c["seqs"]]
    assert seqs == sorted(seqs)


def test_disabled_mapping_delivers_nothing_and_latest_skips_older_records(session, stack):
    table, stream, bucket, function = _pipeline(session, stack, Enabled=False)  # TRIM_HORIZON, disabled
    put_items(session, table, [item("before-latest")])
    make_mapping(session, function, stream, StartingPosition="LATEST")
    put_items(session, table, [item("after-latest")])
    wait_for(lambda: [i for c in spy_calls(session, bucket) for i in c["ids"]] == ["before-latest", "after-latest"] or
             [i for c in spy_calls(session, bucket) for i in c["ids"]].count("after-latest") == 1, "the LATEST mapping to deliver")
    time.sleep(1.0)
    ids = [i for c in spy_calls(session, bucket) for i in c["ids"]]
    assert ids == ["after-latest"], "the disabled TRIM_HORIZON mapping must deliver nothing, LATEST only what came after it"


def test_batching_window_gathers_records_into_one_invocation(session, stack):
    table, stream, bucket, _ = _pipeline(session, stack, BatchSize=100, MaximumBatchingWindowInSeconds=2)
    for key in ("w1", "w2", "w3"):
        put_items(session, table, [item(key)])
        time.sleep(0.3)
    calls = wait_for(lambda: spy_calls(session, bucket), "the batch", timeout=10)
    time.sleep(0.5)
    assert _ids(spy_calls(session, bucket)) == [["w1", "w2", "w3"]]


def test_failed_batch_is_retried_whole_and_blocks_the_shard_until_it_succeeds(session, stack):
    table, stream, bucket, _ = _pipeline(session, stack, env={"BEHAVIOUR": "fail_first", "FAIL_TIMES": "2"}, BatchSize=2)
    put_items(session, table, [item(k) for k in ("r1", "r2", "r3")])
    calls = wait_for(lambda: len(spy_calls(session, bucket)) >= 4 and spy_calls(session, bucket), "retries and the next batch")
    assert _ids(calls)[:4] == [["r1", "r2"], ["r1", "r2"], ["r1", "r2"], ["r3"]]


def test_bisect_isolates_the_poison_record_and_only_it_goes_to_the_failure_queue(session, stack):
    url, queue_arn = make_queue(session, f"{stack}-dlq")
    table, stream, bucket, function = _pipeline(
        session, stack, env={"BEHAVIOUR": "fail_on_poison", "POISON": "p"}, BatchSize=4, BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    put_items(session, table, [item(k) for k in ("g1", "g2", "p", "g3")])
    [message] = _messages(session, url, 1)
    calls = spy_calls(session, bucket)
    assert _ids(calls) == [["g1", "g2", "p", "g3"], ["g1", "g2"], ["p", "g3"], ["p"], ["p"], ["g3"]]
    info = message["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"] == calls[3]["seqs"][0]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted" and message["requestContext"]["approximateInvokeCount"] == 2


def test_report_batch_item_failures_resumes_from_the_lowest_reported_record(session, stack):
    url, queue_arn = make_queue(session, f"{stack}-dlq")
    table, stream, bucket, _ = _pipeline(
        session, stack, env={"BEHAVIOUR": "report_poison", "POISON": "k3,k1"}, BatchSize=5, FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    put_items(session, table, [item(f"k{n}") for n in range(5)])
    [message] = _messages(session, url, 1)
    calls = spy_calls(session, bucket)
    assert _ids(calls) == [["k0", "k1", "k2", "k3", "k4"], ["k1", "k2", "k3", "k4"]]
    info = message["DDBStreamBatchInfo"]
    assert (info["batchSize"], info["startSequenceNumber"], info["endSequenceNumber"]) == (4, calls[0]["seqs"][1], calls[0]["seqs"][4])
    assert "functionError" not in message["responseContext"]  # the function answered; it reported failures


def test_invalid_item_identifier_fails_the_whole_batch(session, stack):
    url, queue_arn = make_queue(session, f"{stack}-dlq")
    table, stream, bucket, _ = _pipeline(
        session, stack, env={"BEHAVIOUR": "report_invalid"}, BatchSize=3, FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    put_items(session, table, [item(k) for k in ("a", "b", "c")])
    [message] = _messages(session, url, 1)
    assert _ids(spy_calls(session, bucket)) == [["a", "b", "c"], ["a", "b", "c"]]
    assert message["DDBStreamBatchInfo"]["batchSize"] == 3


def test_retries_exhausted_sends_aws_shaped_metadata_and_the_shard_moves_on(session, stack):
    url, queue_arn = make_queue(session, f"{stack}-dlq")
    table, stream, bucket, function = _pipeline(
        session, stack, env={"BEHAVIOUR": "fail_on_poison", "POISON": "p"}, BatchSize=2, MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    put_items(session, table, [item(k) for k in ("a", "p", "b", "c")])
    [message] = _messages(session, url, 1)
    wait_for(lambda: ["b", "c"] in _ids(spy_calls(session, bucket)), "the next batch after the discarded one")
    calls = spy_calls(session, bucket)
    assert _ids(calls) == [["a", "p"]] * 3 + [["b", "c"]]
    assert set(message) == {"requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"}
    assert message["version"] == "1.0" and message["timestamp"].endswith("Z")
    context = message["requestContext"]
    assert context["condition"] == "RetryAttemptsExhausted" and context["approximateInvokeCount"] == 3
    assert context["functionArn"].endswith(f":function:{function}") and context["requestId"]
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    info = message["DDBStreamBatchInfo"]
    assert set(info) == {"shardId", "startSequenceNumber", "endSequenceNumber", "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord", "batchSize", "streamArn"}
    assert info["streamArn"] == stream and info["batchSize"] == 2 and info["shardId"].startswith("shardId-")
    assert [info["startSequenceNumber"], info["endSequenceNumber"]] == calls[0]["seqs"]
    assert info["approximateArrivalOfFirstRecord"].endswith("Z") and len(info["approximateArrivalOfFirstRecord"]) == 20


def test_crash_and_timeout_are_failed_invocations(session, stack):
    lam = session.client("lambda")
    bucket = make_bucket(session, f"{stack}-spy")
    make_function(session, f"{stack}-crash", env={"SPY_BUCKET": bucket, "BEHAVIOUR": "crash"})
    make_function(session, f"{stack}-slow", env={"SPY_BUCKET": bucket, "BEHAVIOUR": "sleep", "SLEEP": "30"}, timeout=1)
    crash = lam.invoke(FunctionName=f"{stack}-crash", Payload=b"{}")
    assert crash["FunctionError"] == "Unhandled"
    error = json.loads(crash["Payload"].read())
    assert error["errorType"] == "Runtime.ExitError" and error["errorMessage"].endswith("Runtime exited with error: exit status 3")
    started = time.monotonic()
    slow = lam.invoke(FunctionName=f"{stack}-slow", Payload=b"{}")
    elapsed = time.monotonic() - started
    assert slow["FunctionError"] == "Unhandled"
    error = json.loads(slow["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout" and "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert elapsed < 5


def test_crash_in_the_trigger_is_retried_then_discarded(session, stack):
    url, queue_arn = make_queue(session, f"{stack}-dlq")
    table, stream, bucket, _ = _pipeline(session, stack, env={"BEHAVIOUR": "crash"}, MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    put_items(session, table, [item("x")])
    [message] = _messages(session, url, 1)
    assert len(spy_calls(session, bucket)) == 2  # the first try and one retry, each a crashed worker
    assert message["responseContext"]["functionError"] == "Unhandled"


def test_invoke_runs_the_real_code(session, stack):
    lam = session.client("lambda")
    bucket = make_bucket(session, f"{stack}-spy")
    make_function(session, f"{stack}-echo", env={"SPY_BUCKET": bucket, "BEHAVIOUR": "echo"})
    result = lam.invoke(FunctionName=f"{stack}-echo", Payload=json.dumps({"hello": "world"}).encode(), LogType="Tail")
    assert "FunctionError" not in result and result["StatusCode"] == 200
    body = json.loads(result["Payload"].read())
    assert body["echo"] == {"hello": "world"} and 0 < body["remaining_ms"] <= 10_000
    make_function(session, f"{stack}-fail", env={"SPY_BUCKET": bucket, "BEHAVIOUR": "always_fail"})
    failed = lam.invoke(FunctionName=f"{stack}-fail", Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorType"] == "RuntimeError" and error["errorMessage"] == "always failing" and error["stackTrace"]


def test_updated_code_is_used_by_the_next_invocation(session, stack):
    from tests.test_local_runtime_kit import zip_source

    lam = session.client("lambda")
    make_function(session, f"{stack}-v", files={"m.py": "def h(e, c):\n    return 'v1'\n"}, handler="m.h")
    assert json.loads(lam.invoke(FunctionName=f"{stack}-v")["Payload"].read()) == "v1"
    lam.update_function_code(FunctionName=f"{stack}-v", ZipFile=zip_source({"m.py": "def h(e, c):\n    return 'v2'\n"}))
    assert json.loads(lam.invoke(FunctionName=f"{stack}-v")["Payload"].read()) == "v2"
    make_function(session, f"{stack}-bad", files={"m.py": "import not_a_module\n"}, handler="m.h")
    bad = lam.invoke(FunctionName=f"{stack}-bad")
    assert bad["FunctionError"] == "Unhandled"
    assert json.loads(bad["Payload"].read())["errorType"] == "Runtime.ImportModuleError"


def test_records_older_than_the_maximum_age_are_discarded_with_record_age_exceeded(session, stack):
    """AWS's minimum MaximumRecordAgeInSeconds is 60; moto accepts 3, which keeps this test short.
    (Not 1: ApproximateCreationDateTime is rounded down to whole seconds, so a record can be a second
    old when it is written and be discarded before its first invocation.)"""
    url, queue_arn = make_queue(session, f"{stack}-dlq")
    table, stream, bucket, _ = _pipeline(session, stack, env={"BEHAVIOUR": "always_fail"}, MaximumRetryAttempts=-1, MaximumRecordAgeInSeconds=3,
                                         DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    put_items(session, table, [item("old")])
    [message] = _messages(session, url, 1)
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    assert message["DDBStreamBatchInfo"]["batchSize"] == 1
    # How many retries fit in the 3 s depends on timing; what must hold: the function saw only this record.
    calls = spy_calls(session, bucket)
    assert calls and _ids(calls) == [["old"]] * len(calls)


def test_an_invalid_filter_pattern_matches_nothing_and_a_valid_one_still_matches():
    """AWS refuses an invalid pattern at CreateEventSourceMapping; the local trigger (moto accepts any
    text) must never read it as "match everything": that would archive inserts and user deletes."""
    from helpers.local.runtime import trigger_config
    from helpers.local.runtime.trigger import matches_filters

    trigger_config._pattern_cache.clear()  # compile here, not from an earlier test's cache (mutation runs fork after one)
    remove = {"eventName": "REMOVE", "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}}
    insert = {"eventName": "INSERT"}
    ttl_only = {"Pattern": json.dumps({"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}})}
    for broken in ("{not json", '{"eventName": "REMOVE"}', "[1, 2]"):
        assert not matches_filters(remove, [{"Pattern": broken}]), broken
        assert not matches_filters(insert, [{"Pattern": broken}]), broken
        # one broken filter beside a valid one: the valid one still decides
        assert matches_filters(remove, [{"Pattern": broken}, ttl_only]) and not matches_filters(insert, [{"Pattern": broken}, ttl_only])
    assert matches_filters(insert, []) and matches_filters(insert, [{"Pattern": "{}"}])  # no filter: everything
