"""What every ``ensure_*`` returns: which resource, what was done, and its description."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

CREATED = "created"
UPDATED = "updated"
ALREADY_THERE = "already there"
ACTIONS = (CREATED, UPDATED, ALREADY_THERE)


@dataclass
class Ensured:
    """The result of an idempotent ``ensure_*`` call.

    ``action`` is "created", "updated" or "already there"; ``changes`` lists what an update changed;
    ``description`` is the resource's description as AWS returns it after the call.
    """

    kind: str
    name: str
    action: str
    description: dict[str, Any] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")

    @property
    def changed(self) -> bool:
        return self.action != ALREADY_THERE

    def __str__(self) -> str:
        detail = f" ({'; '.join(self.changes)})" if self.changes else ""
        return f"{self.kind} {self.name}: {self.action}{detail}"

    def _repr_markdown_(self) -> str:  # shown by Jupyter when a cell ends with an Ensured
        return f"**{self.kind}** `{self.name}`: {self.action}" + (f" ({'; '.join(self.changes)})" if self.changes else "")

    def log(self, logger: logging.Logger) -> "Ensured":
        logger.info("%s", self)
        return self
