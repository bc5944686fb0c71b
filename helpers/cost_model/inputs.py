"""What the model is asked: :class:`CostInputs` (validated once, errors name the field) and the
:class:`Scenario` s to compare."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

from ..pricing import REGIONS, check_region
from .rules import (CLASS_LABEL, FIREHOSE_MAX_RECORD_KB, IA_MIN_DAYS_IN_STANDARD, LIFECYCLE_MIN_SIZES,
                    TABLE_CLASSES, check_class, check_transition_days)

RETRIEVAL_TIERS = ("standard", "bulk")
ARCHITECTURES = ("x86_64", "arm64")
BASELINE = "DynamoDB Standard"
ARCHIVE_STANDARD = "Archive in S3 Standard"


@dataclass(frozen=True)
class CostInputs:
    """Everything a scenario needs besides prices. Validated on creation (ValueError naming the field).

    - ``table_gb``: item data in the table today (GiB, attribute bytes). ``monthly_growth_gb``: item data
      written per month. DynamoDB bills 100 bytes more per item; the item count is ``data / item_kb``.
    - ``other_tables_gb``: storage the account's **other** Standard-class tables in this region already
      use (default 0). The 25 GB free tier is per account and region, so it is applied to the total.
    - ``item_kb``: mean item size (KiB), taken as the archive line size too (the JSON envelope is ignored).
    - ``hot_days``: the TTL: items stay in the table this long after being written.
    - ``retention_days``: how long an archived object is kept before a lifecycle expiration deletes it.
    - ``compression_ratio``: uncompressed bytes / stored bytes (GZIP of JSON lines: typically 3-10).
    - ``buffer_size_mib`` / ``buffer_interval_s``: Firehose buffering hints (size before compression).
    - ``firehose_record_kb``: mean Firehose record size; None = the archiver's packing (``min(1000,
      batch x item_kb)``). Set it to ``item_kb`` for one item per record.
    - ``read_back_share``: share of the archive (GB and objects) read back each month.
    - ``lifecycle_min_size``: the bucket's TransitionDefaultMinimumObjectSize.
    """

    region: str = "ap-northeast-1"
    horizon_months: int = 36
    table_gb: float = 100.0
    monthly_growth_gb: float = 10.0
    other_tables_gb: float = 0.0
    item_kb: float = 1.0
    hot_days: float = 90.0
    retention_days: float = 3 * 365
    compression_ratio: float = 4.0
    buffer_size_mib: float = 5.0
    buffer_interval_s: float = 300.0
    firehose_record_kb: float | None = None
    read_back_share: float = 0.0
    retrieval_tier: str = "standard"
    updates_per_item: float = 0.0
    include_writes: bool = True
    dynamodb_free_tier: bool = True
    lambda_batch_size: int = 100
    lambda_memory_mb: int = 128
    lambda_base_ms: float = 50.0
    lambda_ms_per_item: float = 1.0
    lambda_architecture: str = "x86_64"
    lambda_free_tier: bool = False
    ttl_filter: bool = True
    lifecycle_min_size: str = "all_storage_classes_128K"

    def __post_init__(self) -> None:
        check_region(self.region)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"{f.name} must be a finite number >= 0, got {value!r}")
        if self.firehose_record_kb is not None and not 0 < self.firehose_record_kb <= FIREHOSE_MAX_RECORD_KB:
            raise ValueError(f"firehose_record_kb must be in (0, {FIREHOSE_MAX_RECORD_KB}] KiB, got {self.firehose_record_kb!r}")
        for name in ("horizon_months", "item_kb", "compression_ratio", "buffer_size_mib", "lambda_batch_size",
                     "lambda_memory_mb", "retention_days"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.horizon_months != int(self.horizon_months):
            raise ValueError(f"horizon_months must be a whole number of months, got {self.horizon_months!r}")
        if self.item_kb > 400:
            raise ValueError(f"item_kb must be <= 400 (the DynamoDB item size limit), got {self.item_kb!r}")
        if not 1 <= self.buffer_size_mib <= 128:
            raise ValueError(f"buffer_size_mib must be within Firehose's 1-128 MiB, got {self.buffer_size_mib!r}")
        if self.buffer_interval_s > 900:
            raise ValueError(f"buffer_interval_s must be within Firehose's 0-900 s, got {self.buffer_interval_s!r}")
        if self.read_back_share > 1:
            raise ValueError(f"read_back_share is a share of the archive per month (0-1), got {self.read_back_share!r}")
        if self.lambda_batch_size > 10_000:
            raise ValueError(f"lambda_batch_size must be <= 10,000, got {self.lambda_batch_size!r}")
        for name, allowed in (("retrieval_tier", RETRIEVAL_TIERS), ("lambda_architecture", ARCHITECTURES),
                              ("lifecycle_min_size", LIFECYCLE_MIN_SIZES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Unknown {name} {getattr(self, name)!r}: use one of {', '.join(allowed)}.")

    @property
    def record_kb(self) -> float:
        """Mean Firehose record size (KiB): the input, or the archiver's packing of one Lambda batch."""
        if self.firehose_record_kb is not None:
            return self.firehose_record_kb
        per_record = max(1, min(self.lambda_batch_size, math.floor(FIREHOSE_MAX_RECORD_KB / self.item_kb)))
        return per_record * self.item_kb


@dataclass(frozen=True)
class Scenario:
    """One way to hold the data.

    ``kind`` "dynamodb": everything stays in the table (of ``table_class``). ``kind`` "archive": TTL
    deletes items after ``hot_days`` and Lambda + Firehose write them to **S3 Standard** (Firehose's S3
    destination has no storage-class setting). A colder ``storage_class`` is reached only by a lifecycle
    rule ``lifecycle_after_days`` (N >= 0; >= 30 for STANDARD_IA) after creation, optionally with an
    ``ObjectSizeGreaterThan`` filter (``object_size_greater_than_kb``) that replaces the 128 KB default.
    """

    name: str
    kind: str
    table_class: str = "STANDARD"
    storage_class: str = "STANDARD"
    lifecycle_after_days: float | None = None
    object_size_greater_than_kb: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("dynamodb", "archive"):
            raise ValueError(f"Unknown scenario kind {self.kind!r}: use 'dynamodb' or 'archive'.")
        check_class(self.table_class, TABLE_CLASSES, "table class")
        check_class(self.storage_class)
        if self.kind == "dynamodb" and (self.storage_class != "STANDARD" or self.lifecycle_after_days is not None):
            raise ValueError("a 'dynamodb' scenario keeps everything in the table: no storage_class or lifecycle")
        if self.storage_class == "STANDARD":
            if self.lifecycle_after_days is not None or self.object_size_greater_than_kb is not None:
                raise ValueError("lifecycle_after_days needs an archive scenario whose storage_class is not STANDARD")
        elif self.lifecycle_after_days is None:
            raise ValueError(
                f"Firehose writes only to S3 Standard: {self.storage_class} is reached by a lifecycle rule, so set "
                f"lifecycle_after_days (0 or more{'; at least 30 for STANDARD_IA' if self.storage_class == 'STANDARD_IA' else ''}).")
        else:
            check_transition_days(self.storage_class, self.lifecycle_after_days)
        if self.object_size_greater_than_kb is not None and self.object_size_greater_than_kb < 0:
            raise ValueError(f"object_size_greater_than_kb must be >= 0, got {self.object_size_greater_than_kb!r}")


def lifecycle_scenario(storage_class: str, after_days: float, object_size_greater_than_kb: float | None = None) -> Scenario:
    """S3 Standard, then ``storage_class`` after ``after_days`` (raised to 30 for STANDARD_IA, which S3
    requires), named after what it does."""
    days = max(after_days, IA_MIN_DAYS_IN_STANDARD) if storage_class == "STANDARD_IA" else after_days
    name = f"S3 Standard → {CLASS_LABEL[storage_class].removeprefix('S3 ')} after {days:g} d"
    if object_size_greater_than_kb is not None:
        name += f" (objects > {object_size_greater_than_kb:g} KB)"
    return Scenario(name, "archive", storage_class=storage_class, lifecycle_after_days=days,
                    object_size_greater_than_kb=object_size_greater_than_kb)


def default_scenarios(lifecycle_after_days: float = 30) -> list[Scenario]:
    """Two that keep everything in DynamoDB, the archive in S3 Standard, and the archive moved by a
    lifecycle rule to each colder class after ``lifecycle_after_days`` (Standard-IA: at least 30)."""
    return [
        Scenario(BASELINE, "dynamodb", table_class="STANDARD"),
        Scenario("DynamoDB Standard-IA", "dynamodb", table_class="STANDARD_IA"),
        Scenario(ARCHIVE_STANDARD, "archive"),
        *[lifecycle_scenario(c, lifecycle_after_days) for c in ("STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")],
    ]


def env_number(name: str, default: float, kind: type = float, environ=None) -> float:
    """A number from the environment variable ``name`` (``default`` when unset or empty); a value that is
    not a finite number >= 0 raises ValueError naming the variable."""
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {raw!r}")
    return value


def pricing_region(override: str | None = None, target: str | None = None) -> tuple[str, str]:
    """The region to price and a sentence saying where it came from, without any AWS call.

    ``override`` (the notebook's ``TTL_ARCHIVE_COST_REGION``) wins. Otherwise the deployed stack's
    region: for the ``aws`` target the region boto3 resolves (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the
    profile); for ``local`` the embedded local AWS's region. Raises ValueError naming
    TTL_ARCHIVE_COST_REGION when that region has no bundled prices.
    """
    from .. import target as target_mod

    if override:
        return check_region(override), f"{override}: set by TTL_ARCHIVE_COST_REGION"
    target = target or target_mod.configured_target()
    if target == "aws":
        import boto3

        region = os.environ.get("AWS_REGION") or boto3.Session().region_name or ""
        where = "the region of the 'aws' target (AWS_REGION, AWS_DEFAULT_REGION or the profile)"
    else:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or target_mod.LOCAL_REGION_DEFAULT
        where = "the embedded local AWS's region, where the walkthrough deployed the stack"
    if region not in REGIONS:
        raise ValueError(f"The deployed stack's region {region or '(none)'} ({where}) has no bundled prices: set "
                         f"TTL_ARCHIVE_COST_REGION to one of {', '.join(sorted(REGIONS))}.")
    return region, f"{region}: {where}"
