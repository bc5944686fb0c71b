"""The S3 bucket the archive lands in: region, public access block, encryption, ownership, TLS-only policy, lifecycle.

:func:`ensure_bucket` converges a bucket this stack owns to this shape, and reports what it changed:

* **Region**: the session's region. CreateBucket must omit ``LocationConstraint`` in us-east-1 and must
  set it everywhere else; an existing bucket in another region is refused.
* **Public access block**: all four settings true.
* **Default encryption**: SSE-S3 (``AES256``) by default. For SSE-KMS set ``settings.kms_key_arn``
  (``TTL_ARCHIVE_KMS_KEY``, a customer managed key's ARN in the bucket's region): objects are then encrypted
  with that key and an S3 Bucket Key (fewer KMS requests, lower cost). The same setting gives the Firehose
  role ``kms:GenerateDataKey``/``kms:Decrypt`` on the key (:func:`helpers.iam.kms_statement`) and the
  Firehose destination its ``EncryptionConfiguration`` (:func:`helpers.firehose.destination_config`).
  Whoever reads or restores the archive needs ``kms:Decrypt`` on the key as well (see
  :func:`helpers.preflight.reader_actions`), and the key policy must allow IAM policies to grant it (the
  default key policy does). Choose SSE-KMS when you need key-level access control or CloudTrail records of
  every decrypt, at the price of KMS requests.
* **Object ownership**: ``BucketOwnerEnforced`` (ACLs disabled; the bucket owner owns every object).
* **Tags**: the stack's tags (added to any others already there).
* **TLS-only bucket policy** (on AWS): one statement ``DenyInsecureTransport`` denying every ``s3:`` action on
  the bucket and its objects when ``aws:SecureTransport`` is ``false``. The document is always built the same
  (:func:`tls_only_policy`). **On an emulator it is not applied** by default: moto enforces ``Deny`` statements
  with ``Principal: "*"`` *without their conditions*, so this policy would refuse every PutObject, even over
  plain HTTP from Firehose's local stand-in, and the archive would never arrive. AWS always gets it; the local
  target reports ``tls_policy_applied: False`` and notebook 02 says so. Override with ``tls_policy=True/False``.
  Other statements of an existing policy are kept.
* **Lifecycle** (optional, ``settings.glacier_class``): one rule ``ttl-archive-transition`` moving objects
  under ``settings.archive_prefix`` to ``GLACIER_IR``, ``GLACIER`` or ``DEEP_ARCHIVE`` after
  ``settings.glacier_after_days`` days. Other lifecycle rules are kept; our rule is removed when
  ``glacier_class`` is unset.

Idempotent: each setting is read first and written only when it differs, so a second run reports
"already there" and makes no change.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
from botocore.exceptions import ClientError

from . import retry, tagging, validation
from .outcome import ALREADY_THERE, CREATED, UPDATED, Ensured
from .settings import Settings
from .target import endpoint_of

LOG = logging.getLogger(__name__)

KIND = "S3 bucket"
TLS_SID = "DenyInsecureTransport"
LIFECYCLE_RULE_ID = "ttl-archive-transition"
# Objects smaller than this are not transitioned: the S3 default since September 2024, written out so the
# rule says what it does. Small objects cost more to transition (per-request charge, 40 KB of overhead per
# object in GLACIER/DEEP_ARCHIVE, a 128 KB minimum billed size in GLACIER_IR) than they save.
TRANSITION_DEFAULT_MINIMUM_OBJECT_SIZE = "all_storage_classes_128K"
PUBLIC_ACCESS_BLOCK = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
OBJECT_OWNERSHIP = "BucketOwnerEnforced"
_WAITER = {"Delay": 2, "MaxAttempts": 60}


class BucketSetupError(RuntimeError):
    """The bucket cannot be set up or removed as asked; the message says why and what to do."""


class BucketNotFound(BucketSetupError):
    """The bucket does not exist."""


class BucketNotEmpty(BucketSetupError):
    """The bucket still holds objects (or object versions); deleting it needs ``force=True``."""


# --------------------------------------------------------------------------- small reads


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _get(call: Any, missing: tuple[str, ...], **kwargs: Any) -> dict[str, Any] | None:
    """``call(**kwargs)``, or None when S3 answers with one of the ``missing`` error codes."""
    try:
        response = call(**kwargs)
    except ClientError as err:
        if _code(err) in missing:
            return None
        raise
    response.pop("ResponseMetadata", None)
    return response


def _region_of(client: Any, bucket: str) -> str:
    location = client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)


def _partition(session: boto3.Session) -> str:
    try:
        return session.get_partition_for_region(session.region_name)
    except Exception:  # noqa: BLE001 - unknown region names (emulators): the commercial partition
        return "aws"


def tls_only_policy(bucket_name: str, partition: str = "aws") -> dict[str, Any]:
    """The bucket policy denying any request that does not use TLS (``aws:SecureTransport`` false).

    Always the same document for a bucket; whether it is applied depends on the target (module docstring).
    """
    validation.bucket_name(bucket_name)
    arn = f"arn:{partition}:s3:::{bucket_name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": TLS_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def tls_policy_applies(session: boto3.Session) -> bool:
    """True on AWS; False when the session targets an emulator (see the module docstring for why)."""
    return endpoint_of(session) is None


def lifecycle_rule(settings: Settings) -> dict[str, Any] | None:
    """Our lifecycle rule for ``settings`` (None when ``settings.glacier_class`` is unset)."""
    if not settings.glacier_class:
        return None
    return {
        "ID": LIFECYCLE_RULE_ID,
        "Filter": {"Prefix": settings.archive_prefix},
        "Status": "Enabled",
        "Transitions": [{"Days": settings.glacier_after_days, "StorageClass": settings.glacier_class}],
    }


def _rule_key(rule: dict[str, Any]) -> tuple[Any, ...]:
    return (
        rule.get("ID"),
        (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix")),
        rule.get("Status"),
        tuple((t.get("Days"), t.get("StorageClass")) for t in rule.get("Transitions", [])),
    )


def describe_bucket_setup(session: boto3.Session, bucket_name: str) -> dict[str, Any]:
    """What matters about the archive bucket, in one dict (read-only).

    Keys: ``bucket``, ``arn``, ``region``, ``public_access_block`` (dict or None), ``encryption`` (the
    default-encryption rule or None), ``object_ownership`` (or None), ``tags``, ``policy`` (parsed, or None),
    ``tls_policy_applied``, ``lifecycle_rules``, ``transition_default_minimum_object_size``.
    Raises :class:`BucketNotFound` when the bucket does not exist.
    """
    validation.bucket_name(bucket_name)
    client = session.client("s3")
    try:
        region = _region_of(client, bucket_name)
    except ClientError as err:
        if _code(err) in ("NoSuchBucket", "404"):
            raise BucketNotFound(f"S3 bucket {bucket_name!r} does not exist.") from None
        raise
    pab = _get(client.get_public_access_block, ("NoSuchPublicAccessBlockConfiguration",), Bucket=bucket_name)
    enc = _get(client.get_bucket_encryption, ("ServerSideEncryptionConfigurationNotFoundError",), Bucket=bucket_name)
    own = _get(client.get_bucket_ownership_controls, ("OwnershipControlsNotFoundError",), Bucket=bucket_name)
    tags = _get(client.get_bucket_tagging, ("NoSuchTagSet",), Bucket=bucket_name)
    policy = _get(client.get_bucket_policy, ("NoSuchBucketPolicy",), Bucket=bucket_name)
    lifecycle = _get(client.get_bucket_lifecycle_configuration, ("NoSuchLifecycleConfiguration",), Bucket=bucket_name)
    policy_doc = json.loads(policy["Policy"]) if policy else None
    return {
        "bucket": bucket_name,
        "arn": f"arn:{_partition(session)}:s3:::{bucket_name}",
        "region": region,
        "public_access_block": (pab or {}).get("PublicAccessBlockConfiguration"),
        "encryption": ((enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules") or [None])[0],
        "object_ownership": ((own or {}).get("OwnershipControls", {}).get("Rules") or [{}])[0].get("ObjectOwnership"),
        "tags": tagging.from_key_value_list((tags or {}).get("TagSet")),
        "policy": policy_doc,
        "tls_policy_applied": any(s.get("Sid") == TLS_SID for s in (policy_doc or {}).get("Statement", [])),
        "lifecycle_rules": (lifecycle or {}).get("Rules", []),
        "transition_default_minimum_object_size": (lifecycle or {}).get("TransitionDefaultMinimumObjectSize"),
    }


# --------------------------------------------------------------------------- ensure


def _validate(settings: Settings, bucket_name: str, region: str | None) -> None:
    validation.bucket_name(bucket_name)
    if settings.kms_key_arn is not None:  # the key's form is checked by Settings; its region only here
        key_region = validation.kms_key_region(settings.kms_key_arn)
        if region and key_region != region:
            raise ValueError(f"invalid TTL_ARCHIVE_KMS_KEY {settings.kms_key_arn!r}: the key is in {key_region}, the bucket in {region}; S3 encrypts only with a key of the bucket's region")


def _exists(client: Any, bucket: str, region: str) -> bool:
    """True when the bucket exists and this account may use it; refuses buckets of other accounts or regions."""
    try:
        client.head_bucket(Bucket=bucket)
        return True
    except ClientError as err:
        code = _code(err)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        if code in ("403", "AccessDenied", "Forbidden"):
            raise BucketSetupError(f"S3 bucket {bucket!r} exists but this account cannot use it (bucket names are global: another account probably owns it). Set TTL_ARCHIVE_BUCKET to another name.") from None
        if code in ("301", "PermanentRedirect"):
            elsewhere = err.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region", "another region")
            raise BucketSetupError(f"S3 bucket {bucket!r} exists in {elsewhere}, not {region}. Use AWS_REGION={elsewhere} or another TTL_ARCHIVE_BUCKET.") from None
        raise


def _create(client: Any, bucket: str, region: str) -> None:
    kwargs: dict[str, Any] = {"Bucket": bucket, "ObjectOwnership": OBJECT_OWNERSHIP}
    if region != "us-east-1":  # us-east-1 must omit the LocationConstraint; every other region must set it
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    LOG.info("creating bucket %s in %s", bucket, region)
    try:
        client.create_bucket(**kwargs)
    except ClientError as err:
        if _code(err) == "BucketAlreadyOwnedByYou":
            return
        if _code(err) == "BucketAlreadyExists":
            raise BucketSetupError(f"S3 bucket name {bucket!r} is taken by another account (bucket names are global). Set TTL_ARCHIVE_BUCKET to another name.") from None
        raise
    client.get_waiter("bucket_exists").wait(Bucket=bucket, WaiterConfig=_WAITER)


UNTAGGED_GRACE_SECONDS = 10.0  # a concurrent deploy of the same stack tags the bucket right after creating it


def _tags_once_settled(client: Any, bucket_name: str) -> dict[str, str]:
    """The bucket's tags. A bucket with none may be one that a concurrent deploy of this stack has just created
    and not tagged yet: look again for up to :data:`UNTAGGED_GRACE_SECONDS` before answering "no tags"."""
    def read() -> dict[str, str]:
        return tagging.from_key_value_list((_get(client.get_bucket_tagging, ("NoSuchTagSet",), Bucket=bucket_name) or {}).get("TagSet"))

    tags = read()
    if tags:
        return tags
    try:
        return retry.wait_until(read, what=f"tags on S3 bucket {bucket_name}", timeout=UNTAGGED_GRACE_SECONDS, interval=0.5, max_interval=2.0)
    except TimeoutError:
        return {}


def ensure_bucket(session: boto3.Session, settings: Settings, bucket_name: str, *, tls_policy: bool | None = None) -> Ensured:
    """Make the archive bucket exist in the session's region with the settings in the module docstring.

    Validates names and settings first (``ValueError`` quoting the rule, before any AWS call). Creates the
    bucket if missing and waits until it answers; on a bucket this stack created, writes only the settings
    that differ. Idempotent: a second run returns "already there" and writes nothing. ``tls_policy``:
    None = apply the TLS-only policy on AWS and skip it on an emulator; True/False forces the choice.

    Raises :class:`BucketSetupError` for a bucket of another account, in another region, or not created by
    this stack (it would be changed, and teardown would not delete it). Returns an
    :class:`~helpers.outcome.Ensured` whose ``description`` is :func:`describe_bucket_setup`.
    """
    region = session.region_name
    _validate(settings, bucket_name, region)
    if not region:
        raise ValueError("the session has no region: set AWS_REGION (the bucket is created in the session's region)")
    kms_key_id = settings.kms_key_arn
    client = session.client("s3")
    changes: list[str] = []
    created = False
    if _exists(client, bucket_name, region):
        actual = _region_of(client, bucket_name)
        if actual != region:
            raise BucketSetupError(f"S3 bucket {bucket_name!r} exists in {actual}, not {region}. Use AWS_REGION={actual} or another TTL_ARCHIVE_BUCKET.")
        tags = _tags_once_settled(client, bucket_name)
        if not tagging.is_ours(tags, settings.stack):
            raise BucketSetupError(
                f"S3 bucket {bucket_name!r} already exists and was not created by stack {settings.stack!r} (its tags: {tags or 'none'}). "
                f"Set TTL_ARCHIVE_BUCKET to a new name, or tag the bucket with {settings.tags()} if it really is this stack's."
            )
    else:
        _create(client, bucket_name, region)
        created = True
        tags = {}

    # Tags first, so a bucket we created is recognisable as ours even if a later step fails.
    wanted_tags = {**tags, **settings.tags()}
    if wanted_tags != tags:
        client.put_bucket_tagging(Bucket=bucket_name, Tagging={"TagSet": tagging.as_key_value_list(wanted_tags)})
        changes.append("tags set")

    pab = _get(client.get_public_access_block, ("NoSuchPublicAccessBlockConfiguration",), Bucket=bucket_name)
    if (pab or {}).get("PublicAccessBlockConfiguration") != PUBLIC_ACCESS_BLOCK:
        client.put_public_access_block(Bucket=bucket_name, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
        changes.append("public access blocked")

    own = _get(client.get_bucket_ownership_controls, ("OwnershipControlsNotFoundError",), Bucket=bucket_name)
    if ((own or {}).get("OwnershipControls", {}).get("Rules") or [{}])[0].get("ObjectOwnership") != OBJECT_OWNERSHIP:
        client.put_bucket_ownership_controls(Bucket=bucket_name, OwnershipControls={"Rules": [{"ObjectOwnership": OBJECT_OWNERSHIP}]})
        changes.append(f"object ownership {OBJECT_OWNERSHIP}")

    if kms_key_id:
        wanted_sse: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_id}, "BucketKeyEnabled": True}
    else:
        wanted_sse = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    enc = _get(client.get_bucket_encryption, ("ServerSideEncryptionConfigurationNotFoundError",), Bucket=bucket_name)
    current = ((enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules") or [{}])[0]
    cur_default = current.get("ApplyServerSideEncryptionByDefault", {})
    same = cur_default.get("SSEAlgorithm") == wanted_sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] and cur_default.get("KMSMasterKeyID") == wanted_sse["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID")
    if kms_key_id:
        same = same and bool(current.get("BucketKeyEnabled"))
    if not same:
        client.put_bucket_encryption(Bucket=bucket_name, ServerSideEncryptionConfiguration={"Rules": [wanted_sse]})
        changes.append(f"default encryption {wanted_sse['ApplyServerSideEncryptionByDefault']['SSEAlgorithm']}")

    apply_tls = tls_policy_applies(session) if tls_policy is None else tls_policy
    policy = _get(client.get_bucket_policy, ("NoSuchBucketPolicy",), Bucket=bucket_name)
    doc = json.loads(policy["Policy"]) if policy else {"Version": "2012-10-17", "Statement": []}
    others = [s for s in doc.get("Statement", []) if s.get("Sid") != TLS_SID]
    ours = [s for s in doc.get("Statement", []) if s.get("Sid") == TLS_SID]
    wanted_statement = tls_only_policy(bucket_name, _partition(session))["Statement"][0]
    if apply_tls and ours != [wanted_statement]:
        client.put_bucket_policy(Bucket=bucket_name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [*others, wanted_statement]}))
        changes.append("TLS-only bucket policy applied")
    elif not apply_tls:
        LOG.info("TLS-only bucket policy not applied on %s: the emulator would enforce its Deny without the condition", endpoint_of(session) or "this target")
        if ours:  # forced off: take our statement out, keep the others
            if others:
                client.put_bucket_policy(Bucket=bucket_name, Policy=json.dumps({**doc, "Statement": others}))
            else:
                client.delete_bucket_policy(Bucket=bucket_name)
            changes.append("TLS-only bucket policy removed")

    _ensure_lifecycle(client, bucket_name, settings, changes)

    action = CREATED if created else (UPDATED if changes else ALREADY_THERE)
    if created:
        changes = []
    return Ensured(KIND, bucket_name, action, describe_bucket_setup(session, bucket_name), changes).log(LOG)


def _ensure_lifecycle(client: Any, bucket: str, settings: Settings, changes: list[str]) -> None:
    wanted = lifecycle_rule(settings)
    current = _get(client.get_bucket_lifecycle_configuration, ("NoSuchLifecycleConfiguration",), Bucket=bucket) or {}
    rules = current.get("Rules", [])
    others = [r for r in rules if r.get("ID") != LIFECYCLE_RULE_ID]
    ours = [r for r in rules if r.get("ID") == LIFECYCLE_RULE_ID]
    if wanted is None:
        if not ours:
            return
        if others:
            client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": others}, TransitionDefaultMinimumObjectSize=current.get("TransitionDefaultMinimumObjectSize", TRANSITION_DEFAULT_MINIMUM_OBJECT_SIZE))
        else:
            client.delete_bucket_lifecycle(Bucket=bucket)
        changes.append("lifecycle rule removed")
        return
    same_rule = [_rule_key(r) for r in ours] == [_rule_key(wanted)]
    if same_rule and current.get("TransitionDefaultMinimumObjectSize") == TRANSITION_DEFAULT_MINIMUM_OBJECT_SIZE:
        return
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={"Rules": [*others, wanted]},
        TransitionDefaultMinimumObjectSize=TRANSITION_DEFAULT_MINIMUM_OBJECT_SIZE,
    )
    changes.append(f"lifecycle: {settings.archive_prefix} to {settings.glacier_class} after {settings.glacier_after_days} days")


# --------------------------------------------------------------------------- empty / delete


def _first_versions(client: Any, bucket: str, max_keys: int = 1) -> int:
    try:
        page = client.list_object_versions(Bucket=bucket, MaxKeys=max_keys)
    except ClientError as err:
        if _code(err) in ("NoSuchBucket", "404"):
            raise BucketNotFound(f"S3 bucket {bucket!r} does not exist.") from None
        raise
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))


def bucket_is_empty(session: boto3.Session, bucket: str) -> bool:
    """True when the bucket holds no objects, no older object versions and no delete markers (S3 refuses to
    delete a bucket holding any of them). Read-only. Raises :class:`BucketNotFound` when it does not exist."""
    validation.bucket_name(bucket)
    return _first_versions(session.client("s3"), bucket) == 0


def delete_bucket(session: boto3.Session, bucket: str, force: bool = False) -> bool:
    """Delete the bucket and wait until it is gone. Returns False when it did not exist ("not found" is done).

    A bucket that still holds objects is refused with :class:`BucketNotEmpty` (the archive is the point of
    this project) unless ``force=True``, which first deletes every object version and delete marker and
    aborts unfinished multipart uploads.
    Checks nothing about ownership: the caller (teardown) decides from the tags whether it is ours.
    """
    validation.bucket_name(bucket)
    client = session.client("s3")
    try:
        held = _first_versions(client, bucket, max_keys=1000)
    except BucketNotFound:
        return False
    if held and not force:
        raise BucketNotEmpty(
            f"S3 bucket {bucket!r} still holds {held if held < 1000 else 'at least 1000'} objects or object versions: "
            f"refusing to delete the archive. Copy what you need (aws s3 sync s3://{bucket} ./archive-copy), then delete "
            f"with force=True, or keep the bucket."
        )
    if held:
        removed = 0
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
            keys = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for start in range(0, len(keys), 1000):
                response = client.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
                if response.get("Errors"):
                    first = response["Errors"][0]
                    raise BucketSetupError(f"could not delete {len(response['Errors'])} objects from {bucket!r} (first: {first.get('Key')}: {first.get('Code')} {first.get('Message')})")
                removed += len(keys[start : start + 1000])
        LOG.info("deleted %d object versions from %s", removed, bucket)
    if force:
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    try:
        client.delete_bucket(Bucket=bucket)
    except ClientError as err:
        if _code(err) in ("NoSuchBucket", "404"):
            return False
        if _code(err) == "BucketNotEmpty":
            raise BucketNotEmpty(f"S3 bucket {bucket!r} received new objects while it was being emptied (is the Firehose stream still delivering?). Stop the writers, then try again.") from err
        raise
    client.get_waiter("bucket_not_exists").wait(Bucket=bucket, WaiterConfig=_WAITER)
    LOG.info("deleted bucket %s", bucket)
    return True
