"""helpers.redrive: the too-late case on the embedded local AWS (records trimmed from the stream before redrive
ran: reported precisely, the note kept), notes that are not OnFailure messages, and the pieces (note parsing,
record shape, partly trimmed ranges, Firehose failures) against fakes. The whole recovery story (the trigger
gives up, redrive, nothing missing) is in tests/test_recovery.py."""

from __future__ import annotations

import json
import time

import pytest

from helpers import failure_queue, local, pipeline, redrive, trigger, verify
from helpers.settings import Settings
from tests.test_local_runtime_kit import wait_for


def _deploy_fragile(session, stack: str):
    """The whole stack, with a trigger that gives up after one retry and a function that tries Firehose
    once per invocation (so a failing Firehose makes the trigger give up within seconds)."""
    deployed = pipeline.ensure_pipeline(session, Settings(stack=stack))
    settings = deployed.settings
    trigger.ensure_trigger(session, settings, stream_arn=deployed.stream_arn, failure_queue_arn=deployed.failure_queue_arn, max_retry_attempts=1)
    lam = session.client("lambda")
    env = lam.get_function_configuration(FunctionName=settings.function_name)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=settings.function_name, Environment={"Variables": {**env, "SAFETY_MARGIN_MS": "900000"}})
    return deployed


def _notes(session, settings) -> list[dict]:
    return [n["DDBStreamBatchInfo"] for n in failure_queue.peek_failures(session, settings) if "DDBStreamBatchInfo" in n]


def _give_up_on(session, deployed, expired: int):
    """Write a verify run while Firehose fails every call; return (run, notes) once the trigger gave up on all."""
    settings = deployed.settings
    local.set_faults(firehose_call_failure_rate=1.0, delivery_streams=[settings.delivery_stream_name])
    try:
        run = verify.start_run(session, settings, deployed.identity, expired=expired, future=1, user_deleted=1, save=False)
        notes = wait_for(lambda: (lambda n: n if sum(i["batchSize"] for i in n) >= expired else None)(_notes(session, settings)),
                         "the trigger to give up on every expired item", timeout=30, interval=0.3)
    finally:
        local.clear_faults()
    return run, notes


def test_a_note_that_is_not_an_onfailure_message_is_kept_and_reported(session, stack):
    settings = Settings(stack=stack)
    queue = failure_queue.ensure_failure_queue(session, settings).description["QueueUrl"]
    session.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps({"hello": "world"}))
    report = redrive.redrive(session, settings, wait_seconds=0)
    assert not report.ok
    assert [o.status for o in report.outcomes] == [redrive.NOT_A_NOTE] and "DDBStreamBatchInfo" in report.outcomes[0].reason
    assert failure_queue.note_count(session, settings.failure_queue_name) == 1


def test_redrive_refuses_to_start_without_a_failure_queue(session, stack):
    with pytest.raises(redrive.RedriveError, match="does not exist"):
        redrive.redrive(session, Settings(stack=stack))
    with pytest.raises(ValueError, match="max_notes"):
        redrive.redrive(session, Settings(stack=stack), max_notes=0)


def test_parse_note_reads_aws_shape_and_sns_envelopes_and_rejects_the_rest():
    info = {"shardId": "shardId-1", "startSequenceNumber": "1" + "0" * 20, "endSequenceNumber": "1" + "0" * 19 + "5", "batchSize": 3,
            "streamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026"}
    body = json.dumps({"requestContext": {"condition": "RecordAgeExceeded"}, "DDBStreamBatchInfo": info})
    assert redrive.parse_note(body)["condition"] == "RecordAgeExceeded"
    assert redrive.parse_note(json.dumps({"Type": "Notification", "Message": body}))["shardId"] == "shardId-1"
    for bad, match in (("not json", "not JSON"), (json.dumps({"DDBStreamBatchInfo": {**info, "endSequenceNumber": "9" * 20}}), "not a sequence number"),
                       (json.dumps({"DDBStreamBatchInfo": {**info, "endSequenceNumber": "09" + "9" * 19}}), "before"),
                       (json.dumps({"DDBStreamBatchInfo": {**info, "shardId": ""}}), "shardId"),
                       (json.dumps({"DDBStreamBatchInfo": {**info, "startSequenceNumber": "x1"}}), "not a sequence number")):
        with pytest.raises(ValueError, match=match):
            redrive.parse_note(bad)


def test_lambda_record_matches_the_event_shape():
    from datetime import datetime, timezone

    raw = {"eventID": "e", "eventName": "REMOVE", "eventVersion": "1.1", "awsRegion": "eu-west-1",
           "userIdentity": {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"},
           "dynamodb": {"ApproximateCreationDateTime": datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc), "SequenceNumber": "7",
                        "OldImage": {"b": {"B": b"\x00\xff"}, "m": {"M": {"bs": {"BS": [b"\x01"]}}}}}}
    record = redrive.lambda_record(raw, "arn:stream")
    assert record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1796040000
    assert record["dynamodb"]["OldImage"] == {"b": {"B": "AP8="}, "m": {"M": {"bs": {"BS": ["AQ=="]}}}}
    assert record["eventSourceARN"] == "arn:stream" and record["eventSource"] == "aws:dynamodb"


RETENTION_SECONDS = 4


@pytest.fixture
def short_retention_session(monkeypatch):
    """A second embedded local AWS whose streams keep records only RETENTION_SECONDS (AWS: 24 hours)."""
    from helpers import target
    from tests.conftest import _free_port

    port = _free_port()
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_STREAM_RETENTION_SECONDS", str(RETENTION_SECONDS))
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_PORT", str(port))
    local.ensure_running(port)
    try:
        yield target.session("local")
    finally:
        local.stop(port)


def test_records_trimmed_from_the_stream_are_reported_precisely_and_the_note_is_kept(short_retention_session, stack):
    """The stack's table, queue and archiver function, made directly (no bucket, Firehose or alarms: quick). The
    function's delivery stream does not exist, so every invocation fails and the trigger gives up at once."""
    from datetime import datetime

    from tests.test_local_runtime_faults import ARCHIVER, TTL_ONLY
    from tests.test_local_runtime_kit import item, make_function, make_mapping, make_queue, make_table, put_items

    session = short_retention_session
    settings = Settings(stack=stack)
    stream_arn = make_table(session, settings.table_name)
    _url, queue_arn = make_queue(session, settings.failure_queue_name)
    make_function(session, settings.function_name, files={"archiver.py": ARCHIVER.read_text()}, handler="archiver.handler",
                  env={"DELIVERY_STREAM_NAME": settings.delivery_stream_name, "TTL_ATTRIBUTE": "expires_at"})
    make_mapping(session, settings.function_name, stream_arn, BatchSize=100, MaximumBatchingWindowInSeconds=1, FilterCriteria=TTL_ONLY,
                 FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    put_items(session, settings.table_name, [item(f"gone-{n}", int(time.time()) - 10) for n in range(6)])
    notes = wait_for(lambda: (lambda n: n if sum(i["batchSize"] for i in n) >= 6 else None)(_notes(session, settings)),
                     "the trigger to give up on every expired item", timeout=30, interval=0.3)

    last = max(datetime.fromisoformat(n["approximateArrivalOfLastRecord"].replace("Z", "+00:00")).timestamp() for n in notes)
    time.sleep(max(0.0, last + RETENTION_SECONDS + 1.5 - time.time()))  # the records' 'day' in the stream is over

    report = redrive.redrive(session, settings, wait_seconds=0)
    assert not report.ok and report.missing == 6 and report.archived == 0 and report.notes_deleted == 0
    by_start = {o.note.start: o for o in report.outcomes}
    for note in notes:
        outcome = by_start[int(note["startSequenceNumber"])]
        assert outcome.status == redrive.LOST and outcome.missing == note["batchSize"] and not outcome.deleted
        assert "trimmed" in outcome.reason
        text = outcome.describe()
        assert note["shardId"] in text and f"{note['startSequenceNumber']}-{note['endSequenceNumber']}" in text
        assert f"{note['batchSize']} no longer in the stream" in text and "note kept" in text
    assert "no longer in the stream" in report.describe() and "--forget-lost" in report.describe()
    assert failure_queue.note_count(session, settings.failure_queue_name) == len(notes), "every note stays in the queue"

    forgotten = redrive.redrive(session, settings, forget_lost=True, wait_seconds=0)
    assert forgotten.notes_deleted == len(notes) and failure_queue.note_count(session, settings.failure_queue_name) == 0


class FakeStreams:
    """GetShardIterator/GetRecords over a list of records whose oldest ones may be trimmed."""

    def __init__(self, seqs, *, trimmed_before=0, raise_trimmed=False):
        self.records = [_ttl_record(s) for s in seqs if s >= trimmed_before]
        self.raise_trimmed = raise_trimmed and trimmed_before

    def get_shard_iterator(self, ShardIteratorType, SequenceNumber=None, **_):
        from botocore.exceptions import ClientError

        if ShardIteratorType == "AT_SEQUENCE_NUMBER" and self.raise_trimmed and int(SequenceNumber) < self.raise_trimmed:
            raise ClientError({"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}}, "GetShardIterator")
        start = int(SequenceNumber) if SequenceNumber else 0
        return {"ShardIterator": str(start)}

    def get_records(self, ShardIterator, Limit):
        start = int(ShardIterator)
        page = [r for r in self.records if int(r["dynamodb"]["SequenceNumber"]) >= start][:2]  # small pages
        nxt = str(int(page[-1]["dynamodb"]["SequenceNumber"]) + 1) if page else ShardIterator
        return {"Records": page, "NextShardIterator": nxt}


def _ttl_record(seq):
    from datetime import datetime, timezone

    return {"eventID": f"e{seq}", "eventName": "REMOVE", "eventVersion": "1.1", "awsRegion": "us-east-1",
            "userIdentity": {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"},
            "dynamodb": {"ApproximateCreationDateTime": datetime(2026, 11, 30, tzinfo=timezone.utc), "SequenceNumber": str(seq),
                         "Keys": {"id": {"S": f"k{seq}"}}, "OldImage": {"id": {"S": f"k{seq}"}, "expires_at": {"N": "1"}}}}


class FakeFirehose:
    def __init__(self, fail=False):
        self.fail, self.lines = fail, []

    def put_record_batch(self, DeliveryStreamName, Records):
        if self.fail:
            return {"FailedPutCount": len(Records), "RequestResponses": [{"ErrorCode": "ServiceUnavailableException"} for _ in Records]}
        self.lines += [line for r in Records for line in r["Data"].decode().splitlines()]
        return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "x"} for _ in Records]}


NOTE = redrive.Note("m", "r", "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x", "shardId-1", start=10, end=15, batch_size=6)
CONFIG = __import__("helpers.archiver", fromlist=["Config"]).Config(delivery_stream_name="s", safety_margin_ms=0)


@pytest.mark.parametrize("raise_trimmed", [False, True])
def test_a_partly_trimmed_range_archives_what_is_left_and_keeps_the_note(raise_trimmed):
    firehose = FakeFirehose()
    outcome = redrive.redrive_note(NOTE, streams=FakeStreams(range(5, 30), trimmed_before=13, raise_trimmed=raise_trimmed), firehose=firehose, config=CONFIG)
    assert outcome.status == redrive.PARTLY_LOST and outcome.missing == 3 and outcome.archived == 3 and not outcome.deleted
    assert sorted(json.loads(line)["sequence_number"] for line in firehose.lines) == ["13", "14", "15"]
    assert "trimmed" in outcome.reason


def test_a_whole_range_in_the_stream_is_archived_through_the_archiver_and_the_note_may_go():
    firehose = FakeFirehose()
    outcome = redrive.redrive_note(NOTE, streams=FakeStreams(range(5, 30)), firehose=firehose, config=CONFIG)
    assert outcome.status == redrive.REDRIVEN and outcome.archived == 6 and outcome.deleted
    lines = [json.loads(line) for line in firehose.lines]
    assert [line["keys"]["id"] for line in lines] == [f"k{s}" for s in range(10, 16)]
    assert all(line["deleted_at"] == "2026-11-30T00:00:00Z" for line in lines)


def test_a_note_whose_records_firehose_did_not_take_is_kept():
    outcome = redrive.redrive_note(NOTE, streams=FakeStreams(range(5, 30)), firehose=FakeFirehose(fail=True), config=CONFIG, budget_ms=300)
    assert outcome.status == redrive.FAILED and not outcome.deleted and "run redrive again" in outcome.reason


def test_notes_of_a_gone_stream_or_an_unreadable_shard_are_kept_and_the_others_go_on(session, stack, monkeypatch):
    from botocore.exceptions import ClientError

    settings = Settings(stack=stack)
    queue = failure_queue.ensure_failure_queue(session, settings).description["QueueUrl"]
    gone = {"shardId": "shardId-00000001796000000000-abcd0123", "startSequenceNumber": "1" + "0" * 20, "endSequenceNumber": "1" + "0" * 19 + "1", "batchSize": 2,
            "streamArn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{stack}-no-such-table/stream/2026-11-30T00:00:00.000"}
    session.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps({"requestContext": {"condition": "RecordAgeExceeded"}, "DDBStreamBatchInfo": gone}))
    report = redrive.redrive(session, settings, wait_seconds=0)
    (outcome,) = report.outcomes
    assert outcome.status == redrive.LOST and outcome.missing == 2 and not outcome.deleted and "can no longer be read" in outcome.reason

    def unreadable(streams, note):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "GetRecords")

    monkeypatch.setattr(redrive, "read_range", unreadable)
    session.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps({"DDBStreamBatchInfo": {**gone, "startSequenceNumber": "2" + "0" * 20, "endSequenceNumber": "2" + "0" * 20, "batchSize": 1}}))
    report = redrive.redrive(session, settings, wait_seconds=0)
    assert sorted(o.status for o in report.outcomes) == [redrive.FAILED, redrive.FAILED]
    assert all("InternalServerError" in o.reason and not o.deleted for o in report.outcomes)
    assert failure_queue.note_count(session, settings.failure_queue_name) == 2
