"""Fault injection for tests of the local pipeline (local target only; AWS has no such switch).

Stands in for AWS only. Faults are set on the running server, all at once, and replace the previous set:

* HTTP: ``POST /_ttl_archive/faults`` with a JSON object (below), ``GET`` shows it with counters,
  ``DELETE`` clears it. From Python: ``helpers.local.set_faults(...)`` / ``helpers.local.clear_faults()``.
* Keys (every rate is a probability between 0 and 1, default 0):

  ``seed``                          integer seeding the one random generator (default 0): same seed,
                                    same sequence of decisions
  ``firehose_record_failure_rate``  share of records PutRecordBatch rejects individually
                                    (``ErrorCode: ServiceUnavailableException``, counted in ``FailedPutCount``)
  ``firehose_call_failure_rate``    share of PutRecordBatch/PutRecord calls failing whole with
                                    ``ServiceUnavailableException`` (HTTP 500 as on AWS; nothing of the call is kept)
  ``firehose_call_failures``        the next N PutRecordBatch/PutRecord calls fail whole the same way, then
                                    calls succeed again: N below boto3's attempts (3 in standard mode, 5 in
                                    legacy) is absorbed by boto3's retries, N at or above them outlasts them
  ``lambda_crash_rate``             share of invocations whose worker process exits with status 1
                                    **after** the handler ran (its side effects happened, its answer is
                                    lost: the trigger retries, the archive may get duplicates)
  ``lambda_timeout_rate``           share of invocations that run the handler and then never answer,
                                    so the worker is killed at the function's timeout
  ``trigger_error_keys``            optional list of key values (as text, any key attribute): the local
                                    trigger itself fails while preparing a record with such a key, as a
                                    bug in the emulator would (shows how runtime errors are surfaced)
  ``delivery_streams``              optional list of delivery stream names the Firehose faults apply to
  ``functions``                     optional list of function names the Lambda faults apply to
"""

from __future__ import annotations

import random
import threading
from typing import Any

from .state import METRICS

RATES = ("firehose_record_failure_rate", "firehose_call_failure_rate", "lambda_crash_rate", "lambda_timeout_rate")
KEYS = set(RATES) | {"seed", "delivery_streams", "functions", "trigger_error_keys", "firehose_call_failures"}


def validate(spec: dict[str, Any]) -> dict[str, Any]:
    """The normalised fault set, or ValueError naming the wrong key or value."""
    if not isinstance(spec, dict):
        raise ValueError("the fault set must be a JSON object")
    unknown = set(spec) - KEYS
    if unknown:
        raise ValueError(f"unknown fault key(s) {sorted(unknown)}; known: {sorted(KEYS)}")
    out: dict[str, Any] = {"seed": spec.get("seed", 0)}
    if not isinstance(out["seed"], int) or isinstance(out["seed"], bool):
        raise ValueError("seed must be an integer")
    for name in RATES:
        value = spec.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
        out[name] = float(value)
    streak = spec.get("firehose_call_failures", 0)
    if isinstance(streak, bool) or not isinstance(streak, int) or streak < 0:
        raise ValueError(f"firehose_call_failures must be a whole number of calls (0 or more), got {streak!r}")
    out["firehose_call_failures"] = streak
    if out["lambda_crash_rate"] + out["lambda_timeout_rate"] > 1:
        raise ValueError("lambda_crash_rate + lambda_timeout_rate must not exceed 1")
    for name in ("delivery_streams", "functions", "trigger_error_keys"):
        value = spec.get(name)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise ValueError(f"{name} must be a list of names")
        out[name] = value
    return out


class FaultInjector:
    """The current fault set and its seeded random generator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spec = validate({})
        self._rng = random.Random(0)
        self._calls_to_fail = 0

    def configure(self, spec: dict[str, Any]) -> dict[str, Any]:
        checked = validate(spec)
        with self._lock:
            self._spec = checked
            self._rng = random.Random(checked["seed"])
            self._calls_to_fail = checked["firehose_call_failures"]
        METRICS.add("faults.configured")
        return checked

    def clear(self) -> None:
        self.configure({})

    def _draw(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def _applies(self, key: str, name: str) -> bool:
        names = self._spec.get(key)
        return names is None or name in names

    def firehose_call_fails(self, stream: str) -> bool:
        if not self._applies("delivery_streams", stream):
            return False
        with self._lock:
            failed = self._calls_to_fail > 0
            if failed:
                self._calls_to_fail -= 1
        failed = failed or self._draw(self._spec["firehose_call_failure_rate"])
        if failed:
            METRICS.add("faults.firehose_calls_failed")
        return failed

    def firehose_record_fails(self, stream: str) -> bool:
        if not self._applies("delivery_streams", stream):
            return False
        failed = self._draw(self._spec["firehose_record_failure_rate"])
        if failed:
            METRICS.add("faults.firehose_records_failed")
        return failed

    def trigger_record_fails(self, keys: dict[str, Any]) -> None:
        """Raise RuntimeError when a key value of the record (``Keys`` as stored) is in ``trigger_error_keys``."""
        names = self._spec.get("trigger_error_keys")
        if not names:
            return
        for typed in keys.values():
            value = next(iter(typed.values())) if isinstance(typed, dict) and typed else typed
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            if text in names:
                METRICS.add("faults.trigger_errors")
                raise RuntimeError(f"injected local trigger error for key {text!r}")

    def lambda_fault(self, function_name: str) -> str | None:
        """None, "crash" or "timeout" for the next invocation of ``function_name``."""
        if not self._applies("functions", function_name):
            return None
        crash, timeout = self._spec["lambda_crash_rate"], self._spec["lambda_timeout_rate"]
        if crash <= 0 and timeout <= 0:
            return None
        with self._lock:
            draw = self._rng.random()
        if draw < crash:
            METRICS.add("faults.lambda_crashes")
            return "crash"
        if draw < crash + timeout:
            METRICS.add("faults.lambda_timeouts")
            return "timeout"
        return None

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"faults": dict(self._spec), "firehose_calls_still_to_fail": self._calls_to_fail, **METRICS.snapshot("faults.")}


FAULTS = FaultInjector()


class FaultService:
    """Registers the injector with the runtime's start/reset/stop/status cycle."""

    def start(self, endpoint_url: str) -> None:
        pass

    def reset(self) -> None:
        FAULTS.clear()

    def stop(self) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return FAULTS.status()
