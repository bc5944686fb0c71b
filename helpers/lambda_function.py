"""The archiver Lambda function: a deterministic zip of ``helpers/archiver.py`` and its deployment.

* :func:`build_zip` packs the source with fixed timestamps (1980-01-01), fixed permissions and sorted
  entries, so the same source always gives the same bytes and the same ``CodeSha256``
  (base64 of the SHA-256 of the zip, as Lambda reports it). A re-run with an unchanged source is
  then recognisably "already there", and a changed source is recognisably an update.
* :func:`ensure_function` creates or updates the function (code and configuration separately, each
  followed by a wait until Lambda reports the update done) and tags it.
* :func:`ensure_log_group` creates ``/aws/lambda/<function>`` with a retention period, so logs do not
  pile up forever (Lambda itself would create the group on first use, without retention).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
import zipfile
from pathlib import Path
from typing import Any, Mapping

from botocore.exceptions import ClientError, WaiterError

from . import validation
from .outcome import ALREADY_THERE, CREATED, UPDATED, Ensured
from .retry import retry_on_iam_propagation, wait_until
from .settings import Settings

LOG = logging.getLogger(__name__)

ARCHIVER_SOURCE = Path(__file__).with_name("archiver.py")
MODULE_NAME = "archiver.py"  # the name inside the zip; the handler string refers to it
HANDLER = "archiver.handler"
SUPPORTED_RUNTIMES = ("python3.12", "python3.13")
DEFAULT_RUNTIME = "python3.12"
DEFAULT_MEMORY_MB = 256
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_LOG_RETENTION_DAYS = 14
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DESCRIPTION = "Archives items deleted by DynamoDB TTL to S3 through Kinesis Data Firehose (dynamodb-ttl-archive)"
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
ZIP_FILE_MODE = 0o100644  # regular file, rw-r--r--
_ROLE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


# --------------------------------------------------------------------------- the package


def build_zip(sources: Mapping[str, bytes | str] | None = None) -> bytes:
    """The deployment package as bytes, byte-for-byte reproducible.

    ``sources`` maps names inside the zip to contents; by default ``{"archiver.py": <helpers/archiver.py>}``.
    Entries are sorted by name, dated 1980-01-01 00:00:00, mode 0644, deflated at level 9, with no
    extra fields or comment: the same ``sources`` give the same bytes on every run.
    """
    if sources is None:
        sources = {MODULE_NAME: read_source()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in sorted(sources):
            content = sources[name]
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = ZIP_FILE_MODE << 16
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def read_source(path: Path | str | None = None) -> bytes:
    """The archiver's source, as bytes. Raises ``FileNotFoundError`` naming the path."""
    path = Path(path) if path else ARCHIVER_SOURCE
    if not path.is_file():
        raise FileNotFoundError(f"the Lambda source {path} does not exist (helpers/archiver.py is the function's code)")
    return path.read_bytes()


def code_sha256(zip_bytes: bytes) -> str:
    """``CodeSha256`` as Lambda reports it: base64 of the SHA-256 digest of the zip."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode("ascii")


# --------------------------------------------------------------------------- configuration


def desired_configuration(
    settings: Settings,
    *,
    role_arn: str,
    delivery_stream_name: str,
    runtime: str = DEFAULT_RUNTIME,
    memory_mb: int = DEFAULT_MEMORY_MB,
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
    log_level: str = DEFAULT_LOG_LEVEL,
) -> dict[str, Any]:
    """The function's configuration (the UpdateFunctionConfiguration fields we manage), validated.

    Raises ``ValueError`` quoting the rule for any value Lambda would reject.
    """
    validation.delivery_stream_name(delivery_stream_name)
    if not isinstance(role_arn, str) or not _ROLE_ARN.match(role_arn):
        raise ValueError(f"invalid IAM role ARN {role_arn!r}: expected arn:<partition>:iam::<12-digit account>:role/<name>")
    if runtime not in SUPPORTED_RUNTIMES:
        raise ValueError(f"invalid Lambda runtime {runtime!r}: choose a supported Python runtime, one of {', '.join(SUPPORTED_RUNTIMES)}")
    validation.int_range(memory_mb, 128, 10240, "Lambda memory size (MB)")
    validation.int_range(timeout_seconds, 1, 900, "Lambda timeout (seconds)")
    if log_level not in LOG_LEVELS:
        raise ValueError(f"invalid log level {log_level!r}: choose one of {', '.join(LOG_LEVELS)}")
    return {
        "Runtime": runtime,
        "Handler": HANDLER,
        "Role": role_arn,
        "MemorySize": memory_mb,
        "Timeout": timeout_seconds,
        "Description": DESCRIPTION,
        "Environment": {
            "Variables": {
                "DELIVERY_STREAM_NAME": delivery_stream_name,
                "TTL_ATTRIBUTE": settings.ttl_attribute,
                "LOG_LEVEL": log_level,
            }
        },
    }


def _differences(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    changes = []
    for key, want in desired.items():
        have = current.get(key)
        if key == "Environment":
            have = (have or {}).get("Variables", {})
            want = want["Variables"]
        if have != want:
            changes.append(f"{key}: {have!r} -> {want!r}" if key != "Environment" else "Environment variables")
    return changes


# --------------------------------------------------------------------------- deployment


def _wait(client: Any, waiter_name: str, name: str, timeout: float) -> None:
    """Wait with the named boto3 waiter (function_active_v2 / function_updated_v2), bounded."""
    delay = 1
    try:
        client.get_waiter(waiter_name).wait(FunctionName=name, WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(timeout / delay))})
    except WaiterError as err:
        reason = (err.last_response or {}).get("Configuration", {})
        raise TimeoutError(
            f"Lambda function {name} did not become ready ({waiter_name}): State={reason.get('State')}, "
            f"LastUpdateStatus={reason.get('LastUpdateStatus')}, reason={reason.get('LastUpdateStatusReason') or reason.get('StateReason')}"
        ) from None


def _retry_conflicts(call, *, what: str, timeout: float = 120.0):
    """Run ``call``; while Lambda answers ResourceConflictException (an update still in progress), retry."""
    box: dict[str, Any] = {}

    def attempt() -> bool:
        try:
            box["result"] = call()
            return True
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceConflictException":
                raise
            LOG.info("%s: another update is still in progress; waiting", what)
            return False

    wait_until(attempt, what=what, timeout=timeout, interval=1.0, max_interval=5.0)
    return box["result"]


def ensure_function(
    session: Any,
    settings: Settings,
    *,
    role_arn: str,
    delivery_stream_name: str,
    source: Path | str | None = None,
    runtime: str = DEFAULT_RUNTIME,
    memory_mb: int = DEFAULT_MEMORY_MB,
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
    log_level: str = DEFAULT_LOG_LEVEL,
    wait_timeout: float = 300.0,
) -> Ensured:
    """Create or update the archiver function; idempotent; waits until it is usable.

    * Missing: CreateFunction (retried while a new role is not assumable yet), then waits for
      ``State == Active`` (waiter ``function_active_v2``).
    * Present: UpdateFunctionConfiguration when a managed setting differs, UpdateFunctionCode when the
      deployed ``CodeSha256`` differs from the zip's; each is followed by the ``function_updated_v2``
      waiter (``LastUpdateStatus == Successful``). Missing stack tags are added.
    * Unchanged source and settings: no write at all, action "already there".

    ``source`` is the archiver's source file (default ``helpers/archiver.py``), packed by
    :func:`build_zip` as ``archiver.py``. Returns an :class:`Ensured` whose description is the
    function's configuration after the call. Raises ``ValueError`` before any call for invalid values.
    """
    desired = desired_configuration(
        settings, role_arn=role_arn, delivery_stream_name=delivery_stream_name, runtime=runtime,
        memory_mb=memory_mb, timeout_seconds=timeout_seconds, log_level=log_level,
    )
    package = build_zip({MODULE_NAME: read_source(source)})
    sha = code_sha256(package)
    name = settings.function_name
    client = session.client("lambda")
    tags = settings.tags()

    try:
        current = client.get_function(FunctionName=name)["Configuration"]
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        current = None

    if current is None:
        LOG.info("creating Lambda function %s (CodeSha256 %s)", name, sha)
        retry_on_iam_propagation(
            lambda: client.create_function(
                FunctionName=name, Code={"ZipFile": package}, Publish=False, PackageType="Zip",
                Architectures=["x86_64"], Tags=tags, **desired,
            )
        )
        _wait(client, "function_active_v2", name, wait_timeout)
        return Ensured("Lambda function", name, CREATED, client.get_function_configuration(FunctionName=name), [f"CodeSha256 {sha}"]).log(LOG)

    changes = _differences(current, desired)
    if current.get("State") == "Pending":  # just created (by another run): wait until Active
        _wait(client, "function_active_v2", name, wait_timeout)
    elif current.get("LastUpdateStatus") == "InProgress":  # another update still running
        _wait(client, "function_updated_v2", name, wait_timeout)
    if changes:
        LOG.info("updating the configuration of %s: %s", name, "; ".join(changes))
        retry_on_iam_propagation(lambda: _retry_conflicts(lambda: client.update_function_configuration(FunctionName=name, **desired), what=f"updating {name}"))
        _wait(client, "function_updated_v2", name, wait_timeout)
    if current.get("CodeSha256") != sha:
        LOG.info("updating the code of %s: CodeSha256 %s -> %s", name, current.get("CodeSha256"), sha)
        _retry_conflicts(lambda: client.update_function_code(FunctionName=name, ZipFile=package, Publish=False), what=f"updating the code of {name}")
        _wait(client, "function_updated_v2", name, wait_timeout)
        changes.append(f"CodeSha256 {current.get('CodeSha256')} -> {sha}")
    arn = current["FunctionArn"]
    have_tags = client.list_tags(Resource=arn).get("Tags", {})
    missing_tags = {k: v for k, v in tags.items() if have_tags.get(k) != v}
    if missing_tags:
        client.tag_resource(Resource=arn, Tags=missing_tags)
        changes.append(f"tags {sorted(missing_tags)}")
    action = UPDATED if changes else ALREADY_THERE
    return Ensured("Lambda function", name, action, client.get_function_configuration(FunctionName=name), changes).log(LOG)


def ensure_log_group(session: Any, settings: Settings, *, retention_days: int = DEFAULT_LOG_RETENTION_DAYS) -> Ensured:
    """Create ``/aws/lambda/<function>`` with ``retention_days`` of retention (a value CloudWatch Logs
    accepts, e.g. 14), tagged; idempotent; corrects a different retention. Returns the group's description."""
    if retention_days not in LOG_RETENTION_DAYS:
        raise ValueError(f"invalid log retention {retention_days!r}: CloudWatch Logs accepts one of {', '.join(map(str, LOG_RETENTION_DAYS))} days")
    logs = session.client("logs")
    name = log_group_name(settings)

    def describe() -> dict[str, Any] | None:
        for group in logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", []):
            if group["logGroupName"] == name:
                return group
        return None

    group = describe()
    changes: list[str] = []
    if group is None:
        try:
            logs.create_log_group(logGroupName=name, tags=settings.tags())
            action = CREATED
        except ClientError as err:  # created by Lambda between our describe and create
            if err.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
            action = UPDATED
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
    else:
        action = ALREADY_THERE
        if group.get("retentionInDays") != retention_days:
            logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
            changes.append(f"retention {group.get('retentionInDays')} -> {retention_days} days")
        have = logs.list_tags_log_group(logGroupName=name).get("tags", {})
        missing = {k: v for k, v in settings.tags().items() if have.get(k) != v}
        if missing:
            logs.tag_log_group(logGroupName=name, tags=missing)
            changes.append(f"tags {sorted(missing)}")
        if changes:
            action = UPDATED
    return Ensured("log group", name, action, describe() or {}, changes).log(LOG)


def log_group_name(settings: Settings) -> str:
    """``/aws/lambda/<function>``: Lambda's fixed naming rule (the archiver role may write only there)."""
    from .iam import lambda_log_group_name

    return lambda_log_group_name(settings)


def function_arn(session: Any, settings: Settings) -> str:
    """The deployed function's ARN. Raises ``LookupError`` when it does not exist."""
    try:
        return session.client("lambda").get_function_configuration(FunctionName=settings.function_name)["FunctionArn"]
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            raise LookupError(f"Lambda function {settings.function_name} does not exist yet: run ensure_function (notebook 04) first") from None
        raise


def delete_function(session: Any, settings: Settings) -> bool:
    """Delete the function. Returns True when it was deleted, False when it did not exist ("not found" = done)."""
    try:
        session.client("lambda").delete_function(FunctionName=settings.function_name)
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    LOG.info("deleted Lambda function %s", settings.function_name)
    return True


def delete_log_group(session: Any, settings: Settings) -> bool:
    """Delete ``/aws/lambda/<function>``. Returns False when it did not exist."""
    try:
        session.client("logs").delete_log_group(logGroupName=log_group_name(settings))
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True
