"""pytest plugin for the mutation runs (``-p pytest_fastest_first``): a mutant's tests run fastest first.

mutmut runs the tests that cover a mutated function with ``-x`` (stop at the first failure), in no
particular order; most mutants are killed by some test, and when a 0.01 s test kills it the 2 s tests
need not run at all. The durations are mutmut's own, from the clean run (``mutmut-stats.json`` in the
``mutants/`` folder the tests run from); a test it has not timed runs last.
"""

from __future__ import annotations

import json
from pathlib import Path

_durations: dict[str, float] | None = None


def _load() -> dict[str, float]:
    global _durations
    if _durations is None:
        stats = Path("mutmut-stats.json")
        if not stats.exists():
            return {}  # the stats run itself: nothing timed yet
        _durations = json.loads(stats.read_text()).get("duration_by_test", {})
    return _durations


def pytest_collection_modifyitems(session, config, items) -> None:  # noqa: ARG001 - pytest's hook signature
    durations = _load()
    if durations:
        items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))
