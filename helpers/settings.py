"""The names and knobs of one deployment ("stack"), with defaults, read from the environment.

Every notebook's ``parameters`` cell builds a :class:`Settings` with :meth:`Settings.from_env`, so a
headless run injects values through ``TTL_ARCHIVE_*`` variables (or papermill-style parameters) and a
learner changes nothing. All resource names derive from the stack name unless set explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "dynamodb-ttl-archive"
STACK_TAG_KEY = "ttl-archive-stack"

DEFAULT_STACK = "ttl-archive-demo"


def _env(name: str, default: str) -> str:
    return os.environ.get(f"TTL_ARCHIVE_{name}", default)


@dataclass(frozen=True)
class Settings:
    stack: str = DEFAULT_STACK
    # DynamoDB
    table_name: str = ""
    partition_key: str = "id"
    sort_key: str = "timestamp"
    ttl_attribute: str = "expires_at"
    existing_table: bool = False  # operator mode: the table belongs to the application
    # S3 and Firehose
    bucket_name: str = ""  # default: <stack>-<account>-<region>, filled by with_account()
    archive_prefix: str = "archive/"
    error_prefix: str = "errors/"
    buffer_size_mib: int = 5
    buffer_interval_seconds: int = 60
    glacier_class: str | None = None  # e.g. "GLACIER" or "DEEP_ARCHIVE"; None: no lifecycle rule
    glacier_after_days: int = 90
    delivery_stream_name: str = ""
    firehose_role_name: str = ""
    # Lambda
    function_name: str = ""
    lambda_role_name: str = ""
    failure_queue_name: str = ""
    # Alarm notifications: an SNS topic as the alarms' action, on when an address is given
    alarm_topic: bool = False
    alarm_email: str | None = None
    alarm_topic_name: str = ""
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        defaults = {
            "table_name": f"{self.stack}-items",
            "delivery_stream_name": f"{self.stack}-archive",
            "firehose_role_name": f"{self.stack}-firehose",
            "function_name": f"{self.stack}-archiver",
            "lambda_role_name": f"{self.stack}-archiver",
            "failure_queue_name": f"{self.stack}-archiver-failures",
            "alarm_topic_name": f"{self.stack}-alarms",
        }
        for key, value in defaults.items():
            if not getattr(self, key):
                object.__setattr__(self, key, value)
        if self.alarm_email and not self.alarm_topic:
            object.__setattr__(self, "alarm_topic", True)  # an address to notify needs the topic

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Defaults, then ``TTL_ARCHIVE_*`` environment variables, then ``overrides``."""
        values: dict[str, object] = {
            "stack": _env("STACK", DEFAULT_STACK),
            "table_name": _env("TABLE", ""),
            "ttl_attribute": _env("TTL_ATTRIBUTE", "expires_at"),
            "existing_table": _env("EXISTING_TABLE", "false").lower() in {"1", "true", "yes"},
            "bucket_name": _env("BUCKET", ""),
            "glacier_class": _env("GLACIER_CLASS", "") or None,
            "glacier_after_days": int(_env("GLACIER_AFTER_DAYS", "90")),
            "buffer_size_mib": int(_env("BUFFER_SIZE_MIB", "5")),
            "buffer_interval_seconds": int(_env("BUFFER_INTERVAL_SECONDS", "60")),
            "alarm_topic": _env("ALARM_TOPIC", "false").lower() in {"1", "true", "yes"},
            "alarm_email": _env("ALARM_EMAIL", "") or None,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def with_account(self, account_id: str, region: str) -> "Settings":
        """Fill the names that need the account: the bucket name must be globally unique."""
        if self.bucket_name:
            return self
        return replace(self, bucket_name=f"{self.stack}-{account_id}-{region}".lower())

    def tags(self) -> dict[str, str]:
        """The tags every created resource carries; teardown deletes only what carries them."""
        return {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_TAG_KEY: self.stack, **self.extra_tags}
