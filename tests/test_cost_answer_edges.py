"""Edges of the answer, the comparisons and the inputs' validation (issue 15, mutation testing).

The answer module says whether archiving pays, from which month, from which object size a transition pays
and which Firehose buffer reaches that size: these tests pin those numbers and yes/no decisions at their
edges (exact integers of MiB and seconds, exactly 128 MiB and 900 s, equal totals), with figures worked
out by hand where they can be. Inputs are checked on both sides of every bound, and an error names the
field or variable. In-process only (no local AWS).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from helpers import cost_model as cm
from helpers.cost_model import CostInputs, Scenario
from helpers.cost_model.answer import _kb
from helpers.pricing import PriceBook, read_prices

DPM = 730 / 24
KB_PER_GB = 1024 * 1024
# 2,628,000 s in a billing month: this growth makes exactly 1 MiB of raw data a second (2566.40625 x 1024 = 2,628,000).
ONE_MIB_PER_S_GB = 2566.40625
LABEL = cm.CLASS_LABEL


# ---------------------------------------------------------------- helpers


def _book(region: str = "us-east-1", drop: tuple[str, str] | None = None, on_missing: str = "raise",
          prices: dict[tuple[str, str], float] | None = None) -> PriceBook:
    """The bundled book of ``region`` without the figure ``drop`` and with ``prices`` replaced."""
    rows = []
    for p in read_prices():
        if p.region == region and (p.service, p.item) == drop:
            p = replace(p, price=None, confidence="")
        elif p.region == region and prices and (p.service, p.item) in prices:
            p = replace(p, price=prices[(p.service, p.item)])
        rows.append(p)
    return PriceBook(region, rows, on_missing=on_missing)


@pytest.fixture
def firehose_price_missing(monkeypatch):
    """PriceBook.load gives us-east-1 without Firehose's ingestion price, honouring the on_missing it is given:
    a caller that forgets to pass on_missing="fallback" on raises MissingPriceError (or skips the scenario)."""
    real = PriceBook.load.__func__

    def load(cls, region, path=None, on_missing="raise"):
        if region != "us-east-1":
            return real(cls, region, path, on_missing)
        return _book(region, ("firehose", "ingestion"), on_missing)

    monkeypatch.setattr(PriceBook, "load", classmethod(load))


def _fake(name: str, monthly: list[float], kind: str = "archive", stored_gb_at_end: float = 0.0) -> cm.ScenarioResult:
    frame = pd.DataFrame({c: 0.0 for c in cm.COMPONENTS}, index=pd.RangeIndex(1, len(monthly) + 1, name="month"))
    frame["s3_storage"] = monthly
    scenario = Scenario(name, kind) if kind == "archive" else Scenario(name, "dynamodb")
    return cm.ScenarioResult(scenario, CostInputs(region="us-east-1"), frame, pd.DataFrame(), (),
                             stored_gb_at_end=stored_gb_at_end)


def _fake_comparison(results: dict[str, cm.ScenarioResult], **inputs) -> cm.Comparison:
    return cm.Comparison(CostInputs(region="us-east-1", horizon_months=2, **inputs), results)


def _answer(**kw) -> cm.Answer:
    base = dict(comparison=_fake_comparison({}), after_days=0.0, best=None, best_total=math.nan,
                baseline_total=math.nan, from_month=None, object_kb_now=50.0)
    base.update(kw)
    return cm.Answer(**base)


# ---------------------------------------------------------------- which plan is best, and whether it pays


def test_the_best_plan_is_the_cheapest_archive_plan_with_ties_to_the_earlier_one_at_the_cent():
    c = _fake_comparison({
        cm.BASELINE: _fake(cm.BASELINE, [1.0, 1.0], kind="dynamodb"),  # cheapest of all, but not an archive plan
        "B first": _fake("B first", [50.0, 50.004]),  # 100.004: the same cent as 100.001, listed first
        "A second": _fake("A second", [50.0, 50.001]),  # alphabetically first, 100.001
    })
    a = cm.answer(c, 90, book=_book())
    assert a.best == "B first"  # a cent-level tie goes to the earlier plan, never to the DynamoDB baseline
    assert a.best_total == pytest.approx(100.004) and a.baseline_total == pytest.approx(2.0)
    c2 = _fake_comparison({
        "Z first": _fake("Z first", [50.0, 50.4]),  # 100.40
        "Y second": _fake("Y second", [50.0, 50.1]),  # 100.10: 30 cents cheaper, the best
        "A third": _fake("A third", [50.0, 50.3]),
    })
    a2 = cm.answer(c2, 90, book=_book())
    assert a2.best == "Y second" and a2.best_total == pytest.approx(100.1)


def test_equal_totals_do_not_pay_and_no_baseline_or_no_archive_gives_nan_not_a_crash():
    even = cm.answer(_fake_comparison({cm.BASELINE: _fake(cm.BASELINE, [10.0, 10.0], kind="dynamodb"),
                                       "archive": _fake("archive", [10.0, 10.0])}), 90, book=_book())
    assert even.best_total == even.baseline_total == 20.0
    assert "does not pay within 2 months" in even.text() and "Archiving pays" not in even.text()
    # No archive plan at all: no best plan, NaN totals, and the text says so.
    none = cm.answer(_fake_comparison({cm.BASELINE: _fake(cm.BASELINE, [10.0, 10.0], kind="dynamodb")}), 90, book=_book())
    assert none.best is None and none.from_month is None and math.isnan(none.best_total)
    assert "No archive scenario could be computed" in none.text()
    # No baseline: a best plan, but no baseline total and no break-even month.
    alone = cm.answer(_fake_comparison({"archive": _fake("archive", [10.0, 10.0])}), 90, book=_book())
    assert alone.best == "archive" and alone.best_total == 20.0
    assert math.isnan(alone.baseline_total) and alone.from_month is None
    # A hand-made answer that pays without a break-even month does not claim a month.
    late = _answer(best="archive", best_total=1.0, baseline_total=2.0, from_month=None).text()
    assert "Archiving pays" in late and "from month" not in late and "only at the end of the horizon" in late


def test_the_answer_text_carries_the_saving_the_days_and_both_windows_sizes():
    book = _book()
    c = _fake_comparison({cm.BASELINE: _fake(cm.BASELINE, [300.0, 300.0], kind="dynamodb"),
                          "archive": _fake("archive", [100.0, 100.0])}, retention_days=365)
    a = cm.answer(c, 0, book=book)
    assert a.from_month == 1 and a.best_total == 200 and a.baseline_total == 600
    text = a.text()
    assert "(saving 400 USD)" in text and "from month 1 on" in text
    # Standard-IA cannot move before day 30; the other classes move after the 0 days asked.
    for cls, days in (("STANDARD_IA", 30), ("GLACIER_IR", 0), ("GLACIER", 0), ("DEEP_ARCHIVE", 0)):
        for label, window in (("horizon", 2), ("12 months", 12)):
            assert a.break_even_kb[cls][label] == cm.break_even_object_kb(book, cls, days, 365, window), (cls, label)
        twelve = a.break_even_kb[cls]["12 months"]
        assert f"**{LABEL[cls]}** (after {days} d, kept 365 d)" in text
        assert f"and from {_kb(twelve)} within 12 months" in text
    assert a.break_even_kb["GLACIER"]["12 months"] is not None
    assert a.break_even_kb["STANDARD_IA"]["horizon"] != a.break_even_kb["STANDARD_IA"]["12 months"]


def test_the_size_text_switches_to_mb_from_10_mb():
    assert _kb(10 * 1024) == "10.0 MB"
    assert _kb(10 * 1024 - 1) == "10,239 KB"
    assert _kb(20 * 1024 + 512) == "20.5 MB" and _kb(100 * 1024) == "100.0 MB"


# ---------------------------------------------------------------- break-even object sizes


def test_object_window_costs_by_hand_with_and_without_early_deletion():
    book = _book()
    ps, pc, fee = 0.023 / KB_PER_GB, 0.0036 / KB_PER_GB, 0.03 / 1000
    t0 = 0.5 / DPM
    # 100 KB to Glacier at day 0, expired after 60 days (60.5 d), window 12 months: 30 days short of Glacier's 90.
    expiry = 60.5 / DPM
    standard, moved = cm.object_window_costs(book, "GLACIER", 100, 0, 60, 12)
    assert standard == pytest.approx(100 * ps * expiry)
    assert moved == pytest.approx(100 * ps * t0 + fee + 132 * pc * (expiry - t0) + 8 * ps * (expiry - t0)
                                  + 132 * pc * (90 / DPM - (expiry - t0)))
    # The same with the window ending exactly at the expiry: the early-deletion charge is inside the window.
    _, at_expiry = cm.object_window_costs(book, "GLACIER", 100, 0, 60, expiry)
    assert at_expiry == pytest.approx(moved)
    # Kept 365 days (more than 90 in Glacier): no early-deletion charge, even if the window goes past the expiry.
    expiry = 365.5 / DPM
    standard, moved = cm.object_window_costs(book, "GLACIER", 100, 0, 365, 24)
    assert standard == pytest.approx(100 * ps * expiry)
    assert moved == pytest.approx(100 * ps * t0 + fee + 132 * pc * (expiry - t0) + 8 * ps * (expiry - t0))


def test_an_object_moved_exactly_when_the_window_ends_is_not_moved():
    book = _book()
    t0 = cm.days_to_months(cm.lifecycle_action_days(30))
    standard, moved = cm.object_window_costs(book, "GLACIER", 100, 30, 365, t0)
    assert moved == standard == pytest.approx(100 * 0.023 / KB_PER_GB * t0)  # no transition fee


def test_break_even_below_1_kb_and_at_0_kb():
    # Standard-IA bills at least 128 KB: with a free transition the move pays from k = 128 Pc / Ps.
    cheap = _book(prices={("s3", "transition_standard_ia"): 0.0, ("s3", "storage_standard_ia"): 0.023 / 1000})
    assert cm.break_even_object_kb(cheap, "STANDARD_IA", 30, 365, 12) == pytest.approx(0.128, abs=1e-5)
    free = _book(prices={("s3", "transition_standard_ia"): 0.0, ("s3", "storage_standard_ia"): 0.0})
    assert cm.break_even_object_kb(free, "STANDARD_IA", 30, 365, 12) == 0.0


# ---------------------------------------------------------------- the buffer that reaches a size


def test_the_buffer_for_an_exact_whole_number_of_mib_and_seconds():
    x = CostInputs(region="us-east-1", monthly_growth_gb=ONE_MIB_PER_S_GB, compression_ratio=4)
    b = cm.buffer_for_object_kb(x, 60 * 1024 / 4)  # 60 MiB raw at 1 MiB/s
    assert b == {"size_mib": 60, "interval_s": 60, "reachable": True, "max_object_kb": 128 * 1024 / 4,
                 "flow_mib_per_s": 1.0}
    just_over = cm.buffer_for_object_kb(x, 60.03 * 1024 / 4)  # 60.03 MiB: 61 MiB and 61 s
    assert (just_over["size_mib"], just_over["interval_s"]) == (61, 61)
    b = cm.buffer_for_object_kb(x, 2.5 * 1024 / 4)
    assert (b["size_mib"], b["interval_s"]) == (3, 3)


def test_the_buffer_at_firehoses_128_mib_and_900_s_edges():
    x = CostInputs(region="us-east-1", monthly_growth_gb=ONE_MIB_PER_S_GB, compression_ratio=4)
    at = cm.buffer_for_object_kb(x, 128 * 1024 / 4)
    assert (at["size_mib"], at["interval_s"], at["reachable"]) == (128, 128, True)
    over = cm.buffer_for_object_kb(x, 128.5 * 1024 / 4)
    assert (over["size_mib"], over["interval_s"], over["reachable"]) == (None, 129, False)
    slow = replace(x, monthly_growth_gb=ONE_MIB_PER_S_GB / 8)  # 1/8 MiB a second: 112.5 MiB take 900 s
    at = cm.buffer_for_object_kb(slow, 112.5 * 1024 / 4)
    assert (at["size_mib"], at["interval_s"], at["reachable"]) == (113, 900, True)
    over = cm.buffer_for_object_kb(slow, 112.625 * 1024 / 4)
    assert (over["size_mib"], over["interval_s"], over["reachable"]) == (113, None, False)
    none = cm.buffer_for_object_kb(replace(x, monthly_growth_gb=0), 100)
    assert (none["interval_s"], none["reachable"], none["flow_mib_per_s"]) == (None, False, 0)


def test_the_buffer_sentence_numbers_and_the_already_large_edge():
    x = CostInputs(region="us-east-1", horizon_months=2, monthly_growth_gb=ONE_MIB_PER_S_GB, compression_ratio=4)
    target = 60 * 1024 / 4
    sizes = {"GLACIER": {"horizon": target, "12 months": target}}
    buffers = {"GLACIER": cm.buffer_for_object_kb(x, target)}
    c = cm.Comparison(x, {})
    reach = _answer(comparison=c, break_even_kb=sizes, buffers=buffers, object_kb_now=100.0).text()
    assert "a buffer of at least 60 MiB and an interval of at least 60 s" in reach
    assert "fills 60.00 MiB a minute" in reach
    equal = _answer(comparison=c, break_even_kb=sizes, buffers=buffers, object_kb_now=target).text()
    assert "already that large" in equal and "buffer of at least" not in equal
    # A hand-made answer without a buffer for the class says nothing about buffers (no crash).
    bare = _answer(comparison=c, break_even_kb=sizes, buffers={}, object_kb_now=100.0).text()
    assert "buffer of at least" not in bare and "already that large" not in bare


# ---------------------------------------------------------------- the 128 KB lifecycle default


def test_the_filter_sentences_say_which_class_moves_and_what_the_filter_saves_or_costs():
    effect = {"STANDARD_IA": (True, 100.0, 100.2),  # moves, same cost: "would change nothing"
              "GLACIER_IR": (True, 100.0, 100.5),  # moves, 0.5 USD apart: its own sentence
              "GLACIER": (False, 100.0, 90.0),  # does not move; the filter saves 10 USD
              "DEEP_ARCHIVE": (False, 50.0, 50.0)}  # does not move; the filter changes nothing
    lines = [l for l in _answer(filter_effect=effect).text().splitlines() if "lifecycle default minimum" in l]
    assert len(lines) == 4
    assert f"move to {LABEL['STANDARD_IA']}:" in lines[0] and "would change nothing" in lines[0]
    gir, gfr, deep = lines[1:]
    assert f"moves today's objects for {LABEL['GLACIER_IR']};" in gir
    assert "costs 0 USD more over the horizon (100 against 100 USD)" in gir
    assert f"keeps today's objects in S3 Standard, so the rule does nothing for {LABEL['GLACIER']};" in gfr
    assert "saves 10 USD over the horizon (90 against 100 USD)" in gfr
    assert f"for {LABEL['DEEP_ARCHIVE']};" in deep and "costs 0 USD more over the horizon (50 against 50 USD)" in deep
    one_more = _answer(filter_effect={"GLACIER": (False, 100.0, 101.0)}).text()
    assert "costs 1 USD more over the horizon (101 against 100 USD)" in one_more


def test_the_filter_effect_is_computed_with_the_book_given_and_the_buckets_setting(firehose_price_missing):
    # Tiny objects (one 1 KB item per record, 0.25 KB stored): the default keeps them in Standard; a filter
    # ObjectSizeGreaterThan=0 moves them and pays every transition (a filter of 1 KB would not move them).
    x = CostInputs(region="us-east-1", horizon_months=3, table_gb=0, hot_days=0, lambda_batch_size=1,
                   monthly_growth_gb=0.01, buffer_interval_s=60)
    book = _book("us-east-1", ("firehose", "ingestion"), "fallback")
    a = cm.answer(cm.compare(x, [Scenario(cm.ARCHIVE_STANDARD, "archive")], book=book), 0, book=book)
    assert a.object_kb_now < 1
    for cls in ("STANDARD_IA", *cm.GLACIER_CLASSES):
        plain = cm.lifecycle_scenario(cls, 0)
        default_usd = cm.compute_scenario(x, plain, book).total.sum()
        filtered_usd = cm.compute_scenario(x, replace(plain, object_size_greater_than_kb=0.0), book).total.sum()
        assert a.filter_effect[cls] == (False, pytest.approx(default_usd), pytest.approx(filtered_usd)), cls
        assert filtered_usd > default_usd + 0.2
    # With the bucket's varies_by_storage_class, small objects go to Glacier Flexible Retrieval and Deep Archive.
    varies = replace(x, lifecycle_min_size="varies_by_storage_class")
    b = cm.answer(cm.compare(varies, [Scenario(cm.ARCHIVE_STANDARD, "archive")], book=book), 0, book=book)
    assert {cls: b.filter_effect[cls][0] for cls in b.filter_effect} == {
        "STANDARD_IA": False, "GLACIER_IR": False, "GLACIER": True, "DEEP_ARCHIVE": True}
    # Without a book, the answer loads the region's bundled prices borrowing the missing figures.
    assert cm.answer(cm.compare(x, [], book=book), 0).filter_effect["GLACIER"][1] == pytest.approx(
        a.filter_effect["GLACIER"][1])


# ---------------------------------------------------------------- sweeps and comparisons


def test_the_sweeps_borrow_missing_figures_when_asked(firehose_price_missing):
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=1, horizon_months=2)
    assert cm.compare(x, [Scenario(cm.ARCHIVE_STANDARD, "archive")], on_missing="fallback").skipped == {}
    sweep = cm.buffer_sweep(x, [Scenario(cm.ARCHIVE_STANDARD, "archive")], sizes_mib=(1,), on_missing="fallback")
    assert list(sweep.columns) == ["scenario", "buffer_size_mib", "buffer_interval_s", "mean_object_kb", "total_usd",
                                   "s3_object_usd"]
    assert sweep["buffer_interval_s"].tolist() == [300.0, 900.0]  # default: the inputs' interval and 900 s
    assert sweep["scenario"].tolist() == [cm.ARCHIVE_STANDARD] * 2
    lam = cm.lambda_filter_comparison(x, on_missing="fallback")
    assert list(lam.columns) == ["invocations", "requests_usd", "duration_usd"]
    rec = cm.firehose_record_comparison(x, on_missing="fallback")
    assert list(rec.columns) == ["record_kb", "billed_kb", "firehose_records", "billed_gb", "ingestion_usd"]
    assert rec["ingestion_usd"].gt(0).all()


def test_buffer_sweep_uses_each_interval_and_weights_the_mean_object_by_count():
    x = CostInputs(region="us-east-1", table_gb=10, monthly_growth_gb=0.5, horizon_months=2)
    s = Scenario(cm.ARCHIVE_STANDARD, "archive")
    sweep = cm.buffer_sweep(x, [s], sizes_mib=(128,), intervals_s=(60, 900))
    for _, row in sweep.iterrows():
        y = replace(x, buffer_size_mib=128.0, buffer_interval_s=row["buffer_interval_s"])
        r = cm.compute_scenario(y, s)
        q = r.quantities
        assert row["total_usd"] == pytest.approx(r.total.sum())
        assert row["mean_object_kb"] == pytest.approx(np.average(q["object_kb"], weights=q["objects_written"]))
        assert row["mean_object_kb"] != pytest.approx(q["object_kb"].mean())  # the backlog's objects are bigger
    assert sweep["mean_object_kb"].iloc[0] < sweep["mean_object_kb"].iloc[1]
    # Nothing written: no mean object size (NaN), not a division by zero.
    empty = cm.buffer_sweep(replace(x, table_gb=0, monthly_growth_gb=0), [s], sizes_mib=(1,), intervals_s=(900,))
    assert math.isnan(empty["mean_object_kb"].iloc[0])


def test_break_even_goes_on_after_a_plan_that_never_breaks_even_and_has_no_1_usd_slack():
    c = cm.Comparison(CostInputs(region="us-east-1"), {
        "base": _fake("base", [10, 10, 10]), "dear": _fake("dear", [10.2, 10.2, 10.2]),  # 0.60 USD dearer over 3 months
        "cheap": _fake("cheap", [5, 5, 5])})
    assert cm.break_even(c, "base") == {"base": None, "dear": None, "cheap": 1}


def test_covers_names_the_plan_storing_the_most_and_only_plans_that_store_something():
    results = {"a big": _fake("a big", [1], stored_gb_at_end=50.0), "b small": _fake("b small", [1], stored_gb_at_end=5.0),
               "c none": _fake("c none", [1])}
    assert "for example 50 GB in 'a big'" in _fake_comparison(results).covers()
    nothing = _fake_comparison({"c none": _fake("c none", [1])}).covers()
    assert "after the horizon" not in nothing
    half = _fake_comparison({"half": _fake("half", [1], stored_gb_at_end=0.5)}).covers()
    assert "for example 0 GB in 'half'" in half and "goes on being billed after the horizon" in half


def test_object_size_curve_default_sizes_index_and_each_class_with_its_own_days():
    book = _book()
    curve = cm.object_size_curve(book, 0, 365, 12)
    assert list(curve.columns) == ["STANDARD", "STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]
    assert curve.index.name == "object_kb" and curve.index.dtype == float
    np.testing.assert_allclose(curve.index.to_numpy(), np.geomspace(1, 128 * 1024, 120))
    ints = cm.object_size_curve(book, 0, 365, 12, sizes_kb=[64, 256])
    assert ints.index.dtype == float and ints.index.name == "object_kb"
    for k in (64, 256):
        per_gb = k / KB_PER_GB
        assert ints.loc[k, "STANDARD"] == pytest.approx(cm.object_window_costs(book, "GLACIER", k, 0, 365, 12)[0] / per_gb)
        assert ints.loc[k, "STANDARD_IA"] == pytest.approx(
            cm.object_window_costs(book, "STANDARD_IA", k, 30, 365, 12)[1] / per_gb)
        for cls in ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"):
            assert ints.loc[k, cls] == pytest.approx(cm.object_window_costs(book, cls, k, 0, 365, 12)[1] / per_gb), cls
    # after 31 days Standard-IA keeps its own 31
    later = cm.object_size_curve(book, 31, 365, 12, sizes_kb=[256.0])
    assert later.loc[256.0, "STANDARD_IA"] == pytest.approx(
        cm.object_window_costs(book, "STANDARD_IA", 256, 31, 365, 12)[1] / (256 / KB_PER_GB))


# ---------------------------------------------------------------- inputs: both sides of every bound


@pytest.mark.parametrize("kwargs", [
    {"firehose_record_kb": 0.5}, {"firehose_record_kb": 1000}, {"item_kb": 400}, {"buffer_size_mib": 128},
    {"buffer_interval_s": 900}, {"read_back_share": 1}, {"lambda_batch_size": 10_000},
])
def test_inputs_at_their_bounds_are_accepted(kwargs):
    x = CostInputs(region="us-east-1", **kwargs)
    assert all(getattr(x, k) == v for k, v in kwargs.items())


@pytest.mark.parametrize("kwargs, name", [
    ({"firehose_record_kb": 0}, "firehose_record_kb"), ({"firehose_record_kb": 1000.5}, "firehose_record_kb"),
    ({"item_kb": 400.5}, "item_kb"), ({"buffer_size_mib": 128.5}, "buffer_size_mib"),
    ({"buffer_interval_s": 900.5}, "buffer_interval_s"), ({"read_back_share": 1.01}, "read_back_share"),
    ({"lambda_batch_size": 10_001}, "lambda_batch_size"),
])
def test_inputs_past_their_bounds_raise_naming_the_field(kwargs, name):
    with pytest.raises(ValueError, match=name):
        CostInputs(region="us-east-1", **kwargs)


def test_scenario_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="Unknown scenario kind 'table'"):
        Scenario("x", "table")
    with pytest.raises(ValueError, match="'dynamodb' scenario keeps everything in the table"):
        Scenario("x", "dynamodb", storage_class="GLACIER", lifecycle_after_days=30)
    with pytest.raises(ValueError, match="'dynamodb' scenario keeps everything in the table"):
        Scenario("x", "dynamodb", lifecycle_after_days=30)
    with pytest.raises(ValueError, match="object_size_greater_than_kb must be >= 0"):
        Scenario("x", "archive", storage_class="GLACIER", lifecycle_after_days=0, object_size_greater_than_kb=-1)


def test_default_and_lifecycle_scenarios():
    d = cm.default_scenarios()
    assert [(s.name, s.kind, s.table_class, s.storage_class, s.lifecycle_after_days) for s in d[:3]] == [
        (cm.BASELINE, "dynamodb", "STANDARD", "STANDARD", None),
        ("DynamoDB Standard-IA", "dynamodb", "STANDARD_IA", "STANDARD", None),
        (cm.ARCHIVE_STANDARD, "archive", "STANDARD", "STANDARD", None)]
    assert [(s.storage_class, s.lifecycle_after_days) for s in d[3:]] == [
        ("STANDARD_IA", 30), ("GLACIER_IR", 30), ("GLACIER", 30), ("DEEP_ARCHIVE", 30)]
    s = cm.lifecycle_scenario("GLACIER", 0, 0)
    assert s.name == "S3 Standard → Glacier Flexible Retrieval after 0 d (objects > 0 KB)"
    assert s.object_size_greater_than_kb == 0.0 and s.lifecycle_after_days == 0
    assert cm.lifecycle_scenario("STANDARD_IA", 0, 64).object_size_greater_than_kb == 64


def test_env_number_accepts_zero_and_fractions_and_reads_the_process_environment(monkeypatch):
    assert cm.env_number("TTL_ARCHIVE_COST_OTHER_TABLES_GB", 9, environ={"TTL_ARCHIVE_COST_OTHER_TABLES_GB": "0"}) == 0
    assert cm.env_number("TTL_ARCHIVE_COST_OTHER_TABLES_GB", 9, environ={"TTL_ARCHIVE_COST_OTHER_TABLES_GB": "0.5"}) == 0.5
    monkeypatch.setenv("TTL_ARCHIVE_COST_TABLE_GB", "7")
    assert cm.env_number("TTL_ARCHIVE_COST_TABLE_GB", 500) == 7


def test_pricing_region_for_each_target_and_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # local: AWS_DEFAULT_REGION (then AWS_REGION) overrides the local default, Tokyo
    assert cm.pricing_region(None, target="local")[0] == "us-east-1"
    # aws: boto3's region (here from AWS_DEFAULT_REGION)
    region, why = cm.pricing_region(None, target="aws")
    assert region == "us-east-1" and "'aws' target" in why and "AWS_REGION, AWS_DEFAULT_REGION" in why
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert cm.pricing_region(None, target="local")[0] == "us-east-1"
    assert cm.pricing_region(None, target="aws")[0] == "us-east-1"
    monkeypatch.delenv("AWS_REGION")
    assert cm.pricing_region(None, target="local")[0] == "ap-northeast-1"
    with pytest.raises(ValueError, match=r"region \(none\) .*TTL_ARCHIVE_COST_REGION"):
        cm.pricing_region(None, target="aws")
    monkeypatch.setenv("TTL_ARCHIVE_TARGET", "aws")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert "'aws' target" in cm.pricing_region(None)[1]
