"""Bounded waiting and retrying: IAM propagation errors, and polls that end in ``TimeoutError``."""

from __future__ import annotations

import logging
import random
import time
from typing import Callable, TypeVar

from botocore.exceptions import ClientError

LOG = logging.getLogger(__name__)
T = TypeVar("T")

# (error code, text in the message) pairs that mean "the role exists but is not assumable yet".
IAM_PROPAGATION_ERRORS: tuple[tuple[str, str], ...] = (
    ("InvalidParameterValueException", "cannot be assumed"),
    ("InvalidParameterValueException", "role"),
    ("InvalidArgumentException", "role"),
    ("InvalidArgumentException", "Firehose is unable to assume role"),
    ("AccessDeniedException", "assume"),
)


def is_iam_propagation_error(err: BaseException) -> bool:
    """True for the errors Lambda and Firehose give while a new role has not propagated yet."""
    if not isinstance(err, ClientError):
        return False
    code = err.response.get("Error", {}).get("Code", "")
    message = err.response.get("Error", {}).get("Message", "").lower()
    return any(code == c and text.lower() in message for c, text in IAM_PROPAGATION_ERRORS)


def retry_on_iam_propagation(call: Callable[[], T], *, attempts: int = 8, base_delay: float = 1.0, max_delay: float = 15.0, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``call``; while it fails with an IAM propagation error, retry with capped exponential
    backoff and jitter, at most ``attempts`` times (about 1.5 minutes in all by default).
    Any other error, or the last propagation error, is raised unchanged."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ClientError as err:
            if attempt == attempts or not is_iam_propagation_error(err):
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            LOG.info("new IAM role not usable yet (%s); retrying in %.1f s (attempt %d/%d)", err.response["Error"]["Code"], delay, attempt, attempts)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def wait_until(check: Callable[[], T | None], *, what: str, timeout: float = 300.0, interval: float = 1.0, max_interval: float = 10.0, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> T:
    """Poll ``check`` until it returns something truthy, and return that.

    The interval grows by half each poll up to ``max_interval``. Raises ``TimeoutError`` naming
    ``what`` once ``timeout`` seconds have passed.
    """
    deadline = clock() + timeout
    delay = interval
    while True:
        result = check()
        if result:
            return result
        if clock() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(max_interval, delay * 1.5)
