"""IAM roles for the pipeline: the Firehose delivery role and the archiver (Lambda) execution role.

Every role this project writes has

* a trust policy for one AWS service principal, in the form that service's guide documents (see
  :data:`TRUST_POLICY_SOURCES` and :func:`trust_policy`);
* one inline policy that names every resource by ARN: no ``"*"`` action, no ``"service:*"`` action and
  no ``"*"`` resource. :func:`ensure_role` refuses such a policy with a ``ValueError`` before any AWS call
  (see :func:`wildcard_violations`; ``tests/test_iam_lint.py`` also lints every policy with parliament);
* the stack's tags, so that teardown deletes only what it created.

Trust policies, and why they carry no condition
-----------------------------------------------
AWS documents one trust policy for each of the two principals, and neither has a condition:

* ``firehose.amazonaws.com``: Amazon Data Firehose Developer Guide, "Controlling access with Amazon Data
  Firehose", section "Allow Firehose to assume an IAM role"
  (https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#firehose-assume-role).
  The current page has no condition. Its earlier versions (for example the one archived in
  awsdocs/amazon-kinesis-data-firehose-developer-guide, doc_source/controlling-access.md, 2023-01-27) added
  ``StringEquals sts:ExternalId`` equal to the account id; the page dropped it, so it is not used here
  either. No Firehose page says that Firehose supplies ``aws:SourceAccount`` or ``aws:SourceArn`` when
  it assumes the delivery role, and a condition on a key the service does not send denies every delivery
  (on AWS every record would land under the error prefix).
* ``lambda.amazonaws.com``: AWS Lambda Developer Guide, "Defining Lambda function permissions with an
  execution role" (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html).
  The guide's page on AWS managed policies for the execution role
  (https://docs.aws.amazon.com/lambda/latest/dg/permissions-managed-policies.html) repeats the IAM User
  Guide's general sentence that a trust policy *can* use ``aws:SourceAccount``/``aws:SourceArn``, but no
  Lambda page says which of them Lambda supplies when an event source mapping polls a stream with the
  execution role; so the documented form is used.

The confused-deputy risk those keys address is covered for both roles by ``iam:PassRole``: a role is
handed to Firehose (CreateDeliveryStream) and Lambda (CreateFunction) by a caller in this account who
must be allowed to pass it, and a role cannot be passed to a resource in another account (IAM User
Guide, "The confused deputy problem", https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html,
and "Granting a user permissions to pass a role to an AWS service",
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html).

Least-privilege choices, and why
--------------------------------
* Firehose (:func:`firehose_delivery_policy`): the six S3 actions the Firehose developer guide lists for
  an S3 destination ("Grant Firehose access to an Amazon S3 destination",
  https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#using-iam-s3), on the bucket
  and its objects only, and ``logs:PutLogEvents`` on the delivery stream's own log stream only.
  :mod:`helpers.firehose` creates that log group and log stream itself, so the role needs neither
  ``logs:CreateLogGroup`` nor ``logs:CreateLogStream``. With a KMS key (``Settings.kms_key_arn``,
  ``TTL_ARCHIVE_KMS_KEY``) the same page's KMS statement is added: ``kms:GenerateDataKey`` and
  ``kms:Decrypt`` on that key only, with ``kms:ViaService`` ``s3.<region>.amazonaws.com`` and
  ``kms:EncryptionContext:aws:s3:arn`` conditions (see :func:`kms_statement` for the bucket-key detail).
  Without a key, no KMS statement: the bucket uses SSE-S3 and the stream's buffer an AWS owned key,
  neither needs a grant.
* Archiver (:func:`archiver_policy`): ``dynamodb:DescribeStream``, ``GetRecords`` and
  ``GetShardIterator`` on this stream's ARN. The Lambda guide also lists ``dynamodb:ListStreams``, but
  ListStreams has no resource-level permissions (the Service Authorization Reference gives it no resource
  type, so only ``"Resource": "*"`` grants it; the AWS CDK's ``grantTableListStreams`` uses ``"*"`` for that
  reason). A statement naming a stream ARN grants nothing for it, and widely used templates (Serverless
  Framework, Amplify, EventBridge Pipes examples) scope it to the stream ARN and work, so the event source
  mapping does not need it: it is left out rather than granted on ``"*"``. ``firehose:PutRecordBatch``
  on this delivery stream only (the archiver never calls PutRecord); ``logs:CreateLogStream`` and
  ``logs:PutLogEvents`` on the function's own log group only (no ``logs:CreateLogGroup``:
  :func:`helpers.lambda_function.ensure_log_group` creates the group, with a retention period, before
  the function exists); ``sqs:SendMessage`` on the failure queue only (the event source mapping sends
  the OnFailure record with the function's execution role).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Mapping

from botocore.exceptions import ClientError

from . import tagging, validation
from .outcome import ALREADY_THERE, CREATED, UPDATED, Ensured
from .settings import Settings

LOG = logging.getLogger(__name__)

POLICY_VERSION = "2012-10-17"
FIREHOSE_SERVICE = "firehose.amazonaws.com"
LAMBDA_SERVICE = "lambda.amazonaws.com"
FIREHOSE_POLICY_NAME = "firehose-delivery-to-archive-bucket"
ARCHIVER_POLICY_NAME = "archiver-stream-to-firehose"
FIREHOSE_LOG_STREAM = "DestinationDelivery"

_POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
_SERVICE = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$")
_DESCRIPTION_MAX = 1000


# --------------------------------------------------------------------------------------------------
# Names derived from settings (shared with helpers.firehose and helpers.teardown)


def firehose_log_group_name(settings: Settings) -> str:
    """The CloudWatch Logs group Firehose writes delivery errors to (created by helpers.firehose)."""
    return f"/aws/kinesisfirehose/{settings.delivery_stream_name}"


def lambda_log_group_name(settings: Settings) -> str:
    """The log group Lambda writes the archiver's logs to (Lambda's fixed naming rule)."""
    return f"/aws/lambda/{settings.function_name}"


def role_arn(partition: str, account_id: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


# --------------------------------------------------------------------------------------------------
# Policy documents


# Where AWS documents the trust policy of each service principal this project trusts (see the module docstring).
TRUST_POLICY_SOURCES = {
    FIREHOSE_SERVICE: "https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#firehose-assume-role",
    LAMBDA_SERVICE: "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html",
}


def trust_policy(service: str) -> dict[str, Any]:
    """The trust policy letting ``service`` assume the role, as that service's guide documents it.

    Only the principals in :data:`TRUST_POLICY_SOURCES` are accepted (``ValueError`` otherwise): each has a
    documented form, cited there. Both documented forms have no condition; the module docstring says why
    none is added (``iam:PassRole`` is what keeps other accounts from using the role)."""
    if service not in TRUST_POLICY_SOURCES:
        raise ValueError(f"invalid service principal {service!r}: this project writes trust policies for {', '.join(sorted(TRUST_POLICY_SOURCES))} only")
    statement: dict[str, Any] = {
        "Sid": "TrustedService",
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def kms_statement(*, partition: str, region: str, kms_key_arn: str, bucket_name: str) -> dict[str, Any]:
    """The Firehose role's KMS grant for an SSE-KMS bucket: the statement of "Grant Firehose access to an
    Amazon S3 destination" (https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#using-iam-s3),
    ``kms:Decrypt`` and ``kms:GenerateDataKey`` on the key only, used through S3 in this region only
    (``kms:ViaService``) and for this bucket only (``kms:EncryptionContext:aws:s3:arn``).

    The guide's example matches the encryption context against object ARNs (``arn:aws:s3:::bucket/prefix*``).
    :func:`helpers.s3.ensure_bucket` turns on an S3 Bucket Key, and with a bucket key S3 sends the *bucket*
    ARN as the encryption context (Amazon S3 User Guide, "Reducing the cost of SSE-KMS with Amazon S3 Bucket
    Keys", "Changes to note before enabling an S3 Bucket Key",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html). The condition lists both, the
    bucket ARN and its objects, so it holds with or without a bucket key."""
    validation.kms_key_arn(kms_key_arn)
    key_partition, _, key_region = kms_key_arn.split(":")[1:4]
    if key_partition != partition or key_region != region:
        raise ValueError(
            f"invalid KMS key {kms_key_arn!r} (TTL_ARCHIVE_KMS_KEY): the key must be in the bucket's region {region} "
            f"(partition {partition}); Firehose and S3 use a key of the destination bucket's region only"
        )
    bucket_arn = f"arn:{partition}:s3:::{bucket_name}"
    return {
        "Sid": "EncryptWithArchiveKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": [kms_key_arn],
        "Condition": {
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]},
        },
    }


def firehose_delivery_policy(
    *,
    partition: str,
    region: str,
    account_id: str,
    bucket_name: str,
    log_group_name: str,
    log_stream_name: str = FIREHOSE_LOG_STREAM,
    kms_key_arn: str | None = None,
) -> dict[str, Any]:
    """The Firehose role's permissions: write to this bucket, log delivery errors to this log stream, and
    with ``kms_key_arn`` encrypt with that key through S3 (:func:`kms_statement`)."""
    validation.bucket_name(bucket_name)
    bucket_arn = f"arn:{partition}:s3:::{bucket_name}"
    statements = [
        {
            "Sid": "DeliverToArchiveBucket",
            "Effect": "Allow",
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:GetBucketLocation",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
                "s3:PutObject",
            ],
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
        },
        {
            "Sid": "LogDeliveryErrors",
            "Effect": "Allow",
            "Action": ["logs:PutLogEvents"],
            "Resource": [f"arn:{partition}:logs:{region}:{account_id}:log-group:{log_group_name}:log-stream:{log_stream_name}"],
        },
    ]
    if kms_key_arn is not None:
        statements.append(kms_statement(partition=partition, region=region, kms_key_arn=kms_key_arn, bucket_name=bucket_name))
    return {"Version": POLICY_VERSION, "Statement": statements}


def archiver_policy(
    *, partition: str, region: str, account_id: str, stream_arn: str, delivery_stream_arn: str, log_group_name: str, failure_queue_arn: str
) -> dict[str, Any]:
    """The archiver function's permissions (see the module docstring for why ListStreams is absent)."""
    for what, arn, service in (
        ("stream_arn", stream_arn, "dynamodb"),
        ("delivery_stream_arn", delivery_stream_arn, "firehose"),
        ("failure_queue_arn", failure_queue_arn, "sqs"),
    ):
        if not isinstance(arn, str) or not arn.startswith(f"arn:{partition}:{service}:") or "*" in arn:
            raise ValueError(f"invalid {what} {arn!r}: expected a full arn:{partition}:{service}:... ARN without wildcards")
    group_arn = f"arn:{partition}:logs:{region}:{account_id}:log-group:{log_group_name}"
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ReadTableStream",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                "Resource": [stream_arn],
            },
            {
                "Sid": "WriteToDeliveryStream",
                "Effect": "Allow",
                "Action": ["firehose:PutRecordBatch"],
                "Resource": [delivery_stream_arn],
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{group_arn}:*"],
            },
            {
                "Sid": "ReportDiscardedBatches",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [failure_queue_arn],
            },
        ],
    }


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def wildcard_violations(policy_document: Mapping[str, Any] | str) -> list[str]:
    """Every over-broad grant in a policy: an Action or NotAction of ``"*"`` or ``"service:*"``, a
    Resource or NotResource of ``"*"``, and a Principal of ``"*"``. Empty list: the policy is scoped."""
    doc = json.loads(policy_document) if isinstance(policy_document, str) else policy_document
    problems: list[str] = []
    for index, statement in enumerate(_as_list(doc.get("Statement"))):
        label = statement.get("Sid") or f"statement {index}"
        for key in ("Action", "NotAction"):
            for action in _as_list(statement.get(key)):
                if action == "*" or (isinstance(action, str) and action.endswith(":*")):
                    problems.append(f"{label}: {key} {action!r} grants every action")
        for key in ("Resource", "NotResource"):
            for resource in _as_list(statement.get(key)):
                if resource == "*":
                    problems.append(f"{label}: {key} '*' covers every resource")
        principal = statement.get("Principal")
        principals = [principal] if principal == "*" else [p for v in (principal or {}).values() for p in _as_list(v)] if isinstance(principal, dict) else []
        if "*" in principals:
            problems.append(f"{label}: Principal '*' trusts everyone")
    return problems


def _canonical(doc: Mapping[str, Any] | str) -> str:
    """A comparable form of a policy: single values and one-element lists are the same, order of
    actions/resources and statements does not matter."""
    parsed = json.loads(doc) if isinstance(doc, str) else doc

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in sorted(value.items())}
        if isinstance(value, (list, tuple)):
            if all(not isinstance(v, (dict, list, tuple)) for v in value):
                return sorted(value, key=str)
            return sorted((norm(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
        return [value] if isinstance(value, str) else value

    statements = sorted((norm(s) for s in _as_list(parsed.get("Statement"))), key=lambda s: json.dumps(s, sort_keys=True))
    return json.dumps({"Version": parsed.get("Version"), "Statement": statements}, sort_keys=True)


# --------------------------------------------------------------------------------------------------
# Roles


def _validate(role_name: str, policy_name: str, policy_document: Mapping[str, Any], trust_document: Mapping[str, Any], description: str) -> None:
    validation.role_name(role_name)
    if not isinstance(policy_name, str) or not _POLICY_NAME.match(policy_name):
        raise ValueError(f"invalid IAM policy name {policy_name!r}: policy names are 1-128 characters of letters, digits and '+=,.@_-'")
    if not isinstance(description, str) or len(description) > _DESCRIPTION_MAX:
        raise ValueError(f"invalid IAM role description: descriptions are at most {_DESCRIPTION_MAX} characters")
    for what, doc in (("permissions policy", policy_document), ("trust policy", trust_document)):
        problems = wildcard_violations(doc)
        if problems:
            raise ValueError(f"refusing the {what} for role {role_name!r}: this project grants no wildcard actions or resources ({'; '.join(problems)})")


def ensure_role(
    session,
    settings: Settings,
    *,
    role_name: str,
    service: str,
    policy_name: str,
    policy_document: Mapping[str, Any],
    description: str = "",
    trust_document: Mapping[str, Any] | None = None,
) -> Ensured:
    """Create or update an IAM role that ``service`` may assume (:func:`trust_policy`, unless
    ``trust_document`` is given), with one inline policy.

    Validates the names and refuses any wildcard grant (``ValueError``) before calling AWS. Idempotent:
    an identical role is "already there"; a differing trust policy, inline policy, description or tag set
    is brought in line and reported as "updated" with the changes listed. Other inline or attached
    policies on the role are left alone. A role of that name that is not tagged for this stack is
    refused (``RuntimeError``) and left unchanged. Does not wait for IAM propagation: callers that hand the role
    to a service retry with :func:`helpers.retry.retry_on_iam_propagation`.
    Returns the role as GetRole describes it, with the inline policy under ``"InlinePolicy"``.
    """
    trust = dict(trust_document) if trust_document is not None else trust_policy(service)
    _validate(role_name, policy_name, policy_document, trust, description)
    iam = session.client("iam")
    tags = settings.tags()
    policy_json = json.dumps(policy_document, sort_keys=True)
    changes: list[str] = []
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as err:
        if err.response["Error"]["Code"] != "NoSuchEntity":
            raise
        role = None

    if role is None:
        try:
            iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(trust, sort_keys=True),
                Description=description,
                Tags=tagging.as_key_value_list(tags),
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "EntityAlreadyExists":  # created concurrently: converge below
                return ensure_role(session, settings, role_name=role_name, service=service, policy_name=policy_name,
                                   policy_document=policy_document, description=description, trust_document=trust_document)
            raise
        iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=policy_json)
        action = CREATED
    else:
        current_tags = tagging.from_key_value_list(iam.list_role_tags(RoleName=role_name).get("Tags"))
        if not tagging.is_ours(current_tags, settings.stack):
            raise RuntimeError(
                f"IAM role {role_name} exists but is not tagged for stack {settings.stack!r}; it is left alone. "
                "Delete it, or choose another stack name (TTL_ARCHIVE_STACK) or role name."
            )
        current_trust = role.get("AssumeRolePolicyDocument") or {}
        if _canonical(current_trust) != _canonical(trust):
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust, sort_keys=True))
            changes.append("trust policy replaced")
        if (role.get("Description") or "") != description:
            iam.update_role(RoleName=role_name, Description=description)
            changes.append("description updated")
        try:
            current_policy = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        except ClientError as err:
            if err.response["Error"]["Code"] != "NoSuchEntity":
                raise
            current_policy = None
        if current_policy is None or _canonical(current_policy) != _canonical(policy_document):
            iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=policy_json)
            changes.append(f"inline policy {policy_name} {'added' if current_policy is None else 'replaced'}")
        missing = {k: v for k, v in tags.items() if current_tags.get(k) != v}
        if missing:
            iam.tag_role(RoleName=role_name, Tags=tagging.as_key_value_list(missing))
            changes.append(f"tags set: {', '.join(sorted(missing))}")
        action = UPDATED if changes else ALREADY_THERE

    description_out = dict(iam.get_role(RoleName=role_name)["Role"])
    description_out["InlinePolicy"] = {"PolicyName": policy_name, "PolicyDocument": json.loads(policy_json)}
    return Ensured("IAM role", role_name, action, description_out, changes).log(LOG)


def ensure_firehose_role(session, settings: Settings, identity) -> Ensured:
    """The role Firehose assumes to write this stack's archive bucket (see :func:`firehose_delivery_policy`).

    ``identity`` is :func:`helpers.target.identity` of the session. Idempotent, as :func:`ensure_role`.
    """
    settings = settings.with_account(identity.account_id, identity.region)
    policy = firehose_delivery_policy(
        partition=identity.partition,
        region=identity.region,
        account_id=identity.account_id,
        bucket_name=settings.bucket_name,
        log_group_name=firehose_log_group_name(settings),
        kms_key_arn=settings.kms_key_arn,
    )
    return ensure_role(
        session,
        settings,
        role_name=settings.firehose_role_name,
        service=FIREHOSE_SERVICE,
        policy_name=FIREHOSE_POLICY_NAME,
        policy_document=policy,
        description=f"Firehose delivery to s3://{settings.bucket_name} for stack {settings.stack} (dynamodb-ttl-archive)",
    )


def ensure_archiver_role(session, settings: Settings, identity, *, stream_arn: str, delivery_stream_arn: str, failure_queue_arn: str) -> Ensured:
    """The archiver function's execution role (see :func:`archiver_policy`). Re-run it when the table's
    stream ARN changes (a stream turned off and on again gets a new ARN): the policy is updated."""
    policy = archiver_policy(
        partition=identity.partition,
        region=identity.region,
        account_id=identity.account_id,
        stream_arn=stream_arn,
        delivery_stream_arn=delivery_stream_arn,
        log_group_name=lambda_log_group_name(settings),
        failure_queue_arn=failure_queue_arn,
    )
    return ensure_role(
        session,
        settings,
        role_name=settings.lambda_role_name,
        service=LAMBDA_SERVICE,
        policy_name=ARCHIVER_POLICY_NAME,
        policy_document=policy,
        description=f"Archiver function of stack {settings.stack}: stream -> Firehose (dynamodb-ttl-archive)",
    )


def role_tags(session, role_name: str) -> dict[str, str] | None:
    """The role's tags, or None when the role does not exist."""
    try:
        return tagging.from_key_value_list(session.client("iam").list_role_tags(RoleName=role_name).get("Tags"))
    except ClientError as err:
        if err.response["Error"]["Code"] == "NoSuchEntity":
            return None
        raise


def delete_role(session, role_name: str) -> bool:
    """Delete a role: its inline policies and managed-policy attachments first, then the role.

    Returns True when a role was deleted, False when there was none ("not found" is done). Does not
    check tags: :func:`helpers.teardown.teardown` decides what may be deleted.
    """
    validation.role_name(role_name)
    iam = session.client("iam")
    try:
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
            for name in page.get("PolicyNames", []):
                iam.delete_role_policy(RoleName=role_name, PolicyName=name)
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
            for attached in page.get("AttachedPolicies", []):
                iam.detach_role_policy(RoleName=role_name, PolicyArn=attached["PolicyArn"])
        for page in iam.get_paginator("list_instance_profiles_for_role").paginate(RoleName=role_name):
            for profile in page.get("InstanceProfiles", []):
                iam.remove_role_from_instance_profile(RoleName=role_name, InstanceProfileName=profile["InstanceProfileName"])
        iam.delete_role(RoleName=role_name)
    except ClientError as err:
        if err.response["Error"]["Code"] == "NoSuchEntity":
            return False
        raise
    LOG.info("deleted IAM role %s", role_name)
    return True


def all_policies(settings: Settings, identity, *, stream_arn: str, delivery_stream_arn: str, failure_queue_arn: str) -> dict[str, dict[str, Any]]:
    """Every IAM policy document this project writes for a stack, by name (for reviews and tests): the two
    trust policies and the two roles' inline policies (the Firehose one with its KMS statement when
    ``settings.kms_key_arn`` is set). The bucket's TLS-only policy is :func:`helpers.s3.tls_only_policy`."""
    bucket = settings.with_account(identity.account_id, identity.region).bucket_name
    return {
        "firehose trust": trust_policy(FIREHOSE_SERVICE),
        "firehose delivery": firehose_delivery_policy(partition=identity.partition, region=identity.region, account_id=identity.account_id,
                                                      bucket_name=bucket, log_group_name=firehose_log_group_name(settings),
                                                      kms_key_arn=settings.kms_key_arn),
        "archiver trust": trust_policy(LAMBDA_SERVICE),
        "archiver": archiver_policy(partition=identity.partition, region=identity.region, account_id=identity.account_id, stream_arn=stream_arn,
                                    delivery_stream_arn=delivery_stream_arn, log_group_name=lambda_log_group_name(settings),
                                    failure_queue_arn=failure_queue_arn),
    }
