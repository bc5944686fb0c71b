"""What changed in the embedded local AWS since its state was last saved (see :mod:`.state_store`).

Stands in for AWS only. The server counts each writing request under the service it was signed for; the
saver compares these counts (and the runtime's own changes) with those of its last save, to know whether to
save at all and which services to pickle again.
"""

from __future__ import annotations

from typing import Any


def change_fingerprint() -> tuple[int, ...]:
    """Changes since start: writing requests and the runtime's own work (a new value means: save again)."""
    from .runtime.state import METRICS

    return tuple(METRICS.get(name) for name in ("server.writes", "ttl.items_deleted", "trigger.records_processed", "trigger.records_filtered_out",
                                                "trigger.records_discarded", "trigger.records_set_aside", "firehose.objects_written"))


# The signing name of a request (``Credential=<key>/<date>/<region>/<name>/aws4_request``) -> moto services it
# can change; the runtime's own changes: the sweeper deletes items, Firehose writes objects.
SIGNING_NAMES = {"dynamodb": ("dynamodb", "dynamodbstreams"), "monitoring": ("cloudwatch",), "s3": ("s3",), "lambda": ("lambda",),
                 "firehose": ("firehose",), "sqs": ("sqs",), "iam": ("iam",), "sts": ("sts",), "logs": ("logs",), "sns": ("sns",)}
RUNTIME_CHANGES = {"dynamodb": ("ttl.items_deleted",), "s3": ("firehose.objects_written",)}


def signing_name(environ: dict[str, Any]) -> str:
    """The service a request was signed for (``unknown`` without a SigV4 signature)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    start = auth.find("Credential=")
    parts = auth[start + 11:].split(",", 1)[0].split("/") if start >= 0 else []
    return parts[3] if len(parts) >= 5 else "unknown"


def service_fingerprint(service: str) -> tuple[int, ...]:
    """Changes to one moto service since start: requests signed for it, the runtime's changes to it, and
    unsigned or unknown writes (which could touch any service)."""
    from .runtime.state import METRICS

    names = [f"server.writes.{n}" for n, services in SIGNING_NAMES.items() if service in services]
    if not names:
        names = ["server.writes"]  # a service we do not map: any write may have changed it
    return tuple(METRICS.get(n) for n in (*names, "server.writes.unknown", *RUNTIME_CHANGES.get(service, ())))
