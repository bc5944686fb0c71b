"""helpers.alarm_topic: the optional SNS topic the alarms notify; least-privilege policy, tags, email subscription,
idempotence, the alarms' action, refusal to adopt a topic of another stack."""

from __future__ import annotations

import json

import pytest

from helpers import alarm_topic, alarms, iam
from helpers.settings import Settings
from helpers.target import Identity


@pytest.fixture
def ident(session):
    from helpers.target import identity

    return identity(session)


def test_the_email_setting_turns_the_topic_on_and_is_validated_before_any_call(monkeypatch, session):
    monkeypatch.setenv("TTL_ARCHIVE_ALARM_EMAIL", "ops@example.com")
    settings = Settings.from_env(stack="s1")
    assert settings.alarm_topic and settings.alarm_email == "ops@example.com" and settings.alarm_topic_name == "s1-alarms"
    assert not Settings(stack="s1").alarm_topic
    monkeypatch.setenv("TTL_ARCHIVE_ALARM_EMAIL", "ops at example")
    with pytest.raises(ValueError, match="TTL_ARCHIVE_ALARM_EMAIL='ops at example'"):
        Settings.from_env(stack="s1")
    monkeypatch.delenv("TTL_ARCHIVE_ALARM_EMAIL")
    monkeypatch.setenv("TTL_ARCHIVE_ALARM_TOPIC", "maybe")
    with pytest.raises(ValueError, match="TTL_ARCHIVE_ALARM_TOPIC"):
        Settings.from_env(stack="s1")
    ident = Identity(account_id="123456789012", region="us-east-1", arn="arn:aws:iam::123456789012:user/x", endpoint_url=None)
    with pytest.raises(ValueError, match="TTL_ARCHIVE_ALARM_EMAIL='not-an-address'"):
        alarm_topic.ensure_alarm_topic(session, Settings(stack="s1", alarm_email="not-an-address"), ident)
    with pytest.raises(ValueError, match="topic names are 1-256 characters"):
        alarm_topic.ensure_alarm_topic(session, Settings(stack="s1", alarm_topic=True, alarm_topic_name="no spaces"), ident)
    assert alarm_topic.find_topic(session, "s1-alarms") is None, "nothing created"


def test_the_topic_policy_lets_only_cloudwatch_publish_for_this_stacks_alarms():
    ident = Identity(account_id="123456789012", region="ap-northeast-1", arn="arn:aws:iam::123456789012:user/x", endpoint_url=None)
    settings = Settings(stack="prod", alarm_topic=True)
    policy = alarm_topic.topic_policy(settings, ident)
    assert iam.wildcard_violations(policy) == [] and '"*"' not in json.dumps(policy)
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and statement["Action"] == "sns:Publish"
    assert statement["Resource"] == "arn:aws:sns:ap-northeast-1:123456789012:prod-alarms"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == sorted(
        f"arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:{s.name}" for s in alarms.alarm_specs(settings))


def test_topic_created_tagged_subscribed_used_by_the_alarms_idempotent_and_deleted(session, stack, ident):
    settings = Settings(stack=stack, alarm_email="ops@example.com").with_account(ident.account_id, ident.region)
    created = alarm_topic.ensure_alarm_topic(session, settings, ident)
    arn = created.description["TopicArn"]
    assert created.action == "created" and arn.endswith(f":{stack}-alarms")
    assert alarm_topic.topic_tags(session, arn) == settings.tags()
    assert json.loads(created.description["Attributes"]["Policy"]) == alarm_topic.topic_policy(settings, ident)
    assert [(s["Protocol"], s["Endpoint"]) for s in created.description["Subscriptions"]] == [("email", "ops@example.com")]
    assert any("confirmation" in c for c in created.changes)

    again = alarm_topic.ensure_alarm_topic(session, settings, ident)
    assert again.action == "already there" and len(again.description["Subscriptions"]) == 1

    outcomes = alarms.ensure_alarms(session, settings)
    assert all(o.description["AlarmActions"] == [arn] for o in outcomes)
    assert all(o.action == "already there" for o in alarms.ensure_alarms(session, settings)), "the default action is the topic: nothing changes"
    plain = alarms.ensure_alarms(session, Settings(stack=stack))
    assert all(o.description["AlarmActions"] == [] for o in plain), "without the setting the alarms notify nobody"

    assert alarm_topic.delete_alarm_topic(session, arn) and alarm_topic.find_topic(session, settings.alarm_topic_name) is None
    # teardown deletes a tagged topic and keeps an untagged one of the same name: tests/test_teardown.py


def test_a_same_named_topic_of_another_stack_is_not_adopted(session, stack, ident):
    session.client("sns").create_topic(Name=f"{stack}-alarms")
    with pytest.raises(alarm_topic.TopicNotOurs, match="was not created by stack"):
        alarm_topic.ensure_alarm_topic(session, Settings(stack=stack, alarm_topic=True), ident)
