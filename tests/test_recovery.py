"""The recovery story on the embedded local AWS, one stack from start to end (one deployment keeps it fast):

1. a clean run is archived and reconciles with TimeToLiveDeletedItemCount with zero differences;
2. Firehose fails every call until the trigger gives up: the failure queue holds notes, verify says
   "N missing: M notes in the failure queue, run `ttl-archive redrive`", reconcile shows the gap and the notes;
3. healed, redrive archives every item and empties the queue: nothing missing, reconcile zero again;
4. archive objects deleted by hand show up as a difference in the hour their items were deleted.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone

import pandas as pd

from helpers import cli, failure_queue, reconcile, redrive, verify
from tests.test_redrive import _deploy_fragile, _give_up_on


def _metric_sum(session, table, since):
    points = session.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/DynamoDB", MetricName="TimeToLiveDeletedItemCount", Dimensions=[{"Name": "TableName", "Value": table}],
        StartTime=since, EndTime=datetime.now(timezone.utc) + timedelta(minutes=1), Period=3600, Statistics=["Sum"])["Datapoints"]
    return sum(p["Sum"] for p in points)


def _cli(capsys, *argv: str) -> tuple[int, dict]:
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1, out
    return code, json.loads(out)


def test_clean_run_reconciles_redrive_recovers_what_the_trigger_gave_up_on_and_lost_objects_show(session, stack, capsys):
    deployed = _deploy_fragile(session, stack)
    settings = deployed.settings
    since = datetime.now(timezone.utc) - timedelta(hours=2)

    # 1. A clean run: archived, and TTL's own count agrees hour by hour.
    clean = verify.start_run(session, settings, deployed.identity, expired=20, future=1, user_deleted=1, save=False)
    assert verify.wait_for_archive(session, clean, timeout=60, progress=False).missing == 0
    assert _metric_sum(session, settings.table_name, since) == 20, "the local sweeper publishes TimeToLiveDeletedItemCount"
    assert _metric_sum(session, "another-table", since) == 0
    report = reconcile.reconcile(session, settings, start=since)
    assert report.ok and report.ttl_deleted == 20 and report.archived == 20 and len(report.hourly) >= 3, report.describe()
    assert report.failure_notes == 0 and "no hour differs" in report.describe()
    assert "no hour differs" in reconcile.chart(report).axes[0].get_title()

    # 2. The trigger gives up on a run while Firehose fails every call.
    run, notes = _give_up_on(session, deployed, expired=12)
    assert sum(n["batchSize"] for n in notes) == 12
    assert all(n["shardId"].startswith("shardId-") and int(n["startSequenceNumber"]) <= int(n["endSequenceNumber"]) for n in notes)
    before = verify.check(session, run)
    assert before.missing == 12 and before.failure_notes == len(notes)
    assert f"12 missing: {len(notes)} note" in before.describe() and "in the failure queue, run `ttl-archive redrive`" in before.describe()
    gap = reconcile.reconcile(session, settings, start=since)
    assert not gap.ok and int(gap.differences["difference"].sum()) == 12 and gap.failure_notes == len(notes)
    assert "run `ttl-archive redrive`" in gap.describe()
    code, out = _cli(capsys, "reconcile", "--stack", stack, "--since", since.isoformat())
    assert code == 1 and out["failure_notes"] == len(notes) and sum(d["difference"] for d in out["differences"]) == 12

    # 3. Healed: a dry run changes nothing, redrive archives every item, the queue is empty, nothing is missing.
    dry = redrive.redrive(session, settings, dry_run=True, wait_seconds=0)
    assert dry.ok and dry.archived == 0 and dry.notes_deleted == 0 and failure_queue.note_count(session, settings.failure_queue_name) == len(notes)
    assert "12 record(s) would be archived" in dry.describe()
    code, done = _cli(capsys, "redrive", "--stack", stack)  # what an operator runs
    assert code == 0 and done["ok"] and done["archived"] == 12 and done["notes_deleted"] == len(notes) and done["missing"] == 0, done
    assert [o["status"] for o in done["outcomes"]] == [redrive.REDRIVEN] * len(notes)
    assert failure_queue.note_count(session, settings.failure_queue_name) == 0
    after = verify.wait_for_archive(session, run, timeout=30, progress=False)
    assert after.missing == 0 and after.unexpected == 0 and after.archived_unique == 12 and after.queue_hint() == "", after.describe()
    assert redrive.redrive(session, settings, wait_seconds=0).outcomes == []
    healed = reconcile.reconcile(session, settings, start=since)
    assert healed.ok and healed.ttl_deleted == 32 and healed.archived == 32, healed.describe()

    # 4. An archive object deleted by hand: its items are missing in the hours they were deleted.
    s3 = session.client("s3")
    key = s3.list_objects_v2(Bucket=settings.bucket_name, Prefix=settings.archive_prefix)["Contents"][0]["Key"]
    lines = [json.loads(line) for line in gzip.decompress(s3.get_object(Bucket=settings.bucket_name, Key=key)["Body"].read()).decode().splitlines()]
    lost = {line["event_id"]: line["deleted_at"] for line in lines}
    s3.delete_object(Bucket=settings.bucket_name, Key=key)
    hurt = reconcile.reconcile(session, settings, start=since)
    expected = pd.Series([pd.Timestamp(d).floor("h").to_pydatetime() for d in lost.values()]).value_counts()
    assert not hurt.ok and hurt.archived == 32 - len(lost)
    assert {h: int(v) for h, v in hurt.differences["difference"].items()} == {h: int(v) for h, v in expected.items()}
    assert f"{len(lost)} missing from the archive" in hurt.describe().replace(",", "")
    data = hurt.to_dict()
    assert data["ok"] is False and sum(d["difference"] for d in data["differences"]) == len(lost)
    code, out = _cli(capsys, "reconcile", "--stack", stack, "--since", since.isoformat())
    assert code == 1 and out["differences"] == data["differences"]
    assert "differ" in reconcile.chart(hurt).axes[0].get_title()
