"""The answer, computed: whether archiving pays and from which month, the smallest object size at which
each Glacier transition pays for itself, the Firehose buffering that reaches it, and what the lifecycle
128 KB default does to the plan. :func:`answer` returns numbers and :meth:`Answer.text` says them in words.

Per-object economics (``object_window_costs``): one object of ``k`` KB written to S3 Standard at t=0,
expired after ``retention_days``, looked at over a window of W months. Kept in Standard it costs
``k x Ps x D`` (D = min(W, expiry)). Moved after N days (at t0 = N + 0.5 days) it costs
``k x Ps x t0 + transition fee + billed_class_kb(k) x Pc x (D - t0) + 8 KB x Ps x (D - t0)`` (GLACIER,
DEEP_ARCHIVE; 128 KB minimum for GLACIER_IR / STANDARD_IA) plus the early-deletion charge when it expires
inside the window before the class minimum. The transition pays from the smallest k where the second is
not above the first (the difference grows with k, so bisection finds it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd

from ..pricing import PriceBook
from .compare import Comparison, break_even, compare
from .inputs import ARCHIVE_STANDARD, BASELINE, CostInputs, lifecycle_scenario
from .rules import (CLASS_LABEL, DAYS_PER_MONTH, GLACIER_CLASSES, IA_MIN_DAYS_IN_STANDARD, KB_PER_GB, LIFECYCLE_DEFAULT_MIN_KB,
                    MIN_STORAGE_DAYS, PRICE_SUFFIX, SECONDS_PER_MONTH, billed_object_kb, days_to_months,
                    lifecycle_action_days, object_kb_for_flow, transitions_allowed)

MAX_OBJECT_KB = 5 * 1024**3  # S3's 5 TB object limit


def object_window_costs(book: PriceBook, storage_class: str, object_kb: float, after_days: float,
                        retention_days: float, window_months: float) -> tuple[float, float]:
    """(USD kept in S3 Standard, USD moved to ``storage_class`` after ``after_days``) for one object of
    ``object_kb`` over its first ``window_months`` (see the module docstring). Prices from ``book``."""
    ps = book.get("s3", "storage_standard").price / KB_PER_GB
    pc = book.get("s3", f"storage_{PRICE_SUFFIX[storage_class]}").price / KB_PER_GB
    fee = book.get("s3", f"transition_{PRICE_SUFFIX[storage_class]}").price / 1000
    expiry = days_to_months(lifecycle_action_days(retention_days))
    span = min(window_months, expiry)
    standard = object_kb * ps * span
    t0 = days_to_months(lifecycle_action_days(after_days))
    if t0 >= span:
        return standard, standard  # not moved within the window
    stay = span - t0
    class_kb, std_kb = billed_object_kb(object_kb, storage_class)
    moved = object_kb * ps * t0 + fee + class_kb * pc * stay + std_kb * ps * stay
    if expiry <= window_months:
        moved += class_kb * pc * max(MIN_STORAGE_DAYS[storage_class] / DAYS_PER_MONTH - (expiry - t0), 0.0)
    return standard, moved


def break_even_object_kb(book: PriceBook, storage_class: str, after_days: float, retention_days: float,
                         window_months: float) -> float | None:
    """Smallest object size (KB) at which moving to ``storage_class`` costs no more than staying in S3
    Standard over ``window_months``; None when no object size pays within the window."""

    def pays(k: float) -> bool:
        standard, moved = object_window_costs(book, storage_class, k, after_days, retention_days, window_months)
        return moved <= standard + 1e-15

    if not pays(MAX_OBJECT_KB) or math.isclose(*object_window_costs(book, storage_class, MAX_OBJECT_KB, after_days,
                                                                     retention_days, window_months)):
        return None
    lo, hi = 0.0, float(MAX_OBJECT_KB)
    if pays(lo):
        return 0.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if pays(mid) else (mid, hi)
        if hi - lo < 1e-6:
            break
    return hi


def object_size_curve(book: PriceBook, after_days: float, retention_days: float, window_months: float,
                      sizes_kb: Sequence[float] | None = None,
                      classes: Sequence[str] = ("STANDARD", "STANDARD_IA", *GLACIER_CLASSES)) -> pd.DataFrame:
    """USD per GB stored over the window against the object size, one column per class ("STANDARD" =
    never moved); index ``object_kb``. STANDARD_IA uses max(after_days, 30)."""
    sizes = np.asarray(sizes_kb if sizes_kb is not None else np.geomspace(1, 128 * 1024, 120), dtype=float)
    out = {}
    for cls in classes:
        days = max(after_days, 30) if cls == "STANDARD_IA" else after_days
        costs = [object_window_costs(book, "GLACIER" if cls == "STANDARD" else cls, k, days, retention_days,
                                     window_months)[0 if cls == "STANDARD" else 1] for k in sizes]
        out[cls] = np.asarray(costs) / (sizes / KB_PER_GB)
    return pd.DataFrame(out, index=pd.Index(sizes, name="object_kb"))


def buffer_for_object_kb(inputs: CostInputs, object_kb: float) -> dict:
    """The Firehose buffering hints that make objects of at least ``object_kb`` (stored, compressed) for a
    steady flow of ``inputs.monthly_growth_gb`` a month. Keys: size_mib, interval_s (None when out of
    Firehose's 1-128 MiB / 0-900 s), reachable, max_object_kb (128 MiB and 900 s), flow_mib_per_s."""
    flow = inputs.monthly_growth_gb * 1024 / SECONDS_PER_MONTH
    raw_mib = object_kb * inputs.compression_ratio / 1024
    size = max(1, math.ceil(raw_mib - 1e-9))
    interval = math.ceil(raw_mib / flow - 1e-9) if flow > 0 else None
    max_kb = object_kb_for_flow(inputs.monthly_growth_gb, 128, 900, inputs.compression_ratio)
    ok = size <= 128 and interval is not None and interval <= 900
    return {"size_mib": size if size <= 128 else None, "interval_s": interval if interval is not None and interval <= 900 else None,
            "reachable": ok, "max_object_kb": max_kb, "flow_mib_per_s": flow}


@dataclass(frozen=True)
class Answer:
    """Everything :meth:`text` says, as numbers."""

    comparison: Comparison
    after_days: float
    best: str | None
    best_total: float
    baseline_total: float
    from_month: int | None
    object_kb_now: float
    break_even_kb: dict = field(default_factory=dict)  # class -> {"horizon": kb|None, "12 months": kb|None}; IA too
    buffers: dict = field(default_factory=dict)  # class -> buffer_for_object_kb(...) for the horizon figure
    filter_effect: dict = field(default_factory=dict)  # class -> (moves by default, USD default, USD with filter 0)

    def text(self) -> str:
        """The answer in words (markdown), every figure computed from the inputs in force."""
        x, h = self.comparison.inputs, self.comparison.inputs.horizon_months
        lines = [f"**For these inputs ({x.region}, {h} months):**", ""]
        if self.best is None:
            lines.append("- No archive scenario could be computed (see the NOT COMPUTED rows above).")
        elif self.best_total < self.baseline_total:
            when = f"from month {self.from_month} on" if self.from_month else "only at the end of the horizon"
            lines.append(f"- **Archiving pays.** The cheapest plan, *{self.best}*, costs {self.best_total:,.0f} USD over months "
                         f"1-{h} against {self.baseline_total:,.0f} USD for keeping everything in DynamoDB Standard "
                         f"(saving {self.baseline_total - self.best_total:,.0f} USD); its cumulative cost stays below DynamoDB's {when}.")
        else:
            lines.append(f"- **Archiving does not pay within {h} months**: the cheapest archive plan, *{self.best}*, costs "
                         f"{self.best_total:,.0f} USD against {self.baseline_total:,.0f} USD in DynamoDB Standard.")
        lines.append(f"- At the deployed buffering ({x.buffer_size_mib:g} MiB, {x.buffer_interval_s:g} s) and {x.monthly_growth_gb:g} GB "
                     f"of growth a month, Firehose objects hold about **{self.object_kb_now:,.0f} KB** each (after {x.compression_ratio:g}x GZIP).")
        for cls, sizes in self.break_even_kb.items():
            days = max(self.after_days, IA_MIN_DAYS_IN_STANDARD) if cls == "STANDARD_IA" else self.after_days
            lines.append(f"- **{CLASS_LABEL[cls]}** (after {days:g} d, kept {x.retention_days:g} d): a transition pays "
                         f"for itself from objects of {_kb(sizes['horizon'])} within the horizon, and from {_kb(sizes['12 months'])} "
                         f"within 12 months. {self._buffer_sentence(cls)}")
        lines.extend(self._filter_sentences())
        lines.append(f"- {self.comparison.covers()}")
        return "\n".join(lines)

    def _buffer_sentence(self, cls: str) -> str:
        b, target = self.buffers.get(cls), self.break_even_kb[cls]["horizon"]
        if target is None or b is None:
            return ""
        if target <= self.object_kb_now:
            return "Today's objects are already that large."
        if b["reachable"]:
            return (f"Objects reach it with a buffer of at least {b['size_mib']} MiB and an interval of at least "
                    f"{b['interval_s']} s (the table's growth fills {b['flow_mib_per_s'] * 60:.2f} MiB a minute).")
        return (f"Firehose cannot reach it at this growth: 128 MiB and 900 s make objects of at most "
                f"{b['max_object_kb']:,.0f} KB.")

    def _filter_sentences(self) -> list[str]:
        out, unchanged = [], []
        for cls, (moves, default_usd, filtered_usd) in self.filter_effect.items():
            diff = filtered_usd - default_usd
            if moves and abs(diff) < 0.5:
                unchanged.append(CLASS_LABEL[cls])
                continue
            what = "moves today's objects" if moves else "keeps today's objects in S3 Standard, so the rule does nothing"
            verdict = f"saves {-diff:,.0f} USD" if diff < 0 else f"costs {diff:,.0f} USD more"
            out.append(f"- The lifecycle default minimum of {LIFECYCLE_DEFAULT_MIN_KB} KB ({self.comparison.inputs.lifecycle_min_size}) "
                       f"{what} for {CLASS_LABEL[cls]}; a rule filter ObjectSizeGreaterThan=0 would move every object, which "
                       f"{verdict} over the horizon ({filtered_usd:,.0f} against {default_usd:,.0f} USD).")
        if unchanged:
            out.insert(0, f"- The lifecycle default minimum of {LIFECYCLE_DEFAULT_MIN_KB} KB lets today's objects move to "
                          f"{', '.join(unchanged)}: they are larger than {LIFECYCLE_DEFAULT_MIN_KB} KB, so a lower "
                          "ObjectSizeGreaterThan would change nothing at these buffers.")
        return out


def _kb(value: float | None) -> str:
    if value is None:
        return "no size (never)"
    return f"{value / 1024:,.1f} MB" if value >= 10 * 1024 else f"{value:,.0f} KB"


def answer(comparison: Comparison, after_days: float, book: PriceBook | None = None) -> Answer:
    """Compute the answer for ``comparison`` (its inputs and scenarios) with lifecycle rules acting
    after ``after_days``. Uses ``book`` (default: the bundled prices of the region, borrowing missing
    figures like the notebook does)."""
    x = comparison.inputs
    book = book or PriceBook.load(x.region, on_missing="fallback")
    totals = {n: r.total.sum() for n, r in comparison.results.items()}
    archive = [n for n, r in comparison.results.items() if r.scenario.kind == "archive"]
    # Ties (a lifecycle rule that moves nothing costs what S3 Standard costs) go to the simpler, earlier plan.
    best = min(archive, key=lambda n: round(totals[n], 2)) if archive else None
    even = break_even(comparison) if BASELINE in totals else {}
    now_kb = object_kb_for_flow(x.monthly_growth_gb, x.buffer_size_mib, x.buffer_interval_s, x.compression_ratio)
    sizes, buffers, effect = {}, {}, {}
    for cls in ("STANDARD_IA", *GLACIER_CLASSES):
        days = max(after_days, IA_MIN_DAYS_IN_STANDARD) if cls == "STANDARD_IA" else after_days
        sizes[cls] = {label: break_even_object_kb(book, cls, days, x.retention_days, w)
                      for label, w in (("horizon", x.horizon_months), ("12 months", 12))}
        if sizes[cls]["horizon"] is not None:
            buffers[cls] = buffer_for_object_kb(x, sizes[cls]["horizon"])
        effect[cls] = _filter_effect(x, cls, after_days, now_kb, book)
    return Answer(comparison, after_days, best, totals.get(best, math.nan), totals.get(BASELINE, math.nan),
                  even.get(best) if best else None, now_kb, sizes, buffers, effect)


def _filter_effect(x: CostInputs, cls: str, after_days: float, now_kb: float, book: PriceBook) -> tuple[bool, float, float]:
    """(does the default move today's objects, USD over the horizon with the default, with ObjectSizeGreaterThan=0)."""
    plain = lifecycle_scenario(cls, after_days)
    filtered = replace(plain, name=plain.name + " (objects > 0 KB)", object_size_greater_than_kb=0.0)
    c = compare(x, [plain, filtered], book=book)
    default_usd = c.results[plain.name].total.sum()
    return transitions_allowed(now_kb, cls, x.lifecycle_min_size), default_usd, c.results[filtered.name].total.sum()


__all__ = ["ARCHIVE_STANDARD", "Answer", "answer", "break_even_object_kb", "buffer_for_object_kb",
           "object_size_curve", "object_window_costs"]
