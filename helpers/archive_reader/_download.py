"""Downloads in parallel while the listing goes on: each listed page cut into jobs of consecutive objects,
at most a window of jobs in flight, every object a task of its own on the download threads; a job's
objects decompressed and parsed together on a pool of as many threads as CPUs, at a lower CPU priority
than the downloads when the server shares the machine."""

from __future__ import annotations

from collections import deque
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from itertools import islice
import logging
import os
import sys
import threading
from typing import Any, Iterator

from . import _fast
from ._decode import Decoded, decompress, parse_lines
from ._listing import Page, prefetched
from ._results import Problem
from ._sources import ObjectRef, ReadFailed

LOG = logging.getLogger(__name__)

DEFAULT_WORKERS = 8
PROGRESS_MIN_OBJECTS = 20  # progress bar from this many objects on (progress=None)
JOB_STORED_BYTES = 256 * 1024  # a thread-pool job reads consecutive objects up to this many stored bytes
Job = tuple[tuple[ObjectRef, ...], bool]  # consecutive objects decoded together, and whether they are error records
PARSER_NICENESS = 10  # the parser threads' CPU priority below the caller's when the server is local (Linux; 0: the same)


def download(source: Any, ref: ObjectRef) -> tuple[Decoded, Any]:
    """Download one object (a task of the download threads): ``(result so far, stored bytes)``; the
    bytes are None when the read failed (the problem is in the result) and an unexpected exception
    takes their place when the read raised one."""
    decoded = Decoded(ref)
    try:
        raw: Any = source.read(ref.key)
    except ReadFailed as err:
        decoded.problems.append(Problem(ref.key, None, str(err)))
        decoded.failed = True
        raw = None
    except Exception as err:  # noqa: BLE001 - reported as a Problem by the caller, never a crash
        raw = err
    return decoded, raw


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


def submit_job(pool: ThreadPoolExecutor, parser: ThreadPoolExecutor, source: Any, job: Job, fast: bool) -> Future:
    """Download one job's objects, one task each on ``pool`` (so the threads stay busy to the last
    object, as the download floor's do), then decode them together on ``parser``: a future of the list
    :func:`decode` returns.

    Download threads only download; decompressing and parsing run on the parser pool (as many threads
    as CPUs; pyarrow's allocator keeps memory per thread, so parsing on every download thread would
    hold several times the memory for no gain). When the server shares this machine's cores (the
    embedded local AWS), the parser threads run at a lower CPU priority, so parsing fills the time the
    server leaves and never holds back the next response.
    """
    refs, errors_mode = job
    decoded: Future = Future()
    downloaded: list[Any] = [None] * len(refs)
    remaining = [len(refs)]
    lock = threading.Lock()

    def settle(result: Any = None, err: BaseException | None = None) -> None:
        with lock:  # the first outcome stands (a download that raised, or the decoded objects)
            if not decoded.done():
                decoded.set_exception(err) if err is not None else decoded.set_result(result)

    def parsed(fut: Future) -> None:
        err = CancelledError() if fut.cancelled() else fut.exception()
        settle(None if err is not None else fut.result(), err)

    def fetch(i: int, ref: ObjectRef) -> None:
        try:
            downloaded[i] = download(source, ref)
            with lock:
                remaining[0] -= 1
                last = not remaining[0]
            if last:
                parser.submit(decode, downloaded, errors_mode, fast).add_done_callback(parsed)
        except BaseException as err:  # noqa: BLE001 - the caller waits on ``decoded``: it must always settle
            settle(err=err)

    for i, ref in enumerate(refs):
        pool.submit(fetch, i, ref)
    return decoded


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


def jobs(refs: list[ObjectRef], errors_mode: bool, workers: int, listed: int | None = None) -> list[Job]:
    """The objects in key order, cut into jobs of consecutive objects for the thread pool.

    A job holds at most :data:`JOB_STORED_BYTES` of stored data (so several small objects share one
    pyarrow call, see :func:`decode`) and at most a quarter of an even share per worker of the
    ``listed`` objects (default: ``refs``; so every worker has work: a few objects, or a few large
    ones, are one object per job).
    """
    if errors_mode:
        return [((ref,), True) for ref in refs]
    most = max(1, -(-(len(refs) if listed is None else listed) // (max(1, workers) * 4)))
    jobs: list[Job] = []
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


def paged_jobs(pages: Iterator[Page], workers: int, progress: "_Progress") -> Iterator[Job]:
    """The jobs of each listed page as it comes (a job never spans two pages), sized by the objects
    listed so far; ``progress`` learns of each page."""
    listed = 0
    for refs, errors_mode in pages:
        listed += len(refs)
        progress.listed(len(refs))
        yield from jobs(refs, errors_mode, workers, listed)


def bounded_map(pool: ThreadPoolExecutor, jobs: Iterator[Job], src: Any, window: int, fast: bool, parser: ThreadPoolExecutor) -> Iterator[tuple[Job, Any]]:
    """``(job, its decoded objects)`` in job order, at most ``window`` jobs in flight (bounded memory);
    the next jobs are taken from ``jobs`` as results come. An unexpected exception is the result, not
    raised (one of ``jobs`` itself is raised)."""
    it = iter(jobs)
    futures: deque = deque((job, submit_job(pool, parser, src, job, fast)) for job in islice(it, window))
    while futures:
        job, fut = futures.popleft()
        nxt = next(it, None)
        if nxt is not None:
            futures.append((nxt, submit_job(pool, parser, src, nxt, fast)))
        try:
            results = fut.result()
        except Exception as err:  # noqa: BLE001 - reported as a Problem by the caller, never a crash
            yield job, err
        else:
            yield job, results


class _Progress:
    """A tqdm bar over the objects read, its total growing as pages are listed. ``show`` None: a bar
    once :data:`PROGRESS_MIN_OBJECTS` objects are listed (none for a smaller archive)."""

    def __init__(self, show: bool | None, desc: str, rows: Any = None) -> None:
        self.show, self.desc, self.rows = show, desc, rows
        self.total = self.done = 0
        self.bar: Any = None

    def listed(self, n: int) -> None:
        self.total += n
        if self.bar is None and self.show is not False and (self.show or self.total >= PROGRESS_MIN_OBJECTS):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, initial=self.done, unit="obj", desc=self.desc)
        elif self.bar is not None and n:
            self.bar.total = self.total
            self.bar.refresh()

    def read(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            if self.rows is not None:
                self.bar.set_postfix(rows=self.rows(), refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def decoded_objects(src: Any, pages: Iterator[Page], *, max_workers: int, fast: bool,
                    progress: bool | None, rows: Any = None) -> Iterator[tuple[Decoded, bool]]:
    """Every object of the listed ``pages`` (``(refs, errors_mode)``: archive objects, or Firehose error
    records; listed on a thread of its own, see :func:`~._listing.prefetched`), downloaded and parsed on the
    thread pools as the pages come, yielded in listing order as
    ``(decoded, errors_mode)``; an unexpected failure becomes a failed :class:`Decoded` with its problem.
    ``progress``: a tqdm bar (None: from :data:`PROGRESS_MIN_OBJECTS` objects on), its postfix
    ``rows()`` when given."""
    workers = max(1, max_workers)
    bar = _Progress(progress, f"reading {src}", rows)
    parse_threads = max(1, min(workers, os.cpu_count() or 1))
    niced = _lower_priority if getattr(src, "server_is_local", False) else None
    if niced and fast:
        import pyarrow as pa

        pa.cpu_count()  # creates pyarrow's own thread pool now, so it does not inherit a parser's lower priority
    try:
        # The parser pool is shut down last: a download thread may still be waiting on it.
        with ThreadPoolExecutor(max_workers=parse_threads, thread_name_prefix="archive-parser", initializer=niced) as parser, \
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="archive-reader") as pool:
            for (group, errors_mode), results in bounded_map(pool, paged_jobs(prefetched(pages), workers, bar), src, workers * 2, fast, parser):
                if isinstance(results, BaseException):
                    results = [results] * len(group)
                for ref, decoded in zip(group, results):
                    if isinstance(decoded, BaseException):
                        LOG.error("unexpected failure reading %s", ref.key, exc_info=decoded)
                        decoded = Decoded(ref, failed=True, problems=[Problem(ref.key, None, f"unexpected {type(decoded).__name__}: {decoded}")])
                    yield decoded, errors_mode
                bar.read(len(group))
    finally:
        bar.close()
