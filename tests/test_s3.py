"""helpers.s3 against the embedded local AWS: ensure_bucket's settings, idempotency, region rule, policy, lifecycle, deletion."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from helpers import s3, target
from helpers.cli_equivalent import recording
from helpers.s3 import BucketNotEmpty, BucketNotFound, BucketSetupError
from helpers.settings import Settings
from helpers.target import EndpointSession

ALL_BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def _mutations(calls) -> list[str]:
    return [c.operation for c in calls if c.mutating]


def _create_call(calls):
    return next(c for c in calls.calls if c.operation == "CreateBucket")


def test_ensure_bucket_creates_a_locked_down_bucket_then_reports_already_there(session, stack):
    settings = Settings(stack=stack)
    bucket = f"{stack}-archive"
    with recording(session) as calls:
        first = s3.ensure_bucket(session, settings, bucket)
    assert first.action == "created" and first.name == bucket
    assert "--create-bucket-configuration" not in _create_call(calls).command  # us-east-1: no LocationConstraint
    setup = s3.describe_bucket_setup(session, bucket)
    assert setup["region"] == "us-east-1"
    assert setup["public_access_block"] == ALL_BLOCKED
    assert setup["encryption"]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert setup["object_ownership"] == "BucketOwnerEnforced"
    assert setup["tags"] == settings.tags()
    assert setup["lifecycle_rules"] == []
    # the embedded local AWS would enforce the TLS-only Deny without its condition: not applied there
    assert setup["tls_policy_applied"] is False and setup["policy"] is None
    assert first.description == setup

    with recording(session) as calls:
        second = s3.ensure_bucket(session, settings, bucket)
    assert second.action == "already there" and second.changes == []
    assert _mutations(calls) == []
    assert second.description == setup
    # and the archive can actually be written there
    session.client("s3").put_object(Bucket=bucket, Key="archive/x.json", Body=b"{}\n")


def test_outside_us_east_1_the_bucket_is_created_with_its_location_constraint(local_aws, stack):
    session = target.session("local", region="eu-west-1")
    bucket = f"{stack}-eu"
    with recording(session) as calls:
        assert s3.ensure_bucket(session, Settings(stack=stack), bucket).action == "created"
    create = _create_call(calls).command
    assert '--create-bucket-configuration \'{"LocationConstraint": "eu-west-1"}\'' in create
    assert s3.describe_bucket_setup(session, bucket)["region"] == "eu-west-1"
    # the same bucket asked for from us-east-1 is refused, not silently used across regions
    with pytest.raises(BucketSetupError, match="exists in eu-west-1, not us-east-1"):
        s3.ensure_bucket(target.session("local", region="us-east-1"), Settings(stack=stack), bucket)


def test_ensure_bucket_puts_back_settings_that_drifted(session, stack):
    settings = Settings(stack=stack, extra_tags={"team": "data"})
    bucket = f"{stack}-drift"
    s3.ensure_bucket(session, settings, bucket)
    client = session.client("s3")
    client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={**ALL_BLOCKED, "RestrictPublicBuckets": False})
    client.delete_bucket_encryption(Bucket=bucket)
    client.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in Settings(stack=stack).tags().items()] + [{"Key": "cost-center", "Value": "42"}]})
    again = s3.ensure_bucket(session, settings, bucket)
    assert again.action == "updated"
    assert again.changes == ["tags set", "public access blocked", "default encryption AES256"]
    setup = again.description
    assert setup["public_access_block"] == ALL_BLOCKED
    assert setup["tags"] == {**settings.tags(), "cost-center": "42"}  # other tags are kept
    assert setup["encryption"]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_lifecycle_rule_moves_the_archive_prefix_and_states_the_minimum_object_size(session, stack):
    bucket = f"{stack}-cold"
    settings = Settings(stack=stack, glacier_class="DEEP_ARCHIVE", glacier_after_days=30)
    s3.ensure_bucket(session, settings, bucket)
    setup = s3.describe_bucket_setup(session, bucket)
    assert setup["transition_default_minimum_object_size"] == "all_storage_classes_128K"
    [rule] = setup["lifecycle_rules"]
    assert rule["ID"] == "ttl-archive-transition" and rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": "archive/"} and rule["Transitions"] == [{"Days": 30, "StorageClass": "DEEP_ARCHIVE"}]
    assert s3.ensure_bucket(session, settings, bucket).action == "already there"

    # someone else's rule is kept when ours changes or goes
    client = session.client("s3")
    other = {"ID": "expire-errors", "Filter": {"Prefix": "errors/"}, "Status": "Enabled", "Expiration": {"Days": 30}}
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [other, rule]}, TransitionDefaultMinimumObjectSize="all_storage_classes_128K")
    changed = s3.ensure_bucket(session, replace(settings, glacier_class="GLACIER_IR", glacier_after_days=90), bucket)
    assert changed.action == "updated" and changed.changes == ["lifecycle: archive/ to GLACIER_IR after 90 days"]
    rules = {r["ID"]: r for r in changed.description["lifecycle_rules"]}
    assert rules["ttl-archive-transition"]["Transitions"] == [{"Days": 90, "StorageClass": "GLACIER_IR"}]
    assert rules["expire-errors"]["Expiration"] == {"Days": 30}
    removed = s3.ensure_bucket(session, replace(settings, glacier_class=None), bucket)
    assert removed.changes == ["lifecycle rule removed"]
    assert [r["ID"] for r in removed.description["lifecycle_rules"]] == ["expire-errors"]


def test_tls_only_policy_document_and_where_it_is_applied(session, stack):
    bucket = f"{stack}-tls"
    doc = s3.tls_only_policy(bucket)
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    assert s3.tls_only_policy(bucket, "aws-cn")["Statement"][0]["Resource"][0] == f"arn:aws-cn:s3:::{bucket}"
    # AWS gets it; any emulator endpoint does not (the decision rule)
    assert s3.tls_policy_applies(session) is False
    import boto3

    assert s3.tls_policy_applies(boto3.Session(region_name="us-east-1")) is True

    # forced on (what AWS gets), the exact document is written next to statements already there
    settings = Settings(stack=stack)
    s3.ensure_bucket(session, settings, bucket)
    keep = {"Sid": "ReadForAuditors", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    session.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [keep]}))
    applied = s3.ensure_bucket(session, settings, bucket, tls_policy=True)
    assert applied.changes == ["TLS-only bucket policy applied"]
    assert applied.description["policy"]["Statement"] == [keep, doc["Statement"][0]] and applied.description["tls_policy_applied"]
    assert s3.ensure_bucket(session, settings, bucket, tls_policy=True).action == "already there"
    # forced off again: our statement goes, the other stays
    off = s3.ensure_bucket(session, settings, bucket, tls_policy=False)
    assert off.changes == ["TLS-only bucket policy removed"] and off.description["policy"]["Statement"] == [keep]


def test_sse_kms_is_chosen_with_a_key_and_a_bucket_key(session, stack):
    bucket = f"{stack}-kms"
    key = session.client("kms").create_key(Description="archive key")["KeyMetadata"]["Arn"]
    settings = Settings(stack=stack, kms_key_arn=key)
    s3.ensure_bucket(session, settings, bucket)
    rule = s3.describe_bucket_setup(session, bucket)["encryption"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    assert rule["BucketKeyEnabled"] is True
    assert s3.ensure_bucket(session, settings, bucket).action == "already there"
    back = s3.ensure_bucket(session, Settings(stack=stack), bucket)
    assert back.changes == ["default encryption AES256"]


def test_a_kms_key_of_another_region_is_refused_before_any_call(stack):
    class NoAws:
        region_name = "ap-northeast-1"

        def client(self, *args, **kwargs):
            raise AssertionError("no AWS call expected")

    settings = Settings(stack=stack, kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    with pytest.raises(ValueError, match="TTL_ARCHIVE_KMS_KEY.*us-east-1.*ap-northeast-1"):
        s3.ensure_bucket(NoAws(), settings, f"{stack}-kms")


def test_a_bucket_this_stack_did_not_create_is_refused(session, stack, monkeypatch):
    monkeypatch.setattr(s3, "UNTAGGED_GRACE_SECONDS", 1.0)  # an untagged bucket is looked at again for a while: not this long
    bucket = f"{stack}-foreign"
    session.client("s3").create_bucket(Bucket=bucket)
    with recording(session) as calls:
        with pytest.raises(BucketSetupError, match="not created by stack"):
            s3.ensure_bucket(session, Settings(stack=stack), bucket)
    assert _mutations(calls) == []


BAD = [
    ("Upper-Case-Bucket", {}, "bucket names are 3-63 characters"),
    ("ab", {}, "bucket names are 3-63 characters"),
    ("two..dots", {}, "no two adjacent dots"),
    ("192.168.1.10", {}, "IP address"),
    ("xn--archive", {}, "xn--"),
    ("archive-s3alias", {}, "-s3alias"),
    ("fine-bucket", {"glacier_class": "STANDARD_IA"}, "GLACIER_IR, GLACIER, DEEP_ARCHIVE"),
    ("fine-bucket", {"glacier_class": "GLACIER", "glacier_after_days": -1}, "whole number from 0 to 36500"),
    ("fine-bucket", {"archive_prefix": "/archive"}, "end with '/'"),
    ("fine-bucket", {"stack": "Not A Stack"}, "stack names"),
]


@pytest.mark.parametrize(("bucket", "overrides", "rule"), BAD)
def test_bad_names_and_settings_raise_value_error_before_any_call(bucket, overrides, rule):
    sess = EndpointSession(endpoint_url="http://127.0.0.1:9", aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    with recording(sess) as calls:
        with pytest.raises(ValueError, match=rule):  # bad settings: Settings refuses them when built
            s3.ensure_bucket(sess, Settings(**{"stack": "valid-stack", **overrides}), bucket)
        with pytest.raises(ValueError, match="bucket names"):
            s3.delete_bucket(sess, "Bad_Bucket")
        with pytest.raises(ValueError, match="bucket names"):
            s3.bucket_is_empty(sess, "Bad_Bucket")
    assert calls.calls == []


def test_a_bucket_holding_objects_is_not_deleted_unless_forced(session, stack):
    bucket = f"{stack}-full"
    s3.ensure_bucket(session, Settings(stack=stack), bucket)
    assert s3.bucket_is_empty(session, bucket) is True
    client = session.client("s3")
    for n in range(3):
        client.put_object(Bucket=bucket, Key=f"archive/2026/11/26/part-{n}", Body=b'{"x": 1}\n')
    assert s3.bucket_is_empty(session, bucket) is False
    with recording(session) as calls:
        with pytest.raises(BucketNotEmpty, match="still holds 3 objects"):
            s3.delete_bucket(session, bucket)
    assert _mutations(calls) == []
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 3

    assert s3.delete_bucket(session, bucket, force=True) is True
    with pytest.raises(BucketNotFound):
        s3.bucket_is_empty(session, bucket)
    assert s3.delete_bucket(session, bucket) is False


def test_versioned_leftovers_count_as_not_empty(session, stack):
    bucket = f"{stack}-versions"
    s3.ensure_bucket(session, Settings(stack=stack), bucket)
    client = session.client("s3")
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket=bucket, Key="archive/a", Body=b"a\n")
    client.delete_object(Bucket=bucket, Key="archive/a")  # leaves a version and a delete marker
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert s3.bucket_is_empty(session, bucket) is False
    with pytest.raises(BucketNotEmpty):
        s3.delete_bucket(session, bucket)
    assert s3.delete_bucket(session, bucket, force=True) is True


# --------------------------------------------------------------------------- notebooks 00, 01, 02

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _outputs(path: Path) -> str:
    import nbformat

    text = []
    for cell in nbformat.read(path, as_version=4).cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", "") + "".join(str(v) for v in out.get("data", {}).values()))
    return "\n".join(text)


@pytest.mark.timeout(240)
def test_notebooks_00_01_02_run_top_to_bottom_in_order_and_again_without_change(local_aws, session, stack, tmp_path, monkeypatch):
    from helpers import dynamodb
    from helpers.notebook_runner import run_notebook

    monkeypatch.setenv("TTL_ARCHIVE_STACK", stack)  # the kernels inherit it (and the test run's local AWS port)
    names = ["00_setup.ipynb", "01_dynamodb_table.ipynb", "02_s3_bucket.ipynb"]
    for run in ("first", "second"):
        for name in names:
            run_notebook(NOTEBOOKS / name, tmp_path / run, timeout=120)
    settings = Settings(stack=stack).with_account("123456789012", "us-east-1")
    first, second = _outputs(tmp_path / "first" / "01_dynamodb_table.ipynb"), _outputs(tmp_path / "second" / "01_dynamodb_table.ipynb")
    assert f"`{settings.table_name}`: created" in first and f"`{settings.table_name}`: already there" in second
    assert "aws dynamodb create-table" in first and "aws dynamodb create-table" not in second
    second_s3 = _outputs(tmp_path / "second" / "02_s3_bucket.ipynb")
    assert f"`{settings.bucket_name}`: already there" in second_s3 and "changes made: none" in second_s3
    assert "account 123456789012, region us-east-1" in _outputs(tmp_path / "first" / "00_setup.ipynb")
    # what the notebooks left behind, seen from outside
    assert dynamodb.describe_table_setup(session, settings.table_name)["tags"] == settings.tags()
    assert s3.describe_bucket_setup(session, settings.bucket_name)["public_access_block"] == ALL_BLOCKED


def test_a_bucket_a_concurrent_deploy_of_this_stack_just_created_is_adopted_once_tagged(session, stack):
    """Two deploys at once: the other one created the bucket and tags it a moment later; this one waits for the tags."""
    import threading

    bucket = f"{stack}-racing"
    settings = Settings(stack=stack)
    session.client("s3").create_bucket(Bucket=bucket)
    tagger = threading.Timer(1.5, lambda: session.client("s3").put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in settings.tags().items()]}))
    tagger.start()
    try:
        outcome = s3.ensure_bucket(session, settings, bucket)
    finally:
        tagger.join()
    assert outcome.action != "created"
