"""Choosing the target: the embedded local AWS by default, a real account with clear errors."""

from __future__ import annotations

import pytest

from helpers import settings as settings_mod
from helpers import target


def test_default_target_is_the_embedded_local_aws(monkeypatch):
    monkeypatch.delenv(target.TARGET_ENV, raising=False)
    assert target.configured_target() == "local"


def test_unknown_target_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(target.TARGET_ENV, "azure")
    with pytest.raises(ValueError, match="TTL_ARCHIVE_TARGET='azure': must be one of local, aws"):
        target.configured_target()


def test_aws_target_without_credentials_names_what_to_set(monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    with pytest.raises(target.CredentialsMissing, match="AWS_PROFILE"):
        target.session("aws", region="ap-northeast-1")


def test_aws_target_with_an_unknown_profile_is_a_clear_error(monkeypatch):
    with pytest.raises(target.CredentialsMissing, match="AWS_PROFILE"):
        target.session("aws", profile="no-such-profile")


def test_aws_target_without_a_region_names_it(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(target.CredentialsMissing, match="AWS_REGION"):
        target.session("aws")


def test_aws_target_keeps_aws_endpoints(monkeypatch):
    sess = target.session("aws", region="ap-northeast-1")
    assert target.endpoint_of(sess) is None
    assert not target.is_local(sess)
    assert sess.client("dynamodb").meta.endpoint_url == "https://dynamodb.ap-northeast-1.amazonaws.com"


def test_identity_on_the_local_target_shows_account_and_region(session):
    ident = target.identity(session)
    assert ident.account_id.isdigit() and len(ident.account_id) == 12
    assert ident.region == "us-east-1"
    assert "account" in ident.describe() and ident.account_id in ident.describe()


def test_settings_derive_every_name_from_the_stack(monkeypatch):
    monkeypatch.setenv("TTL_ARCHIVE_STACK", "shop")
    s = settings_mod.Settings.from_env()
    assert (s.table_name, s.delivery_stream_name, s.function_name) == ("shop-items", "shop-archive", "shop-archiver")
    assert s.with_account("123456789012", "ap-northeast-1").bucket_name == "shop-123456789012-ap-northeast-1"
    assert s.tags() == {"managed-by": "dynamodb-ttl-archive", "ttl-archive-stack": "shop"}
