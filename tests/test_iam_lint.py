"""Every policy the project writes, linted with parliament (duo-labs' IAM linter, which knows every
action, resource type and condition key of the Service Authorization Reference).

No finding is accepted except the documented false positives in :data:`FALSE_POSITIVES`, each with its
reason and a check that the reason is the real one. A finding that is not listed fails the test, and so
does a listed false positive that no longer occurs (the list stays honest).
"""

from __future__ import annotations

import json

import parliament
import pytest

from helpers import alarm_topic, iam
from helpers.s3 import tls_only_policy
from helpers.settings import Settings
from helpers.target import Identity

ACCOUNT = "123456789012"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"

# (policy name, parliament issue) -> why it is not a defect. Anything else parliament reports is one.
FALSE_POSITIVES = {
    ("firehose trust", "MALFORMED"): (
        "parliament reads every document as an identity policy and requires Resource; a role trust policy is the "
        "role's resource-based policy: it names a Principal and has no Resource (IAM User Guide, 'Role trust policy')."
    ),
    ("archiver trust", "MALFORMED"): "the same as 'firehose trust': a trust policy has a Principal, not a Resource.",
    ("archiver", "RESOURCE_MISMATCH"): (
        "parliament's glob for the stream resource type, arn:*:dynamodb:*:*:table/*/stream/*, does not let '*' match "
        "the colons of the stream label (a timestamp such as 2026-11-26T18:00:00.000); the ARN is exactly the one "
        "DescribeTable returns as LatestStreamArn and the resource type IAM documents for these three actions."
    ),
}


def _policies(partition: str, region: str, kms: bool) -> dict[str, dict]:
    ident = Identity(account_id=ACCOUNT, region=region, arn=f"arn:{partition}:iam::{ACCOUNT}:user/x", endpoint_url=None)
    key = f"arn:{partition}:kms:{region}:{ACCOUNT}:key/{KEY_ID}" if kms else None
    settings = Settings(stack="prod-archive", kms_key_arn=key)
    policies = iam.all_policies(
        settings,
        ident,
        stream_arn=f"arn:{partition}:dynamodb:{region}:{ACCOUNT}:table/prod-archive-items/stream/2026-11-26T18:00:00.000",
        delivery_stream_arn=f"arn:{partition}:firehose:{region}:{ACCOUNT}:deliverystream/prod-archive-archive",
        failure_queue_arn=f"arn:{partition}:sqs:{region}:{ACCOUNT}:prod-archive-archiver-failures",
    )
    policies["bucket TLS-only"] = tls_only_policy(settings.with_account(ACCOUNT, region).bucket_name, partition)
    policies["alarm topic"] = alarm_topic.topic_policy(settings, ident)
    return policies


def _findings(policy: dict) -> list:
    return parliament.analyze_policy_string(json.dumps(policy)).findings


@pytest.mark.parametrize("partition,region,kms", [("aws", "us-east-1", False), ("aws", "ap-northeast-1", True), ("aws-cn", "cn-north-1", True)])
def test_parliament_finds_nothing_but_the_documented_false_positives(partition, region, kms):
    policies = _policies(partition, region, kms)
    seen = set()
    for name, policy in policies.items():
        for finding in _findings(policy):
            assert (name, finding.issue) in FALSE_POSITIVES, f"parliament on {name!r}: {finding.issue} {finding.detail}"
            seen.add((name, finding.issue))
    assert seen == set(FALSE_POSITIVES), "a listed false positive no longer occurs: remove it from FALSE_POSITIVES"
    if kms:
        statement = policies["firehose delivery"]["Statement"][-1]
        assert statement["Sid"] == "EncryptWithArchiveKey"  # the KMS statement was linted too


def test_the_false_positives_are_what_their_reasons_say():
    policies = _policies("aws", "us-east-1", False)
    # A trust policy with a Resource added is no longer MALFORMED for parliament: the missing Resource is the finding.
    for name in ("firehose trust", "archiver trust"):
        with_resource = json.loads(json.dumps(policies[name]))
        with_resource["Statement"][0]["Resource"] = f"arn:aws:iam::{ACCOUNT}:role/x"
        assert [f.issue for f in _findings(policies[name])] == ["MALFORMED"]
        assert "MALFORMED" not in {f.issue for f in _findings(with_resource)}
    # The same stream ARN without the colons of its label passes: the colons are the whole finding.
    archiver = json.loads(json.dumps(policies["archiver"]))
    reads = archiver["Statement"][0]
    assert reads["Sid"] == "ReadTableStream"
    reads["Resource"] = [_without_label_colons(arn) for arn in reads["Resource"]]
    assert _findings(archiver) == []


def _without_label_colons(arn: str) -> str:
    head, label = arn.split("/stream/")
    return f"{head}/stream/{label.replace(':', '-')}"


def test_the_linter_does_catch_what_it_should():
    """The lint is not vacuous: an unknown action, a condition key KMS does not have and a mismatched
    resource type are all reported for a policy shaped like ours."""
    policy = _policies("aws", "ap-northeast-1", True)["firehose delivery"]
    broken = json.loads(json.dumps(policy))
    broken["Statement"][0]["Action"].append("s3:PutObjekt")
    broken["Statement"][-1]["Condition"]["StringEquals"]["kms:ViaServices"] = "s3.ap-northeast-1.amazonaws.com"
    broken["Statement"][1]["Resource"] = ["arn:aws:s3:::somewhere/*"]
    issues = {f.issue for f in _findings(broken)}
    assert "UNKNOWN_ACTION" in issues
    assert "UNKNOWN_CONDITION_FOR_ACTION" in issues
    assert "RESOURCE_MISMATCH" in issues
