"""Several scenarios on the same inputs: :func:`compare`, the break-even month and the sweeps behind the
charts. A scenario that cannot be computed is a visible row with its reason, never dropped."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..pricing import MissingPriceError, PriceBook
from .inputs import ARCHIVE_STANDARD, BASELINE, CostInputs, Scenario, default_scenarios
from .model import ScenarioResult, compute_scenario
from .rules import HOURS_PER_MONTH, firehose_billed_kb


@dataclass(frozen=True)
class Comparison:
    """Several scenarios on the same inputs. ``skipped`` maps a scenario name to the reason it could not
    be computed (a missing figure, named); :meth:`summary` shows it as a row, never drops it."""

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

    def covers(self) -> str:
        """What the totals cover, in words (the month convention of docs/cost-model.md)."""
        h = self.inputs.horizon_months
        kept = {n: r.stored_gb_at_end for n, r in self.results.items() if r.stored_gb_at_end > 0}
        text = (f"Totals are the sum of the bills of months 1-{h} ({HOURS_PER_MONTH:.0f}-hour billing months; storage "
                f"prorated by the hour, so data written during a month pays for part of it). They include every PUT, "
                f"transition and early-deletion charge that falls inside those months, and nothing after month {h}")
        if kept:
            text += (f": data still stored at the end of month {h} (for example {max(kept.values()):,.0f} GB in "
                     f"'{max(kept, key=kept.get)}') goes on being billed after the horizon")
        return text + "."

    def summary(self, baseline: str = BASELINE) -> pd.DataFrame:
        """One row per scenario, computed or not: first and last month, total over the horizon, saving
        against ``baseline``, break-even month, how many unverified figures the row depends on, and
        ``status`` ("computed" or "NOT COMPUTED: <reason>")."""
        totals = self.monthly_totals()
        even = break_even(self, baseline) if baseline in self.results else {}
        rows = []
        for name, r in self.results.items():
            rows.append({
                "scenario": name, "month_1_usd": totals[name].iloc[0], "last_month_usd": totals[name].iloc[-1],
                "total_usd": totals[name].sum(),
                "saving_vs_baseline_usd": totals[baseline].sum() - totals[name].sum() if baseline in totals else np.nan,
                "break_even_month": even.get(name), "unverified_figures": len(r.unverified), "status": "computed",
            })
        for name, reason in self.skipped.items():
            rows.append({"scenario": name, "month_1_usd": np.nan, "last_month_usd": np.nan, "total_usd": np.nan,
                         "saving_vs_baseline_usd": np.nan, "break_even_month": None, "unverified_figures": 0,
                         "status": f"NOT COMPUTED: {reason}"})
        out = pd.DataFrame(rows).set_index("scenario")
        out["break_even_month"] = out["break_even_month"].astype("Int64")
        return out


def compare(inputs: CostInputs, scenarios: Iterable[Scenario] | None = None, on_missing: str = "raise",
            book: PriceBook | None = None) -> Comparison:
    """Compute every scenario (default :func:`default_scenarios`). A scenario that needs a figure nobody
    has (even with fallback) goes to ``skipped`` with the error message naming the figure, and shows as
    a "NOT COMPUTED" row of :meth:`Comparison.summary`."""
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
                weights = q["objects_written"] if q["objects_written"].sum() else None
                mean_kb = float(np.average(q["object_kb"], weights=weights)) if weights is not None else np.nan
                per_object = r.monthly[["s3_puts", "s3_object_overhead", "s3_transitions", "s3_early_delete"]].sum().sum()
                rows.append({"scenario": s.name, "buffer_size_mib": float(size), "buffer_interval_s": float(interval),
                             "mean_object_kb": mean_kb, "total_usd": r.total.sum(), "s3_object_usd": per_object})
    return pd.DataFrame(rows)


def lambda_filter_comparison(inputs: CostInputs, on_missing: str = "raise") -> pd.DataFrame:
    """Lambda cost over the horizon with and without the TTL event filter (any archive scenario: Lambda
    does not depend on the storage class)."""
    s = Scenario(ARCHIVE_STANDARD, "archive")
    book = PriceBook.load(inputs.region, on_missing=on_missing)
    rows = []
    for flag in (True, False):
        r = compute_scenario(replace(inputs, ttl_filter=flag), s, book)
        rows.append({"ttl_filter": flag, "invocations": int(r.quantities["lambda_invocations"].sum()),
                     "requests_usd": r.monthly["lambda_requests"].sum(), "duration_usd": r.monthly["lambda_duration"].sum()})
    return pd.DataFrame(rows).set_index("ttl_filter")


def firehose_record_comparison(inputs: CostInputs, on_missing: str = "raise") -> pd.DataFrame:
    """Firehose ingestion over the horizon with the archiver's packing against one item per record.
    Columns: record_kb, billed_kb (rounded up to 5 KB), records, billed_gb, ingestion_usd."""
    s = Scenario(ARCHIVE_STANDARD, "archive")
    book = PriceBook.load(inputs.region, on_missing=on_missing)
    rows = []
    for label, record_kb in (("packed (archiver)", None), ("one item per record", inputs.item_kb)):
        x = replace(inputs, firehose_record_kb=record_kb)
        r = compute_scenario(x, s, book)
        rows.append({"records": label, "record_kb": x.record_kb, "billed_kb": firehose_billed_kb(x.record_kb),
                     "firehose_records": int(round(r.quantities["firehose_records"].sum())),
                     "billed_gb": r.quantities["firehose_billed_gb"].sum(),
                     "ingestion_usd": r.monthly["firehose_ingestion"].sum()})
    return pd.DataFrame(rows).set_index("records")
