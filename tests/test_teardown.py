"""helpers.teardown: deletes only what carries the stack's tags, in dependency order; keeps data unless forced."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest
from botocore.exceptions import ClientError

from datetime import datetime, timezone

from helpers import athena, firehose, iam, tagging
from helpers.settings import Settings
from helpers.teardown import DELETED, KEPT, NOT_FOUND, WOULD_DELETE, teardown

# The error codes AWS answers for a resource that does not exist (Lambda and DynamoDB, IAM, S3's HEAD, SQS, Glue).
NOT_FOUND_CODES = frozenset({
    "ResourceNotFoundException", "NoSuchEntity", "404", "NoSuchBucket",
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "EntityNotFoundException",
})

ORDER = [
    "event source mapping",
    "Lambda function",
    "CloudWatch alarm",
    "SNS topic",
    "SQS queue",
    "IAM role",  # the function's
    "Firehose stream",
    "IAM role",  # Firehose's
    "log group",
    "log group",
    "Glue table",  # notebook 06's Athena table, before the database that holds it
    "Glue database",
    "S3 bucket",
    "DynamoDB table",
]


@pytest.fixture
def ident(session):
    from helpers.target import identity

    return identity(session)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def build_stack(session, settings: Settings, ident, *, tags: dict[str, str] | None) -> Settings:
    """Every resource teardown knows about, created with plain boto3 (and this stack's helpers).
    ``tags=None`` creates them untagged: look-alikes that the project did not create."""
    settings = settings.with_account(ident.account_id, ident.region)
    kv = tagging.as_key_value_list(tags or {})
    ddb = session.client("dynamodb")
    table = ddb.create_table(
        TableName=settings.table_name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"},
        **({"Tags": kv} if kv else {}),
    )["TableDescription"]
    s3 = session.client("s3")
    s3.create_bucket(Bucket=settings.bucket_name)
    if tags:
        s3.put_bucket_tagging(Bucket=settings.bucket_name, Tagging={"TagSet": kv})
    if tags:
        role_arn = iam.ensure_firehose_role(session, settings, ident).description["Arn"]
        stream_arn = firehose.ensure_delivery_stream(session, settings, bucket_arn=f"arn:aws:s3:::{settings.bucket_name}", role_arn=role_arn).description["DeliveryStreamARN"]
    else:
        client = session.client("iam")
        trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"firehose.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
        role_arn = client.create_role(RoleName=settings.firehose_role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        stream_arn = session.client("firehose").create_delivery_stream(
            DeliveryStreamName=settings.delivery_stream_name,
            ExtendedS3DestinationConfiguration=firehose.destination_config(settings, bucket_arn=f"arn:aws:s3:::{settings.bucket_name}", role_arn=role_arn),
        )["DeliveryStreamARN"]
        session.client("logs").create_log_group(logGroupName=iam.firehose_log_group_name(settings))
    session.client("sns").create_topic(Name=settings.alarm_topic_name, **({"Tags": kv} if kv else {}))
    queue = session.client("sqs").create_queue(QueueName=settings.failure_queue_name, **({"tags": tags} if tags else {}))["QueueUrl"]
    queue_arn = session.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if tags:
        lambda_role = iam.ensure_archiver_role(session, settings, ident, stream_arn=table["LatestStreamArn"], delivery_stream_arn=stream_arn, failure_queue_arn=queue_arn)
        lambda_role_arn = lambda_role.description["Arn"]
    else:
        trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
        lambda_role_arn = session.client("iam").create_role(RoleName=settings.lambda_role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    lam = session.client("lambda")
    lam.create_function(
        FunctionName=settings.function_name, Runtime="python3.12", Role=lambda_role_arn, Handler="handler.handler",
        Code={"ZipFile": _zip()}, **({"Tags": tags} if tags else {}),
    )
    lam.create_event_source_mapping(EventSourceArn=table["LatestStreamArn"], FunctionName=settings.function_name, StartingPosition="TRIM_HORIZON", Enabled=False)
    session.client("logs").create_log_group(logGroupName=iam.lambda_log_group_name(settings), **({"tags": tags} if tags else {}))
    session.client("cloudwatch").put_metric_alarm(
        AlarmName=f"{settings.function_name}-errors", Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "FunctionName", "Value": settings.function_name}], **({"Tags": kv} if kv else {}),
    )
    database = athena.database_name(settings.stack)
    session.client("glue").create_database(DatabaseInput={"Name": database}, **({"Tags": tags} if tags else {}))
    table_input = athena.table_input(athena.TABLE, settings.bucket_name, settings.archive_prefix, datetime(2026, 11, 1, tzinfo=timezone.utc))
    athena.ensure_table(session, database, table_input)
    return settings


def exists(session, settings: Settings) -> dict[str, bool]:
    """Which of the stack's resources exist right now, looked up without helpers.teardown."""

    def ok(call) -> bool:
        try:
            call()
        except ClientError as err:  # only a "not found" answer means absent; anything else fails the test
            if err.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
                return False
            raise
        return True

    lam = session.client("lambda")
    return {
        "function": ok(lambda: lam.get_function(FunctionName=settings.function_name)),
        "mappings": bool(lam.list_event_source_mappings(FunctionName=settings.function_name)["EventSourceMappings"]),
        "alarm": bool(session.client("cloudwatch").describe_alarms(AlarmNames=[f"{settings.function_name}-errors"])["MetricAlarms"]),
        "alarm topic": any(t["TopicArn"].endswith(f":{settings.alarm_topic_name}") for t in session.client("sns").list_topics()["Topics"]),
        "queue": ok(lambda: session.client("sqs").get_queue_url(QueueName=settings.failure_queue_name)),
        "lambda role": ok(lambda: session.client("iam").get_role(RoleName=settings.lambda_role_name)),
        "stream": firehose.describe_delivery_stream(session, settings.delivery_stream_name) is not None,
        "firehose role": ok(lambda: session.client("iam").get_role(RoleName=settings.firehose_role_name)),
        "firehose log group": firehose.log_group_tags(session, iam.firehose_log_group_name(settings)) is not None,
        "lambda log group": firehose.log_group_tags(session, iam.lambda_log_group_name(settings)) is not None,
        "glue table": ok(lambda: session.client("glue").get_table(DatabaseName=athena.database_name(settings.stack), Name=athena.TABLE)),
        "glue database": ok(lambda: session.client("glue").get_database(Name=athena.database_name(settings.stack))),
        "bucket": ok(lambda: session.client("s3").head_bucket(Bucket=settings.bucket_name)),
        "table": ok(lambda: session.client("dynamodb").describe_table(TableName=settings.table_name)),
    }


def test_dry_run_then_teardown_deletes_everything_in_dependency_order_and_a_second_run_finds_nothing(session, stack, ident):
    settings = build_stack(session, Settings(stack=stack), ident, tags=Settings(stack=stack).tags())

    preview = teardown(session, settings, dry_run=True)
    assert [e.kind for e in preview.entries] == ORDER
    assert {e.status for e in preview.entries} == {WOULD_DELETE}
    assert all(exists(session, settings).values()), "a dry run deleted something"

    report = teardown(session, settings)
    assert [e.kind for e in report.entries] == ORDER
    assert [e.status for e in report.entries] == [DELETED] * len(ORDER), str(report)
    assert not any(exists(session, settings).values()), exists(session, settings)

    again = teardown(session, settings)
    assert again.deleted == [] and again.kept == [] and again.failed == []
    assert {e.status for e in again.entries} == {NOT_FOUND}
    assert "not found" in str(again) and "| not found |" in again._repr_markdown_()


def test_a_bucket_holding_objects_is_kept_unless_forced(session, stack, ident):
    settings = build_stack(session, Settings(stack=stack), ident, tags=Settings(stack=stack).tags())
    s3 = session.client("s3")
    s3.put_bucket_versioning(Bucket=settings.bucket_name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=settings.bucket_name, Key="archive/2026/11/26/18/a.gz", Body=b"1")
    s3.put_object(Bucket=settings.bucket_name, Key="archive/2026/11/26/18/a.gz", Body=b"2")
    s3.delete_object(Bucket=settings.bucket_name, Key="archive/2026/11/26/18/a.gz")  # leaves two versions and a delete marker

    report = teardown(session, settings)
    (bucket,) = [e for e in report.entries if e.kind == "S3 bucket"]
    assert bucket.status == KEPT and "holds 3 object(s)" in bucket.reason and "force=True" in bucket.reason
    assert exists(session, settings)["bucket"]
    assert report.status_of("DynamoDB table") == [DELETED]  # the rest of the stack still goes

    preview = teardown(session, settings, force=True, dry_run=True)
    assert preview.status_of("S3 bucket") == [WOULD_DELETE] and exists(session, settings)["bucket"]

    forced = teardown(session, settings, force=True)
    assert forced.status_of("S3 bucket") == [DELETED]
    assert not exists(session, settings)["bucket"]


@pytest.mark.parametrize("existing_table", [False, True])
def test_a_table_the_project_did_not_create_is_kept_unless_forced(session, stack, ident, existing_table):
    settings = Settings(stack=stack, existing_table=existing_table)
    settings = build_stack(session, settings, ident, tags=settings.tags())  # with the account: the bucket's name
    # The table belongs to the application: no stack tags (existing-table mode never tags it).
    ddb = session.client("dynamodb")
    arn = ddb.describe_table(TableName=settings.table_name)["Table"]["TableArn"]
    ddb.untag_resource(ResourceArn=arn, TagKeys=list(settings.tags()))

    report = teardown(session, settings)
    (table,) = [e for e in report.entries if e.kind == "DynamoDB table"]
    assert table.status == KEPT and "force=True" in table.reason
    assert ("existing-table mode" in table.reason) is existing_table
    assert exists(session, settings)["table"]
    if existing_table:
        (note,) = report.notes
        assert "stream on (OLD_IMAGE)" in note and f"TTL on {settings.ttl_attribute!r}" in note and "update-time-to-live" in note
    else:
        assert report.notes == []
    assert report.status_of("Firehose stream") == [DELETED]

    forced = teardown(session, settings, force=True)
    assert forced.status_of("DynamoDB table") == [DELETED]
    assert "forced" in [e for e in forced.entries if e.kind == "DynamoDB table"][0].reason
    assert not exists(session, settings)["table"]


def test_a_tagged_table_in_existing_table_mode_is_still_kept(session, stack, ident):
    settings = Settings(stack=stack, existing_table=True)
    settings = build_stack(session, settings, ident, tags=settings.tags())  # with the account: the bucket's name
    report = teardown(session, settings)
    assert report.status_of("DynamoDB table") == [KEPT]
    assert exists(session, settings)["table"]
    teardown(session, settings, force=True)


def test_only_resources_tagged_for_this_stack_are_deleted_even_with_force(session, stack, ident):
    # Another stack whose names share our prefix ("<stack>-x-archiver-errors" starts with "<stack>-"),
    # fully tagged for itself, and untagged look-alikes that carry exactly our names.
    other = build_stack(session, Settings(stack=f"{stack}-x"), ident, tags=Settings(stack=f"{stack}-x").tags())
    ours = build_stack(session, Settings(stack=stack), ident, tags=None)

    report = teardown(session, ours, force=True)
    # force lifts the "did not create it" refusal for the table, and nothing else.
    assert [(e.kind, e.name) for e in report.deleted] == [("DynamoDB table", ours.table_name)], str(report)
    kept = {(e.kind, e.name) for e in report.kept}
    assert ("CloudWatch alarm", f"{other.function_name}-errors") in kept  # matched by prefix, spared by its tags
    for kind, name in [
        ("Lambda function", ours.function_name),
        ("CloudWatch alarm", f"{ours.function_name}-errors"),
        ("SNS topic", ours.alarm_topic_name),
        ("SQS queue", ours.failure_queue_name),
        ("IAM role", ours.lambda_role_name),
        ("Firehose stream", ours.delivery_stream_name),
        ("IAM role", ours.firehose_role_name),
        ("log group", iam.firehose_log_group_name(ours)),
        ("log group", iam.lambda_log_group_name(ours)),
        ("Glue table", f"{athena.database_name(ours.stack)}.{athena.TABLE}"),
        ("Glue database", athena.database_name(ours.stack)),
        ("S3 bucket", ours.bucket_name),
    ]:
        assert (kind, name) in kept, (kind, name, str(report))
    assert report.status_of("event source mapping") == [KEPT]  # its function is not ours
    survivors = exists(session, ours)
    assert all(v for k, v in survivors.items() if k != "table"), survivors
    assert all(exists(session, other).values()), "another stack's resources were touched"

    # The other stack, torn down with its own settings, loses everything it owns and nothing else.
    cleanup = teardown(session, other)
    assert cleanup.kept == [] and cleanup.failed == [], str(cleanup)
    assert not any(exists(session, other).values())
    assert all(v for k, v in exists(session, ours).items() if k != "table")


def test_without_force_untagged_look_alikes_all_survive(session, stack, ident):
    ours = build_stack(session, Settings(stack=stack), ident, tags=None)
    report = teardown(session, ours)
    assert report.deleted == [] and report.failed == []
    assert all(exists(session, ours).values())
    assert all("not tagged for" in e.reason or "did not create" in e.reason or "function" in e.reason for e in report.kept), str(report)


def test_settings_without_a_bucket_name_get_it_from_the_account(session, stack, ident):
    settings = Settings(stack=stack)
    report = teardown(session, settings, dry_run=True)
    (bucket,) = [e for e in report.entries if e.kind == "S3 bucket"]
    assert bucket.name == dataclasses.replace(settings).with_account(ident.account_id, ident.region).bucket_name
    assert bucket.status == NOT_FOUND


def test_a_table_with_deletion_protection_is_kept_with_the_reason_and_the_rest_goes(session, stack, ident):
    settings = build_stack(session, Settings(stack=stack), ident, tags=Settings(stack=stack).tags())
    ddb = session.client("dynamodb")
    ddb.update_table(TableName=settings.table_name, DeletionProtectionEnabled=True)

    preview = teardown(session, settings, dry_run=True)
    report = teardown(session, settings)

    for run in (preview, report):
        (table,) = [e for e in run.entries if e.kind == "DynamoDB table"]
        assert table.status == KEPT and "deletion protection is on" in table.reason, str(run)
    assert ddb.describe_table(TableName=settings.table_name)["Table"]["TableName"] == settings.table_name
    assert report.status_of("S3 bucket") == [DELETED] and report.status_of("Lambda function") == [DELETED]
    # force=True does not override the protection either: the owner turns it off first.
    assert teardown(session, settings, force=True).status_of("DynamoDB table") == [KEPT]
    ddb.update_table(TableName=settings.table_name, DeletionProtectionEnabled=False)
    assert teardown(session, settings).status_of("DynamoDB table") == [DELETED]
    assert not exists(session, settings)["table"]


def test_the_exists_helper_fails_on_an_error_that_is_not_not_found(session, stack, ident):
    """exists() must not read "access denied" or a broken client as "absent" (the deletion checks would
    pass for the wrong reason)."""
    settings = Settings(stack=stack).with_account(ident.account_id, ident.region)

    class Broken:
        def __init__(self, real):
            self.real = real

        def client(self, name, *args, **kwargs):
            client = self.real.client(name, *args, **kwargs)
            if name == "dynamodb":
                def denied(**_):
                    raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeTable")
                client.describe_table = denied
            return client

    assert exists(session, settings)["table"] is False  # absent: a real "not found"
    with pytest.raises(ClientError, match="AccessDenied"):
        exists(Broken(session), settings)


def test_the_glue_catalog_goes_table_first_and_another_table_keeps_the_database(session, stack, ident):
    settings = Settings(stack=f"{stack}-a").with_account(ident.account_id, ident.region)
    database = athena.database_name(settings.stack)
    assert database == f"{stack}_a_archive"
    athena.ensure_database(session, database, settings.tags())
    since = datetime(2026, 11, 1, tzinfo=timezone.utc)
    athena.ensure_table(session, database, athena.table_input(athena.TABLE, settings.bucket_name, settings.archive_prefix, since))
    athena.ensure_table(session, database, athena.table_input("mine", settings.bucket_name, settings.archive_prefix, since))

    def glue(report):
        return [(e.kind, e.status) for e in report.entries if e.kind.startswith("Glue")]

    preview = teardown(session, settings, dry_run=True)
    assert glue(preview) == [("Glue table", WOULD_DELETE), ("Glue database", KEPT)], str(preview)
    assert athena.table_names(session, database) == ["items", "mine"]  # the dry run deleted nothing
    report = teardown(session, settings)
    assert glue(report) == [("Glue table", DELETED), ("Glue database", KEPT)], str(report)
    (kept,) = [e for e in report.entries if e.kind == "Glue database"]
    assert "mine" in kept.reason and "did not make" in kept.reason
    assert "the archive's objects stay" in [e for e in report.entries if e.kind == "Glue table"][0].reason
    assert athena.table_names(session, database) == ["mine"]

    session.client("glue").delete_table(DatabaseName=database, Name="mine")
    preview = teardown(session, settings, dry_run=True)
    assert glue(preview) == [("Glue table", NOT_FOUND), ("Glue database", WOULD_DELETE)], str(preview)
    report = teardown(session, settings)
    assert glue(report) == [("Glue table", NOT_FOUND), ("Glue database", DELETED)], str(report)
    assert athena.database_tags(session, database) is None
    assert "| deleted | Glue database |" in report._repr_markdown_()


def test_a_glue_database_without_the_stacks_tags_is_kept_with_its_table(session, stack, ident):
    settings = Settings(stack=f"{stack}-b").with_account(ident.account_id, ident.region)
    database = athena.database_name(settings.stack)
    other = Settings(stack=f"{stack}-c").tags()  # tagged, but for another stack
    athena.ensure_database(session, database, other)
    athena.ensure_table(session, database, athena.table_input(athena.TABLE, settings.bucket_name, settings.archive_prefix,
                                                              datetime(2026, 11, 1, tzinfo=timezone.utc)))
    report = teardown(session, settings, force=True)
    glue = [e for e in report.entries if e.kind.startswith("Glue")]
    assert [(e.kind, e.status) for e in glue] == [("Glue table", KEPT), ("Glue database", KEPT)]
    assert all("not tagged for this stack" in e.reason for e in glue)
    assert athena.table_names(session, database) == ["items"]


def test_the_athena_database_setting_names_the_database_teardown_looks_for(session, stack, ident, monkeypatch):
    monkeypatch.setenv("TTL_ARCHIVE_ATHENA_DATABASE", f"{stack}_chosen")
    settings = Settings(stack=stack)
    athena.ensure_database(session, f"{stack}_chosen", settings.tags())
    report = teardown(session, settings)
    assert [(e.kind, e.name, e.status) for e in report.entries if e.kind == "Glue database"] == [("Glue database", f"{stack}_chosen", DELETED)]


def test_a_table_still_holding_items_is_kept_unless_forced(session, stack, ident):
    """Items whose TTL has not passed are not archived yet: deleting the table would lose them."""
    import time

    settings = build_stack(session, Settings(stack=stack), ident, tags=Settings(stack=stack).tags())
    ddb = session.client("dynamodb")
    ddb.put_item(TableName=settings.table_name, Item={"id": {"S": "not-yet"}, settings.ttl_attribute: {"N": str(int(time.time()) + 86_400)}})

    report = teardown(session, settings)
    (table,) = [e for e in report.entries if e.kind == "DynamoDB table"]
    assert table.status == KEPT and "still holds items" in table.reason and "force=True" in table.reason, str(report)
    assert ddb.get_item(TableName=settings.table_name, Key={"id": {"S": "not-yet"}})["Item"]["id"] == {"S": "not-yet"}

    forced = teardown(session, settings, force=True)
    assert forced.status_of("DynamoDB table") == [DELETED] and not exists(session, settings)["table"]
