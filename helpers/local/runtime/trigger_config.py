"""What the local trigger hands to a function and how it chooses records: the Lambda event shape of a stream
record, the event source mapping's filter patterns (moto's EventBridge matcher, as Lambda's filter syntax is
EventBridge's), and the mapping's configuration read from moto. Stands in for AWS only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .records import wire_attributes

LOG = logging.getLogger(__name__)


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record (moto's stored shape) as the Lambda event carries it: plain JSON, Binary as base64."""
    dynamodb = dict(raw["dynamodb"])
    for part in ("Keys", "NewImage", "OldImage"):
        if part in dynamodb:
            dynamodb[part] = wire_attributes(dynamodb[part])
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": raw["eventVersion"],
        "eventSource": "aws:dynamodb",
        "awsRegion": raw["awsRegion"],
        "dynamodb": dynamodb,
    }
    identity = raw.get("userIdentity")
    if identity:
        record["userIdentity"] = {"type": identity["Type"], "principalId": identity["PrincipalId"]}
    record["eventSourceARN"] = stream_arn
    return record


_pattern_cache: dict[str, Any] = {}


def _compiled(pattern: str) -> Any:
    from moto.events.models import EventPattern, EventPatternParser

    if pattern not in _pattern_cache:
        try:
            _pattern_cache[pattern] = EventPattern(pattern, EventPatternParser(pattern).parse())
        except Exception as err:  # noqa: BLE001 - AWS rejects such a pattern at CreateEventSourceMapping
            LOG.error("filter pattern %r is invalid (%s); it matches nothing", pattern, err)
            _pattern_cache[pattern] = None
    return _pattern_cache[pattern]


def matches_filters(record: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    """True when there are no filters or any filter's pattern matches the record."""
    if not filters:
        return True
    for entry in filters:
        compiled = _compiled(entry.get("Pattern") or "{}")
        if compiled is not None and compiled.matches_event(record):
            return True
    return False


@dataclass(frozen=True)
class MappingConfig:
    uuid: str
    function_arn: str
    stream_arn: str
    enabled: bool
    starting_position: str
    latest_sequence_number: int | None
    batch_size: int
    window_seconds: float
    filters: list[dict[str, Any]]
    report_item_failures: bool
    bisect: bool
    max_retries: int
    max_record_age: int
    on_failure: str | None
    parallelization: int = 1

    @classmethod
    def from_moto(cls, esm: Any) -> "MappingConfig":
        def number(value: Any, default: int) -> int:
            return default if value is None else int(value)

        return cls(
            uuid=esm.uuid,
            function_arn=esm.function_arn,
            stream_arn=esm.event_source_arn,
            enabled=bool(esm.enabled),
            starting_position=esm.starting_position or "TRIM_HORIZON",
            latest_sequence_number=getattr(esm, "ttl_archive_latest_sequence_number", None),
            batch_size=number(esm.batch_size, 100),
            window_seconds=float(esm.max_batch_window or 0),
            filters=list((esm.filter_criteria or {}).get("Filters") or []),
            report_item_failures="ReportBatchItemFailures" in (esm.function_response_types or []),
            bisect=bool(esm.bisect_on_error),
            max_retries=number(esm.max_retry_attempts, -1),
            max_record_age=number(esm.max_record_age, -1),
            on_failure=((esm.destination_config or {}).get("OnFailure") or {}).get("Destination"),
            parallelization=min(10, max(1, number(getattr(esm, "parallelization_factor", None), 1))),
        )
