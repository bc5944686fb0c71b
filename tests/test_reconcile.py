"""helpers.reconcile's pieces: range validation, hours, per-hour counting with duplicates and other tables removed.
The story on the embedded local AWS (a clean run reconciles with zero differences, objects deleted by hand show
up as a difference) is in tests/test_recovery.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pandas as pd
import pytest

from helpers import reconcile
from helpers.settings import Settings


def test_reconcile_validates_its_range_before_any_call(session):
    settings = Settings(stack="never-deployed", bucket_name="never-deployed-bucket")
    with pytest.raises(ValueError, match="must be after"):
        reconcile.reconcile(session, settings, start="2026-11-30T10:00Z", end="2026-11-30T09:00Z")
    with pytest.raises(ValueError, match="since"):
        reconcile.reconcile(session, settings, start="yesterday-ish")


def test_hours_cover_the_range_including_partial_hours():
    start = datetime(2026, 11, 30, 9, 30, tzinfo=timezone.utc)
    assert reconcile.hours(start, start + timedelta(hours=2)) == [start.replace(minute=0) + timedelta(hours=h) for h in range(3)]


def test_archived_per_hour_counts_distinct_items_of_the_table_by_deletion_hour():
    frame = pd.DataFrame({
        "event_id": ["a", "a", "b", "c", "d"],
        "table": ["t", "t", "t", "t", "other"],
        "deleted_at": pd.to_datetime(["2026-11-30T09:59:59Z", "2026-11-30T09:59:59Z", "2026-11-30T10:00:00Z",
                                      "2026-11-30T10:30:00Z", "2026-11-30T10:30:00Z"], utc=True),
    })
    slots = reconcile.hours(datetime(2026, 11, 30, 9, tzinfo=timezone.utc), datetime(2026, 11, 30, 12, tzinfo=timezone.utc))
    counts = reconcile.archived_per_hour(SimpleNamespace(frame=frame), "t", slots)
    assert counts.tolist() == [1, 2, 0]


def test_a_report_names_each_differing_hour_and_the_queue():
    slots = reconcile.hours(datetime(2026, 11, 30, 9, tzinfo=timezone.utc), datetime(2026, 11, 30, 12, tzinfo=timezone.utc))
    hourly = pd.DataFrame({"ttl_deleted": [5, 7, 0], "archived": [5, 5, 1]}, index=pd.Index(slots, name="hour"))
    hourly["difference"] = hourly["ttl_deleted"] - hourly["archived"]
    hourly["recent"] = [False, False, True]
    report = reconcile.ReconcileReport("t", "b", slots[0], slots[-1] + timedelta(hours=1), hourly, failure_notes=1, failure_queue="q")
    text = report.describe()
    assert "2026-11-30 10:00  TTL deleted 7, archived 5: 2 missing from the archive" in text
    assert "2026-11-30 11:00  TTL deleted 0, archived 1: 1 more in the archive than TTL deleted (recent: may still be arriving)" in text
    assert "q: 1 note(s) waiting, run `ttl-archive redrive`" in text
    assert [d["hour"] for d in report.to_dict()["differences"]] == ["2026-11-30T10:00Z", "2026-11-30T11:00Z"]
