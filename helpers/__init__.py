"""dynamodb-ttl-archive: archive DynamoDB items to S3 when TTL deletes them, and analyse the archive.

Every public function takes the ``boto3.Session`` it should use; get one with :func:`session`
(the embedded local AWS by default, a real account with ``TTL_ARCHIVE_TARGET=aws``).

The public names below are re-exported lazily (PEP 562), so ``import helpers`` stays cheap: the
embedded local AWS process and the Lambda archiver never pay for pandas or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

from .settings import Settings, SettingsError
from .target import CredentialsMissing, identity, is_local, session

_EXPORTS: dict[str, tuple[str, ...]] = {
    "cli_equivalent": ("recording",),
    "dynamodb": ("ensure_table", "describe_table_setup", "stream_arn", "delete_table", "put_items", "TableSetupError", "TableNotFound"),
    "s3": ("ensure_bucket", "describe_bucket_setup", "delete_bucket", "BucketSetupError", "BucketNotEmpty"),
    "iam": ("ensure_firehose_role", "ensure_archiver_role", "wildcard_violations"),
    "firehose": ("ensure_delivery_stream", "describe_delivery_stream", "delete_delivery_stream"),
    "teardown": ("teardown", "TeardownReport"),
    "outcome": ("Ensured",),
    "archive_reader": ("read_archive", "read_parquet", "write_parquet", "archive_to_parquet", "ArchiveReadResult", "Problem"),
    "cost_model": ("CostInputs", "Scenario", "compare", "compute_scenario", "default_scenarios"),
    "pricing": ("PriceBook", "MissingPriceError", "PriceListUnavailable"),
    "lambda_function": ("ensure_function", "build_zip", "code_sha256", "delete_function"),
    "trigger": ("ensure_trigger", "delete_trigger", "TTL_FILTER"),
    "failure_queue": ("ensure_failure_queue",),
    "alarms": ("ensure_alarms",),
    "alarm_topic": ("ensure_alarm_topic",),
    "redrive": ("RedriveReport",),
    "reconcile": ("ReconcileReport",),
    "pipeline": ("ensure_pipeline", "Pipeline"),
    "verify": ("start_run", "wait_for_archive", "check", "Report"),
    "preflight": ("deploy_needs", "reader_actions"),
    "capacity": ("CapacityInputs", "plan"),
    "restore": ("restore_from_archive", "RestoreReport", "TtlRule"),
    "archived_items": ("ArchivedItems",),
    "item_codec": ("decode_record", "DecodedRecord", "CodecError"),
}
_MODULES = (
    "alarm_topic", "alarms", "archive_charts", "archive_reader", "archived_items", "capacity", "cli_equivalent", "cost_charts",
    "cost_model", "dynamodb", "failure_queue", "firehose", "iam", "inventory", "item_codec", "lambda_function", "local", "outcome",
    "pipeline", "preflight", "pricing", "reconcile", "redrive", "restore", "retry", "s3", "tagging", "teardown", "trigger",
    "validation", "verify",
)
_NAME_TO_MODULE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["CredentialsMissing", "Settings", "SettingsError", "identity", "is_local", "session", *_NAME_TO_MODULE, *_MODULES]


def __getattr__(name: str) -> Any:
    if name in _NAME_TO_MODULE:
        return getattr(importlib.import_module(f".{_NAME_TO_MODULE[name]}", __name__), name)
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
