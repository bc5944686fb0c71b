"""Which event ids were already read: duplicate deliveries (Firehose retries) are found by event id.

:class:`IdSet` keeps the ids themselves (a Python set: fastest, for a read into memory).
:class:`DigestSet` keeps a 128-bit digest of each id in sorted numpy runs, 16 bytes an id, for archives
larger than memory (10 million ids: 160 MB); two different ids share a digest with a probability of
about 10^-25 for 10 million ids, so it is exact in practice.
"""

from __future__ import annotations

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
    """Event ids seen so far as 128-bit digests (Python's keyed 64-bit SipHash of the id, and of the id with a
    suffix; the key is random per process, which is all a read needs) in sorted runs: a new run per call, merged with the previous one while that is at most twice as large
    (a log-structured merge: few runs), runs stop growing at :attr:`MAX_RUN` digests so a merge never
    needs more than a few tens of MB on top."""

    MAX_RUN = 1 << 21  # 2 million digests, 32 MB

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (high halves sorted, low halves in the same order)

    def __len__(self) -> int:
        return sum(len(high) for high, _ in self.runs)

    @property
    def nbytes(self) -> int:
        return sum(high.nbytes + low.nbytes for high, low in self.runs)

    def first_seen(self, ids: list[str]) -> list[bool] | None:
        """As :meth:`IdSet.first_seen`."""
        if not ids:
            return None
        n = len(ids)
        high = np.fromiter(map(hash, ids), dtype=np.int64, count=n)
        low = np.fromiter((hash(i + _SALT) for i in ids), dtype=np.int64, count=n)
        first = np.ones(n, dtype=bool)
        if len(set(ids)) != n:  # the same id twice in this call: only its first occurrence is new
            met: set[str] = set()
            for k, event_id in enumerate(ids):
                first[k] = event_id not in met
                met.add(event_id)
        order = np.argsort(high, kind="stable")  # sorted keys: each search starts where the last one ended
        high, low, new = high[order], low[order], first[order]
        for run_high, run_low in self.runs:
            at = np.searchsorted(run_high, high)
            for i in np.flatnonzero(run_high[np.minimum(at, len(run_high) - 1)] == high):
                stop = np.searchsorted(run_high, high[i], "right")  # the high half is there: compare the low halves
                if new[i] and (run_low[at[i]:stop] == low[i]).any():
                    new[i] = False
        self._add(high[new], low[new])
        first[order] = new
        return None if first.all() else first.tolist()

    def _add(self, high: np.ndarray, low: np.ndarray) -> None:
        if not len(high):
            return
        self.runs.append((high, low))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]) and len(self.runs[-2][0]) + len(self.runs[-1][0]) <= self.MAX_RUN:
            newer, older = self.runs.pop(), self.runs.pop()
            both_high = np.concatenate((older[0], newer[0]))
            order = np.argsort(both_high, kind="stable")  # two sorted runs: timsort merges them in linear time
            self.runs.append((both_high[order], np.concatenate((older[1], newer[1]))[order]))


_SALT = "\x00ttl-archive"  # the low half hashes the id with this suffix: a second, independent 64-bit value
