"""helpers.firehose: the Direct PUT stream to the archive bucket, idempotent, validated, retried, bounded."""

from __future__ import annotations

import dataclasses

import pytest
from botocore.exceptions import ClientError

from helpers import firehose, iam
from helpers.settings import Settings


class _Http:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


@pytest.fixture
def ident(session):
    from helpers.target import identity

    return identity(session)


@pytest.fixture
def settings(stack, ident) -> Settings:
    return Settings(stack=stack, buffer_size_mib=5, buffer_interval_seconds=60).with_account(ident.account_id, ident.region)


@pytest.fixture
def bucket_arn(session, settings) -> str:
    session.client("s3").create_bucket(Bucket=settings.bucket_name)
    return f"arn:aws:s3:::{settings.bucket_name}"


@pytest.fixture
def role_arn(session, settings, ident) -> str:
    return iam.ensure_firehose_role(session, settings, ident).description["Arn"]


@pytest.fixture
def hook(session):
    """Register a botocore before-call handler on the session (clients made afterwards see it)."""
    registered = []

    def register(event: str, handler) -> None:
        session.events.register(event, handler)
        registered.append((event, handler))

    yield register
    for event, handler in registered:
        session.events.unregister(event, handler)


def _destination(description):
    return description["Destinations"][0]["ExtendedS3DestinationDescription"]


def test_ensure_delivery_stream_creates_the_documented_configuration_then_is_already_there(session, settings, bucket_arn, role_arn):
    first = firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn)
    assert first.action == "created"
    assert first.description["DeliveryStreamStatus"] == "ACTIVE"
    assert first.description["DeliveryStreamType"] == "DirectPut"
    assert first.description["DeliveryStreamEncryptionConfiguration"]["KeyType"] == "AWS_OWNED_CMK"
    destination = _destination(first.description)
    assert destination["BucketARN"] == bucket_arn and destination["RoleARN"] == role_arn
    assert destination["Prefix"] == "archive/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/"
    assert destination["ErrorOutputPrefix"] == "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/"
    assert destination["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 60}
    assert destination["CompressionFormat"] == "GZIP"
    group = f"/aws/kinesisfirehose/{settings.delivery_stream_name}"
    assert destination["CloudWatchLoggingOptions"] == {"Enabled": True, "LogGroupName": group, "LogStreamName": "DestinationDelivery"}
    assert firehose.delivery_stream_tags(session, settings.delivery_stream_name) == settings.tags()

    logs = session.client("logs")
    (described,) = [g for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] if g["logGroupName"] == group]
    assert described["retentionInDays"] == firehose.LOG_RETENTION_DAYS
    assert firehose.log_group_tags(session, group) == settings.tags()
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]] == ["DestinationDelivery"]

    second = firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn)
    assert second.action == "already there" and second.changes == []
    assert second.description["VersionId"] == first.description["VersionId"]


def test_a_changed_setting_is_applied_with_update_destination(session, settings, bucket_arn, role_arn):
    created = firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn)
    changed = dataclasses.replace(settings, buffer_size_mib=64, buffer_interval_seconds=900, archive_prefix="items/")
    updated = firehose.ensure_delivery_stream(session, changed, bucket_arn=bucket_arn, role_arn=role_arn)
    assert updated.action == "updated"
    assert any(c.startswith("BufferingHints") for c in updated.changes) and any(c.startswith("Prefix") for c in updated.changes)
    assert int(updated.description["VersionId"]) == int(created.description["VersionId"]) + 1
    destination = _destination(firehose.describe_delivery_stream(session, settings.delivery_stream_name))
    assert destination["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 900}
    assert destination["Prefix"].startswith("items/!{timestamp:yyyy}/")
    assert firehose.ensure_delivery_stream(session, changed, bucket_arn=bucket_arn, role_arn=role_arn).action == "already there"


def test_encryption_switched_off_by_hand_is_switched_back_on(session, settings, bucket_arn, role_arn):
    firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn)
    session.client("firehose").stop_delivery_stream_encryption(DeliveryStreamName=settings.delivery_stream_name)
    repaired = firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn)
    assert repaired.action == "updated"
    assert repaired.changes == ["server-side encryption enabled (AWS_OWNED_CMK)"]
    assert repaired.description["DeliveryStreamEncryptionConfiguration"]["Status"] == "ENABLED"


class _NoAws:
    def client(self, *args, **kwargs):
        raise AssertionError("AWS was called before validation")


ROLE = "arn:aws:iam::123456789012:role/r"
BUCKET = "arn:aws:s3:::some-bucket"


@pytest.mark.parametrize(
    "overrides,arns,match",
    [
        ({"buffer_size_mib": 0}, {}, "BUFFER_SIZE_MIB.* from 1 to 128"),
        ({"buffer_size_mib": 129}, {}, "BUFFER_SIZE_MIB.* from 1 to 128"),
        ({"buffer_interval_seconds": -1}, {}, "BUFFER_INTERVAL_SECONDS.* from 0 to 900"),
        ({"buffer_interval_seconds": 901}, {}, "BUFFER_INTERVAL_SECONDS.* from 0 to 900"),
        ({"delivery_stream_name": "bad name!"}, {}, "delivery stream names are 1-64"),
        ({"delivery_stream_name": "x" * 65}, {}, "delivery stream names are 1-64"),
        ({"archive_prefix": "/archive/"}, {}, "do not start with '/'"),
        ({"error_prefix": "errors"}, {}, "end with '/'"),
        ({"error_prefix": "archive/errors/"}, {}, "must not contain one another"),
        ({}, {"bucket_arn": "arn:aws:s3:::Bad_Bucket"}, "bucket names are 3-63"),
        ({}, {"bucket_arn": "some-bucket"}, "invalid bucket ARN"),
        ({}, {"role_arn": "r"}, "invalid role ARN"),
    ],
)
def test_validation_errors_come_before_any_aws_call(overrides, arns, match):
    with pytest.raises(ValueError, match=match):  # bad settings: Settings refuses them when built
        settings = Settings(stack="valid-stack", bucket_name="some-bucket", **overrides)
        firehose.ensure_delivery_stream(_NoAws(), settings, **{"bucket_arn": BUCKET, "role_arn": ROLE, **arns})


def test_iam_propagation_errors_are_retried_with_backoff(session, settings, bucket_arn, role_arn, hook):
    failures = []

    def not_assumable_yet(params, **kwargs):
        if len(failures) < 2:
            failures.append(kwargs["model"].name)
            return _Http(400), {"Error": {"Code": "InvalidArgumentException", "Message": f"Firehose is unable to assume role {role_arn}. Please check the role provided."}}
        return None

    hook("before-call.firehose.CreateDeliveryStream", not_assumable_yet)
    sleeps: list[float] = []
    outcome = firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn, sleep=sleeps.append)
    assert failures == ["CreateDeliveryStream"] * 2
    assert outcome.action == "created"
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.9  # exponential backoff with jitter


def test_other_invalid_argument_errors_are_not_retried(session, settings, bucket_arn, role_arn, hook):
    calls = []

    def rejected(params, **kwargs):
        calls.append(1)
        return _Http(400), {"Error": {"Code": "InvalidArgumentException", "Message": "BufferingHints.SizeInMBs must be at least 64 with data format conversion"}}

    hook("before-call.firehose.CreateDeliveryStream", rejected)
    with pytest.raises(ClientError, match="SizeInMBs"):
        firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn, sleep=lambda s: None)
    assert calls == [1]


def test_waiting_for_active_is_bounded(session, settings, bucket_arn, role_arn, hook):
    def still_creating(params, **kwargs):
        return _Http(200), {"DeliveryStreamDescription": {"DeliveryStreamName": settings.delivery_stream_name, "DeliveryStreamStatus": "CREATING",
                                                          "DeliveryStreamType": "DirectPut", "Destinations": [], "HasMoreDestinations": False}}

    firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn)
    hook("before-call.firehose.DescribeDeliveryStream", still_creating)
    with pytest.raises(TimeoutError, match=f"Firehose stream {settings.delivery_stream_name} to become ACTIVE"):
        firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn, timeout=0.2, sleep=lambda s: None)


def test_a_stream_of_that_name_not_tagged_for_the_stack_is_refused_and_left_alone(session, settings, bucket_arn, role_arn):
    foreign = dict(firehose.destination_config(settings, bucket_arn=bucket_arn, role_arn=role_arn), Prefix="theirs/")
    session.client("firehose").create_delivery_stream(DeliveryStreamName=settings.delivery_stream_name, ExtendedS3DestinationConfiguration=foreign)
    with pytest.raises(RuntimeError, match="not tagged for stack"):
        firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn)
    assert _destination(firehose.describe_delivery_stream(session, settings.delivery_stream_name))["Prefix"] == "theirs/"
    assert firehose.delete_delivery_stream(session, settings.delivery_stream_name) is True


def test_delete_delivery_stream_waits_until_gone_and_treats_missing_as_done(session, settings, bucket_arn, role_arn):
    firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn)
    assert firehose.delete_delivery_stream(session, settings.delivery_stream_name) is True
    assert firehose.describe_delivery_stream(session, settings.delivery_stream_name) is None
    assert firehose.delivery_stream_tags(session, settings.delivery_stream_name) is None
    assert firehose.delete_delivery_stream(session, settings.delivery_stream_name) is False


def test_archive_bucket_arn_checks_that_the_bucket_exists(session, settings, ident):
    with pytest.raises(RuntimeError, match="02_s3_bucket"):
        firehose.archive_bucket_arn(session, settings, ident)
    session.client("s3").create_bucket(Bucket=settings.bucket_name)
    assert firehose.archive_bucket_arn(session, settings, ident) == f"arn:aws:s3:::{settings.bucket_name}"


def test_delivery_summary_shows_the_settings_a_reader_checks(session, settings, bucket_arn, role_arn):
    description = firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=role_arn).description
    summary = firehose.delivery_summary(description)
    assert summary["status"] == "ACTIVE" and summary["compression"] == "GZIP"
    assert summary["buffering"] == "5 MiB or 60 s, whichever comes first"
    assert summary["encryption at rest"] == "AWS_OWNED_CMK (ENABLED)"
    assert summary["error logging"] == f"/aws/kinesisfirehose/{settings.delivery_stream_name} / DestinationDelivery"
