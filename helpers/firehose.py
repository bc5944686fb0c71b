"""The Firehose stream that turns archived lines into GZIP objects under the archive bucket's prefix.

A Direct PUT stream (the archiver function calls PutRecordBatch) with an extended S3 destination:

* buffering hints from :class:`~helpers.settings.Settings` (1-128 MiB, 0-900 s; objects appear once one
  of the two is reached, so on AWS expect a delay of up to the interval);
* ``GZIP`` compression;
* a prefix with timestamp expressions, ``<archive_prefix>!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/``
  (UTC, the time Firehose received the record), and the error output prefix AWS requires with them,
  ``<error_prefix>!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/``;
* error logging to ``/aws/kinesisfirehose/<stream>`` (log stream ``DestinationDelivery``), which this
  module creates with a retention period, because the API (unlike the console) does not;
* encryption at rest twice over: the stream's buffer with an AWS owned key
  (``DeliveryStreamEncryptionConfigurationInput``, free, Direct PUT only), and the delivered objects by
  the bucket's default encryption (SSE-S3, set by :mod:`helpers.s3`; the destination says
  ``NoEncryptionConfig``: Firehose adds nothing, the bucket's default applies). With a KMS key
  (``Settings.kms_key_arn``, ``TTL_ARCHIVE_KMS_KEY``) the destination's ``EncryptionConfiguration`` names
  that key (``KMSEncryptionConfig``), the bucket's default encryption is the same key, and the delivery role
  may use it through S3 (:func:`helpers.iam.kms_statement`).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from botocore.exceptions import ClientError

from . import tagging, validation
from .iam import FIREHOSE_LOG_STREAM, firehose_log_group_name
from .outcome import ALREADY_THERE, CREATED, UPDATED, Ensured
from .retry import retry_on_iam_propagation, wait_until
from .settings import Settings

LOG = logging.getLogger(__name__)

COMPRESSION = "GZIP"
ENCRYPTION_KEY_TYPE = "AWS_OWNED_CMK"
LOG_RETENTION_DAYS = 14
BUFFER_SIZE_RANGE = (1, 128)  # MiB, S3 destination
BUFFER_INTERVAL_RANGE = (0, 900)  # seconds
TIMESTAMP_PATH = "!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/"
ERROR_PATH = "!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/"
# The fields of ExtendedS3DestinationConfiguration this module sets, compared to decide on an update.
MANAGED_FIELDS = (
    "RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints", "CompressionFormat", "EncryptionConfiguration", "CloudWatchLoggingOptions",
)


def buffering_hints(settings: Settings) -> dict[str, int]:
    """The S3 buffering hints (AWS's ranges were checked when ``settings`` was built)."""
    return {"SizeInMBs": settings.buffer_size_mib, "IntervalInSeconds": settings.buffer_interval_seconds}


def object_prefixes(settings: Settings) -> tuple[str, str]:
    """(Prefix, ErrorOutputPrefix): the archive and error prefixes with Firehose's timestamp expressions."""
    return settings.archive_prefix + TIMESTAMP_PATH, settings.error_prefix + ERROR_PATH  # checked by Settings


def encryption_configuration(settings: Settings, *, bucket_region: str | None = None) -> dict[str, Any]:
    """The destination's ``EncryptionConfiguration``: the KMS key of ``settings.kms_key_arn`` (which must be
    in the bucket's region, ``ValueError`` naming TTL_ARCHIVE_KMS_KEY otherwise), or ``NoEncryptionConfig`` (the
    bucket's default encryption, SSE-S3, applies)."""
    if settings.kms_key_arn is None:
        return {"NoEncryptionConfig": "NoEncryption"}
    key_region = validation.kms_key_region(settings.kms_key_arn)
    if bucket_region and key_region != bucket_region:
        raise ValueError(f"invalid TTL_ARCHIVE_KMS_KEY {settings.kms_key_arn!r}: the key is in {key_region}, the bucket in {bucket_region}; Firehose needs a key of the bucket's region")
    return {"KMSEncryptionConfig": {"AWSKMSKeyARN": settings.kms_key_arn}}


def destination_config(settings: Settings, *, bucket_arn: str, role_arn: str, bucket_region: str | None = None) -> dict[str, Any]:
    """The ExtendedS3DestinationConfiguration this module creates (and compares on later runs).
    ``bucket_region``, when known, is checked against the KMS key's region."""
    if not isinstance(bucket_arn, str) or not bucket_arn.startswith("arn:") or ":s3:::" not in bucket_arn:
        raise ValueError(f"invalid bucket ARN {bucket_arn!r}: expected arn:<partition>:s3:::<bucket>")
    validation.bucket_name(bucket_arn.split(":::", 1)[1])
    if not isinstance(role_arn, str) or not role_arn.startswith("arn:") or ":role/" not in role_arn:
        raise ValueError(f"invalid role ARN {role_arn!r}: expected arn:<partition>:iam::<account>:role/<name>")
    prefix, error_prefix = object_prefixes(settings)
    return {
        "RoleARN": role_arn,
        "BucketARN": bucket_arn,
        "Prefix": prefix,
        "ErrorOutputPrefix": error_prefix,
        "BufferingHints": buffering_hints(settings),
        "CompressionFormat": COMPRESSION,
        "EncryptionConfiguration": encryption_configuration(settings, bucket_region=bucket_region),
        "CloudWatchLoggingOptions": {
            "Enabled": True,
            "LogGroupName": firehose_log_group_name(settings),
            "LogStreamName": FIREHOSE_LOG_STREAM,
        },
    }


def archive_bucket_arn(session, settings: Settings, identity) -> str:
    """The ARN of this stack's archive bucket, after checking that it exists (``RuntimeError`` naming the
    notebook that creates it otherwise)."""
    bucket = validation.bucket_name(settings.with_account(identity.account_id, identity.region).bucket_name)
    try:
        session.client("s3").head_bucket(Bucket=bucket)
    except ClientError as err:
        if err.response["Error"]["Code"] in {"404", "NoSuchBucket", "NotFound"}:
            raise RuntimeError(f"bucket {bucket} does not exist yet: run notebooks/02_s3_bucket.ipynb (helpers.s3.ensure_bucket) first") from None
        if err.response["Error"]["Code"] in {"403", "AccessDenied"}:
            raise RuntimeError(f"bucket {bucket} exists but this account may not use it (bucket names are global): set TTL_ARCHIVE_BUCKET to another name") from None
        raise
    return f"arn:{identity.partition}:s3:::{bucket}"


def delivery_summary(description: dict[str, Any]) -> dict[str, Any]:
    """The settings worth looking at in a stream's description, flattened for display."""
    destination = (description.get("Destinations") or [{}])[0].get("ExtendedS3DestinationDescription", {})
    hints = destination.get("BufferingHints", {})
    logging_options = destination.get("CloudWatchLoggingOptions", {})
    encryption = description.get("DeliveryStreamEncryptionConfiguration") or {}
    return {
        "name": description.get("DeliveryStreamName"),
        "status": description.get("DeliveryStreamStatus"),
        "type": description.get("DeliveryStreamType"),
        "version id": description.get("VersionId"),
        "encryption at rest": f"{encryption.get('KeyType', 'none')} ({_encryption_status(description)})",
        "bucket": destination.get("BucketARN"),
        "role": destination.get("RoleARN"),
        "prefix": destination.get("Prefix"),
        "error output prefix": destination.get("ErrorOutputPrefix"),
        "buffering": f"{hints.get('SizeInMBs')} MiB or {hints.get('IntervalInSeconds')} s, whichever comes first",
        "compression": destination.get("CompressionFormat"),
        "error logging": f"{logging_options.get('LogGroupName')} / {logging_options.get('LogStreamName')}" if logging_options.get("Enabled") else "off",
    }


# --------------------------------------------------------------------------------------------------
# The delivery log group


def log_group_tags(session, name: str) -> dict[str, str] | None:
    """A log group's tags, or None when there is no log group of that exact name."""
    logs = session.client("logs")
    for group in logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", []):
        if group["logGroupName"] == name:
            arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
            return dict(logs.list_tags_for_resource(resourceArn=arn).get("tags", {}))
    return None


def ensure_delivery_log_group(session, settings: Settings) -> Ensured:
    """The log group and log stream Firehose reports delivery errors to, tagged, with a retention period.

    Idempotent. Refuses (``RuntimeError``) a log group of that name that is not tagged for this stack.
    """
    name = firehose_log_group_name(settings)
    logs = session.client("logs")
    tags = settings.tags()
    changes: list[str] = []
    current = log_group_tags(session, name)
    if current is None:
        try:
            logs.create_log_group(logGroupName=name, tags=tags)
            action = CREATED
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
            action = ALREADY_THERE
    else:
        if not tagging.is_ours(current, settings.stack):
            raise RuntimeError(f"log group {name} exists but is not tagged for stack {settings.stack!r}; delete it or choose another stack name (TTL_ARCHIVE_STACK)")
        action = ALREADY_THERE
    group = next(g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name)
    if group.get("retentionInDays") != LOG_RETENTION_DAYS:
        logs.put_retention_policy(logGroupName=name, retentionInDays=LOG_RETENTION_DAYS)
        if action != CREATED:
            changes.append(f"retention set to {LOG_RETENTION_DAYS} days")
    streams = logs.describe_log_streams(logGroupName=name, logStreamNamePrefix=FIREHOSE_LOG_STREAM).get("logStreams", [])
    if not any(s["logStreamName"] == FIREHOSE_LOG_STREAM for s in streams):
        try:
            logs.create_log_stream(logGroupName=name, logStreamName=FIREHOSE_LOG_STREAM)
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
        if action != CREATED:
            changes.append(f"log stream {FIREHOSE_LOG_STREAM} created")
    if current is not None:
        missing = {k: v for k, v in tags.items() if current.get(k) != v}
        if missing:
            arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
            logs.tag_resource(resourceArn=arn, tags=missing)
            changes.append(f"tags set: {', '.join(sorted(missing))}")
    if action == ALREADY_THERE and changes:
        action = UPDATED
    return Ensured("log group", name, action, group, changes).log(LOG)


def delete_log_group(session, name: str) -> bool:
    """Delete a log group; True when one was deleted, False when there was none."""
    try:
        session.client("logs").delete_log_group(logGroupName=name)
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


# --------------------------------------------------------------------------------------------------
# The delivery stream


def describe_delivery_stream(session, name: str) -> dict[str, Any] | None:
    """The stream's ``DeliveryStreamDescription`` as AWS returns it, or None when it does not exist."""
    validation.delivery_stream_name(name)
    try:
        return session.client("firehose").describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def delivery_stream_tags(session, name: str) -> dict[str, str] | None:
    """The stream's tags, or None when it does not exist."""
    try:
        response = session.client("firehose").list_tags_for_delivery_stream(DeliveryStreamName=name)
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise
    return tagging.from_key_value_list(response.get("Tags"))


def _wait_active(session, name: str, *, timeout: float, sleep: Callable[[float], None]) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        description = describe_delivery_stream(session, name)
        if description is None:
            raise RuntimeError(f"Firehose stream {name} disappeared while waiting for it to become ACTIVE")
        status = description["DeliveryStreamStatus"]
        if status.endswith("_FAILED"):
            failure = description.get("FailureDescription", {})
            raise RuntimeError(f"Firehose stream {name} is {status}: {failure.get('Type', '')} {failure.get('Details', '')}".strip())
        encryption = _encryption_status(description)
        if encryption.endswith("_FAILED"):
            raise RuntimeError(f"Firehose stream {name}: server-side encryption is {encryption}")
        if status == "ACTIVE" and encryption not in {"ENABLING", "DISABLING"}:
            return description
        return None

    return wait_until(check, what=f"Firehose stream {name} to become ACTIVE", timeout=timeout, sleep=sleep)


def _encryption_status(description: dict[str, Any]) -> str:
    config = description.get("DeliveryStreamEncryptionConfiguration") or {}
    # AWS always reports Status; the local emulator omits it for a stream created with encryption on.
    return config.get("Status") or ("ENABLED" if config.get("KeyType") else "DISABLED")


def _managed_subset(destination: dict[str, Any]) -> dict[str, Any]:
    return {key: destination.get(key) for key in MANAGED_FIELDS}


def _differences(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    return [f"{key}: {current.get(key)!r} -> {desired[key]!r}" for key in MANAGED_FIELDS if current.get(key) != desired[key]]


def ensure_delivery_stream(
    session,
    settings: Settings,
    *,
    bucket_arn: str,
    role_arn: str,
    timeout: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Ensured:
    """Create or update this stack's Direct PUT stream to ``bucket_arn``, written with ``role_arn``.

    Validates names, buffering hints and prefixes first (``ValueError`` quoting the rule). Ensures the
    delivery log group (:func:`ensure_delivery_log_group`). Creates the stream when missing, retrying
    while a new role is not assumable yet (bounded backoff); when it exists and its destination
    differs, calls UpdateDestination with the current version id and destination id; turns on
    server-side encryption when it is off; adds missing tags. Waits until ACTIVE (``TimeoutError``
    after ``timeout`` s). Refuses (``RuntimeError``) a stream of that name that is not tagged for this
    stack, or that is not a Direct PUT stream with an S3 destination.
    Returns the stream's description; ``action`` is "created", "updated" or "already there".
    """
    name = settings.delivery_stream_name
    desired = destination_config(settings, bucket_arn=bucket_arn, role_arn=role_arn, bucket_region=getattr(session, "region_name", None))
    firehose = session.client("firehose")
    tags = settings.tags()
    changes: list[str] = []

    log_group = ensure_delivery_log_group(session, settings)
    if log_group.changed:
        changes.append(f"log group {log_group.name} {log_group.action}" + (f" ({'; '.join(log_group.changes)})" if log_group.changes else ""))

    description = describe_delivery_stream(session, name)
    if description is None:
        retry_on_iam_propagation(
            lambda: firehose.create_delivery_stream(
                DeliveryStreamName=name,
                DeliveryStreamType="DirectPut",
                DeliveryStreamEncryptionConfigurationInput={"KeyType": ENCRYPTION_KEY_TYPE},
                ExtendedS3DestinationConfiguration=desired,
                Tags=tagging.as_key_value_list(tags),
            ),
            sleep=sleep,
        )
        description = _wait_active(session, name, timeout=timeout, sleep=sleep)
        return Ensured("Firehose stream", name, CREATED, description, changes).log(LOG)

    current_tags = delivery_stream_tags(session, name) or {}
    if not tagging.is_ours(current_tags, settings.stack):
        raise RuntimeError(
            f"Firehose stream {name} exists but is not tagged for stack {settings.stack!r}; it is left alone. "
            "Delete it, or choose another stack name (TTL_ARCHIVE_STACK) or stream name."
        )
    if description.get("DeliveryStreamType") != "DirectPut":
        raise RuntimeError(f"Firehose stream {name} is a {description.get('DeliveryStreamType')} stream; the archiver needs Direct PUT. Delete it and run this step again.")
    description = _wait_active(session, name, timeout=timeout, sleep=sleep)
    destination = (description.get("Destinations") or [{}])[0]
    current = destination.get("ExtendedS3DestinationDescription")
    if current is None:
        raise RuntimeError(f"Firehose stream {name} does not deliver to S3 with an extended S3 destination; delete it and run this step again.")

    differences = _differences(_managed_subset(current), desired)
    if differences:
        retry_on_iam_propagation(
            lambda: firehose.update_destination(
                DeliveryStreamName=name,
                CurrentDeliveryStreamVersionId=description["VersionId"],
                DestinationId=destination["DestinationId"],
                ExtendedS3DestinationUpdate=desired,
            ),
            sleep=sleep,
        )
        changes.extend(differences)
    if _encryption_status(description) != "ENABLED":
        firehose.start_delivery_stream_encryption(DeliveryStreamName=name, DeliveryStreamEncryptionConfigurationInput={"KeyType": ENCRYPTION_KEY_TYPE})
        changes.append(f"server-side encryption enabled ({ENCRYPTION_KEY_TYPE})")
    missing = {k: v for k, v in tags.items() if current_tags.get(k) != v}
    if missing:
        firehose.tag_delivery_stream(DeliveryStreamName=name, Tags=tagging.as_key_value_list(missing))
        changes.append(f"tags set: {', '.join(sorted(missing))}")
    if changes:
        description = _wait_active(session, name, timeout=timeout, sleep=sleep)
    return Ensured("Firehose stream", name, UPDATED if changes else ALREADY_THERE, description, changes).log(LOG)


def delete_delivery_stream(session, name: str, *, timeout: float = 600.0, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Delete a stream and wait until it is gone. True when one was deleted, False when there was none.

    Does not check tags: :func:`helpers.teardown.teardown` decides what may be deleted.
    """
    validation.delivery_stream_name(name)
    firehose = session.client("firehose")
    description = describe_delivery_stream(session, name)
    if description is None:
        return False
    if description["DeliveryStreamStatus"] == "CREATING":  # AWS refuses to delete a stream being created
        _wait_active(session, name, timeout=timeout, sleep=sleep)
    try:
        firehose.delete_delivery_stream(DeliveryStreamName=name)
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    wait_until(lambda: describe_delivery_stream(session, name) is None, what=f"Firehose stream {name} to be deleted", timeout=timeout, sleep=sleep)
    LOG.info("deleted Firehose stream %s", name)
    return True
