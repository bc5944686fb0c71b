"""The optional SNS topic that the stack's CloudWatch alarms notify (``TTL_ARCHIVE_ALARM_EMAIL`` subscribes an address).

Without it the alarms of :mod:`helpers.alarms` change state in the console and nobody hears of it. With
``TTL_ARCHIVE_ALARM_EMAIL=ops@example.com`` (or ``TTL_ARCHIVE_ALARM_TOPIC=true`` for a topic you subscribe
to yourself, for example from AWS Chatbot), :func:`ensure_alarm_topic` creates ``<stack>-alarms``, tagged
like every resource of the stack, and the alarms use it as their action.

Least privilege: the topic policy replaces SNS's default one (which lets every principal of the account
publish and subscribe) with a single statement: the CloudWatch service may ``sns:Publish`` to this topic,
only on behalf of this stack's alarms (``aws:SourceArn``, the exact alarm ARNs) in this account
(``aws:SourceAccount``), the confused-deputy protection AWS recommends. People and roles of the account keep
what their IAM policies grant. Encryption: SNS's AWS-managed key (``alias/aws/sns``) cannot be used here,
because CloudWatch needs ``kms:Decrypt``/``kms:GenerateDataKey`` on the topic's key and an AWS-managed key's
policy cannot grant that; a customer-managed key would (USD 1 a month and a key policy of its own). Alarm
notifications carry the alarm's name, state and metric values, no item data, so the topic is not encrypted.

An email subscription stays *pending confirmation* until the address owner clicks the link AWS sends;
:func:`ensure_alarm_topic` says so. Subscriptions it did not make are left alone.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from botocore.exceptions import ClientError

from . import tagging, validation
from .outcome import ALREADY_THERE, CREATED, UPDATED, Ensured
from .settings import Settings

LOG = logging.getLogger(__name__)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")


class TopicNotOurs(RuntimeError):
    """A topic of that name exists but was not created for this stack: it is not adopted."""


def topic_name(name: str) -> str:
    return validation.topic_name(name)


def email_address(value: str | None) -> str | None:
    """``value`` checked as an email address (None or empty: no subscription)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.match(value):
        raise ValueError(f"TTL_ARCHIVE_ALARM_EMAIL={value!r} is not an email address (name@example.com)")
    return value


def topic_arn(settings: Settings, identity: Any) -> str:
    return f"arn:{identity.partition}:sns:{identity.region}:{identity.account_id}:{settings.alarm_topic_name}"


def topic_policy(settings: Settings, identity: Any) -> dict[str, Any]:
    """The topic's policy: CloudWatch may publish for this stack's alarms in this account, nothing else."""
    from .alarms import alarm_specs

    alarm_arns = sorted(f"arn:{identity.partition}:cloudwatch:{identity.region}:{identity.account_id}:alarm:{s.name}" for s in alarm_specs(settings))
    return {
        "Version": "2012-10-17",
        "Id": f"{settings.alarm_topic_name}-policy",
        "Statement": [
            {
                "Sid": "AlarmsOfThisStackPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn(settings, identity),
                "Condition": {"ArnEquals": {"aws:SourceArn": alarm_arns}, "StringEquals": {"aws:SourceAccount": identity.account_id}},
            }
        ],
    }


def find_topic(session: Any, name: str) -> str | None:
    """The ARN of the topic named ``name`` in the session's account and region, or None."""
    for page in session.client("sns").get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return topic["TopicArn"]
    return None


def topic_tags(session: Any, arn: str) -> dict[str, str] | None:
    try:
        return tagging.from_key_value_list(session.client("sns").list_tags_for_resource(ResourceArn=arn).get("Tags"))
    except ClientError as err:
        if err.response["Error"]["Code"] in {"NotFound", "NotFoundException", "ResourceNotFoundException"}:
            return None
        raise


def _same_policy(current: str | None, wanted: dict[str, Any]) -> bool:
    from .iam import _canonical

    return bool(current) and _canonical(current) == _canonical(wanted)


def ensure_alarm_topic(session: Any, settings: Settings, identity: Any, *, email: str | None = None) -> Ensured:
    """Create or update the alarm topic; idempotent; subscribes ``email`` (default ``settings.alarm_email``).

    Validates the name and the address before any call. Sets the least-privilege policy (see the module
    docstring) and the stack's tags. Raises :class:`TopicNotOurs` for a same-named topic this stack did not
    create. The description holds ``TopicArn``, ``Attributes`` and ``Subscriptions``.
    """
    name = topic_name(settings.alarm_topic_name)
    address = email_address(email if email is not None else settings.alarm_email)
    wanted = topic_policy(settings, identity)
    sns = session.client("sns")
    arn = find_topic(session, name)
    changes: list[str] = []
    if arn is None:
        arn = sns.create_topic(Name=name, Tags=tagging.as_key_value_list(settings.tags()))["TopicArn"]
        action = CREATED
    else:
        tags = topic_tags(session, arn) or {}
        if not tagging.is_ours(tags, settings.stack):
            raise TopicNotOurs(f"SNS topic {name!r} already exists and was not created by stack {settings.stack!r} (its tags: {tags or 'none'}): "
                               "choose another stack name, or delete that topic")
        missing = {k: v for k, v in settings.tags().items() if tags.get(k) != v}
        if missing:
            sns.tag_resource(ResourceArn=arn, Tags=tagging.as_key_value_list(missing))
            changes.append(f"tags {sorted(missing)}")
        action = ALREADY_THERE
    if not _same_policy(sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy"), wanted):
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(wanted))
        if action != CREATED:
            changes.append("policy")
    subscriptions = _subscriptions(sns, arn)
    if address and not any(s["Protocol"] == "email" and s["Endpoint"].lower() == address.lower() for s in subscriptions):
        sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=address, ReturnSubscriptionArn=True)
        changes.append(f"subscribed {address}: AWS emails a confirmation link; notifications start once it is clicked")
        subscriptions = _subscriptions(sns, arn)
    if action == ALREADY_THERE and changes:
        action = UPDATED
    description = {"TopicArn": arn, "Attributes": sns.get_topic_attributes(TopicArn=arn)["Attributes"], "Subscriptions": subscriptions}
    return Ensured("SNS topic", name, action, description, changes).log(LOG)


def _subscriptions(sns: Any, arn: str) -> list[dict[str, Any]]:
    return [s for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn) for s in page.get("Subscriptions", [])]


def delete_alarm_topic(session: Any, arn: str) -> bool:
    """Delete the topic (and with it its subscriptions). False when it did not exist."""
    try:
        session.client("sns").delete_topic(TopicArn=arn)
    except ClientError as err:
        if err.response["Error"]["Code"] in {"NotFound", "NotFoundException"}:
            return False
        raise
    LOG.info("deleted SNS topic %s", arn)
    return True
