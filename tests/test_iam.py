"""helpers.iam: least-privilege roles, idempotent, with wildcard grants refused before any AWS call."""

from __future__ import annotations

import copy
import json

import pytest

from helpers import iam
from helpers.settings import Settings
from helpers.target import Identity

IDENT = Identity(account_id="123456789012", region="us-east-1", arn="arn:aws:iam::123456789012:user/tester", endpoint_url=None)
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/s-items/stream/2026-11-26T18:00:00.000"
DELIVERY_ARN = "arn:aws:firehose:us-east-1:123456789012:deliverystream/s-archive"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:s-archiver-failures"


@pytest.fixture
def settings(stack) -> Settings:
    return Settings(stack=stack)


@pytest.fixture
def ident(session) -> Identity:
    from helpers.target import identity

    return identity(session)


def _statements(policy):
    return policy["Statement"]


def _actions(policy) -> set[str]:
    return {a for s in _statements(policy) for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}


# ------------------------------------------------------------------------------------------ policies


@pytest.mark.parametrize("partition,region", [("aws", "us-east-1"), ("aws-cn", "cn-north-1")])
def test_every_policy_the_project_writes_has_no_wildcard_action_or_resource(partition, region):
    ident = Identity(account_id="123456789012", region=region, arn=f"arn:{partition}:iam::123456789012:user/x", endpoint_url=None)
    stream = STREAM_ARN.replace("arn:aws:", f"arn:{partition}:").replace("us-east-1", region)
    delivery = DELIVERY_ARN.replace("arn:aws:", f"arn:{partition}:").replace("us-east-1", region)
    queue = QUEUE_ARN.replace("arn:aws:", f"arn:{partition}:").replace("us-east-1", region)
    policies = iam.all_policies(Settings(stack="prod-archive"), ident, stream_arn=stream, delivery_stream_arn=delivery, failure_queue_arn=queue)
    assert set(policies) == {"firehose trust", "firehose delivery", "archiver trust", "archiver"}
    for name, policy in policies.items():
        assert iam.wildcard_violations(policy) == [], name
        text = json.dumps(policy)
        assert '"*"' not in text, name
        for statement in _statements(policy):
            for resource in statement.get("Resource", []):
                assert resource.startswith(f"arn:{partition}:"), (name, resource)


def test_trust_policies_are_the_documented_forms_and_cite_their_pages():
    """Firehose's and Lambda's guides document their trust policies without a condition (aws:SourceAccount is
    documented for neither principal): the project writes exactly that form, and names the page."""
    assert set(iam.TRUST_POLICY_SOURCES) == {iam.FIREHOSE_SERVICE, iam.LAMBDA_SERVICE}
    assert iam.TRUST_POLICY_SOURCES[iam.FIREHOSE_SERVICE].endswith("/firehose/latest/dev/controlling-access.html#firehose-assume-role")
    assert iam.TRUST_POLICY_SOURCES[iam.LAMBDA_SERVICE].endswith("/lambda/latest/dg/lambda-intro-execution-role.html")
    for service, page in iam.TRUST_POLICY_SOURCES.items():
        policy = iam.trust_policy(service)
        (statement,) = policy["Statement"]
        assert statement == {"Sid": "TrustedService", "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        assert "Condition" not in statement
        assert page in iam.__doc__  # the module docstring cites the page it follows
    with pytest.raises(ValueError, match="trust policies for"):
        iam.trust_policy("ec2.amazonaws.com")


def test_no_grant_the_code_does_not_use():
    """PutRecord (the archiver calls only PutRecordBatch) and CreateLogGroup (ensure_log_group creates the
    group first) are not granted; the archiver's source confirms what it calls."""
    import inspect

    from helpers import archiver, lambda_function

    policy = iam.archiver_policy(partition="aws", region="us-east-1", account_id="123456789012", stream_arn=STREAM_ARN,
                                 delivery_stream_arn=DELIVERY_ARN, log_group_name="/aws/lambda/s-archiver", failure_queue_arn=QUEUE_ARN)
    actions = _actions(policy)
    assert "firehose:PutRecord" not in actions and "logs:CreateLogGroup" not in actions
    source = inspect.getsource(archiver)
    assert ".put_record_batch(" in source and ".put_record(" not in source
    assert "create_log_group(" in inspect.getsource(lambda_function.ensure_log_group)


KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_firehose_policy_with_a_kms_key_grants_that_key_through_s3_for_this_bucket_only():
    policy = iam.firehose_delivery_policy(partition="aws", region="eu-west-1", account_id="123456789012", bucket_name="my-archive",
                                          log_group_name="/aws/kinesisfirehose/x", kms_key_arn=KEY)
    kms = policy["Statement"][-1]
    assert kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == [KEY]
    assert kms["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": ["arn:aws:s3:::my-archive", "arn:aws:s3:::my-archive/*"]},
    }
    with pytest.raises(ValueError, match="bucket's region eu-west-2"):
        iam.firehose_delivery_policy(partition="aws", region="eu-west-2", account_id="123456789012", bucket_name="my-archive",
                                     log_group_name="/aws/kinesisfirehose/x", kms_key_arn=KEY)


@pytest.mark.parametrize("bad", ["alias/archive", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:123456789012:alias/archive", "arn:aws:kms:eu-west-1:1:key/x"])
def test_the_kms_setting_takes_a_key_arn_only_and_names_the_variable(bad):
    with pytest.raises(ValueError, match="TTL_ARCHIVE_KMS_KEY"):
        Settings(kms_key_arn=bad)


def test_firehose_policy_is_scoped_to_the_bucket_and_its_own_log_stream():
    policy = iam.firehose_delivery_policy(partition="aws", region="eu-west-1", account_id="123456789012", bucket_name="my-archive", log_group_name="/aws/kinesisfirehose/x")
    s3, logs = policy["Statement"]
    assert set(s3["Action"]) == {"s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"}
    assert s3["Resource"] == ["arn:aws:s3:::my-archive", "arn:aws:s3:::my-archive/*"]
    assert logs["Action"] == ["logs:PutLogEvents"]
    assert logs["Resource"] == ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/kinesisfirehose/x:log-stream:DestinationDelivery"]


def test_archiver_policy_grants_stream_reads_on_this_stream_only_and_no_list_streams():
    policy = iam.archiver_policy(partition="aws", region="us-east-1", account_id="123456789012", stream_arn=STREAM_ARN,
                                 delivery_stream_arn=DELIVERY_ARN, log_group_name="/aws/lambda/s-archiver", failure_queue_arn=QUEUE_ARN)
    by_action = {a: s["Resource"] for s in policy["Statement"] for a in s["Action"]}
    assert by_action["dynamodb:GetRecords"] == [STREAM_ARN]
    assert by_action["dynamodb:GetShardIterator"] == [STREAM_ARN]
    assert by_action["dynamodb:DescribeStream"] == [STREAM_ARN]
    assert "dynamodb:ListStreams" not in by_action  # needs "Resource": "*", see the module docstring
    assert by_action["firehose:PutRecordBatch"] == [DELIVERY_ARN]
    assert by_action["sqs:SendMessage"] == [QUEUE_ARN]
    assert by_action["logs:PutLogEvents"] == ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/s-archiver:*"]
    assert not any(a.startswith(("dynamodb:PutItem", "dynamodb:Scan", "s3:")) for a in by_action)


@pytest.mark.parametrize("bad", ["*", "arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/*", "arn:aws:sqs:us-east-1:1:q"])
def test_archiver_policy_refuses_wildcard_or_wrong_service_arns(bad):
    with pytest.raises(ValueError, match="stream_arn"):
        iam.archiver_policy(partition="aws", region="us-east-1", account_id="123456789012", stream_arn=bad,
                            delivery_stream_arn=DELIVERY_ARN, log_group_name="/aws/lambda/f", failure_queue_arn=QUEUE_ARN)


def test_wildcard_violations_finds_every_kind_of_wildcard():
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"},
            {"Sid": "B", "Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": ["arn:aws:s3:::b", "*"]},
            {"Sid": "C", "Effect": "Allow", "NotAction": "iam:*", "NotResource": "*"},
            {"Sid": "D", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            {"Sid": "E", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        ],
    }
    problems = iam.wildcard_violations(policy)
    assert len(problems) == 6, problems
    assert [p.split(":")[0] for p in problems] == ["A", "B", "B", "C", "C", "D"]
    assert iam.wildcard_violations(json.dumps({"Statement": [policy["Statement"][4]]})) == []


# ------------------------------------------------------------------------------------------ validation (no AWS call)


class _NoAws:
    """A session whose every client call fails the test: proves validation happens before AWS."""

    def client(self, *args, **kwargs):
        raise AssertionError("AWS was called before validation")


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"role_name": "has space"}, "role names are 1-64 characters"),
        ({"role_name": "x" * 65}, "role names are 1-64 characters"),
        ({"policy_name": "bad/name"}, "policy names are 1-128"),
        ({"description": "d" * 1001}, "at most 1000"),
        ({"service": "firehose"}, "trust policies for"),
        ({"policy_document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b"}]}}, "wildcard"),
        ({"policy_document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}, "wildcard"),
        ({"trust_document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}}, "trust policy"),
    ],
)
def test_ensure_role_refuses_bad_input_before_any_aws_call(overrides, match):
    arguments = dict(
        role_name="ok-role",
        service="firehose.amazonaws.com",
        policy_name="ok-policy",
        policy_document={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]},
    )
    arguments.update(overrides)
    with pytest.raises(ValueError, match=match):
        iam.ensure_role(_NoAws(), Settings(stack="ok-stack"), **arguments)


# ------------------------------------------------------------------------------------------ against the local AWS


def test_ensure_firehose_role_creates_then_reports_already_there(session, settings, ident):
    first = iam.ensure_firehose_role(session, settings, ident)
    assert first.action == "created"
    role = session.client("iam").get_role(RoleName=settings.firehose_role_name)["Role"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert "Condition" not in statement
    stored = session.client("iam").get_role_policy(RoleName=settings.firehose_role_name, PolicyName=iam.FIREHOSE_POLICY_NAME)["PolicyDocument"]
    assert iam.wildcard_violations(stored) == []
    bucket = settings.with_account(ident.account_id, ident.region).bucket_name
    assert f"arn:aws:s3:::{bucket}/*" in stored["Statement"][0]["Resource"]
    tags = {t["Key"]: t["Value"] for t in session.client("iam").list_role_tags(RoleName=settings.firehose_role_name)["Tags"]}
    assert tags == settings.tags()

    second = iam.ensure_firehose_role(session, settings, ident)
    assert second.action == "already there" and second.changes == []
    assert second.description["Arn"] == first.description["Arn"]


def test_ensure_role_updates_what_differs_and_lists_the_changes(session, settings, ident):
    iam.ensure_firehose_role(session, settings, ident)
    other_bucket = Settings(stack=settings.stack, bucket_name=f"{settings.stack}-elsewhere")
    updated = iam.ensure_firehose_role(session, other_bucket, ident)
    assert updated.action == "updated"
    assert any("inline policy" in c for c in updated.changes) and any("description" in c for c in updated.changes)
    stored = session.client("iam").get_role_policy(RoleName=settings.firehose_role_name, PolicyName=iam.FIREHOSE_POLICY_NAME)["PolicyDocument"]
    assert f"arn:aws:s3:::{settings.stack}-elsewhere" in stored["Statement"][0]["Resource"]

    # A trust policy changed by hand (another principal added) is put back.
    client = session.client("iam")
    loose = copy.deepcopy(iam.trust_policy(iam.FIREHOSE_SERVICE))
    loose["Statement"][0]["Principal"] = {"Service": [iam.FIREHOSE_SERVICE, iam.LAMBDA_SERVICE]}
    client.update_assume_role_policy(RoleName=settings.firehose_role_name, PolicyDocument=json.dumps(loose))
    repaired = iam.ensure_firehose_role(session, other_bucket, ident)
    assert repaired.changes == ["trust policy replaced"]
    (statement,) = client.get_role(RoleName=settings.firehose_role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": iam.FIREHOSE_SERVICE}


def test_ensure_archiver_role_is_idempotent_and_follows_a_new_stream_arn(session, settings, ident):
    arns = dict(stream_arn=STREAM_ARN, delivery_stream_arn=DELIVERY_ARN, failure_queue_arn=QUEUE_ARN)
    assert iam.ensure_archiver_role(session, settings, ident, **arns).action == "created"
    assert iam.ensure_archiver_role(session, settings, ident, **arns).action == "already there"
    new_stream = STREAM_ARN.replace("2026-11-26T18:00:00.000", "2026-11-27T09:00:00.000")
    again = iam.ensure_archiver_role(session, settings, ident, **{**arns, "stream_arn": new_stream})
    assert again.action == "updated"
    stored = session.client("iam").get_role_policy(RoleName=settings.lambda_role_name, PolicyName=iam.ARCHIVER_POLICY_NAME)["PolicyDocument"]
    assert stored["Statement"][0]["Resource"] in ([new_stream], new_stream)
    (statement,) = session.client("iam").get_role(RoleName=settings.lambda_role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_delete_role_removes_inline_and_attached_policies_and_treats_missing_as_done(session, settings, ident):
    iam.ensure_firehose_role(session, settings, ident)
    client = session.client("iam")
    managed = client.create_policy(
        PolicyName=f"{settings.stack}-extra",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}),
    )["Policy"]["Arn"]
    client.attach_role_policy(RoleName=settings.firehose_role_name, PolicyArn=managed)
    assert iam.delete_role(session, settings.firehose_role_name) is True
    assert iam.role_tags(session, settings.firehose_role_name) is None
    assert iam.delete_role(session, settings.firehose_role_name) is False
    client.delete_policy(PolicyArn=managed)


def test_a_role_of_that_name_not_tagged_for_the_stack_is_refused_and_left_unchanged(session, settings, ident):
    client = session.client("iam")
    foreign_trust = iam.trust_policy(iam.LAMBDA_SERVICE)
    client.create_role(RoleName=settings.firehose_role_name, AssumeRolePolicyDocument=json.dumps(foreign_trust), Tags=[{"Key": "team", "Value": "payments"}])
    with pytest.raises(RuntimeError, match="not tagged for stack"):
        iam.ensure_firehose_role(session, settings, ident)
    role = client.get_role(RoleName=settings.firehose_role_name)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert client.list_role_policies(RoleName=settings.firehose_role_name)["PolicyNames"] == []
    assert iam.delete_role(session, settings.firehose_role_name) is True
