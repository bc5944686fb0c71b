"""AWS's billing rules as small formulas, each tested by hand (no prices here, no state).

Units: sizes in GiB ("GB", 2**30 bytes, as AWS bills storage) and KiB ("KB"); time in **billing months of
730 hours** (8,760 hours a year / 12, the month of the AWS Pricing Calculator). AWS prorates GB-months by
the hour, so an object stored for 365 hours of a 730-hour month is billed half a GB-month per GB.
"""

from __future__ import annotations

import math
from typing import Sequence

KIB = 1024
GIB = 1024**3
KB_PER_GB = 1024 * 1024
HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24  # 30.4166...
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600  # 2,628,000

DYNAMODB_ITEM_OVERHEAD_BYTES = 100  # every item is billed 100 bytes on top of its attributes
DYNAMODB_WRU_KB = 1
DYNAMODB_RRU_KB = 4
FIREHOSE_ROUNDING_KB = 5  # each record is billed in 5 KB increments
FIREHOSE_MAX_RECORD_KB = 1000  # 1,000 KiB per record
ARCHIVE_OVERHEAD_CLASS_KB = 32  # GLACIER / DEEP_ARCHIVE: 32 KB per object at the archive rate ...
ARCHIVE_OVERHEAD_STANDARD_KB = 8  # ... plus 8 KB at the S3 Standard rate
MIN_BILLABLE_KB = 128  # STANDARD_IA and GLACIER_IR bill smaller objects as 128 KB
LIFECYCLE_DEFAULT_MIN_KB = 128  # TransitionDefaultMinimumObjectSize=all_storage_classes_128K
IA_MIN_DAYS_IN_STANDARD = 30  # a lifecycle rule cannot move objects to STANDARD_IA before 30 days
LIFECYCLE_MIDNIGHT_DAYS = 0.5  # lifecycle actions run at the next midnight UTC: half a day later on average

STORAGE_CLASSES = ("STANDARD", "STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")
GLACIER_CLASSES = ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")
TABLE_CLASSES = ("STANDARD", "STANDARD_IA")
MIN_STORAGE_DAYS = {"STANDARD": 0, "STANDARD_IA": 30, "GLACIER_IR": 90, "GLACIER": 90, "DEEP_ARCHIVE": 180}
CLASS_LABEL = {
    "STANDARD": "S3 Standard",
    "STANDARD_IA": "S3 Standard-IA",
    "GLACIER_IR": "S3 Glacier Instant Retrieval",
    "GLACIER": "S3 Glacier Flexible Retrieval",
    "DEEP_ARCHIVE": "S3 Glacier Deep Archive",
}
PRICE_SUFFIX = {"STANDARD": "standard", "STANDARD_IA": "standard_ia", "GLACIER_IR": "glacier_ir",
                "GLACIER": "glacier", "DEEP_ARCHIVE": "deep_archive"}
LIFECYCLE_MIN_SIZES = ("all_storage_classes_128K", "varies_by_storage_class")


def check_class(storage_class: str, allowed: Sequence[str] = STORAGE_CLASSES, what: str = "storage class") -> str:
    if storage_class not in allowed:
        raise ValueError(f"Unknown {what} {storage_class!r}: use one of {', '.join(allowed)}.")
    return storage_class


def days_to_months(days: float) -> float:
    """Days as 730-hour billing months: 365 days = 12 months exactly."""
    return days / DAYS_PER_MONTH


# --------------------------------------------------------------------------------------------------
# DynamoDB
# --------------------------------------------------------------------------------------------------

def dynamodb_billed_gb(data_gb: float, item_kb: float) -> float:
    """Storage DynamoDB bills for ``data_gb`` of item data in items of ``item_kb``: each item carries 100
    bytes of overhead. 100 GB of 1 KB items -> 100 x (1 + 100/1024) = 109.765625 GB."""
    if data_gb < 0 or item_kb <= 0:
        raise ValueError("data_gb must be >= 0 and item_kb > 0")
    return data_gb * (1 + DYNAMODB_ITEM_OVERHEAD_BYTES / (item_kb * KIB))


def dynamodb_storage_cost(gb: float, price_per_gb_month: float, free_gb: float = 0.0, other_tables_gb: float = 0.0) -> float:
    """Monthly storage cost of this table when the account's free allowance (``free_gb``, per account
    and region) is shared with ``other_tables_gb`` of other Standard-class tables: the bill of the total
    minus the bill the other tables would run up alone. Tokyo, 100 GB, no other table:
    (100 - 25) x 0.285 = 21.375; with 20 GB elsewhere only 5 GB stay free: 95 x 0.285 = 27.075."""
    if min(gb, price_per_gb_month, free_gb, other_tables_gb) < 0:
        raise ValueError("sizes and prices must be >= 0")
    return (max(gb + other_tables_gb - free_gb, 0.0) - max(other_tables_gb - free_gb, 0.0)) * price_per_gb_month


# --------------------------------------------------------------------------------------------------
# Firehose
# --------------------------------------------------------------------------------------------------

def firehose_billed_kb(record_kb: float) -> float:
    """A record's billed size: rounded up to the next multiple of 5 KB (3 KB -> 5, 12 KB -> 15)."""
    if record_kb <= 0:
        raise ValueError(f"record_kb must be > 0, got {record_kb!r}")
    return math.ceil(round(record_kb / FIREHOSE_ROUNDING_KB, 9)) * FIREHOSE_ROUNDING_KB


def firehose_ingestion_cost(records: float, record_kb: float, price_per_gb: float) -> float:
    """``records x billed_kb(record_kb) / 1024**2 x price``."""
    return records * firehose_billed_kb(record_kb) / KB_PER_GB * price_per_gb


def firehose_objects(raw_gb: float, buffer_size_mib: float, buffer_interval_s: float, records: float,
                     seconds: float = SECONDS_PER_MONTH) -> float:
    """Objects Firehose writes for ``raw_gb`` (uncompressed) arriving evenly over ``seconds``.

    A buffer is flushed when it holds ``buffer_size_mib`` or when ``buffer_interval_s`` has passed, so
    ``objects = max(seconds / interval, raw_MiB / size)``, never more than the records sent and 0 when
    nothing arrives. (Interval 0 means one object per record.)
    """
    if raw_gb <= 0 or records <= 0:
        return 0.0
    by_size = raw_gb * 1024 / buffer_size_mib
    by_time = seconds / buffer_interval_s if buffer_interval_s > 0 else math.inf
    return min(max(by_size, by_time), records)


def object_kb_for_flow(raw_gb_per_month: float, buffer_size_mib: float, buffer_interval_s: float,
                       compression_ratio: float) -> float:
    """Stored size (KB) of the objects a steady flow of ``raw_gb_per_month`` makes: the buffer closes at
    ``min(size, flow x interval)`` MiB of raw data, then GZIP divides it by ``compression_ratio``."""
    if raw_gb_per_month <= 0:
        return 0.0
    per_second_mib = raw_gb_per_month * 1024 / SECONDS_PER_MONTH
    raw_mib = min(buffer_size_mib, per_second_mib * buffer_interval_s) if buffer_interval_s > 0 else 0.0
    return raw_mib * 1024 / compression_ratio


# --------------------------------------------------------------------------------------------------
# S3 storage classes and lifecycle
# --------------------------------------------------------------------------------------------------

def billed_object_kb(object_kb: float, storage_class: str) -> tuple[float, float]:
    """(KB billed at the class rate, KB billed at the S3 Standard rate) for one object.

    STANDARD: (size, 0). STANDARD_IA / GLACIER_IR: (max(size, 128), 0). GLACIER / DEEP_ARCHIVE:
    (size + 32, 8). A 100 KB object in Standard-IA is billed as 128 KB.
    """
    check_class(storage_class)
    if object_kb < 0:
        raise ValueError(f"object_kb must be >= 0, got {object_kb!r}")
    if storage_class in ("STANDARD_IA", "GLACIER_IR"):
        return max(object_kb, MIN_BILLABLE_KB), 0.0
    if storage_class in ("GLACIER", "DEEP_ARCHIVE"):
        return object_kb + ARCHIVE_OVERHEAD_CLASS_KB, float(ARCHIVE_OVERHEAD_STANDARD_KB)
    return object_kb, 0.0


def transition_units(objects: float) -> float:
    """Lifecycle transitions are billed per 1,000 objects: 1,000 objects = 1 unit."""
    if objects < 0:
        raise ValueError(f"objects must be >= 0, got {objects!r}")
    return objects / 1000


def transitions_allowed(object_kb: float, storage_class: str, lifecycle_min_size: str = "all_storage_classes_128K",
                        object_size_greater_than_kb: float | None = None) -> bool:
    """Whether a lifecycle rule moves an object of ``object_kb`` into ``storage_class``.

    A rule filter ``ObjectSizeGreaterThan`` (``object_size_greater_than_kb``) always takes precedence:
    objects larger than it move. Without one, the bucket's ``TransitionDefaultMinimumObjectSize``
    decides: ``all_storage_classes_128K`` (the default) moves nothing under 128 KB;
    ``varies_by_storage_class`` lets objects under 128 KB go to GLACIER / DEEP_ARCHIVE only.
    """
    check_class(storage_class)
    if lifecycle_min_size not in LIFECYCLE_MIN_SIZES:
        raise ValueError(f"Unknown lifecycle_min_size {lifecycle_min_size!r}: use one of {', '.join(LIFECYCLE_MIN_SIZES)}.")
    if object_size_greater_than_kb is not None:
        return object_kb > object_size_greater_than_kb
    if object_kb >= LIFECYCLE_DEFAULT_MIN_KB:
        return True
    return lifecycle_min_size == "varies_by_storage_class" and storage_class in ("GLACIER", "DEEP_ARCHIVE")


def lifecycle_action_days(days: float) -> float:
    """When a lifecycle action set to ``days`` after creation happens, on average: AWS adds the days to
    the creation time and rounds up to the next midnight UTC, half a day later on average (0 -> 0.5)."""
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days!r}")
    return days + LIFECYCLE_MIDNIGHT_DAYS


def check_transition_days(storage_class: str, days: float) -> float:
    """The earliest transition AWS accepts: STANDARD_IA needs at least 30 days in S3 Standard (a rule
    with fewer is rejected); the Glacier classes accept 0."""
    check_class(storage_class)
    if storage_class == "STANDARD":
        raise ValueError("a lifecycle transition needs a target class other than STANDARD")
    if days < 0:
        raise ValueError(f"lifecycle_after_days must be >= 0, got {days!r}")
    if storage_class == "STANDARD_IA" and days < IA_MIN_DAYS_IN_STANDARD:
        raise ValueError(f"S3 rejects a lifecycle transition to STANDARD_IA before {IA_MIN_DAYS_IN_STANDARD} days "
                         f"in S3 Standard; got lifecycle_after_days={days:g}")
    return days


def billed_storage_days(days_stored: float, storage_class: str) -> float:
    """Days billed for an object deleted after ``days_stored``: at least the class's minimum duration
    (STANDARD_IA 30, GLACIER_IR 90, GLACIER 90, DEEP_ARCHIVE 180); the difference is the early-delete fee."""
    check_class(storage_class)
    if days_stored < 0:
        raise ValueError(f"days_stored must be >= 0, got {days_stored!r}")
    return max(days_stored, MIN_STORAGE_DAYS[storage_class])
