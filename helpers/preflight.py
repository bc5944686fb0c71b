"""Preflight: the IAM actions a caller needs to deploy this stack, checked before anything is created.

:func:`deploy_needs` lists, for one stack, every IAM action the deployment (:func:`helpers.pipeline.ensure_pipeline`,
the notebooks 01-04) calls, each with the resource it acts on and the API operations that need it. The list
is derived from the code: :data:`OPERATION_ACTIONS` maps every boto3 operation those modules call to its IAM
action (the Service Authorization Reference's name, which differs from the operation's for S3 and for
DescribeStream-style aliases), and ``tests/test_preflight.py`` records the boto3 calls of a real deployment on
the embedded local AWS and checks that each one is in the list. ``iam:PassRole`` is the one action no boto3
call names: CreateDeliveryStream/UpdateDestination and CreateFunction/UpdateFunctionConfiguration hand a role
to a service, and IAM checks that the caller may pass it.

:func:`preflight` then, on AWS, asks IAM whether the caller has them (``iam:SimulatePrincipalPolicy`` with
the caller as the policy source: identity policies, permissions boundary and the organization's SCPs) and
names the missing ones. A caller who may not simulate gets the list and a note, not a failure. On the
embedded local AWS (or another emulator) the simulation is not run: emulators enforce no IAM policy, so
the check is AWS-only, and the list is shown.

Reading or restoring the archive needs :func:`reader_actions` (``s3:ListBucket``, ``s3:GetObject`` and,
with a KMS key, ``kms:Decrypt`` on that key).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable

from botocore.exceptions import ClientError

from . import alarms, iam
from .settings import Settings
from .target import Identity, endpoint_of, identity as get_identity

LOG = logging.getLogger(__name__)

# Every boto3 operation the deployment calls -> the IAM action that authorizes it (Service Authorization
# Reference). Most are "<service>:<Operation>"; the exceptions are spelled out.
OPERATION_ACTIONS: dict[tuple[str, str], str] = {
    **{("dynamodb", op): f"dynamodb:{op}" for op in ("CreateTable", "DescribeTable", "UpdateTable", "DescribeTimeToLive", "UpdateTimeToLive",
                                                     "ListTagsOfResource", "TagResource")},
    ("s3", "CreateBucket"): "s3:CreateBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "GetBucketLocation"): "s3:GetBucketLocation",
    ("s3", "GetBucketTagging"): "s3:GetBucketTagging",
    ("s3", "PutBucketTagging"): "s3:PutBucketTagging",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetBucketOwnershipControls"): "s3:GetBucketOwnershipControls",
    ("s3", "PutBucketOwnershipControls"): "s3:PutBucketOwnershipControls",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetBucketPolicy"): "s3:GetBucketPolicy",
    ("s3", "PutBucketPolicy"): "s3:PutBucketPolicy",
    ("s3", "DeleteBucketPolicy"): "s3:DeleteBucketPolicy",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "DeleteBucketLifecycle"): "s3:PutLifecycleConfiguration",
    **{("iam", op): f"iam:{op}" for op in ("CreateRole", "GetRole", "UpdateAssumeRolePolicy", "UpdateRole", "GetRolePolicy", "PutRolePolicy",
                                           "ListRoleTags", "TagRole")},
    **{("firehose", op): f"firehose:{op}" for op in ("CreateDeliveryStream", "DescribeDeliveryStream", "ListTagsForDeliveryStream",
                                                     "TagDeliveryStream", "UpdateDestination", "StartDeliveryStreamEncryption")},
    **{("logs", op): f"logs:{op}" for op in ("CreateLogGroup", "DescribeLogGroups", "PutRetentionPolicy", "ListTagsForResource",
                                             "ListTagsLogGroup", "TagResource", "TagLogGroup", "CreateLogStream", "DescribeLogStreams")},
    **{("sqs", op): f"sqs:{op}" for op in ("CreateQueue", "GetQueueUrl", "GetQueueAttributes", "SetQueueAttributes", "ListQueueTags", "TagQueue")},
    **{("lambda", op): f"lambda:{op}" for op in ("CreateFunction", "GetFunction", "GetFunctionConfiguration", "UpdateFunctionCode",
                                                 "UpdateFunctionConfiguration", "ListTags", "TagResource", "CreateEventSourceMapping",
                                                 "ListEventSourceMappings", "GetEventSourceMapping", "UpdateEventSourceMapping")},
    **{("cloudwatch", op): f"cloudwatch:{op}" for op in ("PutMetricAlarm", "DescribeAlarms", "ListTagsForResource", "TagResource")},
}
# Only with an alarm topic (TTL_ARCHIVE_ALARM_TOPIC or TTL_ARCHIVE_ALARM_EMAIL; helpers.alarm_topic).
SNS_OPERATION_ACTIONS: dict[tuple[str, str], str] = {
    ("sns", op): f"sns:{op}" for op in ("ListTopics", "CreateTopic", "ListTagsForResource", "TagResource", "GetTopicAttributes",
                                        "SetTopicAttributes", "Subscribe", "ListSubscriptionsByTopic")
}
# Operations that need no permission: STS GetCallerIdentity works for every caller.
NO_PERMISSION = {("sts", "GetCallerIdentity")}
PASS_ROLE_OPERATIONS = (("firehose", "CreateDeliveryStream"), ("firehose", "UpdateDestination"),
                        ("lambda", "CreateFunction"), ("lambda", "UpdateFunctionConfiguration"))
LOCAL_NOTE = ("The embedded local AWS enforces no IAM policy, so the simulation is an AWS-only check: "
              "on AWS, preflight asks IAM (iam:SimulatePrincipalPolicy) whether you have each action.")


@dataclass(frozen=True)
class Need:
    """One IAM action on one resource, and the API operations of the deployment that need it."""

    action: str
    resource: str
    operations: tuple[str, ...]


def _resources(settings: Settings, ident: Identity) -> dict[str, str]:
    p, r, a = ident.partition, ident.region, ident.account_id
    lambda_group = iam.lambda_log_group_name(settings)
    firehose_group = iam.firehose_log_group_name(settings)
    return {
        "dynamodb": f"arn:{p}:dynamodb:{r}:{a}:table/{settings.table_name}",
        "s3": f"arn:{p}:s3:::{settings.bucket_name}",
        "firehose": f"arn:{p}:firehose:{r}:{a}:deliverystream/{settings.delivery_stream_name}",
        "sqs": f"arn:{p}:sqs:{r}:{a}:{settings.failure_queue_name}",
        "lambda": f"arn:{p}:lambda:{r}:{a}:function:{settings.function_name}",
        "logs": f"arn:{p}:logs:{r}:{a}:log-group:{firehose_group}",
        "logs-lambda": f"arn:{p}:logs:{r}:{a}:log-group:{lambda_group}",
        "cloudwatch": f"arn:{p}:cloudwatch:{r}:{a}:alarm:{alarms.alarm_specs(settings)[0].name}",
    }


# Operations whose IAM resource is not the stack's resource of that service: no resource-level permission
# (only "*" grants them), or a resource whose name is not known before it exists (an event source mapping's UUID).
_STAR = {("logs", "DescribeLogGroups"), ("lambda", "CreateEventSourceMapping"), ("lambda", "ListEventSourceMappings"),
         ("lambda", "GetEventSourceMapping"), ("lambda", "UpdateEventSourceMapping"), ("cloudwatch", "DescribeAlarms"), ("sns", "ListTopics")}


def deploy_needs(settings: Settings, ident: Identity) -> list[Need]:
    """Every IAM action deploying ``settings``' stack needs, on which resource (``"*"`` where IAM has no
    resource-level permission for it), with the operations that need it; sorted by action."""
    settings = settings.with_account(ident.account_id, ident.region)
    arns = _resources(settings, ident)
    by_key: dict[tuple[str, str], list[str]] = {}
    operations = {**OPERATION_ACTIONS, **(SNS_OPERATION_ACTIONS if settings.alarm_topic else {})}
    for (service, op), action in operations.items():
        if (service, op) in _STAR:
            resources = ["*"]
        elif service == "iam":
            resources = [iam.role_arn(ident.partition, ident.account_id, n) for n in (settings.firehose_role_name, settings.lambda_role_name)]
        elif service == "logs" and op == "CreateLogStream":  # Firehose's error log stream, created by helpers.firehose
            resources = [f"{arns['logs']}:log-stream:{iam.FIREHOSE_LOG_STREAM}"]
        elif service == "logs":
            resources = [arns["logs"]] if op == "DescribeLogStreams" else [arns["logs"], arns["logs-lambda"]]
        elif service == "sns":
            resources = [f"arn:{ident.partition}:sns:{ident.region}:{ident.account_id}:{settings.alarm_topic_name}"]
        elif service == "cloudwatch":
            resources = [f"arn:{ident.partition}:cloudwatch:{ident.region}:{ident.account_id}:alarm:{s.name}" for s in alarms.alarm_specs(settings)]
        else:
            resources = [arns[service]]
        for resource in resources:
            by_key.setdefault((action, resource), []).append(f"{service}:{op}")
    for service, op in PASS_ROLE_OPERATIONS:
        role = settings.firehose_role_name if service == "firehose" else settings.lambda_role_name
        by_key.setdefault(("iam:PassRole", iam.role_arn(ident.partition, ident.account_id, role)), []).append(f"{service}:{op}")
    return sorted((Need(a, r, tuple(sorted(set(ops)))) for (a, r), ops in by_key.items()), key=lambda n: (n.action, n.resource))


def reader_actions(settings: Settings, ident: Identity) -> list[Need]:
    """What reading or restoring the archive needs (notebook 06, :mod:`helpers.archive_reader`, restore):
    list and get the archive's objects, and decrypt them with the KMS key when one is set."""
    settings = settings.with_account(ident.account_id, ident.region)
    bucket = f"arn:{ident.partition}:s3:::{settings.bucket_name}"
    needs = [Need("s3:ListBucket", bucket, ("s3:ListObjectsV2",)), Need("s3:GetObject", f"{bucket}/*", ("s3:GetObject",))]
    if settings.kms_key_arn:
        needs.append(Need("kms:Decrypt", settings.kms_key_arn, ("s3:GetObject (SSE-KMS)",)))
    return needs


# --------------------------------------------------------------------------------------------------
# The simulation (AWS only)


@dataclass
class Preflight:
    """What :func:`preflight` found: the needs, whether IAM simulated them, the missing ones, and notes."""

    principal: str
    needs: list[Need]
    reader: list[Need]
    simulated: bool = False
    missing: list[Need] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """False only when the simulation ran and found missing actions (an unchecked list is not a failure)."""
        return not self.missing

    def as_dict(self) -> dict[str, Any]:
        def rows(needs: Iterable[Need]) -> list[dict[str, Any]]:
            return [{"action": n.action, "resource": n.resource, "operations": list(n.operations)} for n in needs]

        return {"principal": self.principal, "simulated": self.simulated, "ok": self.ok, "needs": rows(self.needs),
                "missing": rows(self.missing), "reader_needs": rows(self.reader), "notes": list(self.notes)}

    def text(self) -> str:
        """One line per action with its resources; with a simulation, each marked allowed or MISSING."""
        width = max(len(n.action) for n in self.needs)
        missing = {(n.action, n.resource) for n in self.missing}
        grouped: dict[str, list[Need]] = {}
        for n in self.needs:
            grouped.setdefault(n.action, []).append(n)
        lines = [f"IAM actions needed to deploy this stack ({len(grouped)} actions), for {self.principal}:"]
        for action, group in grouped.items():
            lacking = [n.resource for n in group if (n.action, n.resource) in missing]
            mark = ("MISSING " if lacking else "allowed ") if self.simulated else ""
            shown = lacking or [n.resource for n in group]
            lines.append(f"  {mark}{action:<{width}}  {', '.join(shown)}")
        lines.append("To read or restore the archive: " + ", ".join(f"{n.action} on {n.resource}" for n in self.reader))
        if self.simulated:
            lines.append(f"Simulation: {len(self.missing)} missing." if self.missing else "Simulation: every action is allowed.")
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def simulation_principal(session: Any, ident: Identity) -> tuple[str | None, str | None]:
    """(the ARN IAM can simulate for the caller, or None; a note when None or when it is a guess).

    A user or role ARN is used as it is. An assumed-role session (``arn:...:sts::<acct>:assumed-role/<role>/<session>``)
    is simulated as its role, whose full ARN (with path) comes from ``iam:GetRole``; without that permission the
    path-less ARN is tried. The root user and federated users cannot be simulated."""
    arn = ident.arn
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None, f"caller {arn!r} is not an ARN IAM can simulate"
    resource = parts[5]
    if parts[2] == "iam" and resource == "root":
        return None, "the caller is the account's root user, which IAM cannot simulate (and which may do everything); deploy with an IAM role instead"
    if parts[2] == "iam":
        return arn, None
    if parts[2] == "sts" and resource.startswith("assumed-role/"):
        role_name = resource.split("/")[1]
        try:
            return session.client("iam").get_role(RoleName=role_name)["Role"]["Arn"], None
        except ClientError as err:
            guess = iam.role_arn(parts[1], ident.account_id, role_name)
            return guess, f"could not read role {role_name} ({err.response['Error']['Code']}); simulating {guess} (wrong if the role has a path)"
    return None, f"caller {arn!r} (a federated user) cannot be simulated"


def simulate(session: Any, principal: str, needs: list[Need]) -> list[Need]:
    """The needs IAM's simulation does not allow for ``principal`` (SimulatePrincipalPolicy, one call per
    resource, every page). Raises ``ClientError`` as IAM does (AccessDenied when the caller may not simulate)."""
    client = session.client("iam")
    by_resource: dict[str, list[Need]] = {}
    for need in needs:
        by_resource.setdefault(need.resource, []).append(need)
    missing: list[Need] = []
    for resource, group in by_resource.items():
        wanted = {n.action: n for n in group}
        kwargs: dict[str, Any] = {"PolicySourceArn": principal, "ActionNames": sorted(wanted), "ResourceArns": [resource]}
        while True:
            page = client.simulate_principal_policy(**kwargs)
            for result in page.get("EvaluationResults", []):
                if result.get("EvalDecision") != "allowed" and result.get("EvalActionName") in wanted:
                    missing.append(wanted[result["EvalActionName"]])
            if not page.get("IsTruncated"):
                break
            kwargs["Marker"] = page["Marker"]
    return sorted(missing, key=lambda n: (n.action, n.resource))


def preflight(session: Any, settings: Settings, ident: Identity | None = None, *, run_simulation: bool = True) -> Preflight:
    """The IAM actions this stack's deployment needs and, on AWS, which of them the caller lacks.

    Creates nothing. On an emulator the list is returned with :data:`LOCAL_NOTE`. On AWS, unless
    ``run_simulation`` is False, the caller's policies are simulated; a caller who may not call
    ``iam:SimulatePrincipalPolicy`` gets the list and a note saying so (``simulated`` False, ``ok`` True).
    """
    ident = ident or get_identity(session)
    result = Preflight(principal=ident.arn, needs=deploy_needs(settings, ident), reader=reader_actions(settings, ident))
    if endpoint_of(session):  # the embedded local AWS, or another emulator (AWS_ENDPOINT_URL)
        result.notes.append(LOCAL_NOTE)
        return result
    if not run_simulation:
        result.notes.append("simulation skipped: the list is not checked against your policies")
        return result
    principal, note = simulation_principal(session, ident)
    if note:
        result.notes.append(note)
    if principal is None:
        return result
    try:
        result.missing = simulate(session, principal, result.needs)
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code not in ("AccessDenied", "AccessDeniedException", "NoSuchEntity", "InvalidInput"):
            raise  # throttling and the like: not a permission question, the caller should see it
        result.notes.append(f"could not simulate ({code}): the caller may not call iam:SimulatePrincipalPolicy on {principal}; "
                            "the list above is not checked, ask your administrator to compare it with your policies")
        return result
    result.principal = principal
    result.simulated = True
    if result.missing:
        result.notes.append("missing actions: ask for them (scoped to the resources shown) before deploying; nothing was created")
    return result
