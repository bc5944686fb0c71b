"""Reading a verify run's records from the archive as it grows (:class:`ArchiveScanner`), with memory bounded by
the run's size, not the archive's. Used by :mod:`helpers.verify`."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd
from botocore.exceptions import ClientError

from . import archive_reader

if TYPE_CHECKING:
    from .verify import TestRun

LOG = logging.getLogger(__name__)



class ArchiveScanner:
    """Reads each new archive object once and keeps what the comparison needs of one run's records, with
    the archive reader's pieces: its S3 listing and download, :func:`~helpers.archive_reader.object_lines`
    (GZIP or plain by content) and :class:`~helpers.archive_reader.PartJoiner`.

    Memory stays bounded by the run's size, not the archive's: one byte per item written (which items
    were seen), the distinct event ids of the run's lines, and one sample record; objects are read one
    at a time and their lines dropped once counted. Lists only the day folders from the run's start to
    now (UTC) when the archive uses dated folders, so a large archive is not listed in full on every poll.
    """

    def __init__(self, session: Any, run: TestRun) -> None:
        self.source = archive_reader.S3Source(session, run.bucket_name, 1)
        self.run = run
        self.read_keys: set[str] = set()
        self.objects_with_run: set[str] = set()
        self.seen = {kind: bytearray(count) for kind, count in run.counts.items()}  # 1 where archived
        self.archived = dict.fromkeys(run.counts, 0)  # kind -> distinct items archived
        self.event_ids: set[int | str] = set()
        self.deliveries = 0  # lines of this run, every delivery (duplicates included)
        self.sample: dict[str, Any] | None = None  # the first expired item's record
        self.parts = archive_reader.PartJoiner()
        self._needle = run.prefix.encode()

    def _list(self) -> list[str]:
        start = pd.Timestamp(self.run.written_at, unit="s", tz="UTC")
        try:
            prefixes = archive_reader.listing_prefixes(self.source, self.run.archive_prefix, start, pd.Timestamp.now(tz="UTC"), timedelta(hours=1))
            return [ref.key for prefix in prefixes for ref in self.source.list(prefix)]
        except ClientError as err:
            if err.response["Error"]["Code"] in {"NoSuchBucket", "404"}:
                raise FileNotFoundError(f"the archive bucket {self.run.bucket_name} does not exist: deploy the pipeline first") from None
            raise

    def poll(self) -> int:
        """Read the objects not read yet; returns how many records of the run they held."""
        found = 0
        for key in sorted(set(self._list()) - self.read_keys):
            try:
                body = self.source.read(key)
            except archive_reader.ReadFailed as err:
                LOG.warning("archive object %s skipped: %s", key, err)
                body = b""
            self.read_keys.add(key)
            for number, line in enumerate(archive_reader.object_lines(body), 1):
                if self._needle not in line and b'"part_of"' not in line:  # parse only this run's lines, and parts
                    continue
                record = self._parse(line, key, number)
                if record is not None and self._count(record):
                    self.objects_with_run.add(key)
                    found += 1
            del body
        return found

    def _count(self, record: dict[str, Any]) -> bool:
        """Note a record of this run; False for a record of another run."""
        parsed = self.run.parse_key((record.get("keys") or {}).get(self.run.partition_key, ""))
        if parsed is None:
            return False
        kind, n = parsed
        self.deliveries += 1
        self.event_ids.add(_compact_event_id(record.get("event_id")))
        if not self.seen[kind][n]:
            self.seen[kind][n] = 1
            self.archived[kind] += 1
        if self.sample is None and kind == "expired":
            self.sample = record
        return True

    def _parse(self, line: bytes | str, key: str = "", number: int = 0) -> dict[str, Any] | None:
        """The record of a line (split records joined), or None (not JSON, a part still waiting)."""
        try:
            record = json.loads(line, parse_float=Decimal)
        except ValueError:
            LOG.warning("an archive line that is not JSON skipped")
            return None
        if not isinstance(record, dict):
            return None
        if "part_of" in record:  # a split line: join when every part is there
            joined = self.parts.add(key, number, record)
            if isinstance(joined, archive_reader.Problem):
                LOG.warning("skipped %s", joined)
            return self._parse(*joined) if isinstance(joined, tuple) else None
        return record

    def archived_count(self, kind: str = "expired") -> int:
        """Distinct items of ``kind`` seen in the archive so far."""
        return self.archived.get(kind, 0)

    def archived_keys(self, kind: str, *, seen: bool = True, limit: int | None = None) -> list[str]:
        """Keys of ``kind`` that are (``seen=True``) or are not yet in the archive, in order, at most ``limit``."""
        flags = self.seen.get(kind, bytearray())
        wanted = 1 if seen else 0
        out: list[str] = []
        start = 0
        while limit is None or len(out) < limit:
            n = flags.find(wanted, start)
            if n < 0:
                break
            out.append(self.run.key(kind, n))
            start = n + 1
        return out

    def archived_ids(self) -> set[str]:
        """Every archived key of the run (builds strings: for small runs and tests)."""
        return {key for kind in self.seen for key in self.archived_keys(kind)}


def _compact_event_id(event_id: object) -> int | str:
    """An event id as an int when it is hex (AWS's are 32 hex digits: 44 bytes instead of 81 as text)."""
    text = str(event_id)
    try:
        return int(text, 16) << 8 | len(text) % 256  # the length keeps "0a" and "a" apart
    except ValueError:
        return text
