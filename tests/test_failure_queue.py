"""The failure queue: SSE on, 14 days retention, tagged, idempotent, and drift is corrected."""

from __future__ import annotations

import pytest

from helpers import failure_queue
from helpers.settings import Settings


def test_created_encrypted_with_14_days_retention_and_tagged(session, stack):
    settings = Settings(stack=stack)
    outcome = failure_queue.ensure_failure_queue(session, settings)
    assert outcome.action == "created"
    attributes = outcome.description["Attributes"]
    assert attributes["SqsManagedSseEnabled"].lower() == "true"
    assert attributes["MessageRetentionPeriod"] == "1209600"
    assert outcome.description["QueueArn"].endswith(f":{settings.failure_queue_name}")
    tags = session.client("sqs").list_queue_tags(QueueUrl=outcome.description["QueueUrl"])["Tags"]
    assert tags == settings.tags()
    assert failure_queue.queue_arn(session, settings) == outcome.description["QueueArn"]


def test_second_run_changes_nothing(session, stack):
    settings = Settings(stack=stack)
    first = failure_queue.ensure_failure_queue(session, settings)
    second = failure_queue.ensure_failure_queue(session, settings)
    assert second.action == "already there"
    assert second.changes == []
    assert second.description["QueueUrl"] == first.description["QueueUrl"]


def test_retention_changed_by_hand_is_put_back(session, stack):
    settings = Settings(stack=stack)
    url = failure_queue.ensure_failure_queue(session, settings).description["QueueUrl"]
    session.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "60"})
    outcome = failure_queue.ensure_failure_queue(session, settings)
    assert outcome.action == "updated"
    assert any("MessageRetentionPeriod" in c for c in outcome.changes)
    assert outcome.description["Attributes"]["MessageRetentionPeriod"] == "1209600"


def test_peek_returns_messages_and_leaves_them_in_the_queue(session, stack):
    settings = Settings(stack=stack)
    url = failure_queue.ensure_failure_queue(session, settings).description["QueueUrl"]
    session.client("sqs").send_message(QueueUrl=url, MessageBody='{"DDBStreamBatchInfo": {"batchSize": 3}}')
    assert failure_queue.peek_failures(session, settings) == [{"DDBStreamBatchInfo": {"batchSize": 3}}]
    assert failure_queue.peek_failures(session, settings) == [{"DDBStreamBatchInfo": {"batchSize": 3}}]


def test_invalid_queue_name_is_refused_before_any_call(session):
    with pytest.raises(ValueError, match="queue names are 1-80 characters"):
        failure_queue.ensure_failure_queue(session, Settings(stack="ok", failure_queue_name="bad name!"))


def test_delete_then_delete_again_is_done(session, stack):
    settings = Settings(stack=stack)
    failure_queue.ensure_failure_queue(session, settings)
    assert failure_queue.delete_failure_queue(session, settings) is True
    assert failure_queue.delete_failure_queue(session, settings) is False
    with pytest.raises(LookupError):
        failure_queue.queue_arn(session, settings)
