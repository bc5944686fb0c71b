"""The whole stack in one idempotent call, in dependency order, using each module's ``ensure_*``.

Used by ``python -m helpers demo``, the set-up of notebook 05 (when notebooks 01-04 have not run)
and the end-to-end tests. The notebooks 01-04 walk through the same steps one at a time.

Order (each step needs what the ones before it return):

1. DynamoDB table with a stream carrying old images and TTL on (:func:`helpers.dynamodb.ensure_table`)
2. S3 archive bucket (:func:`helpers.s3.ensure_bucket`), SSE-KMS with ``settings.kms_key_arn`` when set
3. Firehose delivery role, then the Firehose stream to the bucket (:mod:`helpers.iam`, :mod:`helpers.firehose`)
4. The trigger's failure queue (:mod:`helpers.failure_queue`)
5. The archiver's execution role, scoped to this stream, delivery stream, log group and queue
6. The function's log group with retention, then the function (:mod:`helpers.lambda_function`)
7. The trigger (:mod:`helpers.trigger`), last: from then on TTL deletes are archived
8. The alarm topic when the settings ask for one (:mod:`helpers.alarm_topic`), then the alarms (:mod:`helpers.alarms`)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from botocore.exceptions import ClientError

from . import alarm_topic, alarms, dynamodb, failure_queue, firehose, iam, lambda_function, s3, trigger
from .outcome import Ensured
from .settings import Settings
from .target import Identity, identity as get_identity

LOG = logging.getLogger(__name__)
T = TypeVar("T")

# What a create call answers when another deploy of the same stack created the resource a moment earlier.
RACE_CODES = {
    "ResourceInUseException",  # DynamoDB CreateTable, Firehose CreateDeliveryStream
    "EntityAlreadyExists",  # IAM CreateRole
    "ResourceConflictException",  # Lambda CreateFunction
    "ResourceAlreadyExistsException",  # CloudWatch Logs CreateLogGroup
    "BucketAlreadyOwnedByYou",  # S3 CreateBucket outside us-east-1
    "QueueAlreadyExists", "QueueNameExists",  # SQS CreateQueue with other attributes (while the other deploy sets them)
}


def _again_if_raced(call: Callable[[], T], attempts: int = 3) -> T:
    """Run an idempotent ensure step; when a concurrent deploy created the resource between our describe
    and our create, run the step again: it then finds the resource and takes its update path."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in RACE_CODES or attempt == attempts:
                raise
            LOG.info("%s: created concurrently by another deploy; checking it again", err.response["Error"]["Code"])
    raise AssertionError("unreachable")


@dataclass
class Pipeline:
    """What :func:`ensure_pipeline` deployed: the settings (bucket name filled in), the ARNs that
    connect the pieces, and one :class:`Ensured` per resource, in the order they were ensured."""

    settings: Settings
    identity: Identity
    stream_arn: str
    delivery_stream_arn: str
    failure_queue_arn: str
    role_arn: str
    function_arn: str
    mapping_uuid: str
    outcomes: list[Ensured] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when any resource was created or updated by the call."""
        return any(o.changed for o in self.outcomes)

    def summary(self) -> str:
        return "\n".join(str(o) for o in self.outcomes)

    def _repr_markdown_(self) -> str:
        return "\n".join(f"- {o._repr_markdown_()}" for o in self.outcomes)


def ensure_pipeline(
    session: Any,
    settings: Settings,
    identity: Identity | None = None,
    *,
    archiver_source: Any = None,
    batch_size: int = trigger.DEFAULT_BATCH_SIZE,
    batching_window_seconds: int = trigger.DEFAULT_BATCHING_WINDOW_SECONDS,
    on_step: Callable[[Ensured], None] | None = None,
) -> Pipeline:
    """Create or update every resource of the stack, in order; idempotent (a second call reports
    every resource "already there" and writes nothing).

    Each step waits until its resource is usable before the next one starts (the ensure_* functions
    wait). ``archiver_source``: the function's source file (default ``helpers/archiver.py``).
    ``on_step`` is called with each :class:`Ensured` as it completes (progress output).
    Raises what the failing step raises; the steps before it stay in place and a re-run continues.
    Safe to run twice at once for one stack: a create that loses the race is checked again, and the
    trigger settles duplicate mappings (:func:`helpers.trigger.settle_duplicates`), so one trigger remains.
    """
    ident = identity or get_identity(session)
    settings = settings.with_account(ident.account_id, ident.region)
    firehose.encryption_configuration(settings, bucket_region=ident.region)  # a KMS key of another region: refused before anything is created
    outcomes: list[Ensured] = []

    def step(call: Callable[[], Ensured]) -> Ensured:
        outcome = _again_if_raced(call)
        outcomes.append(outcome)
        if on_step is not None:
            on_step(outcome)
        return outcome

    step(lambda: dynamodb.ensure_table(session, settings))
    stream = dynamodb.stream_arn(session, settings.table_name)
    step(lambda: s3.ensure_bucket(session, settings, settings.bucket_name))
    firehose_role = step(lambda: iam.ensure_firehose_role(session, settings, ident))
    bucket_arn = f"arn:{ident.partition}:s3:::{settings.bucket_name}"
    delivery = step(lambda: firehose.ensure_delivery_stream(session, settings, bucket_arn=bucket_arn, role_arn=firehose_role.description["Arn"]))
    delivery_arn = delivery.description["DeliveryStreamARN"]
    queue = step(lambda: failure_queue.ensure_failure_queue(session, settings))
    queue_arn = queue.description["QueueArn"]
    role = step(lambda: iam.ensure_archiver_role(session, settings, ident, stream_arn=stream, delivery_stream_arn=delivery_arn, failure_queue_arn=queue_arn))
    step(lambda: lambda_function.ensure_log_group(session, settings))
    function = step(
        lambda: lambda_function.ensure_function(
            session, settings, role_arn=role.description["Arn"], delivery_stream_name=settings.delivery_stream_name, source=archiver_source
        )
    )
    mapping = step(
        lambda: trigger.ensure_trigger(
            session, settings, stream_arn=stream, failure_queue_arn=queue_arn, batch_size=batch_size, batching_window_seconds=batching_window_seconds
        )
    )
    actions: list[str] = []
    if settings.alarm_topic:
        actions = [step(lambda: alarm_topic.ensure_alarm_topic(session, settings, ident)).description["TopicArn"]]
    for alarm in _again_if_raced(lambda: alarms.ensure_alarms(session, settings, alarm_actions=actions)):
        step(lambda alarm=alarm: alarm)
    return Pipeline(
        settings=settings,
        identity=ident,
        stream_arn=stream,
        delivery_stream_arn=delivery_arn,
        failure_queue_arn=queue_arn,
        role_arn=role.description["Arn"],
        function_arn=function.description["FunctionArn"],
        mapping_uuid=mapping.description["UUID"],
        outcomes=outcomes,
    )
