"""Downloads in parallel: the objects cut into jobs of consecutive objects, at most a window of jobs in
flight on the download threads; decompressing and parsing on a pool of as many threads as CPUs, at a
lower CPU priority than the downloads."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
import logging
import os
import sys
import threading
from typing import Any, Iterator

from . import _fast
from ._decode import Decoded, decompress, parse_lines
from ._results import Problem
from ._sources import ObjectRef, ReadFailed

LOG = logging.getLogger(__name__)

DEFAULT_WORKERS = 8
PROGRESS_MIN_OBJECTS = 20  # progress bar from this many objects on (progress=None)
JOB_STORED_BYTES = 256 * 1024  # a thread-pool job reads consecutive objects up to this many stored bytes
PARSER_NICENESS = 10  # the parser threads' CPU priority below the caller's when the server is local (Linux; 0: the same)


def download(source: Any, refs: tuple[ObjectRef, ...]) -> list[tuple[Decoded, Any]]:
    """Download consecutive objects (one job, on a download thread): ``(result so far, stored bytes)``
    per object, in order; the bytes are None when the read failed (the problem is in the result) and
    an unexpected exception takes their place when the read raised one."""
    out: list[tuple[Decoded, Any]] = []
    for ref in refs:
        decoded = Decoded(ref)
        try:
            raw: Any = source.read(ref.key)
        except ReadFailed as err:
            decoded.problems.append(Problem(ref.key, None, str(err)))
            decoded.failed = True
            raw = None
        except Exception as err:  # noqa: BLE001 - reported as a Problem by the caller, never a crash
            raw = err
        out.append((decoded, raw))
    return out


def decode(downloaded: list[tuple[Decoded, Any]], errors_mode: bool, fast: bool) -> list[Any]:
    """Decompress and parse one job's objects (on the parser pool): one :class:`~._decode.Decoded`
    per object, in order, or the unexpected exception that object raised.

    With ``fast``, the objects pyarrow may read are parsed in ONE ``read_json`` call over their
    concatenated text (each ends with a newline, so lines stay whole) and the table is sliced back
    per object: pyarrow's cost per call is large next to a small object (about half of the parse
    time for 100 KB objects). When the joined text is declined (one object with a type the others
    lack a common form for, a blank line...), each object is tried on its own, then line by line.
    """
    results: list[Any] = []
    batch: list[tuple[Decoded, bytes]] = []
    for out, raw in downloaded:
        if isinstance(raw, BaseException):
            results.append(raw)
            continue
        try:
            if raw is not None:
                text, out.compressed, damage = decompress(raw)
                out.decompressed_bytes = len(text)
                if fast and not errors_mode and not damage and _fast.fast_eligible(text):
                    batch.append((out, text))
                else:
                    parse_lines(out, text, damage, errors_mode)
                del text
        except Exception as err:  # noqa: BLE001 - reported as a Problem by the caller, never a crash
            results.append(err)
        else:
            results.append(out)
    del downloaded
    if batch:
        _fast.parse_batch(batch)
    return results


def read_objects(source: Any, refs: tuple[ObjectRef, ...], errors_mode: bool, fast: bool, parser: ThreadPoolExecutor | None = None) -> Any:
    """Download one job's objects, then decode them: the list :func:`decode` returns, or its future
    when ``parser`` runs it (the download thread goes on with the next job meanwhile).

    Download threads only download, as the download floor does; decompressing and parsing run on the
    parser pool (as many threads as CPUs; pyarrow's allocator keeps memory per thread, so parsing on
    every download thread would hold several times the memory for no gain). When the server shares
    this machine's cores (the embedded local AWS), the parser threads run at a lower CPU priority, so
    parsing fills the time the server leaves and never holds back the next response.
    """
    downloaded = download(source, refs)
    if parser is not None:
        return parser.submit(decode, downloaded, errors_mode, fast)
    return decode(downloaded, errors_mode, fast)


def _lower_priority() -> None:
    """Lower the calling thread's CPU priority by :data:`PARSER_NICENESS` (the parser pool's initializer
    when the server shares the machine; Linux, where a thread is a scheduling entity of its own:
    elsewhere nothing)."""
    if not PARSER_NICENESS or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + PARSER_NICENESS))
    except OSError as err:  # a sandbox may forbid it: parsing then runs at the usual priority
        LOG.debug("could not lower the parser thread's priority: %s", err)


def jobs(refs: list[ObjectRef], errors_mode: bool, workers: int) -> list[tuple[tuple[ObjectRef, ...], bool]]:
    """The objects in key order, cut into jobs of consecutive objects for the thread pool.

    A job holds at most :data:`JOB_STORED_BYTES` of stored data (so several small objects share one
    pyarrow call, see :func:`decode`) and at most a quarter of an even share per worker (so
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
            results = fut.result()
            if isinstance(results, Future):
                results = results.result()
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
    niced = _lower_priority if getattr(src, "server_is_local", False) else None
    if niced and fast:
        import pyarrow as pa

        pa.cpu_count()  # creates pyarrow's own thread pool now, so it does not inherit a parser's lower priority
    try:
        # The parser pool is shut down last: a download thread may still be waiting on it.
        with ThreadPoolExecutor(max_workers=parse_threads, thread_name_prefix="archive-parser", initializer=niced) as parser, \
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
