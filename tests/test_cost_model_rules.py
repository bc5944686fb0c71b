"""The billing rules and the model's money edges, against figures computed by hand (issue 15).

Each expected figure is written out from the rule in docs/cost-model.md and a bundled price
(helpers/data/prices.csv, us-east-1 unless said): DynamoDB Standard 0.25 USD/GB-month after 25 free GB,
WRU 0.625 and eventually consistent RRU 0.125 per million; Lambda 0.20 per million requests, 0.0000166667
(x86_64) and 0.0000133334 (arm64) per GB-second, 1M requests and 400,000 GB-s free; Firehose 0.029 per GB;
S3 Standard 0.023, Standard-IA 0.0125, Glacier Instant Retrieval 0.004, Glacier Flexible Retrieval 0.0036,
Deep Archive 0.00099 per GB-month; PUT 0.005, Glacier transition 0.03 per 1,000; GET Standard 0.0004,
Standard-IA 0.001, Glacier IR 0.01, Deep Archive 0.0004 per 1,000; retrieval Standard-IA 0.01, Glacier IR
0.03, Deep Archive standard 0.02 per GB; Deep Archive standard restore 0.10 per 1,000.

Figures are compared with a relative tolerance of 1e-12: a price per million read as per 1,000,001 is off
by 1e-6, which pytest.approx's default would let through.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from helpers import cost_model as cm
from helpers import pricing
from helpers.cost_model import CostInputs, Scenario

GB_IN_KB = 1024 * 1024
DPM = 730 / 24  # days in a 730-hour billing month


def exact(value):
    return pytest.approx(value, rel=1e-12, abs=1e-15)


def backlog(**overrides) -> CostInputs:
    """us-east-1: a table of 1000 MiB whose items have all expired (hot_days=0, no growth): month 1 archives
    a backlog of 1000 MiB at t=0, in 1 MiB buffers: 1,000 objects of 1,024 KB (compression 1)."""
    base = dict(region="us-east-1", horizon_months=4, table_gb=1000 / 1024, monthly_growth_gb=0.0, hot_days=0,
                compression_ratio=1.0, buffer_size_mib=1, include_writes=False, retention_days=3650)
    base.update(overrides)
    return CostInputs(**base)


def after(storage_class: str, days: float, **kw) -> Scenario:
    return Scenario("lc", "archive", storage_class=storage_class, lifecycle_after_days=days, **kw)


ONE_OBJECT_GB = 1 / 1024  # 1 MiB: exactly one 1 MiB buffer


# ---------------------------------------------------------------- rules.py


def test_dynamodb_billed_gb_edges():
    assert cm.dynamodb_billed_gb(0, 1) == 0  # an empty table is valid and bills nothing
    with pytest.raises(ValueError, match="data_gb must be >= 0 and item_kb > 0"):
        cm.dynamodb_billed_gb(-1, 1)
    with pytest.raises(ValueError, match="data_gb must be >= 0 and item_kb > 0"):
        cm.dynamodb_billed_gb(1, 0)  # a ValueError, not a division by zero


def test_dynamodb_storage_cost_defaults_and_the_free_tier_floor():
    # No free allowance unless given: 10 GB x 0.25 = 2.5
    assert cm.dynamodb_storage_cost(10, 0.25) == exact(2.5)
    # Under the free allowance the table costs nothing (not a 1 GB minimum)
    assert cm.dynamodb_storage_cost(10, 0.25, free_gb=25) == 0
    for args in ((-1, 0.25, 25, 0), (10, -0.25, 25, 0), (10, 0.25, -25, 0), (10, 0.25, 25, -1)):
        with pytest.raises(ValueError, match="sizes and prices must be >= 0"):
            cm.dynamodb_storage_cost(*args)


def test_firehose_billed_kb_edges_and_ingestion_cost():
    assert cm.firehose_billed_kb(1) == 5 and cm.firehose_billed_kb(0.5) == 5
    with pytest.raises(ValueError, match="record_kb must be > 0"):
        cm.firehose_billed_kb(0)
    # 1,048,576 records of 3 KB billed as 5 KB each: 5 GB x 0.029 = 0.145
    assert cm.firehose_ingestion_cost(1_048_576, 3, 0.029) == exact(0.145)
    assert cm.firehose_ingestion_cost(1_048_576, 10, 0.029) == exact(0.29)


def test_firehose_objects_edges():
    # Nothing arrives: no object, whatever the records say
    assert cm.firehose_objects(0, 5, 300, records=100) == 0
    # One record makes at most one object
    assert cm.firehose_objects(1, 5, 300, records=1) == 1
    # A 0.5 s interval: 2,628,000 / 0.5 = 5,256,000 flushes (an interval under 1 s is still an interval)
    assert cm.firehose_objects(1, 5, 0.5, records=1e9) == exact(5_256_000)


def test_object_kb_for_flow_edges():
    assert cm.object_kb_for_flow(0, 5, 300, 4) == 0  # no flow: no object size
    assert cm.object_kb_for_flow(50, 5, 0, 5) == 0  # interval 0: one object per record, no buffer
    # 50 GB a month, 0.5 s: 50 x 1024 / 2,628,000 x 0.5 MiB raw -> x 1024 / 5 KB stored
    assert cm.object_kb_for_flow(50, 5, 0.5, 5) == exact(50 * 1024 / 2_628_000 * 0.5 * 1024 / 5)


def test_transition_units_are_per_1000_objects():
    assert cm.transition_units(0) == 0
    assert cm.transition_units(2500) == exact(2.5)
    with pytest.raises(ValueError, match="objects must be >= 0"):
        cm.transition_units(-1)


def test_transitions_allowed_is_strictly_greater_than_the_filter():
    assert not cm.transitions_allowed(128, "GLACIER", object_size_greater_than_kb=128)
    assert cm.transitions_allowed(128.5, "GLACIER", object_size_greater_than_kb=128)
    with pytest.raises(ValueError, match="Unknown lifecycle_min_size 'none'"):
        cm.transitions_allowed(200, "GLACIER", "none")


def test_lifecycle_and_storage_day_rules_edges():
    with pytest.raises(ValueError, match="days must be >= 0"):
        cm.lifecycle_action_days(-1)
    with pytest.raises(ValueError, match="target class other than STANDARD"):
        cm.check_transition_days("STANDARD", 30)
    with pytest.raises(ValueError, match="lifecycle_after_days must be >= 0"):
        cm.check_transition_days("GLACIER", -1)
    assert cm.billed_storage_days(0, "STANDARD_IA") == 30  # deleted at once: the whole minimum
    assert cm.billed_storage_days(0.5, "STANDARD") == 0.5
    with pytest.raises(ValueError, match="days_stored must be >= 0"):
        cm.billed_storage_days(-1, "GLACIER")
    with pytest.raises(ValueError, match="object_kb must be >= 0"):
        cm.billed_object_kb(-1, "GLACIER")


# ---------------------------------------------------------------- volumes


def test_volumes_of_a_young_table_by_hand():
    # 0 GB today, 10 GB/month, TTL 90 days: hot cap = 10 x 90 / DPM = 29.589... GB, reached in month 3.
    x = CostInputs(region="us-east-1", table_gb=0, monthly_growth_gb=10, hot_days=90, item_kb=3, horizon_months=4)
    v = cm.volumes(x)
    cap = 10 * 90 / DPM
    total = [0, 10, 20, 30, 40]
    hot = [0, 10, 20, cap, cap]
    cold = [t - h for t, h in zip(total, hot)]
    assert v["month"].tolist() == [1, 2, 3, 4]
    assert v["table_all_gb"].tolist() == exact([5, 15, 25, 35])
    assert v["table_hot_gb"].tolist() == exact([5, 15, (20 + cap) / 2, cap])
    assert v["cold_gb"].tolist() == exact([0, 0, cold[3] / 2, (cold[3] + cold[4]) / 2])
    assert v["archived_gb"].tolist() == exact([0, 0, cold[3], cold[4] - cold[3]])
    assert v["backlog_gb"].tolist() == [0, 0, 0, 0]
    # 10 GB of 3 KB items: 10 x 2^30 / 3,072 = 3,495,253.33 items a month (not rounded to a whole number)
    assert v["items_written"].tolist() == exact([10 * 2**30 / 3072] * 4)
    assert v["table_all_end_gb"].tolist() == [40]
    assert v["table_hot_end_gb"].tolist() == exact([cap])


def test_the_backlog_and_cold_data_of_an_old_table():
    # 100 GB today, 10 GB/month, TTL 90 days: month 1 archives 100 - cap (the backlog) plus that month's 10 GB.
    x = CostInputs(region="us-east-1", table_gb=100, monthly_growth_gb=10, hot_days=90, horizon_months=2)
    v = cm.volumes(x)
    cap = 10 * 90 / DPM
    assert v["backlog_gb"].tolist() == exact([100 - cap, 0])
    assert v["archived_gb"].tolist() == exact([110 - cap, 10])
    assert v["cold_gb"].tolist() == exact([105 - cap, 115 - cap])


# ---------------------------------------------------------------- DynamoDB


def test_dynamodb_writes_with_updates_and_reads_back_are_priced_per_million():
    # 100 GB + 10 GB/month of 1 KB items, 2 updates per item, 10 % of the cold data read back.
    x = CostInputs(region="us-east-1", table_gb=100, monthly_growth_gb=10, hot_days=90, item_kb=1, horizon_months=2,
                   updates_per_item=2, read_back_share=0.1)
    r = cm.compute_scenario(x, Scenario("keep", "dynamodb"))
    # 10,485,760 items x (1 + 2) writes x 1 WRU = 31,457,280 WRU x 0.625 / 1e6 = 19.6608 USD a month
    assert r.monthly["dynamodb_writes"].tolist() == exact([19.6608, 19.6608])
    cap = 10 * 90 / DPM
    cold = np.array([105 - cap, 115 - cap])  # mean cold GB in months 1 and 2
    # reads: 0.1 x cold GB x 2^20 KB / 4 KB x 0.5 RRU x 0.125 / 1e6
    assert r.monthly["dynamodb_reads"].tolist() == exact((0.1 * cold * GB_IN_KB / 4 * 0.5 * 0.125 / 1e6).tolist())
    assert r.quantities["cold_gb_in_table"].tolist() == exact(cold.tolist())
    assert r.quantities["table_data_gb"].tolist() == exact([105, 115])
    assert r.quantities["table_billed_gb"].tolist() == exact([105 * 1.09765625, 115 * 1.09765625])
    # Standard-IA table class: WRU 0.78 per million
    ia = cm.compute_scenario(x, Scenario("ia", "dynamodb", table_class="STANDARD_IA"))
    assert ia.monthly["dynamodb_writes"].tolist() == exact([31_457_280 * 0.78 / 1e6] * 2)


def test_dynamodb_free_tier_switched_off_small_tables_and_other_tables_over_the_allowance():
    x = CostInputs(region="us-east-1", table_gb=100, monthly_growth_gb=0, include_writes=False, horizon_months=1)
    keep = Scenario("keep", "dynamodb")
    # No free tier: the whole 109.765625 GB x 0.25 = 27.44140625
    assert cm.compute_scenario(replace(x, dynamodb_free_tier=False), keep).monthly.loc[1, "dynamodb_storage"] == exact(27.44140625)
    # Other tables already use 40 GB (15 over the allowance): this table pays all of its 109.765625 GB
    assert cm.compute_scenario(replace(x, other_tables_gb=40), keep).monthly.loc[1, "dynamodb_storage"] == exact(27.44140625)
    # 0.5 GB (0.548828125 billed) is well inside the 25 free GB
    small = cm.compute_scenario(replace(x, table_gb=0.5), keep)
    assert small.monthly.loc[1, "dynamodb_storage"] == 0
    # An empty table needs no figure at all, not even the free allowance
    empty = cm.compute_scenario(replace(x, table_gb=0), keep)
    assert empty.prices_used == () and empty.monthly.to_numpy().sum() == 0


def test_a_dynamodb_result_says_what_is_still_stored_at_the_end():
    # 100 GB + 10 GB/month for 3 months: 130 GB of data, billed 130 x 1.09765625 = 142.6953125 GB
    x = CostInputs(region="us-east-1", table_gb=100, monthly_growth_gb=10, horizon_months=3)
    r = cm.compute_scenario(x, Scenario("keep", "dynamodb"))
    assert r.stored_gb_at_end == exact(142.6953125)
    assert r.inputs is x
    assert r.monthly.index.name == "month" and r.quantities.index.name == "month"
    assert r.monthly.index.tolist() == [1, 2, 3]


def test_the_default_book_honours_on_missing_fallback(monkeypatch):
    real = pricing.read_prices
    monkeypatch.setattr(pricing, "read_prices", lambda path=None: [
        replace(p, price=None, confidence="") if (p.service, p.item, p.region) == ("firehose", "ingestion", "ap-northeast-1") else p
        for p in real(path)])
    x = CostInputs(region="ap-northeast-1", horizon_months=2)
    r = cm.compute_scenario(x, Scenario("s3", "archive"), on_missing="fallback")
    assert [(p.item, p.borrowed_from) for p in r.unverified] == [("ingestion", "us-east-1")]
    with pytest.raises(cm.MissingPriceError):
        cm.compute_scenario(x, Scenario("s3", "archive"))


# ---------------------------------------------------------------- Lambda and Firehose


def test_lambda_without_filter_with_updates_arm64_and_slower_items():
    # Month 2: 1 GB of 1 KB items expires (1,048,576 TTL deletes) and 1 GB is written with 1 update each
    # (2,097,152 more records): 3,145,728 records, ceil(/100) = 31,458 invocations.
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=1, hot_days=0, item_kb=1, include_writes=False,
                   horizon_months=2, ttl_filter=False, updates_per_item=1, lambda_ms_per_item=2,
                   lambda_architecture="arm64")
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    q = r.quantities.loc[2]
    assert q["ttl_records"] == 1_048_576 and q["lambda_invocations"] == 31_458
    # (31,458 x 50 ms + 3,145,728 x 2 ms) / 1000 x 128 / 1024 = 983.0445 GB-s at the arm64 rate
    assert q["lambda_gb_seconds"] == exact(983.0445)
    assert r.monthly.loc[2, "lambda_duration"] == exact(983.0445 * 0.0000133334)
    assert r.monthly.loc[2, "lambda_requests"] == exact(31_458 / 1e6 * 0.20)
    # Firehose: 100-item records of 100 KB: 1 GB / 100 KB = 10,485.76 records, billed 100 KB each = 1 GB
    assert q["firehose_records"] == exact(10_485.76) and q["firehose_billed_gb"] == exact(1.0)
    assert r.monthly.loc[2, "firehose_ingestion"] == exact(0.029)


def test_lambda_free_tier_only_covers_the_first_400000_gb_seconds():
    # 1 GB of 1 KB items a month, 1 s per item at 1,024 MB: (10,486 x 50 + 1,048,576 x 1000) / 1000 x 1 GB
    # = 1,049,100.3 GB-s; 649,100.3 above the free 400,000. 10,486 requests are inside the free million.
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=1, hot_days=0, include_writes=False,
                   horizon_months=2, lambda_free_tier=True, lambda_memory_mb=1024, lambda_ms_per_item=1000)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    assert r.monthly.loc[2, "lambda_duration"] == exact(649_100.3 * 0.0000166667)
    assert r.monthly.loc[2, "lambda_requests"] == 0


# ---------------------------------------------------------------- archive objects (cohorts)


def test_backlog_objects_are_whole_buffers_of_the_configured_size():
    # 1000 MiB in 5 MiB buffers: 200 objects of 5,120 KB; 200 PUTs x 0.005 / 1,000 = 0.001
    r = cm.compute_scenario(backlog(buffer_size_mib=5), Scenario("s3", "archive"))
    assert r.quantities["objects_written"].tolist() == [200, 0, 0, 0]
    assert r.quantities["object_kb"].tolist() == exact([5120, 0, 0, 0])
    assert r.monthly.loc[1, "s3_puts"] == exact(0.001)
    # 2.5 MiB in 1 MiB buffers: 3 objects (the last one partly filled) of 853.3 KB
    r = cm.compute_scenario(backlog(table_gb=2.5 / 1024), Scenario("s3", "archive"))
    assert r.quantities["objects_written"].tolist() == [3, 0, 0, 0]
    assert r.quantities["object_kb"].tolist() == exact([2.5 * 1024 / 3, 0, 0, 0])


def test_quantities_of_the_backlog_by_month():
    r = cm.compute_scenario(backlog(), Scenario("s3", "archive"))
    q = r.quantities
    assert q["archived_raw_gb"].tolist() == exact([0.9765625, 0, 0, 0])
    assert q["object_kb"].tolist() == exact([1024, 0, 0, 0])  # months without objects: 0, not NaN
    assert q["objects_STANDARD"].tolist() == exact([1000] * 4)
    g = cm.compute_scenario(backlog(), after("GLACIER", 0))
    t0 = 0.5 / DPM
    assert g.quantities["objects_STANDARD"].tolist() == exact([1000 * t0, 0, 0, 0])
    assert g.quantities["objects_GLACIER"].tolist() == exact([1000 * (1 - t0), 1000, 1000, 1000])


def test_a_month_without_backlog_writes_only_its_own_objects():
    # No table yet, 1 GB/month expiring at once: month 1 gets one cohort of 8,760 objects (300 s interval)
    # and no backlog object.
    x = CostInputs(region="us-east-1", table_gb=0, monthly_growth_gb=1, hot_days=0, include_writes=False, horizon_months=2)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    assert r.quantities["objects_written"].tolist() == exact([8760, 8760])
    assert r.monthly.loc[1, "s3_puts"] == exact(8760 / 1000 * 0.005)


def test_objects_never_outnumber_the_records_sent():
    # Interval 0 (a flush per record): 1 GB of 100 KB records = 10,485.76 records = 10,485.76 objects
    x = CostInputs(region="us-east-1", table_gb=0, monthly_growth_gb=1, hot_days=0, include_writes=False,
                   horizon_months=1, buffer_interval_s=0)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    assert r.quantities.loc[1, "objects_written"] == exact(10_485.76)


def test_a_single_object_is_moved_billed_and_counted():
    # One object of 1,024 KB moved to GLACIER at day 0.5: 1 transition = 0.03 / 1,000
    r = cm.compute_scenario(backlog(table_gb=ONE_OBJECT_GB), after("GLACIER", 0))
    assert r.quantities["objects_written"].tolist() == [1, 0, 0, 0]
    assert r.quantities["object_kb"].tolist() == exact([1024, 0, 0, 0])
    assert r.monthly["s3_transitions"].tolist() == exact([0.00003, 0, 0, 0])
    assert r.stored_gb_at_end == exact(1 / 1024)
    # Expired at day 30.5 in Deep Archive: 150 days short of 180: (1024 + 32) KB x 0.00099 x 150 / DPM in month 2
    d = cm.compute_scenario(backlog(table_gb=ONE_OBJECT_GB, retention_days=30, horizon_months=3), after("DEEP_ARCHIVE", 0))
    assert d.monthly["s3_early_delete"].tolist() == exact([0, 1056 / GB_IN_KB * 0.00099 * 150 / DPM, 0])


# ---------------------------------------------------------------- lifecycle and horizon edges


def test_an_expiry_exactly_at_the_end_of_the_horizon_is_outside_it():
    # 6 months; kept 182 days: expired at (182 + 0.5) / DPM = 6.0 months exactly, the first instant of month 7.
    x = backlog(horizon_months=6, retention_days=182)
    r = cm.compute_scenario(x, after("GLACIER", 0))
    assert r.stored_gb_at_end == 0
    assert r.monthly["s3_early_delete"].sum() == 0  # 181.5 days in GLACIER (>= 90), and after the horizon anyway
    assert r.quantities["objects_GLACIER"].tolist() == exact([1000 * (1 - 0.5 / DPM)] + [1000] * 5)
    s = cm.compute_scenario(x, Scenario("s3", "archive"))
    assert s.stored_gb_at_end == 0 and s.quantities["stored_gb_STANDARD"].tolist() == exact([0.9765625] * 6)
    # Kept one day longer: still stored at the end
    assert cm.compute_scenario(backlog(horizon_months=6, retention_days=183), after("GLACIER", 0)).stored_gb_at_end == exact(0.9765625)


def test_stored_at_end_counts_only_what_is_not_yet_expired():
    # 1 GB of backlog and 1 GB a month, kept 30 days (30.5 / DPM = 1.0027 months): every cohort expires inside
    # the 4 months but the last.
    x = CostInputs(region="us-east-1", table_gb=1, monthly_growth_gb=1, hot_days=0, include_writes=False,
                   horizon_months=4, retention_days=30, compression_ratio=2)
    r = cm.compute_scenario(x, Scenario("s3", "archive"))
    # The month-4 cohort (written at 3.5, expires at 3.5 + 30.5 / DPM = 4.503) is the only one alive: 1 GB / 2
    assert r.stored_gb_at_end == exact(0.5)


def test_a_transition_due_when_the_object_expires_does_not_happen():
    # Lifecycle at 30 days and expiry at 30 days: the expiration wins; no transition, no early deletion.
    r = cm.compute_scenario(backlog(retention_days=30, horizon_months=3), after("GLACIER", 30))
    assert r.monthly["s3_transitions"].sum() == 0 and r.monthly["s3_early_delete"].sum() == 0
    end = 30.5 / DPM
    assert r.monthly["s3_storage"].tolist() == exact([0.9765625 * 0.023, 0.9765625 * 0.023 * (end - 1), 0])


# ---------------------------------------------------------------- reading back from S3


def test_reading_back_from_standard_ia_glacier_ir_and_deep_archive():
    x = backlog(read_back_share=0.1)  # 100 objects and 0.09765625 GB a month
    ia = cm.compute_scenario(x, after("STANDARD_IA", 30))
    # month 3 all in Standard-IA: 100 GETs x 0.001 / 1,000 + 0.09765625 GB x 0.01
    assert ia.monthly.loc[3, "s3_retrieval"] == exact(0.0001 + 0.0009765625)
    # month 1 all in S3 Standard (moves at day 30.5): 100 GETs x 0.0004 / 1,000
    assert ia.monthly.loc[1, "s3_retrieval"] == exact(0.00004)
    gir = cm.compute_scenario(x, after("GLACIER_IR", 0))
    assert gir.monthly.loc[2, "s3_retrieval"] == exact(0.001 + 0.09765625 * 0.03)
    gda = cm.compute_scenario(x, after("DEEP_ARCHIVE", 0))
    # GETs 0.00004 + restores 100 x 0.10 / 1,000 + 0.09765625 GB x 0.02
    assert gda.monthly.loc[2, "s3_retrieval"] == exact(0.00004 + 0.01 + 0.001953125)
    g = cm.compute_scenario(x, after("GLACIER", 30))
    assert g.monthly.loc[1, "s3_retrieval"] == exact(0.00004)  # still in S3 Standard in month 1


# ---------------------------------------------------------------- notes


DEFAULT_128 = "the 128 KB default minimum (all_storage_classes_128K)"


def test_notes_on_objects_the_default_minimum_keeps_in_standard():
    # 1,000 objects of 100 KB (1 MiB / 10.24), no objects in months 1-4: all of the objects are stuck
    r = cm.compute_scenario(backlog(compression_ratio=10.24), after("GLACIER", 0))
    assert r.notes == (f"100% of the objects (mean 100 KB) are never transitioned because of {DEFAULT_128}: "
                       "they stay in S3 Standard.",)
    one = cm.compute_scenario(backlog(table_gb=ONE_OBJECT_GB, compression_ratio=10.24), after("GLACIER", 0))
    assert one.notes == r.notes


def test_notes_name_the_object_size_filter_and_the_share_stuck():
    # Backlog: 2,920 objects of 1,024 KB; month 1: 0.5 GB in 2,920 objects (900 s interval) of 179.55 KB.
    # ObjectSizeGreaterThan=500 moves the backlog only: half of the objects stay in S3 Standard.
    x = CostInputs(region="us-east-1", horizon_months=1, table_gb=2920 / 1024, monthly_growth_gb=0.5, hot_days=0,
                   compression_ratio=1, buffer_size_mib=1, buffer_interval_s=900, include_writes=False)
    r = cm.compute_scenario(x, after("GLACIER", 0, object_size_greater_than_kb=500))
    assert r.quantities.loc[1, "objects_written"] == exact(5840)
    assert r.notes == ("50% of the objects (mean 180 KB) are never transitioned because of ObjectSizeGreaterThan=500 KB: "
                       "they stay in S3 Standard.",
                       "Each object carries 40 KB of archive overhead against a mean object of 1024 KB.")


def test_the_share_of_objects_never_transitioned_counts_objects_not_cohorts():
    # Backlog: 500 objects of 1,024 KB (moved); month 1: 2,920 objects of 179.55 KB (stuck). Two cohorts, one
    # stuck, but 2,920 of the 3,420 objects: 85 %, not 50 %.
    x = CostInputs(region="us-east-1", horizon_months=1, table_gb=500 / 1024, monthly_growth_gb=0.5, hot_days=0,
                   compression_ratio=1, buffer_size_mib=1, buffer_interval_s=900, include_writes=False)
    r = cm.compute_scenario(x, after("GLACIER", 0, object_size_greater_than_kb=500))
    assert r.quantities.loc[1, "objects_written"] == exact(3420)
    assert r.notes[0] == ("85% of the objects (mean 180 KB) are never transitioned because of ObjectSizeGreaterThan=500 KB: "
                          "they stay in S3 Standard.")
    # Both stuck (filter 2,000 KB): the mean size weighs each cohort by its objects, (500 x 1,024 + 2,920 x 179.55) / 3,420.
    both = cm.compute_scenario(x, after("GLACIER", 0, object_size_greater_than_kb=2000))
    assert both.notes[0].startswith("100% of the objects (mean 303 KB) are never transitioned")


def test_notes_on_archive_overhead_and_the_128_kb_minimum():
    overhead = ("Each object carries 40 KB of archive overhead against a mean object of 1024 KB.",)
    assert cm.compute_scenario(backlog(), after("GLACIER", 0)).notes == overhead
    assert cm.compute_scenario(backlog(), after("DEEP_ARCHIVE", 0)).notes == overhead
    # 1 MiB objects in Standard-IA: no note; 128 KB objects (compression 8) are not under 128 KB: no note
    assert cm.compute_scenario(backlog(), after("STANDARD_IA", 30)).notes == ()
    assert cm.compute_scenario(backlog(compression_ratio=8), after("STANDARD_IA", 30)).notes == ()
    gir = cm.compute_scenario(backlog(compression_ratio=10.24), after("GLACIER_IR", 0, object_size_greater_than_kb=0))
    assert gir.notes == ("Objects under 128 KB are billed as 128 KB each in S3 Glacier Instant Retrieval.",)


def test_no_notes_when_nothing_is_archived():
    # TTL of a year, 3 months: nothing expires, so nothing is moved or stuck, even where 0 KB would be allowed.
    x = CostInputs(region="us-east-1", table_gb=0, monthly_growth_gb=1, hot_days=365, include_writes=False,
                   horizon_months=3, lifecycle_min_size="varies_by_storage_class")
    r = cm.compute_scenario(x, after("GLACIER", 0))
    assert r.notes == () and r.monthly["s3_transitions"].sum() == 0
