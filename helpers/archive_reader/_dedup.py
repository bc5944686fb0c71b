"""Which event ids were already read: duplicate deliveries (Firehose retries) are found by event id.

:class:`IdSet` keeps the ids themselves (a Python set: fastest, for a read into memory).
:class:`DigestSet` keeps a 128-bit BLAKE2b digest of each id in sorted numpy runs, 16 bytes an id, for
archives larger than memory (10 million ids: 160 MB); two different ids share a digest with a
probability of about 10^-25 for 10 million ids, so it is exact in practice.
"""

from __future__ import annotations

from hashlib import blake2b

import numpy as np


class IdSet:
    """Event ids seen so far, kept as they are."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    def __len__(self) -> int:
        return len(self.ids)

    def first_seen(self, ids: list[str]) -> list[bool] | None:
        """Record ``ids`` (in order); None when each is new and they are distinct (the usual case, done
        in C), else per id whether this is its first occurrence."""
        seen = self.ids
        if seen.isdisjoint(ids):
            before = len(seen)
            seen.update(ids)
            if len(seen) - before == len(ids):
                return None
            seen.difference_update(ids)  # a duplicate among ids: one by one below
        first = []
        for event_id in ids:
            if event_id in seen:
                first.append(False)
            else:
                seen.add(event_id)
                first.append(True)
        return first


class DigestSet:
    """Event ids seen so far as sorted runs of 16-byte digests (a log-structured merge: a new run per
    call, two runs merged when the older is at most twice the newer, so there are O(log n) runs)."""

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(run) for run in self.runs)

    @property
    def nbytes(self) -> int:
        return sum(run.nbytes for run in self.runs)

    def first_seen(self, ids: list[str]) -> list[bool] | None:
        """As :meth:`IdSet.first_seen`."""
        if not ids:
            return None
        digests = np.array([blake2b(i.encode("utf-8", "surrogatepass"), digest_size=16).digest() for i in ids], dtype="S16")
        first = np.zeros(len(digests), dtype=bool)
        first[np.unique(digests, return_index=True)[1]] = True
        for run in self.runs:
            at = np.minimum(np.searchsorted(run, digests), len(run) - 1)
            first &= run[at] != digests
        self._add(np.sort(digests[first]))
        return None if first.all() else first.tolist()

    def _add(self, run: np.ndarray) -> None:
        if not len(run):
            return
        self.runs.append(run)
        while len(self.runs) > 1 and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
            newer = self.runs.pop()
            older = self.runs.pop()
            merged = np.concatenate((older, newer))
            del older, newer
            merged.sort(kind="stable")  # two sorted runs: timsort merges them in linear time
            self.runs.append(merged)
