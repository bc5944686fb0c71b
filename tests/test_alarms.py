"""CloudWatch alarms: the three metrics, thresholds, tags, idempotence and drift correction."""

from __future__ import annotations

import pytest

from helpers import alarms
from helpers.settings import Settings


def _by_metric(outcomes):
    return {o.description["MetricName"]: o.description for o in outcomes}


def test_three_alarms_on_errors_iterator_age_and_queue_depth(session, stack):
    settings = Settings(stack=stack)
    outcomes = alarms.ensure_alarms(session, settings)
    assert [o.action for o in outcomes] == ["created"] * 3
    found = _by_metric(outcomes)
    assert set(found) == {"Errors", "IteratorAge", "ApproximateNumberOfMessagesVisible"}
    assert found["Errors"]["Namespace"] == "AWS/Lambda"
    assert found["Errors"]["Dimensions"] == [{"Name": "FunctionName", "Value": settings.function_name}]
    assert found["Errors"]["Threshold"] == 1.0
    assert found["IteratorAge"]["Namespace"] == "AWS/Lambda"
    assert found["IteratorAge"]["Statistic"] == "Maximum"
    assert found["IteratorAge"]["Threshold"] == 3_600_000.0
    assert found["ApproximateNumberOfMessagesVisible"]["Namespace"] == "AWS/SQS"
    assert found["ApproximateNumberOfMessagesVisible"]["Dimensions"] == [{"Name": "QueueName", "Value": settings.failure_queue_name}]
    for description in found.values():
        assert description["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert description["TreatMissingData"] == "notBreaching"
    cw = session.client("cloudwatch")
    for o in outcomes:
        tags = {t["Key"]: t["Value"] for t in cw.list_tags_for_resource(ResourceARN=o.description["AlarmArn"])["Tags"]}
        assert tags == settings.tags()


def test_second_run_changes_nothing(session, stack):
    settings = Settings(stack=stack)
    alarms.ensure_alarms(session, settings)
    again = alarms.ensure_alarms(session, settings)
    assert [o.action for o in again] == ["already there"] * 3


def test_changed_threshold_updates_only_that_alarm(session, stack):
    settings = Settings(stack=stack)
    alarms.ensure_alarms(session, settings)
    outcomes = alarms.ensure_alarms(session, settings, iterator_age_threshold_ms=600_000)
    assert [o.action for o in outcomes] == ["already there", "updated", "already there"]
    assert _by_metric(outcomes)["IteratorAge"]["Threshold"] == 600_000.0
    assert alarms.alarm_states(session, settings).keys() == {o.name for o in outcomes}


def test_invalid_values_are_refused_before_any_call(session):
    with pytest.raises(ValueError, match="IteratorAge alarm threshold"):
        alarms.ensure_alarms(session, Settings(stack="ok"), iterator_age_threshold_ms=0)
    with pytest.raises(ValueError, match="alarm actions are ARNs"):
        alarms.ensure_alarms(session, Settings(stack="ok"), alarm_actions=["my-topic"])


def test_delete_removes_them_and_a_second_delete_is_done(session, stack):
    settings = Settings(stack=stack)
    alarms.ensure_alarms(session, settings)
    assert len(alarms.delete_alarms(session, settings)) == 3
    assert alarms.delete_alarms(session, settings) == []
    assert alarms.alarm_states(session, settings) == {}
