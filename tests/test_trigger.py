"""The trigger: TTL-only filter, batching, failure handling and OnFailure values; validation before any
call; idempotent, and drift corrected."""

from __future__ import annotations

import json

import pytest

from helpers import dynamodb, failure_queue, lambda_function, trigger
from helpers.settings import Settings

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:q"


@pytest.fixture
def deployed(session, stack, tmp_path):
    """A table with a stream, a function and a failure queue: what a trigger connects."""
    settings = Settings(stack=stack)
    dynamodb.ensure_table(session, settings)
    source = tmp_path / "archiver.py"
    source.write_text("def handler(event, context):\n    return {'batchItemFailures': []}\n")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = session.client("iam").create_role(RoleName=settings.lambda_role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    lambda_function.ensure_function(session, settings, role_arn=role, delivery_stream_name=settings.delivery_stream_name, source=source)
    queue = failure_queue.ensure_failure_queue(session, settings).description["QueueArn"]
    return settings, dynamodb.stream_arn(session, settings.table_name), queue


def test_created_with_the_ttl_filter_and_the_failure_handling_values(session, deployed):
    settings, stream, queue = deployed
    outcome = trigger.ensure_trigger(session, settings, stream_arn=stream, failure_queue_arn=queue)
    assert outcome.action == "created"
    mapping = outcome.description
    assert mapping["State"] == "Enabled"
    assert mapping["EventSourceArn"] == stream
    assert mapping["FunctionArn"].endswith(f":function:{settings.function_name}")
    assert trigger.describe_filter(mapping) == [
        {"eventName": ["REMOVE"], "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}}
    ]
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BatchSize"] == 100
    assert mapping["MaximumBatchingWindowInSeconds"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 10
    assert mapping["MaximumRecordAgeInSeconds"] == 21600
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": queue}}
    assert session.client("lambda").list_tags(Resource=mapping["EventSourceMappingArn"])["Tags"] == settings.tags()


def test_second_run_finds_the_same_mapping_and_changes_nothing(session, deployed):
    settings, stream, queue = deployed
    first = trigger.ensure_trigger(session, settings, stream_arn=stream, failure_queue_arn=queue)
    second = trigger.ensure_trigger(session, settings, stream_arn=stream, failure_queue_arn=queue)
    assert second.action == "already there"
    assert second.description["UUID"] == first.description["UUID"]
    assert len(session.client("lambda").list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]) == 1


def test_changed_values_update_the_existing_mapping(session, deployed):
    settings, stream, queue = deployed
    first = trigger.ensure_trigger(session, settings, stream_arn=stream, failure_queue_arn=queue)
    second = trigger.ensure_trigger(session, settings, stream_arn=stream, failure_queue_arn=queue, batch_size=500, batching_window_seconds=5)
    assert second.action == "updated"
    assert {c.split(":")[0] for c in second.changes} == {"BatchSize", "MaximumBatchingWindowInSeconds"}
    assert second.description["UUID"] == first.description["UUID"]
    assert second.description["BatchSize"] == 500
    assert second.description["MaximumBatchingWindowInSeconds"] == 5


def test_a_filter_removed_by_hand_is_put_back(session, deployed):
    settings, stream, queue = deployed
    uuid = trigger.ensure_trigger(session, settings, stream_arn=stream, failure_queue_arn=queue).description["UUID"]
    session.client("lambda").update_event_source_mapping(UUID=uuid, FilterCriteria={"Filters": []})
    again = trigger.ensure_trigger(session, settings, stream_arn=stream, failure_queue_arn=queue)
    assert again.action == "updated"
    assert any(c.startswith("FilterCriteria") for c in again.changes)
    assert trigger.describe_filter(again.description) == [trigger.TTL_FILTER]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 0}, "BatchSize"),
        ({"batch_size": 10_001}, "BatchSize"),
        ({"batching_window_seconds": 301}, "MaximumBatchingWindowInSeconds"),
        ({"batching_window_seconds": -1}, "MaximumBatchingWindowInSeconds"),
        ({"max_retry_attempts": -2}, "MaximumRetryAttempts"),
        ({"max_retry_attempts": 10_001}, "MaximumRetryAttempts"),
        ({"max_record_age_seconds": 59}, "MaximumRecordAgeInSeconds"),
        ({"max_record_age_seconds": 604_801}, "MaximumRecordAgeInSeconds"),
        ({"max_record_age_seconds": 0}, "MaximumRecordAgeInSeconds"),
        ({"parallelization_factor": 11}, "ParallelizationFactor"),
        ({"starting_position": "AT_TIMESTAMP"}, "StartingPosition"),
        ({"failure_queue_arn": "arn:aws:sns:us-east-1:123456789012:topic"}, "SQS queue ARN"),
        ({"stream_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/t"}, "stream ARN"),
        ({"pattern": {"dynamodb": {"Keys": {"id": {"S": ["x" * 5000]}}}}}, "4096 characters"),
        ({"batch_size": True}, "BatchSize"),
    ],
)
def test_values_outside_lambdas_limits_are_refused_before_any_call(overrides, message):
    class NoCalls:
        def client(self, *_a, **_k):
            raise AssertionError("an AWS call was attempted before validation")

    kwargs = {"stream_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024", "failure_queue_arn": QUEUE_ARN, **overrides}
    with pytest.raises(ValueError, match=message):
        trigger.ensure_trigger(NoCalls(), Settings(stack="ok"), **kwargs)


def test_limits_themselves_are_accepted():
    for age in (-1, 60, 604_800):
        assert trigger.desired_mapping(failure_queue_arn=QUEUE_ARN, max_record_age_seconds=age)["MaximumRecordAgeInSeconds"] == age
    mapping = trigger.desired_mapping(failure_queue_arn=QUEUE_ARN, batch_size=10_000, batching_window_seconds=300, max_retry_attempts=-1)
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"], mapping["MaximumRetryAttempts"]) == (10_000, 300, -1)


def test_delete_then_delete_again_is_done(session, deployed):
    settings, stream, queue = deployed
    trigger.ensure_trigger(session, settings, stream_arn=stream, failure_queue_arn=queue)
    assert trigger.delete_trigger(session, settings, stream) is True
    assert trigger.delete_trigger(session, settings, stream) is False
    assert trigger.find_mapping(session, settings, stream) is None
