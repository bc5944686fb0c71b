"""AWS naming rules, checked before any AWS call. Each failure is a ``ValueError`` that quotes the rule."""

from __future__ import annotations

import re

_TABLE = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
_ATTRIBUTE_MAX = 255
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_FIREHOSE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
_ROLE = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)  # IAM allows ASCII letters and digits only
_FUNCTION = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_QUEUE = re.compile(r"^[a-zA-Z0-9_-]{1,80}$")
_STACK = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$")
_IP_FORMAT = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")  # "formatted as an IP address", leading zeros included

GLACIER_CLASSES = ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")


class RuleError(ValueError):
    """A value broke an AWS rule. ``kind`` names what was checked, ``rule`` is the rule in words."""

    def __init__(self, kind: str, value: object, rule: str) -> None:
        super().__init__(f"invalid {kind} {value!r}: {rule}")
        self.kind, self.value, self.rule = kind, value, rule


def _fail(kind: str, value: object, rule: str) -> None:
    raise RuleError(kind, value, rule)


def table_name(name: str) -> str:
    if not isinstance(name, str) or not _TABLE.fullmatch(name):
        _fail("DynamoDB table name", name, "table names are 3-255 characters of a-z, A-Z, 0-9, '_', '-' and '.'")
    return name


def attribute_name(name: str, kind: str = "attribute name") -> str:
    if not isinstance(name, str) or not 1 <= len(name.encode()) <= _ATTRIBUTE_MAX:
        _fail(f"DynamoDB {kind}", name, "key and TTL attribute names are 1-255 bytes of UTF-8")
    return name


def bucket_name(name: str) -> str:
    rule = (
        "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, start and end with "
        "a letter or digit, have no two adjacent dots, are not formatted as an IP address, and do not start "
        "with 'xn--', 'sthree-' or 'amzn-s3-demo-' nor end with '-s3alias', '--ol-s3', '.mrap', '--x-s3' or '--table-s3'"
    )
    if not isinstance(name, str) or not _BUCKET.fullmatch(name) or ".." in name or _IP_FORMAT.fullmatch(name):
        _fail("S3 bucket name", name, rule)
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")):
        _fail("S3 bucket name", name, rule)
    return name


def delivery_stream_name(name: str) -> str:
    if not isinstance(name, str) or not _FIREHOSE.fullmatch(name):
        _fail("Firehose stream name", name, "delivery stream names are 1-64 characters of a-z, A-Z, 0-9, '_', '-' and '.'")
    return name


def role_name(name: str) -> str:
    if not isinstance(name, str) or not _ROLE.fullmatch(name):
        _fail("IAM role name", name, "role names are 1-64 characters of letters, digits and '+=,.@_-'")
    return name


def function_name(name: str) -> str:
    if not isinstance(name, str) or not _FUNCTION.fullmatch(name):
        _fail("Lambda function name", name, "function names are 1-64 characters of a-z, A-Z, 0-9, '-' and '_'")
    return name


def queue_name(name: str) -> str:
    if not isinstance(name, str) or not _QUEUE.fullmatch(name):
        _fail("SQS queue name", name, "queue names are 1-80 characters of a-z, A-Z, 0-9, '-' and '_'")
    return name


def topic_name(name: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", name):
        _fail("SNS topic name", name, "topic names are 1-256 characters of a-z, A-Z, 0-9, '-' and '_'")
    return name


def stack_name(name: str) -> str:
    if not isinstance(name, str) or not _STACK.fullmatch(name):
        _fail("stack name", name, "stack names are 2-32 characters of lowercase letters, digits and '-', starting and ending with a letter or digit (they become part of bucket names)")
    return name


def prefix(value: str, kind: str = "S3 prefix") -> str:
    if not isinstance(value, str) or not value or value.startswith("/") or not value.endswith("/"):
        _fail(kind, value, "prefixes are non-empty, do not start with '/' and end with '/'")
    return value


def glacier_class(value: str) -> str:
    if value not in GLACIER_CLASSES:
        _fail("lifecycle storage class", value, f"choose one of {', '.join(GLACIER_CLASSES)}")
    return value


def int_range(value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(what, value, f"must be a whole number from {low} to {high}")
    return value  # type: ignore[return-value]


KMS_KEY_ARN_PATTERN = r"arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):kms:([a-z0-9-]+):(\d{12}):key/([A-Za-z0-9-]{1,128})"
KMS_KEY_ARN_RULE = "give the key's full ARN, arn:<partition>:kms:<region>:<account-id>:key/<key-id> (not a key id or an alias)"
_KMS_KEY_ARN = re.compile(f"^{KMS_KEY_ARN_PATTERN}$")


def kms_key_arn(value: str, what: str = "KMS key ARN") -> str:
    """A customer managed KMS key's full ARN, ``arn:<partition>:kms:<region>:<account>:key/<key-id>``.

    Not a bare key id (Firehose's ``AWSKMSKeyARN`` and an IAM policy's ``Resource`` need the ARN) and not
    an alias: IAM authorizes KMS operations on the key's ARN, so a policy naming an alias ARN would grant
    nothing for the key it points to."""
    if not isinstance(value, str) or not _KMS_KEY_ARN.match(value):
        _fail(what, value, KMS_KEY_ARN_RULE)
    return value


def kms_key_region(value: str) -> str:
    """The region of a KMS key ARN (validated by :func:`kms_key_arn`)."""
    return kms_key_arn(value).split(":")[3]
