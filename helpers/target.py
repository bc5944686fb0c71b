"""Choosing where the pipeline runs: the embedded local AWS (default) or a real AWS account.

One setting chooses: ``TTL_ARCHIVE_TARGET`` = ``local`` (default) or ``aws``.

* ``local``: the embedded local AWS on 127.0.0.1 (started on first use, shared by every kernel),
  with fixed fake credentials. Nothing to configure.
* ``aws``: the standard credential chain (``AWS_PROFILE``, environment variables, SSO, instance
  roles...) and a region from ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else the profile (AWS_REGION
  first, as the AWS CLI v2 and the other SDKs do; botocore alone reads only AWS_DEFAULT_REGION). Another
  emulator is reachable the same way by setting ``AWS_ENDPOINT_URL``; an endpoint that does not answer is
  :class:`EndpointUnreachable`, one sentence naming it.

Every helper takes the ``boto3.Session`` returned here, so tests and notebooks choose the target once.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass

import boto3
import botocore.exceptions
from botocore.config import Config

TARGET_ENV = "TTL_ARCHIVE_TARGET"
TARGETS = ("local", "aws")
LOCAL_REGION_DEFAULT = "ap-northeast-1"  # the seed blog's region (Tokyo); AWS_REGION / AWS_DEFAULT_REGION override it
LOCAL_ACCESS_KEY = "testing"  # moto accepts any key; these are not secrets


# Connection problems of an endpoint that does not answer (wrong AWS_ENDPOINT_URL, no network, emulator down).
UNREACHABLE_ERRORS = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ProxyConnectionError,
)
_IDENTITY_CONFIG = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"})


class CredentialsMissing(RuntimeError):
    """Raised instead of botocore's stack trace when the ``aws`` target has no usable credentials."""


class EndpointUnreachable(RuntimeError):
    """The AWS endpoint did not answer; the message names it and what to check."""


def unreachable(err: BaseException, endpoint: str | None = None) -> EndpointUnreachable:
    """One sentence for a connection error: which endpoint did not answer and what to check."""
    url = endpoint or getattr(err, "kwargs", {}).get("endpoint_url") or "the AWS endpoint"
    if endpoint and os.environ.get("AWS_ENDPOINT_URL") == endpoint:
        hint = "check AWS_ENDPOINT_URL and that the service behind it is running"
    elif endpoint:
        hint = "check that the emulator is running (ttl-archive local status)"
    else:
        hint = "check the network connection, any proxy settings (HTTPS_PROXY) and that AWS_REGION names a real region"
    return EndpointUnreachable(f"Could not reach {url}: {hint}.")


def endpoint_of_error(err: BaseException) -> str | None:
    """The endpoint URL a botocore connection error names, when it names one."""
    kwargs = getattr(err, "kwargs", {}) or {}
    return kwargs.get("endpoint_url") or None


def configured_target() -> str:
    """``TTL_ARCHIVE_TARGET`` parsed strictly (``local`` when unset); :class:`~helpers.settings.SettingsError` otherwise."""
    from .settings import Settings

    return Settings.from_env().target


def configured_region(region: str | None = None) -> str | None:
    """The region for the ``aws`` target: ``region``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION`` (None: the profile's)."""
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def session(target: str | None = None, region: str | None = None, profile: str | None = None) -> boto3.Session:
    """A boto3 session for the chosen target (see the module docstring).

    For ``local`` this starts the embedded local AWS if it is not running and points every client
    of the session at it. For ``aws`` it checks that credentials and a region exist and raises
    :class:`CredentialsMissing` with what to set when they do not.
    """
    target = target or configured_target()
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}; got {target!r}")
    if target == "local":
        from .local import ensure_running

        url = ensure_running()
        return EndpointSession(
            endpoint_url=url,
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=configured_region(region) or LOCAL_REGION_DEFAULT,
        )
    try:
        sess = boto3.Session(profile_name=profile, region_name=configured_region(region))
    except botocore.exceptions.ProfileNotFound as err:
        raise CredentialsMissing(f"{err}. Set AWS_PROFILE to a profile in ~/.aws/config, or unset it to use the default chain.") from None
    if sess.get_credentials() is None:
        raise CredentialsMissing(
            "No AWS credentials found for the 'aws' target. Set AWS_PROFILE (after `aws configure` or "
            "`aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or set "
            f"{TARGET_ENV}=local to use the embedded local AWS."
        )
    if not sess.region_name:
        raise CredentialsMissing("No AWS region set for the 'aws' target. Set AWS_REGION (for example AWS_REGION=ap-northeast-1) or a region in your profile.")
    return sess


class EndpointSession(boto3.Session):
    """A ``boto3.Session`` whose clients and resources all use one endpoint URL (an emulator)."""

    def __init__(self, *, endpoint_url: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.endpoint_url = endpoint_url

    def client(self, service_name: str, *args: object, **kwargs: object):  # type: ignore[override]
        if not args:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().client(service_name, *args, **kwargs)  # type: ignore[arg-type]

    def resource(self, service_name: str, *args: object, **kwargs: object):  # type: ignore[override]
        if not args:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().resource(service_name, *args, **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"EndpointSession(region_name={self.region_name!r}, endpoint_url={self.endpoint_url!r})"


def endpoint_of(sess: boto3.Session) -> str | None:
    """The endpoint URL the session's clients use, or None for AWS's own endpoints."""
    return getattr(sess, "endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL") or None


def is_local(sess: boto3.Session) -> bool:
    """True when the session points at this project's embedded local AWS.

    Decided by the server's health check, not by the host: another emulator on 127.0.0.1 (a plain moto
    server, LocalStack) reached with ``TTL_ARCHIVE_TARGET=aws AWS_ENDPOINT_URL=...`` is not ours, and
    the code treats it like AWS. A positive answer is remembered per endpoint.
    """
    url = endpoint_of(sess)
    if not url:
        return False
    if url in _OURS:
        return True
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in {"127.0.0.1", "localhost"} or not parts.port:
        return False
    from .local import health

    if health(parts.port, timeout=2.0):
        _OURS.add(url)
        return True
    return False


_OURS: set[str] = set()  # endpoints whose health check said "the embedded local AWS"


@dataclass(frozen=True)
class Identity:
    account_id: str
    region: str
    arn: str
    endpoint_url: str | None

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1] if self.arn.startswith("arn:") else "aws"

    def describe(self) -> str:
        where = f"endpoint {self.endpoint_url}" if self.endpoint_url else "AWS"
        return f"account {self.account_id}, region {self.region}, as {self.arn} ({where})"


def identity(sess: boto3.Session) -> Identity:
    """Who and where the session acts: account id, region, caller ARN. Calls STS GetCallerIdentity.

    Raises :class:`CredentialsMissing` with what to set when credentials are absent or rejected, and
    :class:`EndpointUnreachable` (one sentence naming the endpoint) when nothing answers.
    """
    try:
        client = sess.client("sts", config=_IDENTITY_CONFIG)
        who = client.get_caller_identity()
    except UNREACHABLE_ERRORS as err:
        raise unreachable(err, endpoint_of(sess) or client.meta.endpoint_url) from None
    except botocore.exceptions.NoCredentialsError:
        raise CredentialsMissing(f"No AWS credentials found. Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or {TARGET_ENV}=local.") from None
    except botocore.exceptions.ClientError as err:
        code = err.response["Error"]["Code"]
        if code in {"InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "AccessDenied"}:
            raise CredentialsMissing(f"AWS rejected the credentials ({code}): refresh them (`aws sso login`, new keys) or pick another AWS_PROFILE.") from None
        raise
    return Identity(account_id=who["Account"], region=sess.region_name, arn=who["Arn"], endpoint_url=endpoint_of(sess))
