"""CloudWatch alarms that say when archiving is in trouble.

Three alarms, each tagged with the stack's tags:

* ``<function>-errors``: the archiver's ``Errors`` (AWS/Lambda, Sum over 5 minutes) >= 1. A failed
  invocation is retried, so one error loses nothing, but it is the first sign of a problem.
* ``<function>-iterator-age``: the function's ``IteratorAge`` (AWS/Lambda, Maximum over 1 minute)
  >= 1 hour for 5 minutes in a row. IteratorAge is how old the last record of a batch was when the
  function received it: a growing value means the trigger falls behind (failing batches blocking the
  shard, throttling). Stream records live 24 hours and the trigger discards records older than
  MaximumRecordAgeInSeconds (6 hours, :mod:`helpers.trigger`), so an hour leaves time to act.
* ``<queue>-depth``: the failure queue's ``ApproximateNumberOfMessagesVisible`` (AWS/SQS, Maximum over
  5 minutes) >= 1. Every message there is a discarded batch whose records must be replayed from the
  stream within its 24 hours.

Missing data counts as "not breaching" (no invocations means no errors). The alarms notify the stack's
SNS topic (:mod:`helpers.alarm_topic`) when the settings turn it on (``TTL_ARCHIVE_ALARM_EMAIL`` or
``TTL_ARCHIVE_ALARM_TOPIC``) and it exists; otherwise the alarm state shows in the console only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

from botocore.exceptions import ClientError

from . import tagging, validation
from .outcome import ALREADY_THERE, CREATED, UPDATED, Ensured
from .settings import Settings

LOG = logging.getLogger(__name__)

DEFAULT_ITERATOR_AGE_THRESHOLD_MS = 3_600_000  # 1 hour


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm, in PutMetricAlarm's terms."""

    name: str
    description: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period: int
    evaluation_periods: int
    threshold: float
    comparison: str = "GreaterThanOrEqualToThreshold"
    treat_missing_data: str = "notBreaching"

    def put_arguments(self, alarm_actions: Sequence[str]) -> dict[str, Any]:
        return {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "Namespace": self.namespace,
            "MetricName": self.metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
            "Statistic": self.statistic,
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "Threshold": float(self.threshold),
            "ComparisonOperator": self.comparison,
            "TreatMissingData": self.treat_missing_data,
            "ActionsEnabled": True,
            "AlarmActions": list(alarm_actions),
        }


def _alarm_name(name: str) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise ValueError(f"invalid CloudWatch alarm name {name!r}: alarm names are 1-255 characters")
    return name


def alarm_specs(settings: Settings, *, iterator_age_threshold_ms: int = DEFAULT_ITERATOR_AGE_THRESHOLD_MS) -> list[AlarmSpec]:
    """The three alarms for this stack (see the module docstring), validated."""
    validation.int_range(iterator_age_threshold_ms, 1_000, 86_400_000, "IteratorAge alarm threshold (milliseconds)")
    fn, queue = settings.function_name, settings.failure_queue_name
    return [
        AlarmSpec(
            name=_alarm_name(f"{fn}-errors"),
            description=f"The archiver function {fn} failed at least once in 5 minutes; failed batches are retried (dynamodb-ttl-archive, stack {settings.stack}).",
            namespace="AWS/Lambda", metric="Errors", dimensions=(("FunctionName", fn),),
            statistic="Sum", period=300, evaluation_periods=1, threshold=1,
        ),
        AlarmSpec(
            name=_alarm_name(f"{fn}-iterator-age"),
            description=(f"The trigger of {fn} is falling behind: records are over {iterator_age_threshold_ms // 60000} minutes old when processed; "
                         f"stream records expire after 24 hours (dynamodb-ttl-archive, stack {settings.stack})."),
            namespace="AWS/Lambda", metric="IteratorAge", dimensions=(("FunctionName", fn),),
            statistic="Maximum", period=60, evaluation_periods=5, threshold=iterator_age_threshold_ms,
        ),
        AlarmSpec(
            name=_alarm_name(f"{queue}-depth"),
            description=(f"The trigger discarded at least one batch to {queue}: replay its records from the stream within 24 hours "
                         f"(dynamodb-ttl-archive, stack {settings.stack})."),
            namespace="AWS/SQS", metric="ApproximateNumberOfMessagesVisible", dimensions=(("QueueName", queue),),
            statistic="Maximum", period=300, evaluation_periods=1, threshold=1,
        ),
    ]


_COMPARED = ("AlarmDescription", "Namespace", "MetricName", "Statistic", "Period", "EvaluationPeriods", "Threshold",
             "ComparisonOperator", "TreatMissingData", "ActionsEnabled")


def _differences(current: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    changes = [f"{k}: {current.get(k)!r} -> {wanted[k]!r}" for k in _COMPARED if current.get(k) != wanted[k]]
    have_dims = sorted((d["Name"], d["Value"]) for d in current.get("Dimensions", []))
    if have_dims != sorted((d["Name"], d["Value"]) for d in wanted["Dimensions"]):
        changes.append("Dimensions")
    if sorted(current.get("AlarmActions", [])) != sorted(wanted["AlarmActions"]):
        changes.append("AlarmActions")
    return changes


def ensure_alarm(session: Any, settings: Settings, spec: AlarmSpec, *, alarm_actions: Sequence[str] = ()) -> Ensured:
    """Create or update one alarm; idempotent ("already there" when every managed field matches);
    tags it. CloudWatch alarms exist as soon as PutMetricAlarm returns: nothing to wait for."""
    cw = session.client("cloudwatch")
    wanted = spec.put_arguments(alarm_actions)
    found = cw.describe_alarms(AlarmNames=[spec.name], AlarmTypes=["MetricAlarm"]).get("MetricAlarms", [])
    if not found:
        cw.put_metric_alarm(**wanted, Tags=tagging.as_key_value_list(settings.tags()))
        action, changes = CREATED, []
    else:
        changes = _differences(found[0], wanted)
        if changes:
            cw.put_metric_alarm(**wanted)
        arn = found[0]["AlarmArn"]
        have = tagging.from_key_value_list(cw.list_tags_for_resource(ResourceARN=arn).get("Tags"))
        missing = {k: v for k, v in settings.tags().items() if have.get(k) != v}
        if missing:
            cw.tag_resource(ResourceARN=arn, Tags=tagging.as_key_value_list(missing))
            changes.append(f"tags {sorted(missing)}")
        action = UPDATED if changes else ALREADY_THERE
    description = cw.describe_alarms(AlarmNames=[spec.name], AlarmTypes=["MetricAlarm"])["MetricAlarms"][0]
    return Ensured("CloudWatch alarm", spec.name, action, description, changes).log(LOG)


def ensure_alarms(
    session: Any,
    settings: Settings,
    *,
    iterator_age_threshold_ms: int = DEFAULT_ITERATOR_AGE_THRESHOLD_MS,
    alarm_actions: Sequence[str] | None = None,
) -> list[Ensured]:
    """Create or update the stack's three alarms (errors, iterator age, failure queue depth); idempotent.

    ``alarm_actions``: ARNs to notify, applied to all three; None (default) means the stack's alarm topic
    when ``settings.alarm_topic`` is on and the topic exists (create it first with
    :func:`helpers.alarm_topic.ensure_alarm_topic`), else none. Values are validated before any AWS call.
    Returns one :class:`Ensured` per alarm.
    """
    specs = alarm_specs(settings, iterator_age_threshold_ms=iterator_age_threshold_ms)
    if alarm_actions is None:
        alarm_actions = default_alarm_actions(session, settings)
    for arn in alarm_actions:
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise ValueError(f"invalid alarm action {arn!r}: alarm actions are ARNs (for example an SNS topic ARN)")
    return [ensure_alarm(session, settings, spec, alarm_actions=alarm_actions) for spec in specs]


def default_alarm_actions(session: Any, settings: Settings) -> list[str]:
    """``[topic ARN]`` when the settings turn the alarm topic on and it exists, else ``[]``."""
    if not settings.alarm_topic:
        return []
    from .alarm_topic import find_topic

    arn = find_topic(session, settings.alarm_topic_name)
    if arn is None:
        LOG.warning("the alarm topic %s does not exist yet: the alarms notify nobody (run ensure_alarm_topic first)", settings.alarm_topic_name)
        return []
    return [arn]


def alarm_states(session: Any, settings: Settings) -> dict[str, str]:
    """``{alarm name: state}`` (OK, ALARM, INSUFFICIENT_DATA) for the stack's alarms that exist."""
    names = [s.name for s in alarm_specs(settings)]
    found = session.client("cloudwatch").describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"]).get("MetricAlarms", [])
    return {a["AlarmName"]: a["StateValue"] for a in found}


def delete_alarms(session: Any, settings: Settings) -> list[str]:
    """Delete the stack's alarms; returns the names that existed (missing ones are simply done)."""
    cw = session.client("cloudwatch")
    names = [s.name for s in alarm_specs(settings)]
    existing = [a["AlarmName"] for a in cw.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"]).get("MetricAlarms", [])]
    if existing:
        try:
            cw.delete_alarms(AlarmNames=existing)
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceNotFound":
                raise
    return existing
