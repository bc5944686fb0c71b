"""helpers.dynamodb against the embedded local AWS: ensure_table in both modes, its refusals, describe, delete, put_items."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from botocore.awsrequest import AWSResponse

from helpers import dynamodb
from helpers.cli_equivalent import recording
from helpers.dynamodb import TableNotFound, TableSetupError
from helpers.settings import Settings
from helpers.target import EndpointSession

UNREACHABLE = "http://127.0.0.1:9"  # discard port: any call that got this far would fail with a connection error


def _unreachable_session() -> EndpointSession:
    return EndpointSession(endpoint_url=UNREACHABLE, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")


def _operations(calls) -> list[str]:
    return [c.operation for c in calls.calls]


def _app_table(session, name: str, stream_view: str | None = None, ttl_attribute: str | None = None) -> None:
    """A table as an application would have made it: other key names, no tags of ours."""
    client = session.client("dynamodb")
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": stream_view}} if stream_view else {}
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "app", "Value": "orders"}],
        **extra,
    )
    if ttl_attribute:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute})


def _scan(session, name: str) -> list[dict]:
    return sorted(session.client("dynamodb").scan(TableName=name, ConsistentRead=True)["Items"], key=json.dumps)


def test_ensure_table_creates_the_table_then_reports_already_there_without_changing_anything(session, stack):
    settings = Settings(stack=stack)
    first = dynamodb.ensure_table(session, settings)
    assert first.action == "created" and first.name == f"{stack}-items"
    setup = dynamodb.describe_table_setup(session, settings.table_name)
    assert setup["hash_key"] == "id" and setup["range_key"] == "timestamp"
    assert setup["billing_mode"] == "PAY_PER_REQUEST"
    assert setup["stream_view_type"] == "NEW_AND_OLD_IMAGES" and setup["has_old_images"]
    assert setup["ttl_status"] in ("ENABLED", "ENABLING") and setup["ttl_attribute"] == "expires_at"
    assert setup["tags"] == settings.tags()
    attribute_types = {a["AttributeName"]: a["AttributeType"] for a in first.description["AttributeDefinitions"]}
    assert attribute_types == {"id": "S", "timestamp": "N"}

    with recording(session) as calls:
        second = dynamodb.ensure_table(session, settings)
    assert second.action == "already there" and second.changes == []
    assert [c.operation for c in calls if c.mutating] == []  # in particular no UpdateTimeToLive
    assert second.description["TableArn"] == first.description["TableArn"]
    assert dynamodb.stream_arn(session, settings.table_name) == setup["stream_arn"]


def test_ensure_table_puts_back_what_differs_on_its_own_table(session, stack):
    settings = Settings(stack=stack, extra_tags={"team": "data"})
    dynamodb.ensure_table(session, settings)
    client = session.client("dynamodb")
    # (the stream is not switched off here: moto refuses to re-enable a stream that was ever enabled;
    # re-enabling is covered by the existing-table test on a table that never had one)
    client.update_time_to_live(TableName=settings.table_name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"})
    arn = client.describe_table(TableName=settings.table_name)["Table"]["TableArn"]
    client.untag_resource(ResourceArn=arn, TagKeys=["team"])

    again = dynamodb.ensure_table(session, settings)
    assert again.action == "updated"
    assert again.changes == ["TTL enabled on expires_at", "tags set: team"]
    setup = dynamodb.describe_table_setup(session, settings.table_name)
    assert setup["stream_enabled"] and setup["ttl_status"] in ("ENABLED", "ENABLING") and setup["tags"]["team"] == "data"


BAD_SETTINGS = [
    (dict(table_name="ab"), "table names are 3-255 characters"),
    (dict(table_name="orders table"), "table names are 3-255 characters"),
    (dict(partition_key=""), "1-255 bytes"),
    (dict(ttl_attribute="é" * 128), "1-255 bytes"),
    (dict(sort_key="id"), "must differ"),
    (dict(ttl_attribute="id"), "partition key of a new table is a String"),
    (dict(stack="Bad_Stack", table_name="fine-name"), "stack names are 2-32 characters"),
]


@pytest.mark.parametrize(("overrides", "rule"), BAD_SETTINGS)
def test_bad_names_raise_value_error_quoting_the_rule_before_any_call(overrides, rule):
    sess = _unreachable_session()
    with recording(sess) as calls:
        with pytest.raises(ValueError, match=rule):  # Settings refuses them when built, so ensure_table never runs
            dynamodb.ensure_table(sess, Settings(**{"stack": "valid-stack", **overrides}))
        with pytest.raises(ValueError, match="table names"):
            dynamodb.delete_table(sess, "x")
        with pytest.raises(ValueError, match="table names"):
            dynamodb.describe_table_setup(sess, "no spaces allowed")
    assert calls.calls == []


def test_existing_table_mode_refuses_a_missing_table(session, stack):
    settings = Settings(stack=stack, table_name=f"{stack}-orders", existing_table=True)
    with recording(session) as calls:
        with pytest.raises(TableNotFound, match="does not exist.*TTL_ARCHIVE_EXISTING_TABLE"):
            dynamodb.ensure_table(session, settings)
    assert [c for c in calls if c.mutating] == []  # in particular: nothing created


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE"])
def test_existing_table_mode_refuses_a_stream_without_old_images_and_explains_the_options(session, stack, view):
    name = f"{stack}-orders"
    _app_table(session, name, stream_view=view)
    settings = Settings(stack=stack, table_name=name, ttl_attribute="expires", existing_table=True)
    with recording(session) as calls:
        with pytest.raises(TableSetupError) as refused:
            dynamodb.ensure_table(session, settings)
    message = str(refused.value)
    assert view in message and "NEW_AND_OLD_IMAGES" in message
    assert "new stream ARN" in message.replace("NEW stream ARN", "new stream ARN") and "24 hours" in message
    assert "already has OLD_IMAGE" in message
    assert [c.operation for c in calls if c.mutating] == []  # neither the stream nor TTL was touched
    setup = dynamodb.describe_table_setup(session, name)
    assert setup["stream_view_type"] == view and setup["ttl_status"] == "DISABLED"


def test_existing_table_mode_refuses_ttl_on_another_attribute(session, stack):
    name = f"{stack}-orders"
    _app_table(session, name, stream_view="NEW_AND_OLD_IMAGES", ttl_attribute="valid_until")
    settings = Settings(stack=stack, table_name=name, ttl_attribute="expires_at", existing_table=True)
    with recording(session) as calls:
        with pytest.raises(TableSetupError, match="one TTL attribute.*TTL_ARCHIVE_TTL_ATTRIBUTE=valid_until.*up to an hour"):
            dynamodb.ensure_table(session, settings)
    assert "UpdateTimeToLive" not in _operations(calls)
    assert dynamodb.describe_table_setup(session, name)["ttl_attribute"] == "valid_until"


def test_existing_table_mode_turns_on_stream_and_ttl_and_leaves_items_keys_and_tags_alone(session, stack):
    name = f"{stack}-orders"
    _app_table(session, name)
    client = session.client("dynamodb")
    for n in range(3):  # TTL in 2100: the local TTL sweeper must not take them while the test looks
        client.put_item(TableName=name, Item={"pk": {"S": f"order-{n}"}, "total": {"N": str(n * 10)}, "expires": {"N": "4102444800"}})
    items_before = _scan(session, name)
    settings = Settings(stack=stack, table_name=name, ttl_attribute="expires", existing_table=True)

    with recording(session) as calls:
        done = dynamodb.ensure_table(session, settings)
    assert done.action == "updated"
    assert done.changes == ["stream enabled (NEW_AND_OLD_IMAGES)", "TTL enabled on expires"]
    assert {c.operation for c in calls if c.mutating} == {"UpdateTable", "UpdateTimeToLive"}  # no item or tag calls
    setup = dynamodb.describe_table_setup(session, name)
    assert setup["stream_view_type"] == "NEW_AND_OLD_IMAGES" and setup["ttl_attribute"] == "expires"
    assert setup["tags"] == {"app": "orders"} and setup["hash_key"] == "pk"
    assert _scan(session, name) == items_before

    with recording(session) as calls:
        assert dynamodb.ensure_table(session, settings).action == "already there"
    assert [c for c in calls if c.mutating] == []


def test_existing_table_mode_accepts_old_image_streams_and_ttl_on_the_same_attribute_without_calls(session, stack):
    name = f"{stack}-orders"
    _app_table(session, name, stream_view="OLD_IMAGE", ttl_attribute="expires_at")
    settings = Settings(stack=stack, table_name=name, existing_table=True)
    with recording(session) as calls:
        assert dynamodb.ensure_table(session, settings).action == "already there"
    assert [c for c in calls if c.mutating] == []
    assert dynamodb.stream_arn(session, name).startswith(f"arn:aws:dynamodb:us-east-1:")


def test_new_table_mode_refuses_a_same_named_table_it_did_not_create(session, stack):
    name = f"{stack}-items"
    _app_table(session, name, stream_view="NEW_AND_OLD_IMAGES")
    with recording(session) as calls:
        with pytest.raises(TableSetupError, match="not created by stack.*TTL_ARCHIVE_EXISTING_TABLE=true"):
            dynamodb.ensure_table(session, Settings(stack=stack))
    assert [c for c in calls if c.mutating] == []


def test_stream_arn_and_describe_explain_a_missing_stream_or_table(session, stack):
    name = f"{stack}-nostream"
    _app_table(session, name)
    setup = dynamodb.describe_table_setup(session, name)
    assert setup["stream_enabled"] is False and setup["stream_arn"] is None and setup["ttl_status"] == "DISABLED"
    with pytest.raises(TableSetupError, match="no enabled stream"):
        dynamodb.stream_arn(session, name)
    with pytest.raises(TableNotFound):
        dynamodb.describe_table_setup(session, f"{stack}-missing")


def test_delete_table_waits_and_treats_not_found_as_done(session, stack):
    settings = Settings(stack=stack)
    dynamodb.ensure_table(session, settings)
    assert dynamodb.delete_table(session, settings.table_name) is True
    with pytest.raises(TableNotFound):
        dynamodb.describe_table_setup(session, settings.table_name)
    assert dynamodb.delete_table(session, settings.table_name) is False


def test_put_items_writes_in_batches_of_25_and_the_last_write_of_a_key_wins(session, stack):
    settings = Settings(stack=stack)
    dynamodb.ensure_table(session, settings)
    # TTL values in 2033 (or more than five years in the past): the local TTL sweeper must not delete them
    items = dynamodb.example_items(settings, 30, expires_in_seconds=-60, now=2_000_000_000)
    items.append({"id": "item-3", "timestamp": 2_000_000_000, "expires_at": 1, "ratio": 0.1, "flags": {"a", "b"}, "blob": b"\x00\x01", "gone": None})
    with recording(session) as calls:
        assert dynamodb.put_items(session, settings.table_name, items) == 31
    assert _operations(calls).count("BatchWriteItem") == 2
    table = session.resource("dynamodb").Table(settings.table_name)
    assert table.scan(Select="COUNT")["Count"] == 30
    rewritten = table.get_item(Key={"id": "item-3", "timestamp": 2_000_000_000})["Item"]
    assert rewritten["ratio"] == Decimal("0.1") and rewritten["flags"] == {"a", "b"} and rewritten["expires_at"] == 1
    first = table.get_item(Key={"id": "item-0", "timestamp": 2_000_000_000})["Item"]
    assert first["expires_at"] == 2_000_000_000 - 60 and first["payload"]["price"] == Decimal("9.99")
    with pytest.raises(ValueError, match="lacks the key attribute"):
        dynamodb.put_items(session, settings.table_name, [{"id": "no-sort-key"}])


def _answer_unprocessed(session, how_many_times: int):
    """On the next ``how_many_times`` BatchWriteItem calls, answer (without sending) that the last two
    requests were not processed, as DynamoDB does when throttling; later calls reach the server."""
    state = {"left": how_many_times, "calls": 0}

    def handler(params, **_):
        state["calls"] += 1
        if state["left"] <= 0:
            return None
        state["left"] -= 1
        request = json.loads(params["body"])["RequestItems"]
        unprocessed = {table: requests[-2:] for table, requests in request.items()}
        return AWSResponse("http://fake", 200, {}, None), {"UnprocessedItems": unprocessed, "ResponseMetadata": {}}

    session.events.register("before-call.dynamodb.BatchWriteItem", handler)
    return state


def test_put_items_resends_unprocessed_items_until_done(session, stack):
    settings = Settings(stack=stack)
    dynamodb.ensure_table(session, settings)
    state = _answer_unprocessed(session, 2)
    delays: list[float] = []
    assert dynamodb.put_items(session, settings.table_name, dynamodb.example_items(settings, 5, expires_in_seconds=3600), sleep=delays.append) == 5
    assert state["calls"] == 3 and len(delays) == 2
    assert session.client("dynamodb").scan(TableName=settings.table_name, Select="COUNT")["Count"] == 2  # only the resent two arrived


def test_put_items_gives_up_after_max_attempts_saying_how_many_are_left(session, stack):
    settings = Settings(stack=stack)
    dynamodb.ensure_table(session, settings)
    _answer_unprocessed(session, 100)
    with pytest.raises(RuntimeError, match="2 of 5 items were still unprocessed by DynamoDB after 3 attempts"):
        dynamodb.put_items(session, settings.table_name, dynamodb.example_items(settings, 5, expires_in_seconds=3600), max_attempts=3, sleep=lambda _: None)


def test_existing_table_ttl_on_a_string_key_is_refused_and_on_a_number_key_allowed(session, stack, caplog):
    _app_table(session, f"{stack}-orders")
    refused = Settings(stack=stack, table_name=f"{stack}-orders", ttl_attribute="pk", partition_key="pk", sort_key="sk", existing_table=True)
    with pytest.raises(dynamodb.TableSetupError, match="'pk' is a key attribute .* of type S, not a Number"):
        dynamodb.ensure_table(session, refused)
    assert dynamodb.describe_table_setup(session, f"{stack}-orders")["stream_enabled"] is False  # refused before any change
    client = session.client("dynamodb")
    client.create_table(
        TableName=f"{stack}-events", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "timestamp", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "timestamp", "KeyType": "RANGE"}],
    )
    seed = Settings(stack=stack, table_name=f"{stack}-events", ttl_attribute="timestamp", existing_table=True)
    assert dynamodb.ensure_table(session, seed).action == "updated"
    assert dynamodb.describe_table_setup(session, f"{stack}-events")["ttl_attribute"] == "timestamp"
    assert "TTL is on the key attribute 'timestamp'" in caplog.text
