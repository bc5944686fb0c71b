"""helpers.preflight: the IAM actions a deployment needs (checked against the boto3 calls a real deployment
makes on the embedded local AWS), and the simulation (a stubbed IAM client: tests never call AWS)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import boto3
import pytest
from botocore.stub import Stubber

from helpers import pipeline, preflight, target
from helpers.settings import Settings
from helpers.target import Identity

ACCOUNT = "123456789012"
USER = Identity(account_id=ACCOUNT, region="us-east-1", arn=f"arn:aws:iam::{ACCOUNT}:user/deployer", endpoint_url=None)

# In the list although a deployment on the local AWS does not call them, and why.
NOT_RECORDED_LOCALLY = {
    "s3:PutBucketPolicy": "the TLS-only bucket policy is applied on AWS only (s3 module docstring)",
    "s3:DeleteBucketPolicy": "only when the TLS-only policy is forced off on a bucket that has it",
    "s3:PutBucketOwnershipControls": "only when a bucket's object ownership is not BucketOwnerEnforced (new AWS buckets already are)",
    "iam:UpdateAssumeRolePolicy": "only when a role's trust policy was changed by hand",
    "iam:UpdateRole": "only when a role's description changed (another bucket name)",
    "iam:TagRole": "only when a role lost one of the stack's tags",
    "iam:PassRole": "no boto3 operation: IAM checks it inside CreateDeliveryStream/UpdateDestination/CreateFunction/UpdateFunctionConfiguration",
    "dynamodb:UpdateTable": "only for an existing table whose stream must be turned on",
    "dynamodb:TagResource": "only for a table that lost one of the stack's tags",
    "firehose:TagDeliveryStream": "only for a stream that lost one of the stack's tags",
    "firehose:StartDeliveryStreamEncryption": "only for a stream whose encryption was turned off",
    "sqs:SetQueueAttributes": "only when the queue's attributes drifted",
    "sqs:TagQueue": "only for a queue that lost one of the stack's tags",
    "lambda:TagResource": "only for a function or mapping that lost one of the stack's tags",
    "lambda:UpdateFunctionCode": "only when the archiver's code changed",
    "lambda:UpdateFunctionConfiguration": "only when the function's settings changed",
    "logs:TagLogGroup": "only for a log group that lost one of the stack's tags",
    "logs:TagResource": "only for a log group that lost one of the stack's tags",
    "cloudwatch:TagResource": "only for an alarm that lost one of the stack's tags",
    "sns:TagResource": "only for a topic that lost one of the stack's tags (CreateTopic with Tags is authorized by it too)",
}


@pytest.fixture(scope="module")
def recorded(local_aws):
    """The (service, operation) of every boto3 call of two deployments of one stack on the local AWS: first
    with a KMS key and a lifecycle rule, then with other buffering, trigger and lifecycle settings (updates)."""
    sess = target.session("local")
    calls: set[tuple[str, str]] = set()

    def hook(model, **_):
        calls.add((model.service_model.service_name, model.name))

    key = sess.client("kms").create_key()["KeyMetadata"]["Arn"]
    settings = Settings(stack=f"f{uuid.uuid4().hex[:8]}", kms_key_arn=key, glacier_class="GLACIER", alarm_email="ops@example.com")
    sess.events.register("before-call", hook)
    try:
        deployed = pipeline.ensure_pipeline(sess, settings)
        pipeline.ensure_pipeline(sess, replace(deployed.settings, buffer_size_mib=8, glacier_class=None, parallelization_factor=2), batch_size=50)
    finally:
        sess.events.unregister("before-call", hook)
    return calls, deployed


def test_every_call_of_a_deployment_is_in_the_list(recorded):
    calls, deployed = recorded
    needed = {n.action for n in preflight.deploy_needs(deployed.settings, deployed.identity)}
    known = {**preflight.OPERATION_ACTIONS, **preflight.SNS_OPERATION_ACTIONS}
    for call in sorted(calls - preflight.NO_PERMISSION):
        assert call in known, f"{call} is called by the deployment but has no IAM action in preflight"
        assert known[call] in needed, call


def test_the_list_holds_nothing_a_deployment_does_not_call_unless_explained(recorded):
    calls, deployed = recorded
    known = {**preflight.OPERATION_ACTIONS, **preflight.SNS_OPERATION_ACTIONS}
    called = {known[c] for c in calls if c in known}
    listed = {n.action for n in preflight.deploy_needs(deployed.settings, deployed.identity)}
    assert listed - called == set(NOT_RECORDED_LOCALLY), "update NOT_RECORDED_LOCALLY (with the reason) or drop the action"


def test_every_need_names_a_resource_of_this_stack_or_star_where_iam_has_no_resource_type():
    settings = Settings(stack="prod-archive")
    for need in preflight.deploy_needs(settings, USER):
        assert need.resource == "*" or need.resource.startswith("arn:aws:"), need
        if need.resource != "*":
            assert "prod-archive" in need.resource, need
    star = {n.action for n in preflight.deploy_needs(settings, USER) if n.resource == "*"}
    assert star == {"logs:DescribeLogGroups", "lambda:CreateEventSourceMapping", "lambda:ListEventSourceMappings",
                    "lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping", "cloudwatch:DescribeAlarms"}


def test_sns_actions_only_with_an_alarm_topic():
    without = {n.action for n in preflight.deploy_needs(Settings(stack="prod-archive"), USER)}
    with_topic = preflight.deploy_needs(Settings(stack="prod-archive", alarm_topic=True), USER)
    assert not any(a.startswith("sns:") for a in without)
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:prod-archive-alarms"
    assert {(n.action, n.resource) for n in with_topic if n.action.startswith("sns:")} == {
        ("sns:ListTopics", "*"), *((a, topic) for a in ("sns:CreateTopic", "sns:ListTagsForResource", "sns:TagResource", "sns:GetTopicAttributes",
                                                         "sns:SetTopicAttributes", "sns:Subscribe", "sns:ListSubscriptionsByTopic"))}


def test_reading_needs_decrypt_on_the_key_only_when_a_key_is_set():
    assert [n.action for n in preflight.reader_actions(Settings(stack="st"), USER)] == ["s3:ListBucket", "s3:GetObject"]
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    decrypt = preflight.reader_actions(Settings(stack="st", kms_key_arn=key), USER)[-1]
    assert (decrypt.action, decrypt.resource) == ("kms:Decrypt", key)


def test_on_the_local_aws_the_list_is_shown_and_the_simulation_said_to_be_aws_only(local_aws, stack):
    sess = target.session("local")
    result = preflight.preflight(sess, Settings(stack=stack))
    assert not result.simulated and result.ok and result.missing == []
    assert result.notes == [preflight.LOCAL_NOTE]
    text = result.text()
    assert "AWS-only" in text and "iam:PassRole" in text and "firehose:CreateDeliveryStream" in text
    assert result.as_dict()["needs"] and result.as_dict()["simulated"] is False


# ------------------------------------------------------------------------------------------ simulation, stubbed


class StubbedSession:
    """A session on AWS (no endpoint) whose IAM client is stubbed."""

    region_name = "us-east-1"
    endpoint_url = None

    def __init__(self):
        self.iam = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y").client("iam")
        self.stubber = Stubber(self.iam)

    def client(self, name, **_):
        assert name == "iam", f"unexpected {name} client"
        return self.iam


def _expect_simulation(stub: StubbedSession, principal: str, needs, denied: set[str]):
    by_resource: dict[str, list[str]] = {}
    for n in needs:
        by_resource.setdefault(n.resource, []).append(n.action)
    for resource, actions in by_resource.items():
        actions = sorted(set(actions))
        results = [{"EvalActionName": a, "EvalResourceName": resource, "EvalDecision": "implicitDeny" if a in denied else "allowed"} for a in actions]
        # the first resource's answer comes in two pages, to prove the pager is followed
        if len(results) > 1 and not getattr(stub, "_paged", False):
            stub._paged = True
            stub.stubber.add_response("simulate_principal_policy", {"EvaluationResults": results[:1], "IsTruncated": True, "Marker": "m1"},
                                      {"PolicySourceArn": principal, "ActionNames": actions, "ResourceArns": [resource]})
            stub.stubber.add_response("simulate_principal_policy", {"EvaluationResults": results[1:], "IsTruncated": False},
                                      {"PolicySourceArn": principal, "ActionNames": actions, "ResourceArns": [resource], "Marker": "m1"})
        else:
            stub.stubber.add_response("simulate_principal_policy", {"EvaluationResults": results, "IsTruncated": False},
                                      {"PolicySourceArn": principal, "ActionNames": actions, "ResourceArns": [resource]})


def test_simulation_names_the_missing_actions():
    settings = Settings(stack="prod-archive")
    stub = StubbedSession()
    needs = preflight.deploy_needs(settings, USER)
    denied = {"iam:PassRole", "firehose:CreateDeliveryStream"}
    _expect_simulation(stub, USER.arn, needs, denied)
    with stub.stubber:
        result = preflight.preflight(stub, settings, USER)
        stub.stubber.assert_no_pending_responses()
    assert result.simulated and not result.ok
    assert {n.action for n in result.missing} == denied
    assert {n.resource for n in result.missing if n.action == "iam:PassRole"} == {
        f"arn:aws:iam::{ACCOUNT}:role/prod-archive-firehose", f"arn:aws:iam::{ACCOUNT}:role/prod-archive-archiver"}
    text = result.text()
    assert "MISSING iam:PassRole" in text
    assert "allowed " in text and "1 missing" not in text


def test_an_assumed_role_is_simulated_as_its_role_with_its_path():
    settings = Settings(stack="prod-archive")
    ident = replace(USER, arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/alice")
    stub = StubbedSession()
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/team/Deployer"
    stub.stubber.add_response("get_role", {"Role": {"Path": "/team/", "RoleName": "Deployer", "RoleId": "AROAEXAMPLEID12345678", "Arn": role_arn,
                                                    "CreateDate": "2026-01-01T00:00:00Z", "AssumeRolePolicyDocument": "{}"}}, {"RoleName": "Deployer"})
    _expect_simulation(stub, role_arn, preflight.deploy_needs(settings, ident), set())
    with stub.stubber:
        result = preflight.preflight(stub, settings, ident)
    assert result.simulated and result.ok and result.principal == role_arn and result.notes == []
    assert "every action is allowed" in result.text()


def test_a_caller_who_may_not_simulate_gets_the_list_and_a_note_not_a_failure():
    settings = Settings(stack="prod-archive")
    stub = StubbedSession()
    stub.stubber.add_client_error("simulate_principal_policy", service_error_code="AccessDenied", http_status_code=403,
                                  service_message="not authorized to perform: iam:SimulatePrincipalPolicy")
    with stub.stubber:
        result = preflight.preflight(stub, settings, USER)
    assert not result.simulated and result.ok and result.missing == []
    assert any("iam:SimulatePrincipalPolicy" in note for note in result.notes)
    assert len(result.needs) > 50 and "iam:PassRole" in result.text()


def test_the_root_user_is_not_simulated_and_told_why():
    root = replace(USER, arn=f"arn:aws:iam::{ACCOUNT}:root")
    stub = StubbedSession()
    with stub.stubber:  # no call expected
        result = preflight.preflight(stub, Settings(stack="st"), root)
    assert not result.simulated and any("root user" in n for n in result.notes)


def test_deploy_dry_run_shows_the_preflight_on_the_local_aws(local_aws, stack, capsys):
    from helpers import cli

    assert cli.main(["deploy", "--stack", stack, "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    check = data["preflight"]
    assert check["simulated"] is False and check["notes"] == [preflight.LOCAL_NOTE]
    assert {"action": "iam:PassRole", "resource": f"arn:aws:iam::{ACCOUNT}:role/{stack}-firehose",
            "operations": ["firehose:CreateDeliveryStream", "firehose:UpdateDestination"]} in check["needs"]
    assert cli.main(["deploy", "--stack", stack, "--dry-run"]) == 0
    assert "Preflight: IAM actions needed to deploy this stack" in capsys.readouterr().out
