"""helpers.teardown's steps against stub AWS clients (no local AWS): the report names each resource with its
kind and says why a step failed; a resource gone meanwhile is not a failure; an empty Scan page with more
to come still means the table holds items."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from helpers import teardown as td
from helpers.settings import MANAGED_BY_KEY, MANAGED_BY_VALUE, STACK_TAG_KEY, Settings


def client_error(code: str, message: str = "it went wrong") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


class Lambda:
    """A Lambda client whose function is gone but whose mappings are still listed."""

    def __init__(self, mappings: list[dict], delete_error: str | None = None) -> None:
        self.mappings = mappings
        self.delete_error = delete_error
        self.deleted: list[str] = []

    def get_function(self, FunctionName):  # noqa: N803 - boto3's names
        raise client_error("ResourceNotFoundException")

    def get_paginator(self, name):
        assert name == "list_event_source_mappings"
        return type("P", (), {"paginate": lambda _self, FunctionName: [{"EventSourceMappings": self.mappings}]})()

    def delete_event_source_mapping(self, UUID):  # noqa: N803
        self.deleted.append(UUID)
        if self.delete_error:
            raise client_error(self.delete_error)

    def get_event_source_mapping(self, UUID):  # noqa: N803
        raise client_error("ResourceNotFoundException")


class Session:
    def __init__(self, **clients) -> None:
        self.clients = clients

    def client(self, name: str):
        return self.clients[name]


def teardown_of(session, *, dry_run: bool = False) -> td._Teardown:
    return td._Teardown(session, Settings(stack="s1"), force=False, dry_run=dry_run, timeout=1, sleep=lambda _s: None)


def entries(t: td._Teardown) -> list[tuple[str, str, str, str]]:
    return [(e.kind, e.name, e.status, e.reason) for e in t.report.entries]


def test_a_failed_step_is_reported_with_its_kind_name_code_and_message_and_the_next_steps_run():
    t = teardown_of(Session())

    def fail():
        raise client_error("AccessDeniedException", "not allowed to DeleteTable")

    t.step("DynamoDB table", "orders", fail)
    t.step("S3 bucket", "b1", lambda: (_ for _ in ()).throw(TimeoutError("bucket b1 still exists after 60 s")))
    t.step("log group", "/aws/lambda/x", lambda: t.report.add("log group", "/aws/lambda/x", td.DELETED))

    assert entries(t) == [
        ("DynamoDB table", "orders", td.FAILED, "AccessDeniedException: not allowed to DeleteTable"),
        ("S3 bucket", "b1", td.FAILED, "bucket b1 still exists after 60 s"),
        ("log group", "/aws/lambda/x", td.DELETED, ""),
    ]


def test_an_error_without_a_message_is_reported_with_its_code_alone():
    t = teardown_of(Session())
    t.step("SQS queue", "q", lambda: (_ for _ in ()).throw(ClientError({"Error": {"Code": "Throttling"}}, "DeleteQueue")))
    assert entries(t) == [("SQS queue", "q", td.FAILED, "Throttling: ")]


def test_only_a_resource_tagged_for_the_stack_is_deleted_and_the_report_names_it():
    t = teardown_of(Session())
    calls = []
    ours = {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_TAG_KEY: "s1"}
    t.delete_if_ours("Lambda function", "s1-archiver", ours, lambda: calls.append("deleted"))
    t.delete_if_ours("Lambda function", "other", {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_TAG_KEY: "s2"}, lambda: calls.append("wrong"))
    t.delete_if_ours("Lambda function", "gone", None, lambda: calls.append("wrong"))

    assert calls == ["deleted"]
    assert [(k, n, s) for k, n, s, _ in entries(t)] == [
        ("Lambda function", "s1-archiver", td.DELETED),
        ("Lambda function", "other", td.KEPT),
        ("Lambda function", "gone", td.NOT_FOUND),
    ]


def test_no_mapping_left_is_reported_as_not_found_under_its_kind():
    t = teardown_of(Session(**{"lambda": Lambda([])}))
    t.function_and_mappings()
    assert t.report.status_of("event source mapping") == [td.NOT_FOUND]
    assert t.report.status_of("Lambda function") == [td.NOT_FOUND]


@pytest.mark.parametrize("delete_error", [None, "ResourceNotFoundException"], ids=["deleted", "deleted meanwhile"])
def test_a_mapping_of_a_deleted_function_is_deleted_even_when_it_went_meanwhile(delete_error):
    lam = Lambda([{"UUID": "u-1", "EventSourceArn": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x"}], delete_error)
    t = teardown_of(Session(**{"lambda": lam}))
    t.function_and_mappings()
    assert lam.deleted == ["u-1"]
    assert entries(t)[0] == ("event source mapping", "u-1 (arn:aws:dynamodb:us-east-1:1:table/t/stream/x)", td.DELETED, "")


def test_a_mapping_delete_that_fails_otherwise_is_a_failure():
    lam = Lambda([{"UUID": "u-1", "EventSourceArn": "arn:s"}], "AccessDeniedException")
    t = teardown_of(Session(**{"lambda": lam}))
    t.function_and_mappings()
    assert entries(t)[0][:3] == ("event source mapping", "u-1 (arn:s)", td.FAILED)


def test_a_glue_database_kept_by_athena_is_reported_with_the_reason(monkeypatch):
    monkeypatch.setattr(td.athena_mod, "delete_database", lambda session, database, tags: "kept: it also holds other_table")
    t = teardown_of(Session())
    t._delete_database("s1_archive")
    assert entries(t) == [("Glue database", "s1_archive", td.KEPT, "it also holds other_table")]


@pytest.mark.parametrize("response, holds", [
    ({"Count": 1}, True),
    ({"Count": 0}, False),
    ({"Count": 0, "LastEvaluatedKey": {"id": {"S": "a"}}}, True),  # an empty page with more to come
])
def test_a_table_holds_items_when_the_scan_finds_one_or_has_more_to_read(response, holds):
    ddb = type("D", (), {"scan": lambda _self, **kw: response})()
    assert td._holds_items(ddb, "orders") is holds


class CloudWatch:
    """Alarms of both types under the stack's prefixes, all tagged for stack s1."""

    def __init__(self, metric: list[str], composite: list[str]) -> None:
        self.metric, self.composite = metric, composite
        self.deleted: list[str] = []

    def get_paginator(self, name):
        assert name == "describe_alarms"
        cw = self

        class Pages:
            def paginate(self, AlarmNamePrefix, AlarmTypes):  # noqa: N803 - boto3's names
                alarm = lambda n, **kw: {"AlarmName": n, "AlarmArn": f"arn:aws:cloudwatch:us-east-1:1:alarm:{n}", **kw}  # noqa: E731
                page = {}
                if "MetricAlarm" in AlarmTypes:
                    page["MetricAlarms"] = [alarm(n) for n in cw.metric if n.startswith(AlarmNamePrefix)]
                if "CompositeAlarm" in AlarmTypes:
                    page["CompositeAlarms"] = [alarm(n, AlarmRule="ALARM(x)") for n in cw.composite if n.startswith(AlarmNamePrefix)]
                return [page]

        return Pages()

    def list_tags_for_resource(self, ResourceARN):  # noqa: N803
        return {"Tags": [{"Key": MANAGED_BY_KEY, "Value": MANAGED_BY_VALUE}, {"Key": STACK_TAG_KEY, "Value": "s1"}]}

    def delete_alarms(self, AlarmNames):  # noqa: N803
        self.deleted.extend(AlarmNames)


def test_composite_alarms_are_found_and_deleted_before_the_alarms_they_refer_to():
    cw = CloudWatch(metric=["s1-archiver-errors", "s1-failures-depth"], composite=["s1-pipeline-health"])
    t = teardown_of(Session(cloudwatch=cw))
    t.alarms()
    assert cw.deleted[0] == "s1-pipeline-health" and sorted(cw.deleted[1:]) == ["s1-archiver-errors", "s1-failures-depth"]
    assert t.report.status_of("CloudWatch alarm") == [td.DELETED] * 3


def test_no_alarm_left_is_reported_as_not_found_under_its_kind():
    t = teardown_of(Session(cloudwatch=CloudWatch([], [])))
    t.alarms()
    assert t.report.status_of("CloudWatch alarm") == [td.NOT_FOUND]


class Sqs:
    def __init__(self, exists: bool, depth: str = "0") -> None:
        self.exists, self.depth = exists, depth

    def get_queue_url(self, QueueName):  # noqa: N803
        if not self.exists:
            raise client_error("AWS.SimpleQueueService.NonExistentQueue")
        return {"QueueUrl": f"https://sqs.us-east-1.amazonaws.com/1/{QueueName}"}

    def list_queue_tags(self, QueueUrl):  # noqa: N803
        return {"Tags": {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_TAG_KEY: "s1"}}

    def get_queue_attributes(self, QueueUrl, AttributeNames):  # noqa: N803
        return {"Attributes": {"ApproximateNumberOfMessages": self.depth}}


@pytest.mark.parametrize("depth, held", [("0", ""), ("3", "held 3 failure record(s); ")])
def test_the_failure_queue_report_says_how_many_failure_records_it_held(depth, held):
    t = teardown_of(Session(sqs=Sqs(True, depth)), dry_run=True)
    t.failure_queue()
    assert entries(t) == [("SQS queue", "s1-archiver-failures", td.WOULD_DELETE, held + "SQS accepts a new queue of this name 60 seconds after the deletion")]


def test_a_missing_failure_queue_is_reported_as_not_found_under_its_kind():
    t = teardown_of(Session(sqs=Sqs(False)))
    t.failure_queue()
    assert t.report.status_of("SQS queue") == [td.NOT_FOUND]


class S3Tags:
    """get_bucket_tagging answering one error code (a bucket seen through S3's HEAD-like codes)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def get_bucket_tagging(self, Bucket):  # noqa: N803
        raise ClientError({"Error": {"Code": self.code}}, "GetBucketTagging")


@pytest.mark.parametrize("code, status", [("404", td.NOT_FOUND), ("NoSuchBucket", td.NOT_FOUND), ("403", td.KEPT), ("AccessDenied", td.KEPT)])
def test_a_bucket_missing_or_of_another_account_is_reported_and_left_alone(code, status):
    t = teardown_of(Session(s3=S3Tags(code)))
    t.bucket("s1-archive")
    assert [(k, n, s) for k, n, s, _ in entries(t)] == [("S3 bucket", "s1-archive", status)]


def test_a_forced_teardown_says_how_many_objects_it_emptied_first(monkeypatch):
    ours = [{"Key": MANAGED_BY_KEY, "Value": MANAGED_BY_VALUE}, {"Key": STACK_TAG_KEY, "Value": "s1"}]
    s3 = type("S", (), {"get_bucket_tagging": lambda _self, Bucket: {"TagSet": ours}})()
    monkeypatch.setattr(td, "_count_objects", lambda client, name: (3, False))
    monkeypatch.setattr(td.s3_mod, "delete_bucket", lambda session, name, force: None)
    t = td._Teardown(Session(s3=s3), Settings(stack="s1"), force=True, dry_run=False, timeout=1, sleep=lambda _s: None)
    t.bucket("s1-archive")
    assert entries(t) == [("S3 bucket", "s1-archive", td.DELETED, "emptied first: 3 object(s) removed, counting versions and delete markers")]


def test_a_missing_glue_database_and_a_failed_database_step_name_the_database(monkeypatch):
    monkeypatch.setattr(td.athena_mod, "database_tags", lambda session, database: None)
    t = teardown_of(Session())
    t.glue_catalog("s1_archive", "archive")
    assert entries(t) == [("Glue table", "s1_archive.archive", td.NOT_FOUND, ""), ("Glue database", "s1_archive", td.NOT_FOUND, "")]

    monkeypatch.setattr(td.athena_mod, "database_tags", lambda session, database: {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_TAG_KEY: "s1"})
    monkeypatch.setattr(td.athena_mod, "table_names", lambda session, database: [])
    monkeypatch.setattr(td.athena_mod, "delete_database", lambda *a: (_ for _ in ()).throw(client_error("AccessDeniedException", "no")))
    t = teardown_of(Session())
    t.glue_catalog("s1_archive", "archive")
    assert entries(t)[-1] == ("Glue database", "s1_archive", td.FAILED, "AccessDeniedException: no")
