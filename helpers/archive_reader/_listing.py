"""Which objects a read downloads, listed while the first ones download: the archive's objects then the
error objects, page by page in key order, on a thread of their own, objects that cannot hold items of
the time range left out (counted)."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Iterator

import pandas as pd

from ._sources import ObjectRef, _may_hold, listing_prefixes, object_hour

LOG = logging.getLogger(__name__)

Page = tuple[list[ObjectRef], bool]  # the selected objects of one listed page, and whether they are error objects


@dataclass
class Listing:
    """The objects to read under ``prefix`` (those under ``exclude`` left out) and under ``error_prefix``.

    :meth:`pages` yields them page by page; the counts are final once it is exhausted. Keys come in
    key order (S3's listing order, a folder sorted): a key not after the one before is logged, and read.
    """

    src: Any
    prefix: str
    error_prefix: str | None
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    late_delivery: timedelta
    archive_objects: int = 0
    error_objects: int = 0
    skipped: int = 0
    _last_key: dict[bool, str] = field(default_factory=dict)

    def _sections(self) -> list[tuple[str, str | None, bool]]:
        """(prefix, excluded prefix, error objects?) to list, in turn."""
        error_prefix = self.error_prefix
        inside = bool(error_prefix) and error_prefix.startswith(self.prefix) and error_prefix != self.prefix
        sections = [(self.prefix, error_prefix if inside else None, False)]
        if error_prefix and error_prefix != self.prefix:
            sections.append((error_prefix, None, True))
        return sections

    def pages(self) -> Iterator[Page]:
        for prefix, exclude, errors in self._sections():
            for listing in listing_prefixes(self.src, prefix, self.start, self.end, self.late_delivery):
                for page in self.src.list_pages(listing):
                    yield self._selected(page, exclude, errors), errors
        LOG.info("listed %d archive objects and %d error objects in %s (%d outside the time range skipped)",
                 self.archive_objects, self.error_objects, self.src, self.skipped)

    def _selected(self, page: list[ObjectRef], exclude: str | None, errors: bool) -> list[ObjectRef]:
        chosen = []
        for ref in page:
            if exclude and ref.key.startswith(exclude):
                continue
            last = self._last_key.get(errors)
            if last is not None and ref.key <= last:
                if ref.key == last:
                    continue  # listed twice: read once
                LOG.warning("listing out of key order: %s after %s (read anyway)", ref.key, last)
            self._last_key[errors] = ref.key
            if _may_hold(object_hour(ref.key), self.start, self.end, self.late_delivery):
                chosen.append(ref)
            else:
                self.skipped += 1
        if errors:
            self.error_objects += len(chosen)
        else:
            self.archive_objects += len(chosen)
        return chosen


_END = object()


def prefetched(pages: Iterator[Page]) -> Iterator[Page]:
    """``pages`` produced on a thread of their own ("archive-lister"), so the next page is listed while
    the caller downloads the last; an exception of the listing is raised here, in the caller's thread.
    Closing this generator early stops the listing at its next page."""
    handoff: queue.Queue = queue.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                if stop.is_set():
                    return
                handoff.put((page, None))
        except BaseException as err:  # noqa: BLE001 - handed to the caller, who raises it
            handoff.put((None, err))
            return
        handoff.put((_END, None))

    threading.Thread(target=produce, name="archive-lister", daemon=True).start()
    try:
        while True:
            page, err = handoff.get()
            if err is not None:
                raise err
            if page is _END:
                return
            yield page
    finally:
        stop.set()
