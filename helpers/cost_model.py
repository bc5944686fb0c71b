"""The archive cost model: what keeping data in DynamoDB costs against archiving it to S3 and Glacier.

Pure functions over :class:`CostInputs` and a :class:`~helpers.pricing.PriceBook`: no AWS calls, no
global state. Every formula is written out in ``docs/cost-model.md``; the docstrings below give the
short form. Units: sizes in GiB ("GB", 2**30 bytes, as AWS bills storage) and KiB ("KB"), months of 30
days, costs in USD.

Results name every unverified figure they used (missing figures borrowed from another region with
``on_missing="fallback"``, and low-confidence "L" figures). With the default ``on_missing="raise"`` a
scenario that needs a figure missing for its region raises :class:`~helpers.pricing.MissingPriceError`
naming that figure. A figure is looked up only when its quantity is non-zero: a scenario that reads
nothing back does not depend on retrieval prices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .pricing import MissingPriceError, Price, PriceBook, check_region

KIB = 1024
GIB = 1024**3
KB_PER_GB = 1024 * 1024
DAYS_PER_MONTH = 30
SECONDS_PER_MONTH = DAYS_PER_MONTH * 86_400

# Rules (aws-facts.md, prices.md "Pricing rules"), not prices.
FIREHOSE_ROUNDING_KB = 5  # each record is billed in 5 KB increments
FIREHOSE_MAX_RECORD_KB = 1000  # 1,000 KiB per record
ARCHIVE_OVERHEAD_CLASS_KB = 32  # GLACIER / DEEP_ARCHIVE: 32 KB per object at the archive rate ...
ARCHIVE_OVERHEAD_STANDARD_KB = 8  # ... plus 8 KB at the S3 Standard rate
MIN_BILLABLE_KB = 128  # STANDARD_IA and GLACIER_IR bill smaller objects as 128 KB
LIFECYCLE_DEFAULT_MIN_KB = 128  # TransitionDefaultMinimumObjectSize=all_storage_classes_128K
DYNAMODB_WRU_KB = 1
DYNAMODB_RRU_KB = 4

STORAGE_CLASSES = ("STANDARD", "STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")
TABLE_CLASSES = ("STANDARD", "STANDARD_IA")
MIN_STORAGE_DAYS = {"STANDARD": 0, "STANDARD_IA": 30, "GLACIER_IR": 90, "GLACIER": 90, "DEEP_ARCHIVE": 180}
CLASS_LABEL = {
    "STANDARD": "S3 Standard",
    "STANDARD_IA": "S3 Standard-IA",
    "GLACIER_IR": "S3 Glacier Instant Retrieval",
    "GLACIER": "S3 Glacier Flexible Retrieval",
    "DEEP_ARCHIVE": "S3 Glacier Deep Archive",
}
_PRICE_SUFFIX = {"STANDARD": "standard", "STANDARD_IA": "standard_ia", "GLACIER_IR": "glacier_ir",
                 "GLACIER": "glacier", "DEEP_ARCHIVE": "deep_archive"}
LIFECYCLE_MIN_SIZES = ("all_storage_classes_128K", "varies_by_storage_class")
RETRIEVAL_TIERS = ("standard", "bulk")
ARCHITECTURES = ("x86_64", "arm64")

COMPONENTS = (
    "dynamodb_storage", "dynamodb_writes", "dynamodb_reads",
    "lambda_requests", "lambda_duration", "firehose_ingestion",
    "s3_puts", "s3_storage", "s3_object_overhead", "s3_transitions", "s3_early_delete", "s3_retrieval",
)


def _check_class(storage_class: str, allowed: Sequence[str] = STORAGE_CLASSES, what: str = "storage class") -> str:
    if storage_class not in allowed:
        raise ValueError(f"Unknown {what} {storage_class!r}: use one of {', '.join(allowed)}.")
    return storage_class


# --------------------------------------------------------------------------------------------------
# Inputs and scenarios
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CostInputs:
    """Everything a scenario needs besides prices. Validated on creation (ValueError naming the field).

    - ``table_gb``: table size today (GiB of item data). ``monthly_growth_gb``: item data written per month.
    - ``item_kb``: mean item size (KiB), taken as the archive line size too (the JSON envelope is ignored).
    - ``hot_days``: the TTL: items stay in the table this long after being written.
    - ``retention_days``: how long an archived object is kept before a lifecycle expiration deletes it.
    - ``compression_ratio``: uncompressed bytes / stored bytes (GZIP of JSON lines: typically 3-10).
    - ``buffer_size_mib`` / ``buffer_interval_s``: Firehose buffering hints (size before compression).
    - ``firehose_record_kb``: mean Firehose record size; None = the archiver's packing: items of one
      Lambda batch are packed into records of up to 1,000 KiB, so ``min(1000, batch x item_kb)``.
      Set it to ``item_kb`` for one item per record.
    - ``read_back_share``: share of the archive (GB and objects) read back each month.
    - ``lifecycle_min_size``: the bucket's TransitionDefaultMinimumObjectSize.
    """

    region: str = "ap-northeast-1"
    horizon_months: int = 36
    table_gb: float = 100.0
    monthly_growth_gb: float = 10.0
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
        positive = ("horizon_months", "item_kb", "compression_ratio", "buffer_size_mib", "lambda_batch_size",
                    "lambda_memory_mb", "retention_days")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
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
        if self.retrieval_tier not in RETRIEVAL_TIERS:
            raise ValueError(f"Unknown retrieval_tier {self.retrieval_tier!r}: use one of {', '.join(RETRIEVAL_TIERS)}.")
        if self.lambda_architecture not in ARCHITECTURES:
            raise ValueError(f"Unknown lambda_architecture {self.lambda_architecture!r}: use one of {', '.join(ARCHITECTURES)}.")
        if self.lifecycle_min_size not in LIFECYCLE_MIN_SIZES:
            raise ValueError(f"Unknown lifecycle_min_size {self.lifecycle_min_size!r}: use one of {', '.join(LIFECYCLE_MIN_SIZES)}.")

    @property
    def record_kb(self) -> float:
        """Mean Firehose record size (KiB): the input, or the archiver's packing of one Lambda batch."""
        if self.firehose_record_kb is not None:
            return self.firehose_record_kb
        per_record = max(1, min(self.lambda_batch_size, math.floor(FIREHOSE_MAX_RECORD_KB / self.item_kb)))
        return per_record * self.item_kb


@dataclass(frozen=True)
class Scenario:
    """One way to hold the data. ``kind`` "dynamodb": everything stays in the table (of ``table_class``).
    ``kind`` "archive": TTL deletes items after ``hot_days`` and the pipeline writes them to S3 in
    ``storage_class``; with ``lifecycle_after_days`` objects are written to STANDARD and a lifecycle rule
    moves them to ``storage_class`` after that many days."""

    name: str
    kind: str
    table_class: str = "STANDARD"
    storage_class: str = "STANDARD"
    lifecycle_after_days: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("dynamodb", "archive"):
            raise ValueError(f"Unknown scenario kind {self.kind!r}: use 'dynamodb' or 'archive'.")
        _check_class(self.table_class, TABLE_CLASSES, "table class")
        _check_class(self.storage_class)
        if self.lifecycle_after_days is not None:
            if self.kind != "archive" or self.storage_class == "STANDARD":
                raise ValueError("lifecycle_after_days needs an archive scenario whose storage_class is not STANDARD")
            if self.lifecycle_after_days < 0:
                raise ValueError(f"lifecycle_after_days must be >= 0, got {self.lifecycle_after_days!r}")


BASELINE = "DynamoDB Standard"


def default_scenarios(lifecycle_after_days: float = 30) -> list[Scenario]:
    """The scenarios of the issue: two that keep everything in DynamoDB, five that write the archive
    straight into one S3 class, and Deep Archive reached by a lifecycle rule after N days."""
    return [
        Scenario(BASELINE, "dynamodb", table_class="STANDARD"),
        Scenario("DynamoDB Standard-IA", "dynamodb", table_class="STANDARD_IA"),
        *[Scenario(f"Archive to {CLASS_LABEL[c]}", "archive", storage_class=c) for c in STORAGE_CLASSES],
        Scenario(f"Archive to S3 Standard, Deep Archive after {lifecycle_after_days:g} d", "archive",
                 storage_class="DEEP_ARCHIVE", lifecycle_after_days=lifecycle_after_days),
    ]


# --------------------------------------------------------------------------------------------------
# Small formulas (each tested by hand)
# --------------------------------------------------------------------------------------------------

def dynamodb_storage_cost(gb: float, price_per_gb_month: float, free_gb: float = 0.0) -> float:
    """Monthly storage: ``max(gb - free_gb, 0) x price``. Tokyo, 100 GB: (100 - 25) x 0.285 = 21.375."""
    if gb < 0 or free_gb < 0 or price_per_gb_month < 0:
        raise ValueError("sizes and prices must be >= 0")
    return max(gb - free_gb, 0.0) * price_per_gb_month


def firehose_billed_kb(record_kb: float) -> float:
    """A record's billed size: rounded up to the next multiple of 5 KB (3 KB -> 5, 12 KB -> 15)."""
    if record_kb <= 0:
        raise ValueError(f"record_kb must be > 0, got {record_kb!r}")
    return math.ceil(round(record_kb / FIREHOSE_ROUNDING_KB, 9)) * FIREHOSE_ROUNDING_KB


def firehose_ingestion_cost(records: float, record_kb: float, price_per_gb: float) -> float:
    """``records x billed_kb(record_kb) / 1024**2 x price``."""
    return records * firehose_billed_kb(record_kb) / KB_PER_GB * price_per_gb


def billed_object_kb(object_kb: float, storage_class: str) -> tuple[float, float]:
    """(KB billed at the class rate, KB billed at the S3 Standard rate) for one object.

    STANDARD: (size, 0). STANDARD_IA / GLACIER_IR: (max(size, 128), 0). GLACIER / DEEP_ARCHIVE:
    (size + 32, 8). A 100 KB object in Standard-IA is billed as 128 KB.
    """
    _check_class(storage_class)
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


def transitions_allowed(object_kb: float, storage_class: str, lifecycle_min_size: str = "all_storage_classes_128K") -> bool:
    """Whether a lifecycle rule moves an object of ``object_kb`` into ``storage_class``.

    Default ``all_storage_classes_128K``: objects under 128 KB are never transitioned.
    ``varies_by_storage_class``: objects under 128 KB may go to GLACIER / DEEP_ARCHIVE only.
    """
    _check_class(storage_class)
    if lifecycle_min_size not in LIFECYCLE_MIN_SIZES:
        raise ValueError(f"Unknown lifecycle_min_size {lifecycle_min_size!r}")
    if object_kb >= LIFECYCLE_DEFAULT_MIN_KB:
        return True
    return lifecycle_min_size == "varies_by_storage_class" and storage_class in ("GLACIER", "DEEP_ARCHIVE")


def billed_storage_days(days_stored: float, storage_class: str) -> float:
    """Days billed for an object deleted after ``days_stored``: at least the class's minimum duration
    (STANDARD_IA 30, GLACIER_IR 90, GLACIER 90, DEEP_ARCHIVE 180); the difference is the early-delete fee."""
    _check_class(storage_class)
    if days_stored < 0:
        raise ValueError(f"days_stored must be >= 0, got {days_stored!r}")
    return max(days_stored, MIN_STORAGE_DAYS[storage_class])


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


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------

class _Prices:
    """Looks figures up on demand and remembers which ones a result used."""

    def __init__(self, book: PriceBook) -> None:
        self.book = book
        self.used: dict[tuple[str, str], Price] = {}

    def __call__(self, service: str, item: str, quantity) -> np.ndarray:
        quantity = np.asarray(quantity, dtype=float)
        if not np.any(quantity > 0):
            return np.zeros_like(quantity)
        p = self.book.get(service, item)
        self.used[(service, item)] = p
        return quantity * p.price

    def value(self, service: str, item: str) -> float:
        p = self.book.get(service, item)
        self.used[(service, item)] = p
        return p.price


@dataclass(frozen=True)
class ScenarioResult:
    """Monthly costs of one scenario. ``monthly``: index ``month`` 1..horizon, one USD column per
    component in :data:`COMPONENTS`. ``quantities``: the volumes behind them. ``prices_used``: every figure
    the result depends on; ``unverified``: those that are missing-and-borrowed or low confidence."""

    scenario: Scenario
    inputs: CostInputs
    monthly: pd.DataFrame
    quantities: pd.DataFrame
    prices_used: tuple[Price, ...]
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> pd.Series:
        return self.monthly.sum(axis=1).rename(self.scenario.name)

    @property
    def cumulative(self) -> pd.Series:
        return self.total.cumsum()

    @property
    def unverified(self) -> tuple[Price, ...]:
        return tuple(p for p in self.prices_used if not p.verified)

    def warnings(self) -> list[str]:
        return [p.describe() for p in self.unverified]


def _volumes(x: CostInputs) -> dict[str, np.ndarray | float]:
    """Table and archive volumes per month (see docs/cost-model.md, "Volumes")."""
    m = np.arange(1, x.horizon_months + 1, dtype=float)
    hot_cap = x.monthly_growth_gb * x.hot_days / DAYS_PER_MONTH
    total_end = x.table_gb + x.monthly_growth_gb * np.concatenate([[0.0], m])  # months 0..H
    hot_end = np.minimum(total_end, hot_cap)
    cold_end = total_end - hot_end
    archived_cum = np.concatenate([[0.0], cold_end[1:]])  # nothing archived before month 1
    return {
        "month": m,
        "table_all_gb": (total_end[:-1] + total_end[1:]) / 2,
        "table_hot_gb": (hot_end[:-1] + hot_end[1:]) / 2,
        "cold_gb": (cold_end[:-1] + cold_end[1:]) / 2,
        "archived_gb": np.diff(archived_cum),
        "backlog_gb": np.where(m == 1, cold_end[0], 0.0),
        "items_written": np.full_like(m, x.monthly_growth_gb * GIB / (x.item_kb * KIB)),
    }


def _overlap(start: np.ndarray, end: np.ndarray, horizon: int) -> np.ndarray:
    """Matrix [cohort, month]: fraction of month m (interval [m-1, m]) inside [start, end]."""
    lo = np.arange(horizon, dtype=float)[None, :]
    return np.clip(np.minimum(end[:, None], lo + 1) - np.maximum(start[:, None], lo), 0.0, 1.0)


def _in_month(t: np.ndarray, horizon: int) -> np.ndarray:
    """Matrix [cohort, month]: 1 where time t (months) falls in month m."""
    out = np.zeros((len(t), horizon))
    ok = np.isfinite(t) & (t >= 0) & (t < horizon)
    out[np.nonzero(ok)[0], np.floor(t[ok]).astype(int)] = 1.0
    return out


def compute_scenario(inputs: CostInputs, scenario: Scenario, book: PriceBook | None = None,
                     on_missing: str = "raise") -> ScenarioResult:
    """Monthly costs of ``scenario`` over ``inputs.horizon_months``.

    ``book`` defaults to the bundled prices of ``inputs.region`` with ``on_missing``. Raises
    MissingPriceError (a ValueError) naming any figure the scenario needs that is missing for the region
    when ``on_missing="raise"``; with "fallback" the other region's figure is used and reported in
    ``result.unverified``. Deterministic and side-effect free.
    """
    if book is None:
        book = PriceBook.load(inputs.region, on_missing=on_missing)
    elif book.region != inputs.region:
        raise ValueError(f"price book is for {book.region}, inputs for {inputs.region}")
    price = _Prices(book)
    x, s, H = inputs, scenario, inputs.horizon_months
    v = _volumes(x)
    zero = np.zeros(H)
    cost = {c: zero.copy() for c in COMPONENTS}
    q: dict[str, np.ndarray] = {"table_gb": zero.copy()}

    # --- DynamoDB: storage, writes, reads back -------------------------------------------------------
    table_gb = v["table_all_gb"] if s.kind == "dynamodb" else v["table_hot_gb"]
    q["table_gb"] = table_gb
    if s.table_class == "STANDARD":
        free = price.value("dynamodb", "storage_free_gb") if x.dynamodb_free_tier and np.any(table_gb > 0) else 0.0
        cost["dynamodb_storage"] = price("dynamodb", "storage_standard", np.maximum(table_gb - free, 0.0))
        wru, rru = "write_request_unit", "read_request_unit"
    else:
        cost["dynamodb_storage"] = price("dynamodb", "storage_standard_ia", table_gb)
        wru, rru = "write_request_unit_ia", "read_request_unit_ia"
    if x.include_writes:
        write_units = v["items_written"] * (1 + x.updates_per_item) * math.ceil(x.item_kb / DYNAMODB_WRU_KB)
        cost["dynamodb_writes"] = price("dynamodb", wru, write_units / 1e6)
    if s.kind == "dynamodb":
        # Reading back a share of the cold data with eventually consistent reads: 0.5 RRU per 4 KB.
        read_units = x.read_back_share * v["cold_gb"] * KB_PER_GB / DYNAMODB_RRU_KB * 0.5
        cost["dynamodb_reads"] = price("dynamodb", rru, read_units / 1e6)
        q["cold_gb_in_table"] = v["cold_gb"]
        return _result(s, x, cost, q, price)

    # --- Lambda -----------------------------------------------------------------------------------
    ttl_records = v["archived_gb"] * GIB / (x.item_kb * KIB)
    other_records = v["items_written"] * (1 + x.updates_per_item)
    handled = ttl_records if x.ttl_filter else ttl_records + other_records
    invocations = np.ceil(handled / x.lambda_batch_size)
    gb_s = (invocations * x.lambda_base_ms + handled * x.lambda_ms_per_item) / 1000 * x.lambda_memory_mb / 1024
    if x.lambda_free_tier:
        invocations_billed = np.maximum(invocations - price.value("lambda", "free_requests"), 0)
        gb_s_billed = np.maximum(gb_s - price.value("lambda", "free_gb_seconds"), 0)
    else:
        invocations_billed, gb_s_billed = invocations, gb_s
    cost["lambda_requests"] = price("lambda", "requests", invocations_billed / 1e6)
    duration_item = "duration_arm64" if x.lambda_architecture == "arm64" else "duration_x86"
    cost["lambda_duration"] = price("lambda", duration_item, gb_s_billed)
    q.update(lambda_invocations=invocations, lambda_gb_seconds=gb_s, ttl_records=ttl_records)

    # --- Firehose ---------------------------------------------------------------------------------
    record_kb = x.record_kb
    records = v["archived_gb"] * KB_PER_GB / record_kb
    billed_gb = records * firehose_billed_kb(record_kb) / KB_PER_GB
    cost["firehose_ingestion"] = price("firehose", "ingestion", billed_gb)
    q.update(firehose_records=records, firehose_billed_gb=billed_gb)

    # --- Objects: one cohort per month ------------------------------------------------------------
    backlog = v["backlog_gb"]
    steady = v["archived_gb"] - backlog
    backlog_records = backlog * KB_PER_GB / record_kb
    objects = np.array([
        firehose_objects(steady[i], x.buffer_size_mib, x.buffer_interval_s, records[i] - backlog_records[i])
        + (math.ceil(backlog[i] * 1024 / x.buffer_size_mib) if backlog[i] > 0 else 0)
        for i in range(H)
    ])
    stored_gb = v["archived_gb"] / x.compression_ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        object_kb = np.where(objects > 0, stored_gb * KB_PER_GB / objects, 0.0)
    q.update(objects_written=objects, object_kb=object_kb, archived_raw_gb=v["archived_gb"], archived_stored_gb=stored_gb)

    notes: list[str] = []
    target = s.storage_class
    padded = (objects > 0) & (object_kb < MIN_BILLABLE_KB)
    if target in ("STANDARD_IA", "GLACIER_IR") and s.lifecycle_after_days is None and padded.any():
        notes.append(f"Objects average {object_kb[padded].mean():.0f} KB in {int(padded.sum())} months: billed as "
                     f"{MIN_BILLABLE_KB} KB each in {CLASS_LABEL[target]}.")
    if target in ("GLACIER", "DEEP_ARCHIVE") and s.lifecycle_after_days is None and (objects > 0).any():
        share = ARCHIVE_OVERHEAD_CLASS_KB + ARCHIVE_OVERHEAD_STANDARD_KB
        notes.append(f"Each object carries {share} KB of archive overhead against a mean object of "
                     f"{(object_kb * objects).sum() / objects.sum():.0f} KB.")
    first_class = "STANDARD" if s.lifecycle_after_days is not None else target
    cost["s3_puts"] = price("s3", f"put_{_PRICE_SUFFIX[first_class]}", objects / 1000)

    start = v["month"] - 0.5  # objects arrive evenly: a cohort starts mid-month
    end = start + x.retention_days / DAYS_PER_MONTH
    if s.lifecycle_after_days is not None:
        moves = np.array([transitions_allowed(k, target, x.lifecycle_min_size) for k in object_kb]) & (objects > 0)
        move_at = start + s.lifecycle_after_days / DAYS_PER_MONTH
        moves &= move_at < end
        stuck = (objects > 0) & (object_kb < LIFECYCLE_DEFAULT_MIN_KB) & ~moves
        if stuck.any():
            notes.append(
                f"{int(stuck.sum())} of {int((objects > 0).sum())} monthly cohorts have objects under "
                f"{LIFECYCLE_DEFAULT_MIN_KB} KB (mean {object_kb[stuck].mean():.0f} KB) and are never transitioned "
                f"(lifecycle_min_size={x.lifecycle_min_size}): they stay in S3 Standard. Larger Firehose buffers avoid this.")
        switch = np.where(moves, move_at, end)
        transitions = _in_month(np.where(moves, move_at, np.inf), H).T @ objects
        cost["s3_transitions"] = price("s3", f"transition_{_PRICE_SUFFIX[target]}", transitions / 1000)
        q["transitions"] = transitions
        phases = [("STANDARD", start, switch), (target, switch, end)]
    else:
        moves = np.zeros(H, dtype=bool)
        phases = [(target, start, end)]

    for cls, a, b in phases:
        months_in = _overlap(a, b, H)  # [cohort, month]
        n = np.where(moves, objects, 0.0) if (s.lifecycle_after_days is not None and cls != "STANDARD") else objects
        data_gb = n * object_kb / KB_PER_GB
        class_kb, std_kb = np.array([billed_object_kb(k, cls) for k in object_kb]).T
        extra_class_gb = n * (class_kb - object_kb) / KB_PER_GB
        extra_std_gb = n * std_kb / KB_PER_GB
        suffix = _PRICE_SUFFIX[cls]
        cost["s3_storage"] = cost["s3_storage"] + price("s3", f"storage_{suffix}", months_in.T @ data_gb)
        cost["s3_object_overhead"] = (cost["s3_object_overhead"]
                                      + price("s3", f"storage_{suffix}", months_in.T @ extra_class_gb)
                                      + price("s3", "storage_standard", months_in.T @ extra_std_gb))
        q[f"stored_gb_{cls}"] = q.get(f"stored_gb_{cls}", zero) + months_in.T @ data_gb
        q[f"objects_{cls}"] = q.get(f"objects_{cls}", zero) + months_in.T @ n
        # Early deletion: deleted (at ``end``, inside the horizon) before the class minimum.
        if MIN_STORAGE_DAYS[cls] and b is end:
            short_days = np.maximum(MIN_STORAGE_DAYS[cls] - (b - a) * DAYS_PER_MONTH, 0.0)
            fee_gb_months = n * class_kb / KB_PER_GB * short_days / DAYS_PER_MONTH
            cost["s3_early_delete"] = cost["s3_early_delete"] + price(
                "s3", f"storage_{suffix}", _in_month(np.where(n > 0, end, np.inf), H).T @ fee_gb_months)
        # Reading back a share of what is stored in this class (average GB and objects of the month).
        read_gb = x.read_back_share * (months_in.T @ data_gb)
        read_objects = x.read_back_share * (months_in.T @ n)
        cost["s3_retrieval"] = cost["s3_retrieval"] + _retrieval(price, cls, read_gb, read_objects, x.retrieval_tier)
    return _result(s, x, cost, q, price, notes)


def _retrieval(price: _Prices, cls: str, gb: np.ndarray, objects: np.ndarray, tier: str) -> np.ndarray:
    """Reading back ``gb`` in ``objects``: GET requests, plus per-GB retrieval (IA, GIR) or a restore
    (request + per-GB, by tier) for GLACIER / DEEP_ARCHIVE."""
    suffix = _PRICE_SUFFIX[cls]
    out = price("s3", f"get_{suffix}", objects / 1000)
    if cls in ("STANDARD_IA", "GLACIER_IR"):
        out = out + price("s3", f"retrieval_{suffix}", gb)
    elif cls in ("GLACIER", "DEEP_ARCHIVE"):
        out = out + price("s3", f"restore_{suffix}_{tier}", objects / 1000) + price("s3", f"retrieval_{suffix}_{tier}", gb)
    return out


def _result(s: Scenario, x: CostInputs, cost: dict, q: dict, price: _Prices, notes: Sequence[str] = ()) -> ScenarioResult:
    index = pd.RangeIndex(1, x.horizon_months + 1, name="month")
    monthly = pd.DataFrame({c: np.asarray(cost[c], dtype=float) for c in COMPONENTS}, index=index)
    quantities = pd.DataFrame({k: np.asarray(val, dtype=float) for k, val in q.items()}, index=index)
    order = sorted(price.used.values(), key=lambda p: (p.service, p.item))
    return ScenarioResult(s, x, monthly, quantities, tuple(order), tuple(notes))


# --------------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """Several scenarios on the same inputs. ``skipped`` maps a scenario name to the reason it could not
    be computed (a missing figure, named); it is never silently dropped."""

    inputs: CostInputs
    results: dict[str, ScenarioResult]
    skipped: dict[str, str] = field(default_factory=dict)

    def monthly_totals(self) -> pd.DataFrame:
        return pd.DataFrame({name: r.total for name, r in self.results.items()})

    def cumulative(self) -> pd.DataFrame:
        return self.monthly_totals().cumsum()

    def unverified(self) -> dict[str, list[str]]:
        """Scenario name -> descriptions of the unverified figures it used."""
        return {name: r.warnings() for name, r in self.results.items() if r.unverified}

    def summary(self, baseline: str = BASELINE) -> pd.DataFrame:
        """One row per scenario: first and last month, total over the horizon, saving against
        ``baseline``, break-even month and how many unverified figures the row depends on."""
        totals = self.monthly_totals()
        even = break_even(self, baseline) if baseline in self.results else {}
        rows = []
        for name, r in self.results.items():
            rows.append({
                "scenario": name,
                "month_1_usd": totals[name].iloc[0],
                "last_month_usd": totals[name].iloc[-1],
                "total_usd": totals[name].sum(),
                "saving_vs_baseline_usd": totals[baseline].sum() - totals[name].sum() if baseline in totals else np.nan,
                "break_even_month": even.get(name),
                "unverified_figures": len(r.unverified),
            })
        out = pd.DataFrame(rows).set_index("scenario")
        out["break_even_month"] = out["break_even_month"].astype("Int64")
        return out


def compare(inputs: CostInputs, scenarios: Iterable[Scenario] | None = None, on_missing: str = "raise",
            book: PriceBook | None = None) -> Comparison:
    """Compute every scenario (default :func:`default_scenarios`). A scenario that needs a figure nobody
    has (even with fallback) goes to ``skipped`` with the error message naming the figure."""
    book = book or PriceBook.load(inputs.region, on_missing=on_missing)
    results, skipped = {}, {}
    for s in scenarios if scenarios is not None else default_scenarios():
        try:
            results[s.name] = compute_scenario(inputs, s, book)
        except MissingPriceError as err:
            skipped[s.name] = str(err)
    return Comparison(inputs, results, skipped)


def break_even(comparison: Comparison, baseline: str = BASELINE) -> dict[str, int | None]:
    """Scenario -> the first month from which its cumulative cost stays at or below the baseline's
    until the horizon (None if it never does). The baseline maps to None."""
    cum = comparison.cumulative()
    if baseline not in cum:
        raise ValueError(f"Unknown baseline {baseline!r}: one of {', '.join(cum.columns)}")
    out: dict[str, int | None] = {}
    for name in cum.columns:
        if name == baseline:
            out[name] = None
            continue
        ahead = (cum[name] <= cum[baseline] + 1e-9).to_numpy()
        if not ahead[-1]:
            out[name] = None
            continue
        behind = np.nonzero(~ahead)[0]
        out[name] = int(cum.index[behind[-1] + 1] if len(behind) else cum.index[0])
    return out


def buffer_sweep(inputs: CostInputs, scenarios: Iterable[Scenario], sizes_mib: Sequence[float] = (1, 2, 4, 8, 16, 32, 64, 128),
                 intervals_s: Sequence[float] | None = None, on_missing: str = "raise") -> pd.DataFrame:
    """Total cost over the horizon for each buffer size (and interval; default the inputs' one and 900 s).
    Columns: scenario, buffer_size_mib, buffer_interval_s, mean_object_kb, total_usd, s3_object_usd
    (PUTs + overhead + transitions + early deletes: the per-object part)."""
    scenarios = list(scenarios)
    intervals = list(intervals_s) if intervals_s is not None else sorted({inputs.buffer_interval_s, 900.0})
    book = PriceBook.load(inputs.region, on_missing=on_missing)
    rows = []
    for interval in intervals:
        for size in sizes_mib:
            x = replace(inputs, buffer_size_mib=float(size), buffer_interval_s=float(interval))
            for s in scenarios:
                r = compute_scenario(x, s, book)
                q = r.quantities
                weights = q["objects_written"] if "objects_written" in q and q["objects_written"].sum() else None
                mean_kb = float(np.average(q["object_kb"], weights=weights)) if weights is not None else np.nan
                per_object = r.monthly[["s3_puts", "s3_object_overhead", "s3_transitions", "s3_early_delete"]].sum().sum()
                rows.append({"scenario": s.name, "buffer_size_mib": float(size), "buffer_interval_s": float(interval),
                             "mean_object_kb": mean_kb, "total_usd": r.total.sum(), "s3_object_usd": per_object})
    return pd.DataFrame(rows)


def lambda_filter_comparison(inputs: CostInputs, on_missing: str = "raise") -> pd.DataFrame:
    """Lambda cost over the horizon with and without the TTL event filter (any archive scenario: Lambda
    does not depend on the storage class)."""
    s = Scenario("archive", "archive")
    book = PriceBook.load(inputs.region, on_missing=on_missing)
    rows = []
    for flag in (True, False):
        r = compute_scenario(replace(inputs, ttl_filter=flag), s, book)
        rows.append({"ttl_filter": flag, "invocations": r.quantities["lambda_invocations"].sum(),
                     "requests_usd": r.monthly["lambda_requests"].sum(), "duration_usd": r.monthly["lambda_duration"].sum()})
    return pd.DataFrame(rows).set_index("ttl_filter")


def firehose_record_comparison(inputs: CostInputs, on_missing: str = "raise") -> pd.DataFrame:
    """Firehose ingestion over the horizon with the archiver's packing against one item per record.
    Columns: record_kb, billed_kb (rounded up to 5 KB), records, billed_gb, ingestion_usd."""
    s = Scenario("archive", "archive")
    book = PriceBook.load(inputs.region, on_missing=on_missing)
    rows = []
    for label, record_kb in (("packed (archiver)", None), ("one item per record", inputs.item_kb)):
        x = replace(inputs, firehose_record_kb=record_kb)
        r = compute_scenario(x, s, book)
        rows.append({"records": label, "record_kb": x.record_kb, "billed_kb": firehose_billed_kb(x.record_kb),
                     "firehose_records": r.quantities["firehose_records"].sum(),
                     "billed_gb": r.quantities["firehose_billed_gb"].sum(),
                     "ingestion_usd": r.monthly["firehose_ingestion"].sum()})
    return pd.DataFrame(rows).set_index("records")


# --------------------------------------------------------------------------------------------------
# Inputs from an existing archive
# --------------------------------------------------------------------------------------------------

ITEM_SIZE_COLUMNS = ("record_bytes", "item_size", "line_bytes", "size_bytes", "item_bytes", "size")
TIME_COLUMNS = ("last_modified", "stored_at")


@dataclass(frozen=True)
class ArchiveStats:
    """What an archive tells the model. Sizes in KiB; ``compression_ratio`` is None without item sizes."""

    objects: int
    days: float
    objects_per_day: float
    mean_object_kb: float
    stored_gb: float
    mean_item_kb: float | None
    items: int | None
    compression_ratio: float | None

    def overrides(self) -> dict[str, float]:
        """Fields of CostInputs this archive can set: ``item_kb`` and ``compression_ratio`` (when known)."""
        out: dict[str, float] = {}
        if self.mean_item_kb:
            out["item_kb"] = min(self.mean_item_kb, 400.0)
        if self.compression_ratio:
            out["compression_ratio"] = self.compression_ratio
        return out


def archive_stats(objects: pd.DataFrame, items: pd.DataFrame | None = None, item_size_column: str | None = None) -> ArchiveStats:
    """Summarise an archive for the model.

    ``objects``: one row per S3 object with ``key``, ``size`` (stored bytes, i.e. compressed) and
    ``last_modified`` or ``stored_at`` (datetime or ISO string), as in ``archive_reader``'s ``objects``.
    ``items``: one row per archived item with its uncompressed size in bytes, in ``item_size_column``
    (default: the first of ITEM_SIZE_COLUMNS present, e.g. ``record_bytes`` of ``archive_reader``'s
    ``frame``). ``compression_ratio`` = sum of item sizes / sum of object sizes, so ``items`` must cover
    the same objects. ``days`` spans the first to the last ``last_modified`` (at least one day).
    Raises ValueError on missing columns, negative sizes or an empty frame.
    """
    time_col = next((c for c in TIME_COLUMNS if c in objects.columns), "last_modified")
    missing = {"key", "size", time_col} - set(objects.columns)
    if missing:
        raise ValueError(f"objects needs columns key, size, last_modified (or stored_at); missing {sorted(missing)}")
    if objects.empty:
        raise ValueError("objects is empty: nothing archived yet")
    sizes = pd.to_numeric(objects["size"], errors="raise")
    if (sizes < 0).any():
        raise ValueError("objects.size has negative values")
    times = pd.to_datetime(objects[time_col], utc=True)
    days = max((times.max() - times.min()).total_seconds() / 86_400, 1.0)
    stored_bytes = float(sizes.sum())
    mean_item_kb = n_items = ratio = None
    if items is not None and not items.empty:
        col = item_size_column or next((c for c in ITEM_SIZE_COLUMNS if c in items.columns), None)
        if col is None or col not in items.columns:
            raise ValueError(f"items needs an item size column (one of {', '.join(ITEM_SIZE_COLUMNS)} or item_size_column=)")
        item_sizes = pd.to_numeric(items[col], errors="raise")
        if (item_sizes < 0).any():
            raise ValueError(f"items.{col} has negative values")
        n_items = int(len(item_sizes))
        mean_item_kb = float(item_sizes.mean()) / KIB
        ratio = float(item_sizes.sum()) / stored_bytes if stored_bytes > 0 else None
    return ArchiveStats(
        objects=int(len(objects)), days=days, objects_per_day=len(objects) / days,
        mean_object_kb=stored_bytes / len(objects) / KIB, stored_gb=stored_bytes / GIB,
        mean_item_kb=mean_item_kb, items=n_items, compression_ratio=ratio,
    )
