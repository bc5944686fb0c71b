"""The optional KMS key (``TTL_ARCHIVE_KMS_KEY``) end to end on the embedded local AWS: one setting reaches
the bucket's default encryption, the Firehose role's policy, the Firehose destination, and every archived
object; the archive reads back complete."""

from __future__ import annotations

import uuid

import pytest

from helpers import firehose, iam, pipeline, target, verify
from helpers.settings import Settings


@pytest.fixture(scope="module")
def sess(local_aws):
    return target.session("local")


@pytest.fixture(scope="module")
def key_arn(sess):
    return sess.client("kms").create_key(Description="ttl-archive test key")["KeyMetadata"]["Arn"]


@pytest.fixture(scope="module")
def deployed(sess, key_arn):
    return pipeline.ensure_pipeline(sess, Settings(stack=f"k{uuid.uuid4().hex[:8]}", kms_key_arn=key_arn))


def test_the_key_reaches_bucket_role_and_delivery_stream(sess, deployed, key_arn):
    settings = deployed.settings
    rule = sess.client("s3").get_bucket_encryption(Bucket=settings.bucket_name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert rule["BucketKeyEnabled"] is True
    policy = sess.client("iam").get_role_policy(RoleName=settings.firehose_role_name, PolicyName=iam.FIREHOSE_POLICY_NAME)["PolicyDocument"]
    (kms,) = [s for s in policy["Statement"] if s["Sid"] == "EncryptWithArchiveKey"]
    assert kms["Resource"] in ([key_arn], key_arn) and set(kms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    destination = firehose.describe_delivery_stream(sess, settings.delivery_stream_name)["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["EncryptionConfiguration"] == {"KMSEncryptionConfig": {"AWSKMSKeyARN": key_arn}}
    # Idempotent with the key: a second deployment changes nothing.
    assert not pipeline.ensure_pipeline(sess, settings).changed


def test_archived_objects_are_encrypted_with_the_key_and_read_back_complete(sess, deployed, key_arn):
    run = verify.start_run(sess, deployed.settings, deployed.identity, expired=20, future=1, user_deleted=1, refreshed=0, save=False)
    report = verify.wait_for_archive(sess, run, timeout=90, progress=False)
    assert report.complete and report.archived_unique == 20 and report.missing == 0, report.describe()
    s3 = sess.client("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=deployed.settings.bucket_name) for o in page.get("Contents", [])]
    assert keys
    for key in keys:
        head = s3.head_object(Bucket=deployed.settings.bucket_name, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"] == key_arn, key


def test_a_key_of_another_region_is_refused_before_anything_is_created(sess):
    settings = Settings(stack=f"k{uuid.uuid4().hex[:8]}", kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    with pytest.raises(ValueError, match="TTL_ARCHIVE_KMS_KEY"):
        pipeline.ensure_pipeline(sess, settings)
    tables = sess.client("dynamodb").list_tables()["TableNames"]
    assert settings.table_name not in tables
