"""The archiver's deployment: a byte-for-byte reproducible zip, and an idempotent ensure_function
that updates code only when the source changes and configuration only when a setting changes."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile

import pytest

from helpers import lambda_function
from helpers.settings import Settings

HANDLER_SOURCE = "def handler(event, context):\n    return {'batchItemFailures': []}\n"


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "archiver.py"
    path.write_text(HANDLER_SOURCE)
    return path


@pytest.fixture
def role_arn(session, stack):
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    return session.client("iam").create_role(RoleName=f"{stack}-archiver", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


# --------------------------------------------------------------------------- the zip


def test_the_same_source_gives_the_same_bytes_twice():
    first = lambda_function.build_zip({"archiver.py": HANDLER_SOURCE})
    second = lambda_function.build_zip({"archiver.py": HANDLER_SOURCE.encode()})
    assert first == second
    assert lambda_function.code_sha256(first) == lambda_function.code_sha256(second)


def test_a_different_source_gives_a_different_sha():
    one = lambda_function.build_zip({"archiver.py": HANDLER_SOURCE})
    other = lambda_function.build_zip({"archiver.py": HANDLER_SOURCE + "# changed\n"})
    assert lambda_function.code_sha256(one) != lambda_function.code_sha256(other)


def test_entries_are_sorted_dated_1980_with_fixed_mode_and_round_trip():
    package = lambda_function.build_zip({"b.py": "b = 1\n", "archiver.py": HANDLER_SOURCE, "a.py": "a = 1\n"})
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["a.py", "archiver.py", "b.py"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}
        assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
        assert zf.read("archiver.py").decode() == HANDLER_SOURCE


def test_code_sha256_is_base64_of_the_sha256_of_the_zip():
    package = lambda_function.build_zip({"archiver.py": HANDLER_SOURCE})
    assert lambda_function.code_sha256(package) == base64.b64encode(hashlib.sha256(package).digest()).decode()


def test_the_default_package_holds_helpers_archiver_as_archiver_py():
    package = lambda_function.build_zip()
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        assert zf.namelist() == ["archiver.py"]
        assert zf.read("archiver.py") == lambda_function.ARCHIVER_SOURCE.read_bytes()
    assert lambda_function.build_zip() == package


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"runtime": "python3.8"}, "supported Python runtime"),
        ({"memory_mb": 64}, "memory size"),
        ({"timeout_seconds": 901}, "timeout"),
        ({"log_level": "LOUD"}, "log level"),
        ({"role_arn": "my-role"}, "IAM role ARN"),
        ({"delivery_stream_name": "no spaces allowed"}, "delivery stream names"),
    ],
)
def test_invalid_values_are_refused_before_any_call(overrides, message):
    kwargs = {"role_arn": "arn:aws:iam::123456789012:role/r", "delivery_stream_name": "s", **overrides}
    with pytest.raises(ValueError, match=message):
        lambda_function.desired_configuration(Settings(stack="ok"), **kwargs)


# --------------------------------------------------------------------------- deployment


def test_created_active_with_runtime_handler_environment_and_tags(session, stack, source, role_arn):
    settings = Settings(stack=stack)
    outcome = lambda_function.ensure_function(session, settings, role_arn=role_arn, delivery_stream_name=settings.delivery_stream_name, source=source)
    assert outcome.action == "created"
    config = outcome.description
    assert config["State"] == "Active"
    assert config["Runtime"] in lambda_function.SUPPORTED_RUNTIMES
    assert config["Handler"] == "archiver.handler"
    assert config["MemorySize"] == 256 and config["Timeout"] == 60
    assert config["Environment"]["Variables"] == {
        "DELIVERY_STREAM_NAME": settings.delivery_stream_name,
        "TTL_ATTRIBUTE": settings.ttl_attribute,
        "LOG_LEVEL": "INFO",
    }
    assert config["CodeSha256"] == lambda_function.code_sha256(lambda_function.build_zip({"archiver.py": HANDLER_SOURCE}))
    assert session.client("lambda").list_tags(Resource=config["FunctionArn"])["Tags"] == settings.tags()


def test_rerun_with_the_same_source_changes_nothing(session, stack, source, role_arn):
    settings = Settings(stack=stack)
    first = lambda_function.ensure_function(session, settings, role_arn=role_arn, delivery_stream_name="s", source=source)
    second = lambda_function.ensure_function(session, settings, role_arn=role_arn, delivery_stream_name="s", source=source)
    assert second.action == "already there"
    assert second.changes == []
    assert second.description["CodeSha256"] == first.description["CodeSha256"]
    assert second.description["LastModified"] == first.description["LastModified"]


def test_a_changed_source_updates_the_code_only(session, stack, source, role_arn):
    settings = Settings(stack=stack)
    first = lambda_function.ensure_function(session, settings, role_arn=role_arn, delivery_stream_name="s", source=source)
    source.write_text(HANDLER_SOURCE + "# version 2\n")
    second = lambda_function.ensure_function(session, settings, role_arn=role_arn, delivery_stream_name="s", source=source)
    assert second.action == "updated"
    assert len(second.changes) == 1 and second.changes[0].startswith("CodeSha256")
    assert second.description["CodeSha256"] != first.description["CodeSha256"]
    assert second.description["CodeSha256"] == lambda_function.code_sha256(lambda_function.build_zip({"archiver.py": source.read_text()}))
    assert second.description["LastUpdateStatus"] == "Successful"


def test_a_changed_setting_updates_the_configuration_only(session, stack, source, role_arn):
    settings = Settings(stack=stack)
    first = lambda_function.ensure_function(session, settings, role_arn=role_arn, delivery_stream_name="s", source=source)
    second = lambda_function.ensure_function(session, settings, role_arn=role_arn, delivery_stream_name="other", source=source, memory_mb=512)
    assert second.action == "updated"
    assert any(c.startswith("MemorySize") for c in second.changes)
    assert "Environment variables" in second.changes
    assert not any(c.startswith("CodeSha256") for c in second.changes)
    assert second.description["MemorySize"] == 512
    assert second.description["Environment"]["Variables"]["DELIVERY_STREAM_NAME"] == "other"
    assert second.description["CodeSha256"] == first.description["CodeSha256"]


def test_a_role_that_cannot_be_assumed_is_retried_a_bounded_number_of_times(session, stack, source, monkeypatch):
    import functools

    from botocore.exceptions import ClientError

    from helpers import retry

    sleeps: list[float] = []
    monkeypatch.setattr(lambda_function, "retry_on_iam_propagation", functools.partial(retry.retry_on_iam_propagation, sleep=sleeps.append))
    with pytest.raises(ClientError, match="cannot be assumed"):
        lambda_function.ensure_function(
            session, Settings(stack=stack),
            role_arn="arn:aws:iam::123456789012:role/does-not-exist", delivery_stream_name="s", source=source,
        )
    assert len(sleeps) == 7  # 8 attempts, backoff between them
    assert max(sleeps) <= 15  # capped backoff


def test_log_group_with_retention_idempotent(session, stack):
    settings = Settings(stack=stack)
    first = lambda_function.ensure_log_group(session, settings)
    assert first.action == "created"
    assert first.name == f"/aws/lambda/{settings.function_name}"
    assert first.description["retentionInDays"] == 14
    assert lambda_function.ensure_log_group(session, settings).action == "already there"
    changed = lambda_function.ensure_log_group(session, settings, retention_days=30)
    assert changed.action == "updated" and changed.description["retentionInDays"] == 30
    with pytest.raises(ValueError, match="log retention"):
        lambda_function.ensure_log_group(session, settings, retention_days=13)


def test_delete_then_delete_again_is_done(session, stack, source, role_arn):
    settings = Settings(stack=stack)
    lambda_function.ensure_function(session, settings, role_arn=role_arn, delivery_stream_name="s", source=source)
    assert lambda_function.delete_function(session, settings) is True
    assert lambda_function.delete_function(session, settings) is False
    with pytest.raises(LookupError):
        lambda_function.function_arn(session, settings)
