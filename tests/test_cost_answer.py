"""The answer: break-even object sizes (computed by hand for Glacier Flexible Retrieval in Tokyo and
us-east-1), the Firehose buffering that reaches them, and the statement in words.

Per object of k KB written to S3 Standard at t=0, moved after N = 0 days (at the next midnight: t0 = 0.5 day),
expired after 365 days (at 365.5 days), over a 12-month window (D = 12 months, the expiry is after it):
    kept in Standard:  k Ps D
    moved:             k Ps t0 + f + (k + 32) Pc (D - t0) + 8 Ps (D - t0)
so the move pays from k* = (f x 2**20 / (D - t0) + 32 Pc + 8 Ps) / (Ps - Pc)   (prices per GB-month, f per object).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers import cost_model as cm
from helpers.cost_model import CostInputs
from helpers.pricing import PriceBook

DPM = 730 / 24
KB_PER_GB = 1024 * 1024


def hand_break_even(ps: float, pc: float, fee_per_1000: float, window_months: float = 12) -> float:
    stay = window_months - 0.5 / DPM
    return (fee_per_1000 / 1000 * KB_PER_GB / stay + 32 * pc + 8 * ps) / (ps - pc)


def test_glacier_flexible_retrieval_break_even_object_size_us_east_1():
    # Ps 0.023, Pc 0.0036, transition 0.03 per 1,000:
    # (3e-5 x 1,048,576 / 11.98356 + 32 x 0.0036 + 8 x 0.023) / 0.0194 = (2.62504 + 0.1152 + 0.184) / 0.0194 = 150.73 KB
    expected = hand_break_even(0.023, 0.0036, 0.03)
    assert expected == pytest.approx(150.73, abs=0.01)
    got = cm.break_even_object_kb(PriceBook.load("us-east-1"), "GLACIER", 0, 365, 12)
    assert got == pytest.approx(expected, abs=1e-3)


def test_glacier_flexible_retrieval_break_even_object_size_tokyo():
    # Ps 0.025, Pc 0.0045, transition 0.03426 per 1,000:
    # (3.426e-5 x 1,048,576 / 11.98356 + 32 x 0.0045 + 8 x 0.025) / 0.0205 = (2.99779 + 0.144 + 0.2) / 0.0205 = 163.01 KB
    expected = hand_break_even(0.025, 0.0045, 0.03426)
    assert expected == pytest.approx(163.01, abs=0.01)
    got = cm.break_even_object_kb(PriceBook.load("ap-northeast-1"), "GLACIER", 0, 365, 12)
    assert got == pytest.approx(expected, abs=1e-3)


def test_at_the_break_even_size_both_paths_cost_the_same_and_the_window_matters():
    book = PriceBook.load("us-east-1")
    k = cm.break_even_object_kb(book, "GLACIER", 0, 365, 12)
    standard, moved = cm.object_window_costs(book, "GLACIER", k, 0, 365, 12)
    assert moved == pytest.approx(standard, rel=1e-6)
    # Over 36 months the same object is expired after 12.02 months, so the window changes nothing here ...
    assert cm.break_even_object_kb(book, "GLACIER", 0, 365, 36) == pytest.approx(
        cm.break_even_object_kb(book, "GLACIER", 0, 365, 12.5), rel=1e-6)
    # ... but a transition after 400 days never happens within 12 months: no size pays.
    assert cm.break_even_object_kb(book, "GLACIER", 400, 3650, 12) is None
    # Expired after 60 days in Glacier (minimum 90): the 30 missing days are charged, so it pays later.
    assert cm.break_even_object_kb(book, "GLACIER", 0, 60, 12) > cm.break_even_object_kb(book, "GLACIER", 0, 365, 12)


def test_glacier_instant_retrieval_pays_from_the_size_where_its_128_kb_minimum_is_covered():
    # GIR bills max(k, 128) KB: below 128 KB the move pays when k Ps d >= 128 Pc d + f
    # us-east-1, 12 months, N=0: k* = (0.02e-3 x 2**20 / 11.98356 + 128 x 0.004) / 0.023 = (1.75003 + 0.512) / 0.023 = 98.35 KB
    stay = 12 - 0.5 / DPM
    expected = (0.02 / 1000 * KB_PER_GB / stay + 128 * 0.004) / 0.023
    got = cm.break_even_object_kb(PriceBook.load("us-east-1"), "GLACIER_IR", 0, 365, 12)
    assert got == pytest.approx(expected, abs=1e-3)


def test_object_size_curve_crosses_standard_at_the_break_even():
    book = PriceBook.load("ap-northeast-1")
    k = cm.break_even_object_kb(book, "GLACIER", 0, 365, 12)
    curve = cm.object_size_curve(book, 0, 365, 12, sizes_kb=[k * 0.5, k * 2])
    assert curve.loc[k * 0.5, "GLACIER"] > curve.loc[k * 0.5, "STANDARD"]  # small objects: moving costs more
    assert curve.loc[k * 2, "GLACIER"] < curve.loc[k * 2, "STANDARD"]  # large ones: it saves
    assert curve.loc[k * 2, "STANDARD"] == pytest.approx(0.025 * 12)  # per GB kept 12 months in Standard


def test_the_buffer_that_reaches_an_object_size_for_the_tables_growth():
    # 50 GB a month = 50 x 1024 / 2,628,000 = 0.019482 MiB/s. 200 KB stored at 5x GZIP = 0.9765625 MiB raw:
    # a 1 MiB buffer and ceil(0.9765625 / 0.019482) = 51 s.
    x = CostInputs(monthly_growth_gb=50, compression_ratio=5)
    b = cm.buffer_for_object_kb(x, 200)
    assert (b["size_mib"], b["interval_s"], b["reachable"]) == (1, 51, True)
    # A slow table (0.1 GB a month) cannot fill even 900 s: 0.1 x 1024 / 2,628,000 x 900 MiB -> 7.18 KB at most.
    slow = cm.buffer_for_object_kb(replace(x, monthly_growth_gb=0.1), 200)
    assert not slow["reachable"] and slow["interval_s"] is None
    assert slow["max_object_kb"] == pytest.approx(0.1 * 1024 / 2_628_000 * 900 * 1024 / 5)


def _comparison(**kw) -> cm.Comparison:
    base = dict(region="ap-northeast-1", horizon_months=36, table_gb=500, monthly_growth_gb=50, item_kb=4,
                compression_ratio=5, buffer_size_mib=5, buffer_interval_s=60)
    base.update(kw)
    return cm.compare(CostInputs(**base), cm.default_scenarios(90))


def test_the_answer_is_computed_from_the_inputs_in_force():
    c = _comparison()
    a = cm.answer(c, 90)
    text = a.text()
    assert a.best in c.results and a.best_total < a.baseline_total
    assert "**Archiving pays.**" in text and f"from month {a.from_month} on" in text
    gfr = a.break_even_kb["GLACIER"]["horizon"]
    assert gfr == pytest.approx(cm.break_even_object_kb(PriceBook.load("ap-northeast-1"), "GLACIER", 90, 1095, 36))
    assert f"from objects of {gfr:,.0f} KB within the horizon" in text
    assert f"about **{a.object_kb_now:,.0f} KB**" in text
    assert "Totals are the sum of the bills of months 1-36" in text
    # Small objects (1 MiB buffers filled every 60 s at 5 GB a month): the 128 KB default keeps them in Standard,
    # and the text says what the filter would do and what that costs, with figures from compute_scenario.
    small = cm.answer(_comparison(monthly_growth_gb=5), 90)
    assert small.object_kb_now < 128
    assert "keeps today's objects in S3 Standard, so the rule does nothing" in small.text()
    moves, default_usd, filtered_usd = small.filter_effect["GLACIER"]
    assert not moves and f"({filtered_usd:,.0f} against {default_usd:,.0f} USD)" in small.text()
    assert "buffer of at least" in small.text() or "cannot reach it" in small.text()


def test_the_answer_says_when_archiving_does_not_pay():
    # A tiny table that fits the free tier: DynamoDB costs only the writes, archiving adds Lambda and Firehose.
    a = cm.answer(_comparison(table_gb=1, monthly_growth_gb=0.5, horizon_months=12), 90)
    assert "does not pay within 12 months" in a.text()
