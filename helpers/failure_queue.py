"""The trigger's OnFailure destination: an SQS queue that receives a record of every discarded batch.

When the event source mapping gives up on a batch (MaximumRetryAttempts or MaximumRecordAgeInSeconds
reached), Lambda sends **metadata** about it here: shard id, first and last sequence numbers, batch
size, the stream ARN. Not the records: they stay in the stream for 24 hours, which is the window for
reading them again with those sequence numbers. A CloudWatch alarm on the queue's depth
(:mod:`helpers.alarms`) makes sure somebody looks.

The queue is encrypted with SQS-managed keys (``SqsManagedSseEnabled``) and keeps messages for the
maximum, 14 days. The execution role of the function sends the message (``sqs:SendMessage`` on this
queue only, see :func:`helpers.iam.archiver_policy`), so the queue needs no resource policy.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from . import validation
from .outcome import ALREADY_THERE, CREATED, UPDATED, Ensured
from .settings import Settings

LOG = logging.getLogger(__name__)

RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: 1,209,600 s
DESIRED_ATTRIBUTES = {
    "SqsManagedSseEnabled": "true",
    "MessageRetentionPeriod": str(RETENTION_SECONDS),
}


def _queue_url(sqs: Any, name: str) -> str | None:
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as err:
        if err.response["Error"]["Code"] in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            return None
        raise


def _describe(sqs: Any, url: str) -> dict[str, Any]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return {"QueueUrl": url, "QueueArn": attributes["QueueArn"], "Attributes": attributes}


def ensure_failure_queue(session: Any, settings: Settings) -> Ensured:
    """Create or update the failure queue; idempotent.

    Guarantees SSE with SQS-managed keys, 14 days of retention and the stack's tags. A queue with other
    values for those is updated (SetQueueAttributes / TagQueue); other attributes are left alone. The
    description holds ``QueueUrl``, ``QueueArn`` and ``Attributes``. SQS queues are usable as soon as
    CreateQueue returns, so there is nothing to wait for.
    """
    name = settings.failure_queue_name
    sqs = session.client("sqs")
    url = _queue_url(sqs, name)
    changes: list[str] = []
    if url is None:
        try:
            url = sqs.create_queue(QueueName=name, Attributes=dict(DESIRED_ATTRIBUTES), tags=settings.tags())["QueueUrl"]
            action = CREATED
        except ClientError as err:
            if err.response["Error"]["Code"] not in {"QueueAlreadyExists", "QueueNameExists"}:  # created concurrently, other attributes
                raise
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            action = ALREADY_THERE
    else:
        action = ALREADY_THERE
    if action == ALREADY_THERE:
        attributes = _describe(sqs, url)["Attributes"]
        wrong = {k: v for k, v in DESIRED_ATTRIBUTES.items() if attributes.get(k, "").lower() != v}
        if wrong:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=wrong)
            changes.extend(f"{k}: {attributes.get(k)!r} -> {v!r}" for k, v in wrong.items())
        have_tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        missing = {k: v for k, v in settings.tags().items() if have_tags.get(k) != v}
        if missing:
            sqs.tag_queue(QueueUrl=url, Tags=missing)
            changes.append(f"tags {sorted(missing)}")
        if changes:
            action = UPDATED
    return Ensured("SQS queue", name, action, _describe(sqs, url), changes).log(LOG)


def queue_arn(session: Any, settings: Settings) -> str:
    """The failure queue's ARN. Raises ``LookupError`` when it does not exist yet."""
    sqs = session.client("sqs")
    url = _queue_url(sqs, settings.failure_queue_name)
    if url is None:
        raise LookupError(f"SQS queue {settings.failure_queue_name} does not exist yet: run ensure_failure_queue first")
    return _describe(sqs, url)["QueueArn"]


def peek_failures(session: Any, settings: Settings, *, max_messages: int = 10) -> list[dict[str, Any]]:
    """Up to ``max_messages`` OnFailure records from the queue, parsed, without removing them.

    Each message is made visible again at once (visibility timeout 0), so looking does not hide
    messages from the next reader. Returns ``[]`` for an empty queue or no queue.
    """
    validation.int_range(max_messages, 1, 10, "number of messages to read")
    sqs = session.client("sqs")
    url = _queue_url(sqs, settings.failure_queue_name)
    if url is None:
        return []
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=max_messages, VisibilityTimeout=0, WaitTimeSeconds=0).get("Messages", [])
    out = []
    for message in messages:
        try:
            out.append(json.loads(message["Body"]))
        except ValueError:
            out.append({"Body": message["Body"]})
    return out


def note_count(session: Any, queue_name: str) -> int | None:
    """Notes in the queue (visible plus in flight, SQS's approximate counts); None when there is no queue."""
    sqs = session.client("sqs")
    try:
        url = _queue_url(sqs, queue_name)
        if url is None:
            return None
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    except ClientError as err:
        if err.response["Error"]["Code"] in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            return None
        raise
    return sum(int(attributes.get(name, 0)) for name in names)


def delete_failure_queue(session: Any, settings: Settings) -> bool:
    """Delete the failure queue. Returns False when it did not exist ("not found" = done)."""
    sqs = session.client("sqs")
    url = _queue_url(sqs, settings.failure_queue_name)
    if url is None:
        return False
    try:
        sqs.delete_queue(QueueUrl=url)
    except ClientError as err:
        if err.response["Error"]["Code"] in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            return False
        raise
    LOG.info("deleted SQS queue %s", settings.failure_queue_name)
    return True
