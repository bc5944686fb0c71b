"""The local runtime: managed AWS behaviour that moto does not have, run inside the embedded local AWS.

Stands in for AWS only; nothing here runs against a real account. The server process calls
:func:`prepare` before it serves, :func:`start` once it listens, :func:`reset` when its state is
emptied and :func:`stop` at shutdown. Each service registered in ``SERVICES`` is an object with
``start(endpoint_url)``, ``reset()``, ``stop()`` and ``status() -> dict``.

One module per concern:

* :mod:`.moto_compat`    the moto internals relied on, checked before patching (moto 5.2.x)
* :mod:`.streams`        DynamoDB stream records kept as AWS keeps them (no push to Lambda, unique
                         sequence numbers, table region, distinct shard ids, whole-second times, TTL userIdentity)
* :mod:`.sweeper`        TTL deletes with AWS's rules
* :mod:`.trigger`        the event source mapping poller (filters, batching, retries, bisect, checkpoints, OnFailure)
* :mod:`.lambda_runtime` the function's code in worker processes (:mod:`.lambda_worker`); also ``lambda.Invoke``
* :mod:`.firehose`       PutRecordBatch limits, buffering, GZIP and prefix expressions on delivery to S3
* :mod:`.faults`         fault injection for tests (``/_ttl_archive/faults``)
* :mod:`.records`        stream records in AWS's shapes (Binary as base64 on the wire, SizeBytes by the item-size rules)
* :mod:`.state`          settings (``TTL_ARCHIVE_LOCAL_*``), counters, runtime problems, the DynamoDB lock
"""

from __future__ import annotations

import json
from typing import Any

from . import firehose, lambda_runtime, moto_compat, streams
from .faults import FAULTS, FaultService
from .firehose import DELIVERY
from .lambda_runtime import POOL
from .state import DYNAMODB_LOCK, ENDPOINT, GATE, METRICS, PROBLEMS, SETTINGS
from .sweeper import TtlSweeper
from .trigger import StreamTrigger

SWEEPER = TtlSweeper()
TRIGGER = StreamTrigger()

# Reset runs in this order (the trigger stops before its workers go); stop runs in reverse.
SERVICES: list[Any] = [FaultService(), SWEEPER, TRIGGER, DELIVERY, POOL]
_prepared: list[bool] = []


def prepare() -> None:
    """Patch moto where the pipeline needs AWS's behaviour (called before the first request).

    Raises RuntimeError when the installed moto's internals differ from what the patches expect.
    """
    if _prepared:
        return
    moto_compat.check()
    streams.install()
    lambda_runtime.install()
    firehose.install()
    _prepared.append(True)


def start(endpoint_url: str) -> None:
    ENDPOINT["url"] = endpoint_url
    for service in SERVICES:
        service.start(endpoint_url)


def reset() -> None:
    for service in SERVICES:
        service.reset()
    METRICS.clear()
    PROBLEMS.clear()


def stop() -> None:
    for service in reversed(SERVICES):
        service.stop()


def status() -> dict[str, Any]:
    report: dict[str, Any] = {type(s).__name__: s.status() for s in SERVICES}
    report["settings"] = SETTINGS.as_dict()
    return report


def busy() -> bool:
    """True while the runtime has work in progress: records waiting for a trigger, invocations running,
    Firehose records not yet written to S3 (the state saver saves in the quiet moments between)."""
    return TRIGGER.busy() or POOL.busy() or DELIVERY.busy()


def problems() -> list[dict[str, Any]]:
    """Errors inside the runtime itself (see ``state.Problems``), oldest first."""
    return PROBLEMS.snapshot()


def dynamodb_request_lock(environ: dict[str, Any]) -> Any:
    """The lock a request must hold while moto handles it (DynamoDB API calls), or None."""
    return DYNAMODB_LOCK if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_") else None


def handle_faults(method: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """``/_ttl_archive/faults``: GET shows, POST replaces (JSON object), DELETE clears."""
    if method == "GET":
        return 200, FAULTS.status()
    if method == "DELETE":
        FAULTS.clear()
        return 200, FAULTS.status()
    if method == "POST":
        try:
            FAULTS.configure(json.loads(body or b"{}"))
        except ValueError as err:
            return 400, {"error": str(err)}
        return 200, FAULTS.status()
    return 405, {"error": "use GET, POST or DELETE"}
