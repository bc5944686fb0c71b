"""helpers.pipeline: two deploys of one stack at once leave one trigger; duplicate triggers are settled and
reported, and status warns about them; the seed's configuration (TTL on the Number sort key `timestamp`)
archives every expired item."""

from __future__ import annotations

import threading
import time


from helpers import inventory, pipeline, target, trigger
from helpers.retry import wait_until
from helpers.settings import Settings
from tests.stream_records import archived_lines




def test_two_deploys_at_once_leave_one_trigger(local_aws, stack, monkeypatch):
    settings = Settings(stack=stack)
    # Make the race certain: each deploy lists the stream's mappings (finding none) before either creates one.
    barrier = threading.Barrier(2, timeout=60)
    original = trigger.stream_mappings
    waited: set[int] = set()

    def racing(session, stream_arn):
        found = original(session, stream_arn)
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            barrier.wait()
        return found

    monkeypatch.setattr(trigger, "stream_mappings", racing)
    results: list[object] = [None, None]

    def deploy(index: int) -> None:
        try:
            results[index] = pipeline.ensure_pipeline(target.session("local"), settings)
        except BaseException as err:  # noqa: BLE001 - reported below
            results[index] = err

    threads = [threading.Thread(target=deploy, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert all(isinstance(r, pipeline.Pipeline) for r in results), results  # both deploys succeed
    monkeypatch.setattr(trigger, "stream_mappings", original)
    sess = target.session("local")
    stream = results[0].stream_arn
    mappings = trigger.find_mappings(sess, settings, stream)
    assert len(mappings) == 1, mappings
    outcomes = [next(o for o in r.outcomes if o.kind == "event source mapping") for r in results]
    assert any("duplicate trigger(s) deleted" in change for o in outcomes for change in o.changes), [o.changes for o in outcomes]


def test_duplicate_triggers_are_reported_by_status_and_settled_by_deploy(local_aws, stack):
    sess = target.session("local")
    deployed = pipeline.ensure_pipeline(sess, Settings(stack=stack))
    settings = deployed.settings
    lam = sess.client("lambda")
    kept = deployed.mapping_uuid
    extra = lam.create_event_source_mapping(
        FunctionName=settings.function_name, EventSourceArn=deployed.stream_arn, StartingPosition="TRIM_HORIZON", Tags=settings.tags()
    )["UUID"]
    inv = inventory.inspect(sess, settings, deployed.identity)
    assert len(inv.triggers) == 2 and not inv.ok
    assert any("2 triggers read the stream" in w for w in inv.warnings), inv.warnings
    assert any("keep one of 2 triggers" in p["action"] for p in inv.plan())

    again = pipeline.ensure_pipeline(sess, settings, deployed.identity)
    outcome = next(o for o in again.outcomes if o.kind == "event source mapping")
    survivor = min(kept, extra)
    assert [m["UUID"] for m in trigger.find_mappings(sess, settings, deployed.stream_arn)] == [survivor]
    assert outcome.action == "updated" and f"duplicate trigger(s) deleted: {max(kept, extra)}" in outcome.changes
    assert not [w for w in inventory.inspect(sess, settings, deployed.identity).warnings if "triggers read" in w]


def test_a_duplicate_trigger_not_tagged_for_the_stack_is_left_alone_and_reported(local_aws, stack):
    sess = target.session("local")
    deployed = pipeline.ensure_pipeline(sess, Settings(stack=stack))
    settings = deployed.settings
    foreign = sess.client("lambda").create_event_source_mapping(
        FunctionName=settings.function_name, EventSourceArn=deployed.stream_arn, StartingPosition="LATEST"
    )["UUID"]
    keep, deleted, left = trigger.settle_duplicates(sess, settings, deployed.stream_arn)
    assert keep["UUID"] == deployed.mapping_uuid and deleted == [] and left == [foreign]


def test_status_warns_about_a_stream_with_two_other_consumers_and_ttl_disabled(local_aws, stack):
    sess = target.session("local")
    deployed = pipeline.ensure_pipeline(sess, Settings(stack=stack))
    settings = deployed.settings
    lam = sess.client("lambda")
    role = deployed.role_arn
    config = lam.get_function(FunctionName=settings.function_name)["Configuration"]
    zip_bytes = __import__("helpers.lambda_function", fromlist=["build_zip"]).build_zip()
    for n in range(2):
        name = f"{stack}-other{n}"
        lam.create_function(FunctionName=name, Runtime=config["Runtime"], Role=role, Handler=config["Handler"], Code={"ZipFile": zip_bytes})
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=deployed.stream_arn, StartingPosition="LATEST", Enabled=False)
    sess.client("dynamodb").update_time_to_live(TableName=settings.table_name, TimeToLiveSpecification={"Enabled": False, "AttributeName": settings.ttl_attribute})
    inv = inventory.inspect(sess, settings, deployed.identity)
    assert len(inv.other_consumers) == 2 and len(inv.triggers) == 1
    assert any("already has 2 other consumer(s)" in w and "at most 2 readers per shard" in w for w in inv.warnings), inv.warnings
    assert any(w.startswith("TTL is DISABLED") for w in inv.warnings), inv.warnings


def test_ttl_on_the_timestamp_sort_key_archives_every_expired_item(local_aws, stack, caplog):
    """The seed's configuration: TTL on the table's Number sort key `timestamp`."""
    sess = target.session("local")
    settings = Settings(stack=stack, ttl_attribute="timestamp")
    deployed = pipeline.ensure_pipeline(sess, settings)
    assert "TTL is on the sort key 'timestamp'" in caplog.text  # the trade-off is said when the table is created
    ttl = sess.client("dynamodb").describe_time_to_live(TableName=settings.table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) in {("ENABLED", "timestamp"), ("ENABLING", "timestamp")}
    now = int(time.time())
    expired = [{"id": f"seed-{n}", "timestamp": now - 60 - n, "note": f"item {n}"} for n in range(40)]
    future = [{"id": f"keep-{n}", "timestamp": now + 86_400, "note": "stays"} for n in range(3)]
    from helpers import dynamodb

    dynamodb.put_items(sess, settings.table_name, expired + future)
    bucket = deployed.settings.bucket_name

    def all_archived():
        lines = archived_lines(sess, bucket, "archive/")
        return lines if {line["item"]["id"] for line in lines} >= {i["id"] for i in expired} else None

    lines = wait_until(all_archived, what="every expired item in the archive", timeout=90, interval=0.5)
    ids = [line["item"]["id"] for line in lines]
    assert sorted(set(ids)) == sorted(i["id"] for i in expired)  # every expired item, and no item that must stay
    by_id = {line["item"]["id"]: line for line in lines}
    assert all(by_id[i["id"]]["ttl"] == i["timestamp"] == by_id[i["id"]]["keys"]["timestamp"] for i in expired)
    assert all(by_id[i["id"]]["ttl_attribute"] == "timestamp" for i in expired)
    left = sess.client("dynamodb").scan(TableName=settings.table_name)["Items"]
    assert sorted(i["id"]["S"] for i in left) == sorted(i["id"] for i in future)
