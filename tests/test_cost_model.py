"""The cost model against cases computed by hand (each written out next to its assertion).

Bundled figures used below (helpers/data/prices.csv): Tokyo DynamoDB Standard 0.285 USD/GB-month after 25
free GB; us-east-1 DynamoDB 0.25, S3 Standard 0.023, Standard-IA 0.0125, Glacier Flexible Retrieval
(GLACIER) 0.0036, Deep Archive 0.00099 USD/GB-month; GLACIER transition 0.03 and Deep Archive transition
0.05 per 1,000; PUT 0.005 per 1,000; Firehose 0.029 per GB; Lambda 0.20 per million requests and
0.0000166667 per GB-second; GLACIER standard restore 0.05 per 1,000 requests + 0.01 per GB, GET 0.0004 per
1,000. GB = 2**30 bytes, KB = 1024 bytes; a billing month is 730 hours (DPM = 730 / 24 days).
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from helpers import cost_model as cm
from helpers.cost_model import CostInputs, Scenario
from helpers.pricing import MissingPriceError, PriceBook, read_prices

GB_IN_KB = 1024 * 1024
DPM = 730 / 24  # days in a billing month


def backlog_inputs(**overrides) -> CostInputs:
    """us-east-1; a table of 1000 MiB whose items have all expired (hot_days=0, no growth), so the start
    of month 1 archives a backlog of exactly 1000 MiB; 1 MiB buffers -> exactly 1,000 objects of 1 MiB."""
    base = dict(region="us-east-1", horizon_months=4, table_gb=1000 / 1024, monthly_growth_gb=0.0, hot_days=0,
                compression_ratio=1.0, buffer_size_mib=1, include_writes=False, retention_days=3650)
    base.update(overrides)
    return CostInputs(**base)


def glacier_after(days: float, **kw) -> Scenario:
    return Scenario("lc", "archive", storage_class="GLACIER", lifecycle_after_days=days, **kw)


# ---------------------------------------------------------------- DynamoDB: 100 bytes per item, shared free tier


def test_every_item_is_billed_100_bytes_more():
    # 100 GB of 1 KB items: 104,857,600 items x 100 B = 9.765625 GB more -> 109.765625 GB (the model was 9.8 % low)
    assert cm.dynamodb_billed_gb(100, 1) == pytest.approx(109.765625)
    assert cm.dynamodb_billed_gb(100, 4) == pytest.approx(100 * (1 + 100 / 4096))
    # Tokyo: (109.765625 - 25) x 0.285 = 24.158203125 USD/month
    x = CostInputs(region="ap-northeast-1", table_gb=100, monthly_growth_gb=0, include_writes=False, horizon_months=3)
    r = cm.compute_scenario(x, Scenario("keep", "dynamodb"))
    assert list(r.monthly["dynamodb_storage"]) == pytest.approx([24.158203125] * 3)
    assert r.quantities.loc[1, "table_billed_gb"] == pytest.approx(109.765625)
    assert r.unverified == ()


def test_the_free_tier_is_shared_with_the_accounts_other_tables():
    # 100 GB here and 20 GB in other tables: only 5 of the 25 free GB are left: (100 - 5) x 0.285 = 27.075
    assert cm.dynamodb_storage_cost(100, 0.285, free_gb=25, other_tables_gb=20) == pytest.approx(27.075)
    # Other tables already above 25 GB: nothing is free for this one: 100 x 0.285 = 28.5
    assert cm.dynamodb_storage_cost(100, 0.285, free_gb=25, other_tables_gb=40) == pytest.approx(28.5)
    assert cm.dynamodb_storage_cost(100, 0.285, free_gb=25) == pytest.approx(21.375)
    # In the model, with the 100-byte overhead: (109.765625 + 20 - 25) x 0.285 = 29.858203125
    x = CostInputs(region="ap-northeast-1", table_gb=100, monthly_growth_gb=0, include_writes=False, horizon_months=1,
                   other_tables_gb=20)
    assert cm.compute_scenario(x, Scenario("keep", "dynamodb")).monthly["dynamodb_storage"].iloc[0] == pytest.approx(29.858203125)
    # Default: no other table (stated in the inputs), the whole allowance applies
    assert CostInputs().other_tables_gb == 0


def test_a_table_under_the_free_tier_costs_nothing_for_storage():
    x = CostInputs(region="ap-northeast-1", table_gb=20, monthly_growth_gb=0, include_writes=False, horizon_months=1)
    assert cm.compute_scenario(x, Scenario("keep", "dynamodb")).monthly["dynamodb_storage"].iloc[0] == 0


def test_standard_ia_table_has_no_free_tier():
    # us-east-1: 100 GB of 1 KB items -> 109.765625 GB x 0.10 = 10.9765625 USD/month, other tables irrelevant
    x = CostInputs(region="us-east-1", table_gb=100, monthly_growth_gb=0, include_writes=False, horizon_months=1)
    r = cm.compute_scenario(x, Scenario("ia", "dynamodb", table_class="STANDARD_IA"))
    assert r.monthly["dynamodb_storage"].iloc[0] == pytest.approx(10.9765625)


def test_growth_is_billed_on_the_mid_month_size_and_writes_per_wru():
    # us-east-1, 100 GB + 10 GB/month, 1 KB items: month 2 holds on average 115 GB of data
    # -> (115 x 1.09765625 - 25) x 0.25 = 25.31510416...; writes: 10 GB / 1 KB = 10,485,760 WRU x 0.625 / 1e6
    x = CostInputs(region="us-east-1", table_gb=100, monthly_growth_gb=10, item_kb=1, horizon_months=2)
    r = cm.compute_scenario(x, Scenario("keep", "dynamodb"))
    assert r.monthly.loc[2, "dynamodb_storage"] == pytest.approx((115 * 1.09765625 - 25) * 0.25)
    assert r.monthly.loc[2, "dynamodb_writes"] == pytest.approx(6.5536)
    # A 2.5 KB item takes ceil(2.5) = 3 WRU: 10 GB / 2.5 KB = 4,194,304 items x 3 x 0.625 / 1e6 = 7.86432
    r = cm.compute_scenario(replace(x, item_kb=2.5), Scenario("keep", "dynamodb"))
    assert r.monthly.loc[2, "dynamodb_writes"] == pytest.approx(7.86432)


# ---------------------------------------------------------------- the month convention


def test_a_billing_month_is_730_hours_and_storage_is_prorated_by_the_hour():
    assert cm.HOURS_PER_MONTH == 730 and cm.SECONDS_PER_MONTH == 2_628_000
    assert cm.days_to_months(365) == pytest.approx(12)
    # 1 GB archived evenly through every month, kept 365 days, S3 Standard, no compression.
    x = CostInputs(region="us-east-1", horizon_months=13, table_gb=0, monthly_growth_gb=1, hot_days=0,
                   compression_ratio=1, retention_days=365, include_writes=False)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    stored = r.quantities["stored_gb_STANDARD"]
    # Month 1: the month's cohort is there for half of it on average: 0.5 GB-month x 0.023
    assert stored[1] == pytest.approx(0.5) and r.monthly.loc[1, "s3_storage"] == pytest.approx(0.5 * 0.023)
    # Month 12: cohorts 1-11 whole, cohort 12 half: 11.5 GB-months
    assert stored[12] == pytest.approx(11.5)
    # Cohort 1 expires 365 days + half a day (next midnight) after mid-month 1: at 0.5 + 365.5 / DPM months.
    # Month 13 holds cohorts 2-12 (11), cohort 13 (0.5) and cohort 1 for 12.5164 - 12 months.
    end_1 = 0.5 + 365.5 / DPM
    assert stored[13] == pytest.approx(11.5 + (end_1 - 12))
    # So cohort 1 is billed exactly its 365.5 days: 0.5 + 11 + (end_1 - 12) = 365.5 / DPM GB-months.
    assert 0.5 + 11 + (end_1 - 12) == pytest.approx(365.5 / DPM)


def test_totals_say_what_they_cover():
    x = CostInputs(region="us-east-1", horizon_months=12, table_gb=0, monthly_growth_gb=1, hot_days=0,
                   compression_ratio=1, retention_days=365, include_writes=False)
    c = cm.compare(x, [Scenario("Archive in S3 Standard", "archive")])
    # The 12 cohorts are all still stored at the end of month 12: 12 GB whose later storage is not in the totals.
    assert c.results["Archive in S3 Standard"].stored_gb_at_end == pytest.approx(12)
    text = c.covers()
    assert "months 1-12" in text and "730-hour" in text and "prorated by the hour" in text
    assert "12 GB in 'Archive in S3 Standard'" in text and "after the horizon" in text
    assert "USD, months 1-12" in __import__("helpers.cost_charts", fromlist=["x"]).summary_table(c).columns


def test_the_backlog_is_archived_at_the_start_of_month_1():
    # 1,000 MiB written at t=0 stays the whole of month 1: 0.9765625 GB x 0.023
    r = cm.compute_scenario(backlog_inputs(), Scenario("s3", "archive"))
    assert r.monthly.loc[1, "s3_storage"] == pytest.approx(0.9765625 * 0.023)
    assert r.quantities.loc[1, "objects_written"] == 1000
    assert r.monthly.loc[1, "s3_puts"] == pytest.approx(0.005)  # 1,000 PUTs into S3 Standard


# ---------------------------------------------------------------- Firehose


def test_a_3_kb_record_is_billed_as_5_kb():
    assert [cm.firehose_billed_kb(k) for k in (3, 12, 5, 1000)] == [5, 15, 5, 1000]


def test_one_3_kb_item_per_record_pays_5_3_of_the_volume_and_packing_removes_the_overhead():
    # 1 GB of 3 KB items sent one per record: 1 GB x 5/3 billed x 0.029 = 0.048333...
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=0, hot_days=0, item_kb=3,
                   firehose_record_kb=3, include_writes=False, horizon_months=1)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    assert r.monthly["firehose_ingestion"].iloc[0] == pytest.approx(1 * 5 / 3 * 0.029)
    # Packed (default): min(100 items per batch, floor(1000/3)) x 3 KB = 300 KB records, a 5 KB multiple
    packed = replace(x, firehose_record_kb=None)
    assert packed.record_kb == 300
    assert cm.compute_scenario(packed, Scenario("s3", "archive")).monthly["firehose_ingestion"].iloc[0] == pytest.approx(0.029)


def test_firehose_objects_follow_the_buffer_that_fills_first():
    # 1 GB raw in a 730-hour month = 1024 MiB. 5 MiB buffers -> 204.8 objects by size;
    # 300 s interval -> 2,628,000 / 300 = 8,760 flushes: the interval wins.
    assert cm.firehose_objects(1, 5, 300, records=1e9) == pytest.approx(8760)
    assert cm.firehose_objects(1, 5, 900, records=1e9) == pytest.approx(2920)
    assert cm.firehose_objects(100, 1, 900, records=1e9) == pytest.approx(102_400)
    assert cm.firehose_objects(1, 1, 0, records=50) == 50
    assert cm.firehose_objects(0, 1, 60, records=0) == 0
    # 50 GB a month, 60 s, GZIP 5x: 50 x 1024 / 2,628,000 x 60 = 1.1689 MiB raw -> 239.4 KB stored
    assert cm.object_kb_for_flow(50, 5, 60, 5) == pytest.approx(50 * 1024 / 2_628_000 * 60 * 1024 / 5)


# ---------------------------------------------------------------- Firehose writes S3 Standard; lifecycle


def test_firehose_writes_only_to_s3_standard():
    with pytest.raises(ValueError, match="Firehose writes only to S3 Standard"):
        Scenario("x", "archive", storage_class="GLACIER")
    # Standard-IA: S3 rejects a transition before 30 days in S3 Standard
    with pytest.raises(ValueError, match="before 30 days"):
        Scenario("x", "archive", storage_class="STANDARD_IA", lifecycle_after_days=0)
    assert Scenario("x", "archive", storage_class="STANDARD_IA", lifecycle_after_days=30).lifecycle_after_days == 30
    assert cm.lifecycle_scenario("STANDARD_IA", 0).lifecycle_after_days == 30
    names = [s.name for s in cm.default_scenarios(0)]
    assert "S3 Standard → Glacier Flexible Retrieval after 0 d" in names
    assert not any("written directly" in n or n.startswith("Archive to S3 Glacier") for n in names)


def test_lifecycle_at_day_0_moves_objects_at_the_next_midnight_and_pays_the_transitions():
    # 1,000 objects of 1 MiB written at t=0, moved to GLACIER at the next midnight (0.5 day on average).
    assert cm.lifecycle_action_days(0) == 0.5
    r = cm.compute_scenario(backlog_inputs(), glacier_after(0))
    t0 = 0.5 / DPM  # months in S3 Standard
    # Transitions: 1,000 objects = 1 unit x 0.03, in month 1
    assert r.monthly["s3_transitions"].tolist() == pytest.approx([0.03, 0, 0, 0])
    assert r.quantities.loc[1, "transitions"] == 1000
    # PUTs into S3 Standard: 1,000 x 0.005 / 1,000
    assert r.monthly.loc[1, "s3_puts"] == pytest.approx(0.005)
    # Month 1 data: 0.9765625 GB x (0.023 x t0 + 0.0036 x (1 - t0))
    assert r.monthly.loc[1, "s3_storage"] == pytest.approx(0.9765625 * (0.023 * t0 + 0.0036 * (1 - t0)))
    # Month 2: all in GLACIER: data 0.9765625 x 0.0036, overhead 1000 x 32 KB x 0.0036 + 1000 x 8 KB x 0.023
    assert r.monthly.loc[2, "s3_storage"] == pytest.approx(0.9765625 * 0.0036)
    assert r.monthly.loc[2, "s3_object_overhead"] == pytest.approx(32000 / GB_IN_KB * 0.0036 + 8000 / GB_IN_KB * 0.023)


def test_the_128_kb_default_keeps_small_objects_in_standard_and_object_size_greater_than_moves_them():
    assert not cm.transitions_allowed(100, "GLACIER")
    assert cm.transitions_allowed(100, "GLACIER", "varies_by_storage_class")
    assert not cm.transitions_allowed(100, "STANDARD_IA", "varies_by_storage_class")
    assert cm.transitions_allowed(128, "STANDARD_IA")
    # A rule filter takes precedence over the default: ObjectSizeGreaterThan=0 moves 100 KB objects ...
    assert cm.transitions_allowed(100, "STANDARD_IA", object_size_greater_than_kb=0)
    # ... and ObjectSizeGreaterThan=500 KB keeps a 200 KB object in Standard.
    assert not cm.transitions_allowed(200, "GLACIER", object_size_greater_than_kb=500)
    # 1,000 objects of 1 MiB raw compressed 10.24x -> 100 KB, lifecycle at day 0:
    x = backlog_inputs(compression_ratio=10.24)
    default = cm.compute_scenario(x, glacier_after(0))
    assert default.quantities.loc[1, "object_kb"] == pytest.approx(100)
    assert default.monthly["s3_transitions"].sum() == 0  # nothing moves
    assert default.monthly.loc[2, "s3_storage"] == pytest.approx(1000 * 100 / GB_IN_KB * 0.023)
    assert any("never transitioned" in n and "128 KB default" in n for n in default.notes)
    # With ObjectSizeGreaterThan=0 they move: one transition unit (0.03) and, from month 2,
    # (100 + 32) KB at 0.0036 and 8 KB at 0.023 per object: what the filter costs per month.
    moved = cm.compute_scenario(x, glacier_after(0, object_size_greater_than_kb=0))
    assert moved.monthly["s3_transitions"].sum() == pytest.approx(0.03)
    month2 = moved.monthly.loc[2, "s3_storage"] + moved.monthly.loc[2, "s3_object_overhead"]
    assert month2 == pytest.approx(1000 * 132 / GB_IN_KB * 0.0036 + 1000 * 8 / GB_IN_KB * 0.023)
    # varies_by_storage_class lets them go to GLACIER too (Deep Archive transition: 0.05)
    gda = Scenario("gda", "archive", storage_class="DEEP_ARCHIVE", lifecycle_after_days=0)
    assert cm.compute_scenario(replace(x, lifecycle_min_size="varies_by_storage_class"), gda).monthly["s3_transitions"].sum() == pytest.approx(0.05)


def test_a_100_kb_object_in_standard_ia_is_billed_as_128_kb():
    assert cm.billed_object_kb(100, "STANDARD_IA") == (128, 0)
    assert cm.billed_object_kb(100, "GLACIER_IR") == (128, 0)
    assert cm.billed_object_kb(200, "STANDARD_IA") == (200, 0)
    # 1,000 objects of 100 KB moved to Standard-IA after 30 days (filter 0): from month 3 on
    # 1000 x 128 KB x 0.0125 per month
    x = backlog_inputs(compression_ratio=10.24)
    s = Scenario("ia", "archive", storage_class="STANDARD_IA", lifecycle_after_days=30, object_size_greater_than_kb=0)
    r = cm.compute_scenario(x, s)
    month3 = r.monthly.loc[3, "s3_storage"] + r.monthly.loc[3, "s3_object_overhead"]
    assert month3 == pytest.approx(1000 * 128 / GB_IN_KB * 0.0125)
    assert any("billed as 128 KB" in n for n in r.notes)


def test_an_object_deleted_before_the_minimum_duration_is_billed_for_the_minimum():
    assert cm.billed_storage_days(30, "DEEP_ARCHIVE") == 180
    assert cm.billed_storage_days(200, "DEEP_ARCHIVE") == 200
    assert cm.billed_storage_days(10, "STANDARD_IA") == 30
    assert cm.billed_storage_days(10, "STANDARD") == 10
    # 1,000 objects of 1 MiB moved to Deep Archive at day 0.5, expired at day 30.5: 30 days in the class,
    # 150 short of 180: the fee is 1000 x (1024 + 32) KB x 0.00099 x 150 / DPM, charged in month 2 (day 30.5).
    x = backlog_inputs(retention_days=30, horizon_months=12)
    gda = Scenario("gda", "archive", storage_class="DEEP_ARCHIVE", lifecycle_after_days=0)
    r = cm.compute_scenario(x, gda)
    class_gb = 1000 * (1024 + 32) / GB_IN_KB
    assert r.monthly["s3_early_delete"].tolist() == pytest.approx([0, class_gb * 0.00099 * 150 / DPM] + [0] * 10)
    # Kept past the minimum: no fee.
    assert cm.compute_scenario(replace(x, retention_days=200), gda).monthly["s3_early_delete"].sum() == 0


def test_reading_back_from_glacier_pays_restore_requests_retrieval_and_gets():
    # Month 2: 1,000 objects (0.9765625 GB) in GLACIER, 10% read back with standard restores:
    # 100/1000 x 0.05 + 0.09765625 x 0.01 + 100/1000 x 0.0004 = 0.0060165625
    x = backlog_inputs(read_back_share=0.1)
    r = cm.compute_scenario(x, glacier_after(0))
    assert r.monthly.loc[2, "s3_retrieval"] == pytest.approx(0.0060165625)
    bulk = cm.compute_scenario(replace(x, retrieval_tier="bulk"), glacier_after(0))
    assert bulk.monthly.loc[2, "s3_retrieval"] == pytest.approx(100 / 1000 * 0.0004)  # bulk restores are free


def test_no_read_back_needs_no_retrieval_price():
    r = cm.compute_scenario(backlog_inputs(), glacier_after(0))
    assert not any(p.item.startswith(("retrieval_", "restore_")) for p in r.prices_used)


# ---------------------------------------------------------------- Lambda


def test_lambda_with_and_without_the_ttl_filter():
    # us-east-1, 1 KB items, 1 GB written and, from month 2, 1 GB expiring per month:
    # 1,048,576 TTL deletes + 1,048,576 inserts on the stream; batches of 100.
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=1, hot_days=30, item_kb=1,
                   include_writes=False, horizon_months=2)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    assert r.quantities.loc[2, "lambda_invocations"] == 10486  # ceil(1,048,576 / 100)
    assert r.monthly.loc[2, "lambda_requests"] == pytest.approx(0.0020972)
    # (10,486 x 50 ms + 1,048,576 x 1 ms) / 1000 x 128/1024 GB = 196.6095 GB-s x 0.0000166667
    assert r.monthly.loc[2, "lambda_duration"] == pytest.approx(196.6095 * 0.0000166667)
    nf = cm.compute_scenario(replace(x, ttl_filter=False), Scenario("s3", "archive"))
    assert nf.quantities.loc[2, "lambda_invocations"] == 20972
    table = cm.lambda_filter_comparison(x)
    assert table.loc[False, "invocations"] > table.loc[True, "invocations"]


def test_lambda_free_tier_covers_small_volumes():
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=1, hot_days=30, include_writes=False,
                   horizon_months=2, lambda_free_tier=True)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    assert r.monthly[["lambda_requests", "lambda_duration"]].sum().sum() == 0


# ---------------------------------------------------------------- Tokyo, missing figures


def test_a_tokyo_comparison_computes_every_scenario_from_tokyo_figures():
    c = cm.compare(CostInputs(region="ap-northeast-1", horizon_months=6, read_back_share=0.1), cm.default_scenarios(0))
    assert not c.skipped and set(c.results) == {s.name for s in cm.default_scenarios(0)}
    for r in c.results.values():
        assert all(p.region == "ap-northeast-1" and not p.borrowed_from and p.verified for p in r.prices_used)
    assert (c.summary()["status"] == "computed").all()


def _book_without(region: str, service: str, item: str, on_missing: str = "raise") -> PriceBook:
    prices = [replace(p, price=None, confidence="") if (p.service, p.item, p.region) == (service, item, region) else p
              for p in read_prices()]
    return PriceBook(region, prices, on_missing=on_missing)


def test_a_scenario_that_cannot_be_computed_is_a_visible_row_with_the_reason():
    x = CostInputs(region="ap-northeast-1", horizon_months=6)
    book = _book_without("ap-northeast-1", "firehose", "ingestion")
    with pytest.raises(MissingPriceError, match=r"firehose/ingestion .* ap-northeast-1"):
        cm.compute_scenario(x, Scenario("s3", "archive"), book)
    c = cm.compare(x, book=book)
    summary = c.summary()
    assert set(summary.index) == {s.name for s in cm.default_scenarios()}  # nothing dropped
    row = summary.loc["Archive in S3 Standard"]
    assert row["status"].startswith("NOT COMPUTED") and "firehose/ingestion" in row["status"]
    assert summary.loc["DynamoDB Standard", "status"] == "computed"


def test_fallback_names_every_borrowed_figure():
    x = CostInputs(region="ap-northeast-1")
    book = _book_without("ap-northeast-1", "firehose", "ingestion", on_missing="fallback")
    r = cm.compute_scenario(x, Scenario("s3", "archive"), book)
    assert {p.item for p in r.unverified if p.borrowed_from == "us-east-1"} == {"ingestion"}
    assert all("BORROWED from us-east-1" in w for w in r.warnings())


# ---------------------------------------------------------------- comparisons


def _fake(name: str, monthly: list[float]) -> cm.ScenarioResult:
    frame = pd.DataFrame({c: 0.0 for c in cm.COMPONENTS}, index=pd.RangeIndex(1, len(monthly) + 1, name="month"))
    frame["s3_storage"] = monthly
    return cm.ScenarioResult(Scenario(name, "archive"), CostInputs(region="us-east-1"), frame, pd.DataFrame(), ())


def test_break_even_is_the_month_from_which_the_cumulative_cost_stays_below_the_baseline():
    c = cm.Comparison(CostInputs(region="us-east-1"), {
        "base": _fake("base", [10, 10, 10, 10]), "archive": _fake("archive", [25, 5, 5, 5]),
        "cheap": _fake("cheap", [5, 5, 5, 5]), "dear": _fake("dear", [15, 15, 15, 15])})
    assert cm.break_even(c, "base") == {"base": None, "archive": 4, "cheap": 1, "dear": None}
    with pytest.raises(ValueError, match="Unknown baseline"):
        cm.break_even(c, "nope")


def test_bigger_buffers_never_raise_the_per_object_cost():
    x = CostInputs(region="us-east-1", table_gb=50, monthly_growth_gb=20, item_kb=2, horizon_months=12)
    sweep = cm.buffer_sweep(x, [glacier_after(0, object_size_greater_than_kb=0)], sizes_mib=(1, 4, 16, 64), intervals_s=(900,))
    per_object = sweep["s3_object_usd"].tolist()
    assert per_object == sorted(per_object, reverse=True) and per_object[0] > per_object[-1]
    assert sweep["mean_object_kb"].is_monotonic_increasing


def test_one_item_per_record_against_packing():
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=0, hot_days=0, item_kb=2,
                   include_writes=False, horizon_months=1)
    t = cm.firehose_record_comparison(x)
    assert t.loc["packed (archiver)", "record_kb"] == 200
    assert t.loc["packed (archiver)", "ingestion_usd"] == pytest.approx(0.029)
    assert t.loc["one item per record", "ingestion_usd"] == pytest.approx(0.0725)  # 2.5 GB x 0.029


# ---------------------------------------------------------------- validation and archive inputs


@pytest.mark.parametrize("kwargs, message", [
    ({"table_gb": -1}, "table_gb must be a finite number >= 0"),
    ({"other_tables_gb": -5}, "other_tables_gb must be a finite number >= 0"),
    ({"item_kb": 0}, "item_kb must be > 0"),
    ({"item_kb": 500}, "item_kb must be <= 400"),
    ({"region": "eu-west-9"}, "Unknown region 'eu-west-9'"),
    ({"buffer_size_mib": 200}, "1-128 MiB"),
    ({"buffer_interval_s": 1000}, "0-900 s"),
    ({"read_back_share": 1.5}, "read_back_share"),
    ({"compression_ratio": 0}, "compression_ratio must be > 0"),
    ({"retrieval_tier": "expedited"}, "Unknown retrieval_tier"),
    ({"lifecycle_min_size": "none"}, "Unknown lifecycle_min_size"),
    ({"firehose_record_kb": 2000}, "firehose_record_kb"),
    ({"horizon_months": 2.5}, "whole number"),
])
def test_invalid_inputs_raise_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CostInputs(**kwargs)


def test_unknown_classes_raise_value_errors():
    with pytest.raises(ValueError, match="Unknown storage class 'GLACIER_DEEP'"):
        Scenario("x", "archive", storage_class="GLACIER_DEEP")
    with pytest.raises(ValueError, match="Unknown table class"):
        Scenario("x", "dynamodb", table_class="INFREQUENT")
    with pytest.raises(ValueError, match="lifecycle_after_days needs"):
        Scenario("x", "archive", storage_class="STANDARD", lifecycle_after_days=30)
    with pytest.raises(ValueError, match="Unknown storage class"):
        cm.billed_object_kb(10, "COLD")
    with pytest.raises(ValueError, match="price book is for us-east-1"):
        cm.compute_scenario(CostInputs(region="ap-northeast-1"), Scenario("k", "dynamodb"), PriceBook.load("us-east-1"))


def test_pricing_region_defaults_to_the_deployed_stacks_region(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    region, why = cm.pricing_region(None, target="local")
    assert region == "ap-northeast-1" and "embedded local AWS" in why
    assert cm.pricing_region("us-east-1")[1].endswith("TTL_ARCHIVE_COST_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with pytest.raises(ValueError, match="TTL_ARCHIVE_COST_REGION"):
        cm.pricing_region(None, target="aws")


def test_notebook_numbers_from_the_environment_name_the_variable_when_wrong():
    assert cm.env_number("TTL_ARCHIVE_COST_TABLE_GB", 500, environ={}) == 500
    assert cm.env_number("TTL_ARCHIVE_COST_TABLE_GB", 500, environ={"TTL_ARCHIVE_COST_TABLE_GB": " 12.5 "}) == 12.5
    with pytest.raises(ValueError, match="TTL_ARCHIVE_COST_TABLE_GB must be a number, got 'lots'"):
        cm.env_number("TTL_ARCHIVE_COST_TABLE_GB", 500, environ={"TTL_ARCHIVE_COST_TABLE_GB": "lots"})
    with pytest.raises(ValueError, match="TTL_ARCHIVE_COST_HORIZON_MONTHS must be a whole number"):
        cm.env_number("TTL_ARCHIVE_COST_HORIZON_MONTHS", 36, int, environ={"TTL_ARCHIVE_COST_HORIZON_MONTHS": "2.5"})
    with pytest.raises(ValueError, match="TTL_ARCHIVE_COST_OTHER_TABLES_GB must be a finite number >= 0"):
        cm.env_number("TTL_ARCHIVE_COST_OTHER_TABLES_GB", 0, environ={"TTL_ARCHIVE_COST_OTHER_TABLES_GB": "-3"})


# ---------------------------------------------------------------- bugs a user would pay for (issue 15)


def test_glacier_flexible_and_deep_archive_have_no_128_kb_minimum_but_40_kb_of_overhead():
    # The 128 KB minimum billable size is Standard-IA's and Glacier Instant Retrieval's only.
    assert cm.billed_object_kb(100, "GLACIER") == (132, 8)
    assert cm.billed_object_kb(100, "DEEP_ARCHIVE") == (132, 8)
    assert cm.billed_object_kb(1, "GLACIER") == (33, 8)
    assert cm.billed_object_kb(100, "STANDARD") == (100, 0)
    # 1,000 objects of 100 KB moved to Glacier Flexible Retrieval after 30 days (small objects allowed):
    # from month 3 on, 1000 x (100 + 32) KB at the Glacier rate (0.0036) + 1000 x 8 KB at Standard's (0.023).
    x = backlog_inputs(compression_ratio=10.24, lifecycle_min_size="varies_by_storage_class")
    r = cm.compute_scenario(x, glacier_after(30))
    assert r.monthly.loc[3, "s3_storage"] == pytest.approx(1000 * 100 / GB_IN_KB * 0.0036)
    assert r.monthly.loc[3, "s3_object_overhead"] == pytest.approx(1000 * 32 / GB_IN_KB * 0.0036 + 1000 * 8 / GB_IN_KB * 0.023)
    assert not any("billed as 128 KB" in n for n in r.notes)


def test_reading_back_from_the_table_is_priced_as_eventually_consistent_reads():
    # 10% of the 1000 MiB table read back each month: 0.1 x 1000 MiB / 4 KB = 25,600 reads of 4 KB,
    # eventually consistent = 0.5 RRU each: 12,800 RRU x 0.125 USD per million = 0.0016 USD.
    x = backlog_inputs(read_back_share=0.1)
    r = cm.compute_scenario(x, Scenario(cm.BASELINE, "dynamodb", table_class="STANDARD"))
    assert r.monthly["dynamodb_reads"].tolist() == pytest.approx([0.0016] * 4)
    assert cm.compute_scenario(backlog_inputs(), Scenario(cm.BASELINE, "dynamodb", table_class="STANDARD")).monthly["dynamodb_reads"].sum() == 0
