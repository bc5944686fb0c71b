"""Downloads in parallel: the objects cut into jobs of consecutive objects, at most a window of jobs in
flight on the download threads, pyarrow parsing on a pool of as many threads as CPUs."""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
import logging
import os
from typing import Any, Iterator

from . import _fast
from ._decode import Decoded, fetch, parse_lines
from ._results import Problem
from ._sources import ObjectRef

LOG = logging.getLogger(__name__)

DEFAULT_WORKERS = 8
PROGRESS_MIN_OBJECTS = 20  # progress bar from this many objects on (progress=None)
JOB_STORED_BYTES = 256 * 1024  # a thread-pool job reads consecutive objects up to this many stored bytes


def read_objects(source: Any, refs: tuple[ObjectRef, ...], errors_mode: bool, fast: bool, parser: ThreadPoolExecutor | None = None) -> tuple[list[Any], Any]:
    """Download, decompress and parse consecutive objects (one job of the thread pool): one
    :class:`~._decode.Decoded` per object, in order, or the unexpected exception that object raised;
    and the future of their pyarrow parse when it runs on ``parser`` (None when done): the download
    thread goes on with the next job meanwhile, the consumer waits for it.

    With ``fast``, the objects pyarrow may read are parsed in ONE ``read_json`` call over their
    concatenated text (each ends with a newline, so lines stay whole) and the table is sliced back
    per object: pyarrow's cost per call is large next to a small object (about half of the parse
    time for 100 KB objects). When the joined text is declined (one object with a type the others
    lack a common form for, a blank line...), each object is tried on its own, then line by line.
    ``parser``: the pool that runs pyarrow (as many threads as CPUs; pyarrow's allocator keeps memory
    per thread, so parsing on every download thread would hold several times the memory for no gain).
    """
    results: list[Any] = []
    batch: list[tuple[Decoded, bytes]] = []
    for ref in refs:
        try:
            out, text, damage = fetch(source, ref)
            if text is not None:
                if fast and not errors_mode and not damage and _fast.fast_eligible(text):
                    batch.append((out, text))
                else:
                    parse_lines(out, text, damage, errors_mode)
            del text
        except Exception as err:  # noqa: BLE001 - reported as a Problem by the caller, never a crash
            results.append(err)
        else:
            results.append(out)
    if batch and parser is not None:
        return results, parser.submit(_fast.parse_batch, batch)
    if batch:
        _fast.parse_batch(batch)
    return results, None


def jobs(refs: list[ObjectRef], errors_mode: bool, workers: int) -> list[tuple[tuple[ObjectRef, ...], bool]]:
    """The objects in key order, cut into jobs of consecutive objects for the thread pool.

    A job holds at most :data:`JOB_STORED_BYTES` of stored data (so several small objects share one
    pyarrow call, see :func:`read_objects`) and at most a quarter of an even share per worker (so
    every worker has work: a few objects, or a few large ones, are one object per job).
    """
    if errors_mode:
        return [((ref,), True) for ref in refs]
    most = max(1, -(-len(refs) // (max(1, workers) * 4)))
    jobs: list[tuple[tuple[ObjectRef, ...], bool]] = []
    group: list[ObjectRef] = []
    size = 0
    for ref in refs:
        group.append(ref)
        size += ref.size
        if len(group) >= most or size >= JOB_STORED_BYTES:
            jobs.append((tuple(group), False))
            group, size = [], 0
    if group:
        jobs.append((tuple(group), False))
    return jobs


def bounded_map(pool: ThreadPoolExecutor, jobs: list[tuple[tuple[ObjectRef, ...], bool]], src: Any, window: int, fast: bool, parser: ThreadPoolExecutor | None = None) -> Iterator[Any]:
    """Results of :func:`read_objects` in job order, at most ``window`` jobs in flight (bounded memory).
    An unexpected exception is yielded, not raised."""
    it = iter(jobs)
    futures: deque = deque(pool.submit(read_objects, src, group, mode, fast, parser) for group, mode in islice(it, window))
    while futures:
        fut = futures.popleft()
        nxt = next(it, None)
        if nxt is not None:
            futures.append(pool.submit(read_objects, src, nxt[0], nxt[1], fast, parser))
        try:
            results, parsing = fut.result()
            if parsing is not None:
                parsing.result()
        except Exception as err:  # noqa: BLE001 - reported as a Problem by the caller, never a crash
            yield err
        else:
            yield results


def decoded_objects(src: Any, refs: list[ObjectRef], error_refs: list[ObjectRef], *, max_workers: int, fast: bool,
                    progress: bool | None, rows: Any = None) -> Iterator[tuple[Decoded, bool]]:
    """Every object of ``refs`` then of ``error_refs`` (read as Firehose error records), downloaded and
    parsed on the thread pools, yielded in key order as ``(decoded, errors_mode)``; an unexpected failure
    becomes a failed :class:`Decoded` with its problem. ``progress``: a tqdm bar (None: from
    :data:`PROGRESS_MIN_OBJECTS` objects on), its postfix ``rows()`` when given."""
    workers = max(1, max_workers)
    todo = jobs(refs, False, workers) + jobs(error_refs, True, workers)
    total = len(refs) + len(error_refs)
    bar = None
    if progress if progress is not None else total >= PROGRESS_MIN_OBJECTS:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="obj", desc=f"reading {src}")
    parse_threads = max(1, min(workers, os.cpu_count() or 1))
    try:
        # The parser pool is shut down last: a download thread may still be waiting on it.
        with ThreadPoolExecutor(max_workers=parse_threads, thread_name_prefix="archive-parser") as parser, \
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="archive-reader") as pool:
            for (group, errors_mode), results in zip(todo, bounded_map(pool, todo, src, workers * 2, fast, parser)):
                if isinstance(results, BaseException):
                    results = [results] * len(group)
                for ref, decoded in zip(group, results):
                    if isinstance(decoded, BaseException):
                        LOG.error("unexpected failure reading %s", ref.key, exc_info=decoded)
                        decoded = Decoded(ref, failed=True, problems=[Problem(ref.key, None, f"unexpected {type(decoded).__name__}: {decoded}")])
                    yield decoded, errors_mode
                if bar is not None:
                    bar.update(len(group))
                    if rows is not None:
                        bar.set_postfix(rows=rows(), refresh=False)
    finally:
        if bar is not None:
            bar.close()
