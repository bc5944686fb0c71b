"""helpers.validation: AWS naming rules, each failure a ValueError quoting the rule (no AWS involved)."""

from __future__ import annotations

import pytest

from helpers import validation as v


@pytest.mark.parametrize("name", ["abc", "a" * 255, "Orders_2026.v1-x", "t1234567-items"])
def test_table_names_accepted(name):
    assert v.table_name(name) == name


@pytest.mark.parametrize("name", ["ab", "a" * 256, "orders table", "orders/2026", "tablé", "my-table\n", "", None, 123])
def test_table_names_refused_quoting_the_rule(name):
    with pytest.raises(ValueError, match=r"invalid DynamoDB table name .*3-255 characters of a-z, A-Z, 0-9, '_', '-' and '.'"):
        v.table_name(name)


def test_attribute_names_are_1_to_255_bytes_of_utf8():
    assert v.attribute_name("expires_at") == "expires_at"
    assert v.attribute_name("é" * 127) == "é" * 127  # 254 bytes
    for bad in ["", "é" * 128, "x" * 256, None]:
        with pytest.raises(ValueError, match="TTL attribute name .*1-255 bytes of UTF-8"):
            v.attribute_name(bad, "TTL attribute name")


@pytest.mark.parametrize("name", ["abc", "a" * 63, "ttl-archive-demo-123456789012-us-east-1", "my.bucket.name", "1bucket9"])
def test_bucket_names_accepted(name):
    assert v.bucket_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "Uppercase",
        "under_score",
        "-starts-with-hyphen",
        "ends-with-hyphen-",
        ".starts-with-dot",
        "two..dots",
        "192.168.1.10",
        "192.168.01.010",  # still formatted as an IP address
        "xn--punycode",
        "sthree-bucket",
        "amzn-s3-demo-bucket",
        "data-s3alias",
        "data--ol-s3",
        "data.mrap",
        "data--x-s3",
        "data--table-s3",
        "abc\n",  # '$' alone would accept a trailing newline
        None,
    ],
)
def test_bucket_names_refused_quoting_the_rule(name):
    with pytest.raises(ValueError, match=r"invalid S3 bucket name .*3-63 characters of lowercase letters"):
        v.bucket_name(name)


def test_firehose_role_function_queue_and_stack_names():
    assert v.delivery_stream_name("ttl-archive_demo.v1") == "ttl-archive_demo.v1"
    assert v.role_name("svc+role=a,b.c@d_e-f") == "svc+role=a,b.c@d_e-f"
    assert v.function_name("ttl-archive_archiver") == "ttl-archive_archiver"
    assert v.queue_name("q" * 80) == "q" * 80
    assert v.stack_name("ab") == "ab" and v.stack_name("a" * 32) == "a" * 32
    cases = [
        (v.delivery_stream_name, "a" * 65, "delivery stream names are 1-64"),
        (v.delivery_stream_name, "with space", "delivery stream names"),
        (v.role_name, "r" * 65, "role names are 1-64"),
        (v.role_name, "rôle", "role names"),  # IAM accepts ASCII letters only
        (v.role_name, "role/path", "role names"),
        (v.function_name, "fn.v1", "function names are 1-64"),
        (v.queue_name, "q" * 81, "queue names are 1-80"),
        (v.queue_name, "orders.fifo", "queue names"),
        (v.stack_name, "a", "stack names are 2-32"),
        (v.stack_name, "a" * 33, "stack names"),
        (v.stack_name, "Demo", "stack names"),
        (v.stack_name, "demo-", "stack names"),
        (v.stack_name, "demo\n", "stack names"),
    ]
    for check, value, rule in cases:
        with pytest.raises(ValueError, match=rule):
            check(value)


def test_prefix_glacier_class_and_int_range():
    assert v.prefix("archive/") == "archive/" and v.prefix("a/b/") == "a/b/"
    for bad in ["", "/archive/", "archive", None]:
        with pytest.raises(ValueError, match="end with '/'"):
            v.prefix(bad)
    for good in ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"):
        assert v.glacier_class(good) == good
    for bad in ("STANDARD_IA", "glacier", ""):
        with pytest.raises(ValueError, match="choose one of GLACIER_IR, GLACIER, DEEP_ARCHIVE"):
            v.glacier_class(bad)
    assert v.int_range(1, 1, 128, "buffer size") == 1 and v.int_range(128, 1, 128, "buffer size") == 128
    for bad in (0, 129, 1.5, "5", True, None):
        with pytest.raises(ValueError, match="buffer size .*whole number from 1 to 128"):
            v.int_range(bad, 1, 128, "buffer size")
