"""IAM roles for the pipeline: the Firehose delivery role and the archiver (Lambda) execution role.

Every role this project writes has

* a trust policy for one AWS service principal, with a ``StringEquals aws:SourceAccount`` condition
  (confused-deputy protection: the service may assume the role only on behalf of this account);
* one inline policy that names every resource by ARN: no ``"*"`` action, no ``"service:*"`` action and
  no ``"*"`` resource. :func:`ensure_role` refuses such a policy with a ``ValueError`` before any AWS call
  (see :func:`wildcard_violations`, which the tests run over every policy the project writes);
* the stack's tags, so that teardown deletes only what it created.

Least-privilege choices, and why:

* Firehose (:func:`firehose_delivery_policy`): the six S3 actions the Firehose developer guide lists for
  an S3 destination, on the bucket and its objects only, and ``logs:PutLogEvents`` on the delivery
  stream's own log stream only. :mod:`helpers.firehose` creates that log group and log stream itself, so
  the role needs neither ``logs:CreateLogGroup`` nor ``logs:CreateLogStream``. No KMS statement: the
  stream uses an AWS owned key and the bucket SSE-S3, neither needs a key policy grant.
* Archiver (:func:`archiver_policy`): ``dynamodb:DescribeStream``, ``GetRecords`` and
  ``GetShardIterator`` on this stream's ARN. The Lambda guide also lists ``dynamodb:ListStreams``, but
  ListStreams has no resource-level permissions (the Service Authorization Reference gives it no resource
  type, so only ``"Resource": "*"`` grants it; the AWS CDK's ``grantTableListStreams`` uses ``"*"`` for that
  reason). A statement naming a stream ARN grants nothing for it, and widely used templates (Serverless
  Framework, Amplify, EventBridge Pipes examples) scope it to the stream ARN and work, so the event source
  mapping does not need it: it is left out rather than granted on ``"*"``. ``firehose:PutRecordBatch``
  and ``firehose:PutRecord`` on this delivery stream only; ``logs:CreateLogGroup``,
  ``logs:CreateLogStream`` and ``logs:PutLogEvents`` on the function's own log group only;
  ``sqs:SendMessage`` on the failure queue only (the event source mapping sends the OnFailure record
  with the function's execution role).
* Lambda trust with ``aws:SourceAccount``: AWS's own samples use it for ``lambda.amazonaws.com``;
  Lambda sets the key when it assumes the execution role. Should an account ever see "The role defined
  for the function cannot be assumed by Lambda" persist beyond IAM propagation, build the trust policy
  with ``trust_policy(service, account_id, source_account_condition=False)`` and pass it to
  :func:`ensure_role` via ``trust_document``.
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


def trust_policy(service: str, account_id: str, *, source_account_condition: bool = True) -> dict[str, Any]:
    """A trust policy letting ``service`` (e.g. "firehose.amazonaws.com") assume the role, by default only
    on behalf of ``account_id`` (``StringEquals aws:SourceAccount``)."""
    if not isinstance(service, str) or not _SERVICE.match(service):
        raise ValueError(f"invalid service principal {service!r}: service principals look like 'firehose.amazonaws.com'")
    if not isinstance(account_id, str) or not re.fullmatch(r"\d{12}", account_id):
        raise ValueError(f"invalid account id {account_id!r}: account ids are 12 digits")
    statement: dict[str, Any] = {
        "Sid": "TrustedService",
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account_condition:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def firehose_delivery_policy(
    *, partition: str, region: str, account_id: str, bucket_name: str, log_group_name: str, log_stream_name: str = FIREHOSE_LOG_STREAM
) -> dict[str, Any]:
    """The Firehose role's permissions: write to this bucket, log delivery errors to this log stream."""
    validation.bucket_name(bucket_name)
    bucket_arn = f"arn:{partition}:s3:::{bucket_name}"
    return {
        "Version": POLICY_VERSION,
        "Statement": [
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
        ],
    }


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
                "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                "Resource": [delivery_stream_arn],
            },
            {
                "Sid": "CreateOwnLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup"],
                "Resource": [group_arn, f"{group_arn}:*"],
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
    account_id: str,
    description: str = "",
    trust_document: Mapping[str, Any] | None = None,
) -> Ensured:
    """Create or update an IAM role that ``service`` may assume for ``account_id``, with one inline policy.

    Validates the names and refuses any wildcard grant (``ValueError``) before calling AWS. Idempotent:
    an identical role is "already there"; a differing trust policy, inline policy, description or tag set
    is brought in line and reported as "updated" with the changes listed. Other inline or attached
    policies on the role are left alone. A role of that name that is not tagged for this stack is
    refused (``RuntimeError``) and left unchanged. Does not wait for IAM propagation: callers that hand the role
    to a service retry with :func:`helpers.retry.retry_on_iam_propagation`.
    Returns the role as GetRole describes it, with the inline policy under ``"InlinePolicy"``.
    """
    trust = dict(trust_document) if trust_document is not None else trust_policy(service, account_id)
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
                                   policy_document=policy_document, account_id=account_id, description=description, trust_document=trust_document)
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
    )
    return ensure_role(
        session,
        settings,
        role_name=settings.firehose_role_name,
        service=FIREHOSE_SERVICE,
        policy_name=FIREHOSE_POLICY_NAME,
        policy_document=policy,
        account_id=identity.account_id,
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
        account_id=identity.account_id,
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
    """Every IAM policy document this project writes for a stack, by name (for reviews and tests)."""
    bucket = settings.with_account(identity.account_id, identity.region).bucket_name
    return {
        "firehose trust": trust_policy(FIREHOSE_SERVICE, identity.account_id),
        "firehose delivery": firehose_delivery_policy(partition=identity.partition, region=identity.region, account_id=identity.account_id,
                                                      bucket_name=bucket, log_group_name=firehose_log_group_name(settings)),
        "archiver trust": trust_policy(LAMBDA_SERVICE, identity.account_id),
        "archiver": archiver_policy(partition=identity.partition, region=identity.region, account_id=identity.account_id, stream_arn=stream_arn,
                                    delivery_stream_arn=delivery_stream_arn, log_group_name=lambda_log_group_name(settings),
                                    failure_queue_arn=failure_queue_arn),
    }
