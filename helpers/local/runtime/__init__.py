"""The local runtime: managed AWS behaviour that moto does not have, run inside the embedded local AWS.

Stands in for AWS only; nothing here runs against a real account. The server process calls
:func:`prepare` before it serves, :func:`start` once it listens, :func:`reset` when its state is
emptied and :func:`stop` at shutdown. Each service registered in ``SERVICES`` is an object with
``start(endpoint_url)``, ``reset()``, ``stop()`` and ``status() -> dict``.
"""

from __future__ import annotations

from typing import Any

SERVICES: list[Any] = []


def prepare() -> None:
    """Patch moto where the pipeline needs AWS's behaviour (called before the first request)."""


def start(endpoint_url: str) -> None:
    for service in SERVICES:
        service.start(endpoint_url)


def reset() -> None:
    for service in SERVICES:
        service.reset()


def stop() -> None:
    for service in reversed(SERVICES):
        service.stop()


def status() -> dict[str, Any]:
    return {type(s).__name__: s.status() for s in SERVICES}
