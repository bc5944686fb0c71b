"""The cost model against cases computed by hand (each written out next to its assertion).

Prices used below are the bundled figures: Tokyo DynamoDB Standard 0.285 USD/GB-month after 25 free GB;
us-east-1 S3 Standard 0.023, Standard-IA 0.0125, Glacier Flexible Retrieval (GLACIER) 0.0036,
Deep Archive 0.00099 USD/GB-month; GLACIER transition 0.03 per 1,000; Firehose 0.029 per GB (L);
Lambda 0.20 per million requests and 0.0000166667 per GB-second; GLACIER standard restore 0.05 per
1,000 requests + 0.01 per GB, GET 0.0004 per 1,000. GB = 2**30 bytes, KB = 1024 bytes.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from helpers import cost_model as cm
from helpers.cost_model import CostInputs, Scenario
from helpers.pricing import MissingPriceError, PriceBook

GB_IN_KB = 1024 * 1024


def backlog_inputs(**overrides) -> CostInputs:
    """us-east-1; a table of 1000 MiB whose items have all expired (hot_days=0, no growth), so month 1
    archives a backlog of exactly 1000 MiB; 1 MiB buffers -> exactly 1,000 objects of 1 MiB raw."""
    base = dict(region="us-east-1", horizon_months=4, table_gb=1000 / 1024, monthly_growth_gb=0.0, hot_days=0,
                compression_ratio=1.0, buffer_size_mib=1, include_writes=False, retention_days=3650)
    base.update(overrides)
    return CostInputs(**base)


# ---------------------------------------------------------------- DynamoDB


def test_tokyo_100_gb_in_dynamodb_standard_costs_21_375_a_month():
    # (100 - 25) x 0.285 = 21.375 USD/month
    assert cm.dynamodb_storage_cost(100, 0.285, free_gb=25) == pytest.approx(21.375)
    x = CostInputs(region="ap-northeast-1", table_gb=100, monthly_growth_gb=0, include_writes=False, horizon_months=3)
    r = cm.compute_scenario(x, Scenario("keep", "dynamodb"))
    assert list(r.monthly["dynamodb_storage"]) == pytest.approx([21.375] * 3)
    assert r.total.sum() == pytest.approx(3 * 21.375)
    assert r.unverified == ()  # 0.285 and the free tier are M figures


def test_a_table_under_the_free_tier_costs_nothing_for_storage():
    x = CostInputs(region="ap-northeast-1", table_gb=20, monthly_growth_gb=0, include_writes=False, horizon_months=1)
    assert cm.compute_scenario(x, Scenario("keep", "dynamodb")).monthly["dynamodb_storage"].iloc[0] == 0


def test_standard_ia_table_has_no_free_tier():
    # us-east-1: 100 GB x 0.10 = 10 USD/month
    x = CostInputs(region="us-east-1", table_gb=100, monthly_growth_gb=0, include_writes=False, horizon_months=1)
    r = cm.compute_scenario(x, Scenario("ia", "dynamodb", table_class="STANDARD_IA"))
    assert r.monthly["dynamodb_storage"].iloc[0] == pytest.approx(10.0)


def test_growth_is_billed_on_the_mid_month_size_and_writes_per_wru():
    # us-east-1, 100 GB + 10 GB/month, 1 KB items: month 2 holds on average 100 + 10 x 1.5 = 115 GB
    # -> (115 - 25) x 0.25 = 22.5; writes: 10 GB / 1 KB = 10,485,760 items x 1 WRU x 0.625 / 1e6 = 6.5536
    x = CostInputs(region="us-east-1", table_gb=100, monthly_growth_gb=10, item_kb=1, horizon_months=2)
    r = cm.compute_scenario(x, Scenario("keep", "dynamodb"))
    assert r.monthly.loc[2, "dynamodb_storage"] == pytest.approx(22.5)
    assert r.monthly.loc[2, "dynamodb_writes"] == pytest.approx(6.5536)
    # A 2.5 KB item takes ceil(2.5) = 3 WRU: 10 GB / 2.5 KB = 4,194,304 items x 3 x 0.625 / 1e6 = 7.86432
    r = cm.compute_scenario(replace(x, item_kb=2.5), Scenario("keep", "dynamodb"))
    assert r.monthly.loc[2, "dynamodb_writes"] == pytest.approx(7.86432)


# ---------------------------------------------------------------- Firehose


def test_a_3_kb_record_is_billed_as_5_kb():
    assert cm.firehose_billed_kb(3) == 5
    assert cm.firehose_billed_kb(12) == 15
    assert cm.firehose_billed_kb(5) == 5
    assert cm.firehose_billed_kb(1000) == 1000


def test_one_3_kb_item_per_record_pays_5_3_of_the_volume_and_packing_removes_the_overhead():
    # 1 GB of 3 KB items sent one per record: 1 GB x 5/3 billed x 0.029 = 0.048333...
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=0, hot_days=0, item_kb=3,
                   firehose_record_kb=3, include_writes=False, horizon_months=1)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    assert r.monthly["firehose_ingestion"].iloc[0] == pytest.approx(1 * 5 / 3 * 0.029)
    # Packed (default): min(100 items per batch, floor(1000/3) = 333) x 3 KB = 300 KB records,
    # a multiple of 5 KB, so 1 GB is billed as 1 GB: 0.029
    packed = replace(x, firehose_record_kb=None)
    assert packed.record_kb == 300
    assert cm.compute_scenario(packed, Scenario("s3", "archive")).monthly["firehose_ingestion"].iloc[0] == pytest.approx(0.029)
    assert any("firehose/ingestion" in w and "low confidence" in w for w in r.warnings())


def test_firehose_objects_follow_the_buffer_that_fills_first():
    # 1 GB raw in a 30-day month = 1024 MiB. 5 MiB buffers -> 204.8 objects by size;
    # 300 s interval -> 2,592,000 / 300 = 8,640 flushes: the interval wins.
    assert cm.firehose_objects(1, 5, 300, records=1e9) == pytest.approx(8640)
    assert cm.firehose_objects(1, 5, 900, records=1e9) == pytest.approx(2880)
    # 100 GB with 1 MiB buffers: 102,400 objects by size beat 2,880 by time.
    assert cm.firehose_objects(100, 1, 900, records=1e9) == pytest.approx(102_400)
    # Never more objects than records, none without data.
    assert cm.firehose_objects(1, 1, 0, records=50) == 50
    assert cm.firehose_objects(0, 1, 60, records=0) == 0


# ---------------------------------------------------------------- S3 storage classes


def test_1000_objects_moved_to_glacier_cost_one_transition_unit_and_carry_40_kb_each():
    assert cm.transition_units(1000) == 1
    assert cm.billed_object_kb(1024, "GLACIER") == (1024 + 32, 8)
    # 1,000 objects of 1 MiB written to Standard mid-month 1, moved after 30 days (mid-month 2):
    # transitions in month 2: 1 unit x 0.03 = 0.03
    x = backlog_inputs()
    r = cm.compute_scenario(x, Scenario("lc", "archive", storage_class="GLACIER", lifecycle_after_days=30))
    assert r.quantities.loc[1, "objects_written"] == 1000
    assert r.monthly["s3_transitions"].tolist() == pytest.approx([0, 0.03, 0, 0])
    # Month 3 (all of it in GLACIER): data 1000 x 1024 KB = 0.9765625 GB x 0.0036 = 0.003515625
    # overhead 1000 x 32 KB x 0.0036 + 1000 x 8 KB x 0.023 (per GB = 1024**2 KB) = 0.000285339...
    assert r.monthly.loc[3, "s3_storage"] == pytest.approx(0.9765625 * 0.0036)
    assert r.monthly.loc[3, "s3_object_overhead"] == pytest.approx(32000 / GB_IN_KB * 0.0036 + 8000 / GB_IN_KB * 0.023)
    # Month 1: half a month in Standard: 0.9765625 x 0.5 x 0.023
    assert r.monthly.loc[1, "s3_storage"] == pytest.approx(0.9765625 * 0.5 * 0.023)
    # PUTs at the Standard rate: 1,000 x 0.005 / 1,000
    assert r.monthly.loc[1, "s3_puts"] == pytest.approx(0.005)


def test_objects_under_128_kb_are_not_transitioned_by_default():
    assert not cm.transitions_allowed(100, "GLACIER")
    assert cm.transitions_allowed(100, "GLACIER", "varies_by_storage_class")
    assert not cm.transitions_allowed(100, "STANDARD_IA", "varies_by_storage_class")
    assert cm.transitions_allowed(128, "STANDARD_IA")
    # 1,000 objects of 1 MiB raw compressed 10.24x -> 100 KB: they stay in Standard, no transition fee.
    x = backlog_inputs(compression_ratio=10.24)
    s = Scenario("lc", "archive", storage_class="DEEP_ARCHIVE", lifecycle_after_days=30)
    r = cm.compute_scenario(x, s)
    assert r.quantities.loc[1, "object_kb"] == pytest.approx(100)
    assert r.monthly["s3_transitions"].sum() == 0
    assert r.monthly.loc[3, "s3_storage"] == pytest.approx(1000 * 100 / GB_IN_KB * 0.023)
    assert any("never transitioned" in n for n in r.notes)
    moved = cm.compute_scenario(replace(x, lifecycle_min_size="varies_by_storage_class"), s)
    assert moved.monthly["s3_transitions"].sum() == pytest.approx(0.05)  # 1 unit x 0.05 (GDA)


def test_a_100_kb_object_in_standard_ia_is_billed_as_128_kb():
    assert cm.billed_object_kb(100, "STANDARD_IA") == (128, 0)
    assert cm.billed_object_kb(100, "GLACIER_IR") == (128, 0)
    assert cm.billed_object_kb(200, "STANDARD_IA") == (200, 0)
    # 1,000 objects of 100 KB for the whole of month 2: 1000 x 128 KB = 0.1220703125 GB x 0.0125
    x = backlog_inputs(compression_ratio=10.24)
    r = cm.compute_scenario(x, Scenario("ia", "archive", storage_class="STANDARD_IA"))
    month2 = r.monthly.loc[2, "s3_storage"] + r.monthly.loc[2, "s3_object_overhead"]
    assert month2 == pytest.approx(1000 * 128 / GB_IN_KB * 0.0125)
    assert r.monthly.loc[2, "s3_object_overhead"] == pytest.approx(1000 * 28 / GB_IN_KB * 0.0125)
    assert any("billed as 128 KB" in n for n in r.notes)


def test_an_object_deleted_before_the_minimum_duration_is_billed_for_the_minimum():
    assert cm.billed_storage_days(30, "DEEP_ARCHIVE") == 180
    assert cm.billed_storage_days(200, "DEEP_ARCHIVE") == 200
    assert cm.billed_storage_days(10, "STANDARD_IA") == 30
    assert cm.billed_storage_days(10, "STANDARD") == 10
    # 1,000 objects of 1 MiB in Deep Archive, deleted after 30 days (mid-month 2): billed for 180 days,
    # i.e. 6 months x 1000 x (1024 + 32) KB = 1.00708 GB x 0.00099 in total at the class rate;
    # the 150 missing days are an early-delete fee in month 2.
    x = backlog_inputs(retention_days=30, horizon_months=12)
    r = cm.compute_scenario(x, Scenario("gda", "archive", storage_class="DEEP_ARCHIVE"))
    class_gb = 1000 * (1024 + 32) / GB_IN_KB
    assert r.monthly["s3_early_delete"].tolist() == pytest.approx([0, class_gb * 5 * 0.00099] + [0] * 10)
    at_class_rate = r.monthly["s3_storage"].sum() + r.monthly["s3_early_delete"].sum() + 1000 * 32 / GB_IN_KB * 0.00099
    assert at_class_rate == pytest.approx(class_gb * 6 * 0.00099)
    # Kept past the minimum: no fee.
    kept = cm.compute_scenario(replace(x, retention_days=200), Scenario("gda", "archive", storage_class="DEEP_ARCHIVE"))
    assert kept.monthly["s3_early_delete"].sum() == 0


def test_reading_back_from_glacier_pays_restore_requests_retrieval_and_gets():
    # Month 2: 1,000 objects (0.9765625 GB) in GLACIER, 10% read back with standard restores:
    # 100/1000 x 0.05 + 0.09765625 x 0.01 + 100/1000 x 0.0004 = 0.0060165625
    x = backlog_inputs(read_back_share=0.1)
    r = cm.compute_scenario(x, Scenario("gfr", "archive", storage_class="GLACIER"))
    assert r.monthly.loc[2, "s3_retrieval"] == pytest.approx(0.0060165625)
    # Bulk restores of GLACIER are free per GB and per request: only the GETs remain.
    bulk = cm.compute_scenario(replace(x, retrieval_tier="bulk"), Scenario("gfr", "archive", storage_class="GLACIER"))
    assert bulk.monthly.loc[2, "s3_retrieval"] == pytest.approx(100 / 1000 * 0.0004)


def test_no_read_back_needs_no_retrieval_price():
    r = cm.compute_scenario(backlog_inputs(), Scenario("gfr", "archive", storage_class="GLACIER"))
    assert not any(p.item.startswith(("retrieval_", "restore_")) for p in r.prices_used)


# ---------------------------------------------------------------- Lambda


def test_lambda_with_and_without_the_ttl_filter():
    # us-east-1, 1 KB items, 1 GB written and 1 GB expiring per month (table 1 GB = 30 hot days of growth):
    # 1,048,576 TTL deletes + 1,048,576 inserts on the stream; batches of 100.
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=1, hot_days=30, item_kb=1,
                   include_writes=False, horizon_months=2)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    # With the filter: ceil(1,048,576 / 100) = 10,486 invocations x 0.20 / 1e6 = 0.0020972
    assert r.quantities.loc[2, "lambda_invocations"] == 10486
    assert r.monthly.loc[2, "lambda_requests"] == pytest.approx(0.0020972)
    # Duration: (10,486 x 50 ms + 1,048,576 x 1 ms) / 1000 x 128/1024 GB = 196.6095 GB-s x 0.0000166667
    assert r.monthly.loc[2, "lambda_duration"] == pytest.approx(196.6095 * 0.0000166667)
    # Without: every stream record invokes: ceil(2,097,152 / 100) = 20,972 invocations
    nf = cm.compute_scenario(replace(x, ttl_filter=False), Scenario("s3", "archive"))
    assert nf.quantities.loc[2, "lambda_invocations"] == 20972
    assert nf.monthly.loc[2, "lambda_requests"] == pytest.approx(20972 * 0.20 / 1e6)
    table = cm.lambda_filter_comparison(x)
    assert table.loc[False, "invocations"] > table.loc[True, "invocations"]


def test_lambda_free_tier_covers_small_volumes():
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=1, hot_days=30, include_writes=False,
                   horizon_months=2, lambda_free_tier=True)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    assert r.monthly[["lambda_requests", "lambda_duration"]].sum().sum() == 0


# ---------------------------------------------------------------- missing figures


def test_tokyo_archive_raises_naming_the_missing_firehose_price():
    x = CostInputs(region="ap-northeast-1")
    with pytest.raises(MissingPriceError, match=r"firehose/ingestion .* ap-northeast-1"):
        cm.compute_scenario(x, Scenario("s3", "archive"))
    assert issubclass(MissingPriceError, ValueError)


def test_fallback_computes_and_names_every_borrowed_or_low_confidence_figure():
    x = CostInputs(region="ap-northeast-1")
    r = cm.compute_scenario(x, Scenario("gir", "archive", storage_class="GLACIER_IR"), on_missing="fallback")
    borrowed = {p.item for p in r.unverified if p.borrowed_from == "us-east-1"}
    assert "ingestion" in borrowed  # Tokyo Firehose ingestion is missing: borrowed and named
    # the Tokyo GLACIER_IR figures are bundled (M), so they are used as they are, not borrowed
    assert not {"put_glacier_ir", "storage_glacier_ir"} & borrowed
    used = {p.item: p for p in r.prices_used}
    assert used["storage_glacier_ir"].price == 0.005 and not used["storage_glacier_ir"].borrowed_from
    assert all("BORROWED from us-east-1" in w or "low confidence" in w for w in r.warnings())
    # Tokyo Standard-IA table: 0.114 is a fixture-only (L) figure
    ia = cm.compute_scenario(x, Scenario("ia", "dynamodb", table_class="STANDARD_IA"), on_missing="fallback")
    assert "storage_standard_ia" in {p.item for p in ia.unverified}


def test_compare_lists_scenarios_it_could_not_price_instead_of_dropping_them():
    x = CostInputs(region="ap-northeast-1", horizon_months=6)
    c = cm.compare(x)  # on_missing="raise"
    assert "DynamoDB Standard" in c.results
    assert "Archive to S3 Standard" in c.skipped and "firehose/ingestion" in c.skipped["Archive to S3 Standard"]
    full = cm.compare(x, on_missing="fallback")
    assert set(full.results) == {s.name for s in cm.default_scenarios()} and not full.skipped
    assert full.summary().loc["Archive to S3 Standard", "unverified_figures"] >= 1


# ---------------------------------------------------------------- comparisons


def _fake(name: str, monthly: list[float]) -> cm.ScenarioResult:
    frame = pd.DataFrame({c: 0.0 for c in cm.COMPONENTS}, index=pd.RangeIndex(1, len(monthly) + 1, name="month"))
    frame["s3_storage"] = monthly
    return cm.ScenarioResult(Scenario(name, "archive"), CostInputs(region="us-east-1"), frame, pd.DataFrame(), ())


def test_break_even_is_the_month_from_which_the_cumulative_cost_stays_below_the_baseline():
    # baseline 10/month: cumulative 10, 20, 30, 40. Archive 25 then 5/month: 25, 30, 35, 40 -> month 4.
    # Cheap: 5/month from the start -> month 1. Dear: 15/month -> never.
    c = cm.Comparison(CostInputs(region="us-east-1"), {
        "base": _fake("base", [10, 10, 10, 10]), "archive": _fake("archive", [25, 5, 5, 5]),
        "cheap": _fake("cheap", [5, 5, 5, 5]), "dear": _fake("dear", [15, 15, 15, 15])})
    assert cm.break_even(c, "base") == {"base": None, "archive": 4, "cheap": 1, "dear": None}
    with pytest.raises(ValueError, match="Unknown baseline"):
        cm.break_even(c, "nope")


def test_bigger_buffers_never_raise_the_per_object_cost():
    x = CostInputs(region="us-east-1", table_gb=50, monthly_growth_gb=20, item_kb=2, horizon_months=12)
    s = [Scenario("gfr", "archive", storage_class="GLACIER")]
    sweep = cm.buffer_sweep(x, s, sizes_mib=(1, 4, 16, 64), intervals_s=(900,))
    per_object = sweep["s3_object_usd"].tolist()
    assert per_object == sorted(per_object, reverse=True) and per_object[0] > per_object[-1]
    assert sweep["mean_object_kb"].is_monotonic_increasing


# ---------------------------------------------------------------- validation and archive inputs


@pytest.mark.parametrize("kwargs, message", [
    ({"table_gb": -1}, "table_gb must be a finite number >= 0"),
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


def test_archive_stats_from_objects_and_items():
    objects = pd.DataFrame({
        "key": ["a", "b", "c"], "size": [1000, 2000, 3000],
        "last_modified": ["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"]})
    items = pd.DataFrame({"item_size": [4096] * 6})
    st = cm.archive_stats(objects, items)
    # 3 objects over 2 days = 1.5 a day; 6000 bytes / 3 = 1.953125 KB; items 4 KB;
    # compression 6 x 4096 / 6000 = 4.096
    assert (st.objects, st.days, st.objects_per_day) == (3, 2.0, 1.5)
    assert st.mean_object_kb == pytest.approx(2000 / 1024)
    assert st.mean_item_kb == 4 and st.compression_ratio == pytest.approx(4.096)
    x = replace(CostInputs(region="us-east-1"), **st.overrides())
    assert (x.item_kb, x.compression_ratio) == (4, pytest.approx(4.096))
    assert cm.archive_stats(objects).compression_ratio is None
    with pytest.raises(ValueError, match="missing \\['last_modified'\\]"):
        cm.archive_stats(objects.drop(columns="last_modified"))
    with pytest.raises(ValueError, match="negative"):
        cm.archive_stats(objects.assign(size=[-1, 2, 3]))
    # archive_reader's names: objects.stored_at and frame.record_bytes
    reader = cm.archive_stats(objects.rename(columns={"last_modified": "stored_at"}), pd.DataFrame({"record_bytes": [2048] * 3}))
    assert reader.objects_per_day == 1.5 and reader.mean_item_kb == 2 and reader.compression_ratio == pytest.approx(6144 / 6000)


def test_one_item_per_record_against_packing():
    # 1 GB of 2 KB items: packed records of 100 x 2 = 200 KB (a 5 KB multiple) bill 1 GB x 0.029;
    # one item per record bills each 2 KB item as 5 KB: 2.5 GB x 0.029 = 0.0725
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=0, hot_days=0, item_kb=2,
                   include_writes=False, horizon_months=1)
    t = cm.firehose_record_comparison(x)
    assert t.loc["packed (archiver)", "record_kb"] == 200
    assert t.loc["packed (archiver)", "ingestion_usd"] == pytest.approx(0.029)
    assert t.loc["one item per record", "billed_kb"] == 5
    assert t.loc["one item per record", "ingestion_usd"] == pytest.approx(0.0725)
