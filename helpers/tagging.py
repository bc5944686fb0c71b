"""The stack's tags in each service's own shape, and the test of whether a resource is ours."""

from __future__ import annotations

from typing import Iterable, Mapping

from .settings import MANAGED_BY_KEY, MANAGED_BY_VALUE, STACK_TAG_KEY


def as_key_value_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``[{"Key": k, "Value": v}]``: DynamoDB, S3, IAM, Firehose, CloudWatch."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def from_key_value_list(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def is_ours(tags: Mapping[str, str], stack: str) -> bool:
    """True when ``tags`` say this project created the resource for ``stack``."""
    return tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE and tags.get(STACK_TAG_KEY) == stack
