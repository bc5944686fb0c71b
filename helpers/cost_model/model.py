"""The monthly bill of one scenario: :func:`compute_scenario`.

Month *m* is the billing month [m-1, m) of 730 hours; storage is billed for the hours data is present
(GB-months prorated by the hour). Items expire evenly through a month, so a monthly cohort of archive
objects is written mid-month on average (it pays half of its first month). The backlog (items that had
already expired when TTL was turned on) is archived at the start of month 1. Lifecycle actions happen at
the next midnight UTC after N days (N + 0.5 days on average). Every formula is in docs/cost-model.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..pricing import Price, PriceBook
from .inputs import CostInputs, Scenario
from .rules import (ARCHIVE_OVERHEAD_CLASS_KB, ARCHIVE_OVERHEAD_STANDARD_KB, CLASS_LABEL, DAYS_PER_MONTH, DYNAMODB_RRU_KB,
                    DYNAMODB_WRU_KB, GIB, KB_PER_GB, KIB, LIFECYCLE_DEFAULT_MIN_KB, MIN_BILLABLE_KB,
                    MIN_STORAGE_DAYS, PRICE_SUFFIX, billed_object_kb, days_to_months, dynamodb_billed_gb,
                    firehose_billed_kb, firehose_objects, lifecycle_action_days, transitions_allowed)

COMPONENTS = (
    "dynamodb_storage", "dynamodb_writes", "dynamodb_reads",
    "lambda_requests", "lambda_duration", "firehose_ingestion",
    "s3_puts", "s3_storage", "s3_object_overhead", "s3_transitions", "s3_early_delete", "s3_retrieval",
)


class _Prices:
    """Looks figures up on demand (only for non-zero quantities) and remembers which ones a result used."""

    def __init__(self, book: PriceBook) -> None:
        self.book = book
        self.used: dict[tuple[str, str], Price] = {}

    def __call__(self, service: str, item: str, quantity) -> np.ndarray:
        quantity = np.asarray(quantity, dtype=float)
        if not np.any(quantity > 0):
            return np.zeros_like(quantity)
        return quantity * self.value(service, item)

    def value(self, service: str, item: str) -> float:
        p = self.book.get(service, item)
        self.used[(service, item)] = p
        return p.price


@dataclass(frozen=True)
class ScenarioResult:
    """Monthly costs of one scenario. ``monthly``: index ``month`` 1..horizon, one USD column per
    component in :data:`COMPONENTS`. ``quantities``: the volumes behind them. ``prices_used``: every figure
    the result depends on; ``unverified``: those that are missing-and-borrowed or low confidence.
    ``stored_gb_at_end``: GB still stored when the horizon ends (their later bills are not in the totals)."""

    scenario: Scenario
    inputs: CostInputs
    monthly: pd.DataFrame
    quantities: pd.DataFrame
    prices_used: tuple[Price, ...]
    notes: tuple[str, ...] = ()
    stored_gb_at_end: float = 0.0

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


def volumes(x: CostInputs) -> dict[str, np.ndarray]:
    """Table and archive volumes per month (docs/cost-model.md, "Volumes"): GB of item data."""
    m = np.arange(1, x.horizon_months + 1, dtype=float)
    hot_cap = x.monthly_growth_gb * days_to_months(x.hot_days)
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
        "table_all_end_gb": total_end[-1:], "table_hot_end_gb": hot_end[-1:],
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
    """Monthly costs of ``scenario`` over ``inputs.horizon_months`` (730-hour billing months).

    ``book`` defaults to the bundled prices of ``inputs.region`` with ``on_missing``. Raises
    MissingPriceError (a ValueError) naming any figure the scenario needs that is missing for the region
    when ``on_missing="raise"``; with "fallback" the other region's figure is used and reported in
    ``result.unverified``. Deterministic and side-effect free.
    """
    if book is None:
        book = PriceBook.load(inputs.region, on_missing=on_missing)
    elif book.region != inputs.region:
        raise ValueError(f"price book is for {book.region}, inputs for {inputs.region}")
    price, x, s, v = _Prices(book), inputs, scenario, volumes(inputs)
    cost = {c: np.zeros(x.horizon_months) for c in COMPONENTS}
    q: dict[str, np.ndarray] = {}
    _dynamodb(price, x, s, v, cost, q)
    if s.kind == "dynamodb":
        end_gb = float(dynamodb_billed_gb(v["table_all_end_gb"][0], x.item_kb))
        return _result(s, x, cost, q, price, (), end_gb)
    _lambda_and_firehose(price, x, v, cost, q)
    notes, end_gb = _s3(price, x, s, v, cost, q)
    return _result(s, x, cost, q, price, notes, end_gb)


def _dynamodb(price: _Prices, x: CostInputs, s: Scenario, v: dict, cost: dict, q: dict) -> None:
    """Storage (data + 100 bytes per item, the free tier shared with the account's other tables),
    the application's writes and, for the DynamoDB scenarios, reading back a share of the cold data."""
    data_gb = v["table_all_gb"] if s.kind == "dynamodb" else v["table_hot_gb"]
    billed_gb = dynamodb_billed_gb(1.0, x.item_kb) * data_gb
    q.update(table_data_gb=data_gb, table_billed_gb=billed_gb)
    if s.table_class == "STANDARD":
        free = price.value("dynamodb", "storage_free_gb") if x.dynamodb_free_tier and np.any(billed_gb > 0) else 0.0
        other = x.other_tables_gb
        chargeable = np.maximum(billed_gb + other - free, 0.0) - max(other - free, 0.0)
        cost["dynamodb_storage"] = price("dynamodb", "storage_standard", chargeable)
        wru, rru = "write_request_unit", "read_request_unit"
    else:
        cost["dynamodb_storage"] = price("dynamodb", "storage_standard_ia", billed_gb)
        wru, rru = "write_request_unit_ia", "read_request_unit_ia"
    if x.include_writes:
        write_units = v["items_written"] * (1 + x.updates_per_item) * math.ceil(x.item_kb / DYNAMODB_WRU_KB)
        cost["dynamodb_writes"] = price("dynamodb", wru, write_units / 1e6)
    if s.kind == "dynamodb":
        # Reading back a share of the cold data with eventually consistent reads: 0.5 RRU per 4 KB.
        read_units = x.read_back_share * v["cold_gb"] * KB_PER_GB / DYNAMODB_RRU_KB * 0.5
        cost["dynamodb_reads"] = price("dynamodb", rru, read_units / 1e6)
        q["cold_gb_in_table"] = v["cold_gb"]


def _lambda_and_firehose(price: _Prices, x: CostInputs, v: dict, cost: dict, q: dict) -> None:
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
    records = v["archived_gb"] * KB_PER_GB / x.record_kb
    billed_gb = records * firehose_billed_kb(x.record_kb) / KB_PER_GB
    cost["firehose_ingestion"] = price("firehose", "ingestion", billed_gb)
    q.update(lambda_invocations=invocations, lambda_gb_seconds=gb_s, ttl_records=ttl_records,
             firehose_records=records, firehose_billed_gb=billed_gb)


def cohorts(x: CostInputs, v: dict) -> dict[str, np.ndarray]:
    """Archive objects as cohorts: the backlog (written at t=0, whole buffers) then one cohort per month
    (written mid-month). Arrays of length H + 1: start (months), objects, object_kb (stored, compressed)."""
    backlog = float(v["backlog_gb"][0])
    steady = v["archived_gb"] - v["backlog_gb"]
    steady_records = steady * KB_PER_GB / x.record_kb
    steady_objects = np.array([firehose_objects(g, x.buffer_size_mib, x.buffer_interval_s, r)
                               for g, r in zip(steady, steady_records)])
    backlog_objects = math.ceil(round(backlog * 1024 / x.buffer_size_mib, 9)) if backlog > 0 else 0
    raw_gb = np.concatenate([[backlog], steady])
    objects = np.concatenate([[backlog_objects], steady_objects])
    stored_gb = raw_gb / x.compression_ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        object_kb = np.where(objects > 0, stored_gb * KB_PER_GB / objects, 0.0)
    start = np.concatenate([[0.0], v["month"] - 0.5])
    return {"start": start, "objects": objects, "object_kb": object_kb, "stored_gb": stored_gb}


def _s3(price: _Prices, x: CostInputs, s: Scenario, v: dict, cost: dict, q: dict) -> tuple[list[str], float]:
    """PUTs into S3 Standard, storage per class with the per-object overheads, lifecycle transitions,
    early deletion and retrieval. Returns the notes and the GB still stored at the end of the horizon."""
    H, c = x.horizon_months, cohorts(x, v)
    start, objects, object_kb = c["start"], c["objects"], c["object_kb"]
    per_month = _in_month(start, H).T  # [month, cohort]: the month each cohort is written in
    q.update(objects_written=per_month @ objects, archived_raw_gb=v["archived_gb"], archived_stored_gb=per_month @ c["stored_gb"])
    with np.errstate(divide="ignore", invalid="ignore"):
        q["object_kb"] = np.where(q["objects_written"] > 0, q["archived_stored_gb"] * KB_PER_GB / q["objects_written"], 0.0)
    cost["s3_puts"] = price("s3", "put_standard", q["objects_written"] / 1000)
    end = start + days_to_months(lifecycle_action_days(x.retention_days))
    notes: list[str] = []
    target, moves = s.storage_class, np.zeros(len(start), dtype=bool)
    switch = end
    if s.lifecycle_after_days is not None:
        allowed = np.array([transitions_allowed(k, target, x.lifecycle_min_size, s.object_size_greater_than_kb)
                            for k in object_kb])
        move_at = start + days_to_months(lifecycle_action_days(s.lifecycle_after_days))
        moves = allowed & (objects > 0) & (move_at < end)
        stuck = (objects > 0) & ~allowed
        if stuck.any():
            rule = (f"ObjectSizeGreaterThan={s.object_size_greater_than_kb:g} KB" if s.object_size_greater_than_kb is not None
                    else f"the {LIFECYCLE_DEFAULT_MIN_KB} KB default minimum ({x.lifecycle_min_size})")
            share, mean_kb = objects[stuck].sum() / objects[objects > 0].sum(), np.average(object_kb[stuck], weights=objects[stuck])
            notes.append(f"{share:.0%} of the objects (mean {mean_kb:.0f} KB) are "
                         f"never transitioned because of {rule}: they stay in S3 Standard.")
        switch = np.where(moves, move_at, end)
        transitions = _in_month(np.where(moves, move_at, np.inf), H).T @ objects
        cost["s3_transitions"] = price("s3", f"transition_{PRICE_SUFFIX[target]}", transitions / 1000)
        q["transitions"] = transitions
    phases = [("STANDARD", start, switch, np.ones(len(start), dtype=bool))]
    if moves.any():
        phases.append((target, switch, end, moves))
    for cls, a, b, members in phases:
        _storage_phase(price, x, cls, a, b, np.where(members, objects, 0.0), object_kb, cost, q)
    if target in ("STANDARD_IA", "GLACIER_IR") and moves.any() and (object_kb[moves] < MIN_BILLABLE_KB).any():
        notes.append(f"Objects under {MIN_BILLABLE_KB} KB are billed as {MIN_BILLABLE_KB} KB each in {CLASS_LABEL[target]}.")
    if target in ("GLACIER", "DEEP_ARCHIVE") and moves.any():
        share = ARCHIVE_OVERHEAD_CLASS_KB + ARCHIVE_OVERHEAD_STANDARD_KB
        mean = (object_kb[moves] * objects[moves]).sum() / objects[moves].sum()
        notes.append(f"Each object carries {share} KB of archive overhead against a mean object of {mean:.0f} KB.")
    alive = (end > H) & (objects > 0)
    return notes, float(c["stored_gb"][alive].sum())


def _storage_phase(price: _Prices, x: CostInputs, cls: str, a: np.ndarray, b: np.ndarray, n: np.ndarray,
                   object_kb: np.ndarray, cost: dict, q: dict) -> None:
    """Cohorts holding ``n`` objects in ``cls`` from ``a`` to ``b`` (months): storage, overheads,
    the early-deletion charge when ``b`` is a deletion inside the horizon, and reading back."""
    H = x.horizon_months
    months_in = _overlap(a, b, H)  # [cohort, month]
    data_gb = n * object_kb / KB_PER_GB
    class_kb, std_kb = np.array([billed_object_kb(k, cls) for k in object_kb]).T
    suffix = PRICE_SUFFIX[cls]
    cost["s3_storage"] += price("s3", f"storage_{suffix}", months_in.T @ data_gb)
    cost["s3_object_overhead"] += (price("s3", f"storage_{suffix}", months_in.T @ (n * (class_kb - object_kb) / KB_PER_GB))
                                   + price("s3", "storage_standard", months_in.T @ (n * std_kb / KB_PER_GB)))
    q[f"stored_gb_{cls}"] = q.get(f"stored_gb_{cls}", np.zeros(H)) + months_in.T @ data_gb
    q[f"objects_{cls}"] = q.get(f"objects_{cls}", np.zeros(H)) + months_in.T @ n
    if MIN_STORAGE_DAYS[cls]:
        # Deleted (by the expiration at ``b``) before the class minimum: the missing days are charged then.
        short_days = np.maximum(MIN_STORAGE_DAYS[cls] - (b - a) * DAYS_PER_MONTH, 0.0)
        fee_gb_months = n * class_kb / KB_PER_GB * days_to_months(short_days)
        cost["s3_early_delete"] += price("s3", f"storage_{suffix}", _in_month(np.where(n > 0, b, np.inf), H).T @ fee_gb_months)
    read_gb = x.read_back_share * (months_in.T @ data_gb)
    read_objects = x.read_back_share * (months_in.T @ n)
    cost["s3_retrieval"] += _retrieval(price, cls, read_gb, read_objects, x.retrieval_tier)


def _retrieval(price: _Prices, cls: str, gb: np.ndarray, objects: np.ndarray, tier: str) -> np.ndarray:
    """Reading back ``gb`` in ``objects``: GET requests, plus per-GB retrieval (IA, GIR) or a restore
    (request + per-GB, by tier) for GLACIER / DEEP_ARCHIVE."""
    suffix = PRICE_SUFFIX[cls]
    out = price("s3", f"get_{suffix}", objects / 1000)
    if cls in ("STANDARD_IA", "GLACIER_IR"):
        out = out + price("s3", f"retrieval_{suffix}", gb)
    elif cls in ("GLACIER", "DEEP_ARCHIVE"):
        out = out + price("s3", f"restore_{suffix}_{tier}", objects / 1000) + price("s3", f"retrieval_{suffix}_{tier}", gb)
    return out


def _result(s: Scenario, x: CostInputs, cost: dict, q: dict, price: _Prices, notes: Sequence[str] = (),
            end_gb: float = 0.0) -> ScenarioResult:
    index = pd.RangeIndex(1, x.horizon_months + 1, name="month")
    monthly = pd.DataFrame({c: np.asarray(cost[c], dtype=float) for c in COMPONENTS}, index=index)
    quantities = pd.DataFrame({k: np.asarray(val, dtype=float) for k, val in q.items()}, index=index)
    order = sorted(price.used.values(), key=lambda p: (p.service, p.item))
    return ScenarioResult(s, x, monthly, quantities, tuple(order), tuple(notes), end_gb)
