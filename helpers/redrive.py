"""Redrive what the trigger gave up on: replay the failure queue's batches from the stream into the archive.

When the trigger discards a batch (retries exhausted, or its records too old), Lambda sends a *note* to the
failure queue, not the records (:mod:`helpers.failure_queue`)::

    {"requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": ...}, "timestamp": ...,
     "DDBStreamBatchInfo": {"shardId": ..., "startSequenceNumber": ..., "endSequenceNumber": ...,
                            "approximateArrivalOfFirstRecord": ..., "approximateArrivalOfLastRecord": ...,
                            "batchSize": 2, "streamArn": ...}}

The records themselves stay readable in the stream for 24 hours after they were written. :func:`redrive`
reads each note's range (GetShardIterator ``AT_SEQUENCE_NUMBER``, then GetRecords until the end sequence
number), turns the records into the shape the Lambda event carries and archives them with the archiver's
own code (:func:`helpers.archiver.archive_batch`: the same lines, the same Firehose packing, retries and
limits as the deployed function, configured from the function's environment). Guarantees:

* a note is deleted only after every TTL-delete record of its range was confirmed delivered to Firehose;
* records no longer in the stream (trimmed after 24 hours, or the stream is gone) are reported precisely
  (shard, sequence range, how many of the batch) and the note is **kept**; what is still readable of such
  a range is archived all the same. Only ``forget_lost=True`` (an operator's explicit decision, after the
  loss is written down) deletes such a note;
* a note that is not an OnFailure message is kept and reported; nothing is deleted that was not redriven;
* a record delivered twice (a note redriven again after a partial failure) is a duplicate that readers
  remove by ``event_id``, as for every other retry of the pipeline (at-least-once).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from . import archiver, failure_queue
from .settings import Settings

LOG = logging.getLogger(__name__)

READ_LIMIT = 1000  # GetRecords returns at most 1,000 records (and 1 MB)
ARCHIVE_CHUNK = 1000  # stream records per archive_batch call (one "invocation")
CHUNK_BUDGET_MS = 60_000  # time each chunk may spend delivering and resending, like a function timeout of 1 minute
MAX_EMPTY_READS = 5  # consecutive empty GetRecords answers that mean "the shard ends here" (AWS may return a few)
VISIBILITY_SECONDS = 900  # a note being redriven is hidden from other readers this long

REDRIVEN, WOULD_REDRIVE, LOST, PARTLY_LOST, FAILED, NOT_A_NOTE, FORGOTTEN = (
    "redriven", "would redrive", "records gone", "partly gone", "failed", "not a note", "forgotten")


class RedriveError(RuntimeError):
    """Redrive cannot start: the failure queue or the archiver's configuration is missing."""


@dataclass(frozen=True)
class Note:
    """One OnFailure note: which records of which shard the trigger gave up on."""

    message_id: str
    receipt_handle: str
    stream_arn: str
    shard_id: str
    start: int
    end: int
    batch_size: int
    condition: str = ""
    first_arrival: str = ""
    last_arrival: str = ""

    def describe(self) -> str:
        return f"shard {self.shard_id}, sequence numbers {self.start}-{self.end} ({self.batch_size} record(s), {self.condition or 'discarded'})"


def parse_note(body: str) -> dict[str, Any]:
    """The ``DDBStreamBatchInfo`` of an OnFailure message body (also when wrapped in an SNS notification),
    checked; raises ValueError saying what is wrong."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str):
            doc = json.loads(doc["Message"])  # delivered through an SNS topic subscription
    except ValueError:
        raise ValueError("the message is not JSON") from None
    info = doc.get("DDBStreamBatchInfo") if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        raise ValueError("the message has no DDBStreamBatchInfo: not an OnFailure note of a DynamoDB stream trigger")
    for key in ("shardId", "startSequenceNumber", "endSequenceNumber", "streamArn"):
        if not isinstance(info.get(key), str) or not info[key]:
            raise ValueError(f"DDBStreamBatchInfo.{key} is missing")
    for key in ("startSequenceNumber", "endSequenceNumber"):
        if not (info[key].isascii() and info[key].isdigit() and 21 <= len(info[key]) <= 40):
            raise ValueError(f"DDBStreamBatchInfo.{key} {info[key]!r} is not a sequence number (21 to 40 digits)")
    if int(info["endSequenceNumber"]) < int(info["startSequenceNumber"]):
        raise ValueError("DDBStreamBatchInfo: endSequenceNumber is before startSequenceNumber")
    return {**info, "condition": ((doc.get("requestContext") or {}).get("condition") or "")}


@dataclass
class NoteOutcome:
    """What happened to one note. ``missing``: records of the batch that are no longer in the stream."""

    note: Note | None
    status: str
    message_id: str = ""
    records_read: int = 0
    archived: int = 0
    skipped: int = 0
    missing: int = 0
    deleted: bool = False
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "note"}
        if self.note is not None:
            out.update(shard_id=self.note.shard_id, start_sequence_number=str(self.note.start),
                       end_sequence_number=str(self.note.end), batch_size=self.note.batch_size,
                       stream_arn=self.note.stream_arn, condition=self.note.condition,
                       approximate_arrival_of_first_record=self.note.first_arrival)
        return out

    def describe(self) -> str:
        where = self.note.describe() if self.note else f"message {self.message_id}"
        text = f"{self.status}: {where}"
        if self.note is not None:
            done = f"{self.records_read - self.skipped} to archive" if self.status == WOULD_REDRIVE else f"{self.archived} archived"
            text += f"; {done}" + (f", {self.missing} no longer in the stream" if self.missing else "")
        text += "; note deleted" if self.deleted else "; note kept"
        return text + (f" ({self.reason})" if self.reason else "")


@dataclass
class RedriveReport:
    """Every note looked at, and the totals. ``ok``: every note redriven and deleted (or none waiting)."""

    queue: str
    dry_run: bool = False
    outcomes: list[NoteOutcome] = field(default_factory=list)

    @property
    def notes_deleted(self) -> int:
        return sum(1 for o in self.outcomes if o.deleted)

    @property
    def notes_kept(self) -> int:
        return sum(1 for o in self.outcomes if not o.deleted)

    @property
    def archived(self) -> int:
        return sum(o.archived for o in self.outcomes)

    @property
    def missing(self) -> int:
        return sum(o.missing for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return all(o.status in (REDRIVEN, WOULD_REDRIVE) for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {"queue": self.queue, "dry_run": self.dry_run, "ok": self.ok, "notes": len(self.outcomes),
                "notes_deleted": self.notes_deleted, "notes_kept": self.notes_kept, "archived": self.archived,
                "missing": self.missing, "outcomes": [o.to_dict() for o in self.outcomes]}

    def describe(self) -> str:
        if not self.outcomes:
            return f"the failure queue {self.queue} holds no notes: nothing to redrive"
        if self.dry_run:
            ready = sum(o.records_read - o.skipped for o in self.outcomes if o.note is not None)
            head = f"{len(self.outcomes)} note(s) in {self.queue} (dry run: nothing archived or deleted): {ready} record(s) would be archived"
        else:
            head = (f"{len(self.outcomes)} note(s) in {self.queue}: {self.archived} record(s) archived, "
                    f"{self.notes_deleted} note(s) deleted, {self.notes_kept} kept")
        lines = [head] + [f"  {o.describe()}" for o in self.outcomes]
        if self.missing:
            lines.append(f"  {self.missing} record(s) are no longer in the stream (DynamoDB keeps stream records 24 hours): "
                         "their items are not in the archive. The notes are kept as the record of that loss; "
                         "`ttl-archive redrive --forget-lost` deletes them once you have written it down.")
        return "\n".join(lines)


# --------------------------------------------------------------------------- stream records


def _plain(value: Any) -> Any:
    """Binary values (bytes from boto3) as the base64 text the Lambda event carries, recursively."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record (as boto3 parses it) in the shape a Lambda event carries it: lowercase
    ``userIdentity``, ``ApproximateCreationDateTime`` in epoch seconds, binary as base64, ``eventSourceARN``."""
    ddb = _plain(dict(raw.get("dynamodb") or {}))
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stamp = (created if created.tzinfo else created.replace(tzinfo=timezone.utc)).timestamp()
        ddb["ApproximateCreationDateTime"] = int(stamp) if stamp == int(stamp) else stamp
    record: dict[str, Any] = {"eventID": raw.get("eventID"), "eventName": raw.get("eventName"), "eventVersion": raw.get("eventVersion"),
                              "eventSource": raw.get("eventSource") or "aws:dynamodb", "awsRegion": raw.get("awsRegion"), "dynamodb": ddb}
    identity = raw.get("userIdentity")
    if identity:
        record["userIdentity"] = {"type": identity.get("Type"), "principalId": identity.get("PrincipalId")}
    record["eventSourceARN"] = stream_arn
    return record


@dataclass
class RangeRead:
    records: list[dict[str, Any]]  # Lambda event shape, in stream order
    gone: str = ""  # why part of the range may be gone: "" when nothing points at that


def read_range(streams: Any, note: Note) -> RangeRead:
    """The records of ``note``'s sequence range still in the stream, and why the rest may be gone."""
    gone = ""
    try:
        iterator = streams.get_shard_iterator(StreamArn=note.stream_arn, ShardId=note.shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                              SequenceNumber=str(note.start))["ShardIterator"]
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code == "TrimmedDataAccessException":  # the start was trimmed: read what is left of the range
            gone = "trimmed from the stream (DynamoDB keeps stream records 24 hours)"
            iterator = streams.get_shard_iterator(StreamArn=note.stream_arn, ShardId=note.shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        elif code in {"ResourceNotFoundException", "ValidationException", "InternalServerError", "InternalFailure"}:
            return RangeRead([], f"the stream or shard can no longer be read ({code}: {err.response['Error'].get('Message', '')})")
        else:
            raise
    records: list[dict[str, Any]] = []
    empty = 0
    first_seen: int | None = None
    while iterator and empty < MAX_EMPTY_READS:
        page = streams.get_records(ShardIterator=iterator, Limit=READ_LIMIT)
        iterator = page.get("NextShardIterator")
        raws = page.get("Records") or []
        empty = 0 if raws else empty + 1
        done = False
        for raw in raws:
            seq = int(raw["dynamodb"]["SequenceNumber"])
            first_seen = seq if first_seen is None else first_seen
            if seq > note.end:
                done = True
                break
            if seq >= note.start:
                records.append(lambda_record(raw, note.stream_arn))
        if done or (records and int(records[-1]["dynamodb"]["SequenceNumber"]) == note.end):
            break
    if not gone and (first_seen is None or first_seen > note.start):
        gone = "trimmed from the stream (DynamoDB keeps stream records 24 hours)"  # the stream starts after the note's start
    return RangeRead(records, gone)


# --------------------------------------------------------------------------- archiving with the archiver's code


class _Budget:
    """A Lambda-like context: the time left for delivering one chunk."""

    def __init__(self, ms: int) -> None:
        self._deadline = time.monotonic() + ms / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def archiver_config(session: Any, settings: Settings) -> archiver.Config:
    """The deployed function's archiver configuration (its environment variables), so redriven lines are
    written exactly as the function writes them; the stack's settings when the function is gone."""
    env = {"DELIVERY_STREAM_NAME": settings.delivery_stream_name, "TTL_ATTRIBUTE": settings.ttl_attribute}
    try:
        env.update(session.client("lambda").get_function_configuration(FunctionName=settings.function_name).get("Environment", {}).get("Variables", {}))
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        LOG.warning("function %s not found: archiving to %s with the stack's settings", settings.function_name, settings.delivery_stream_name)
    try:
        config = archiver.load_config(env)
    except archiver.ConfigError as err:
        raise RedriveError(f"the archiver's configuration is invalid: {err}") from None
    # The margin protects a Lambda invocation from its timeout; redrive has its own budget per chunk.
    return dataclasses.replace(config, safety_margin_ms=min(config.safety_margin_ms, archiver.DEFAULT_SAFETY_MARGIN_MS))


def archive_records(records: list[dict[str, Any]], config: archiver.Config, firehose: Any, budget_ms: int = CHUNK_BUDGET_MS) -> tuple[int, int, bool]:
    """Archive ``records`` (Lambda event shape) through the archiver, in chunks like invocations.

    Returns (records archived, records skipped as not TTL deletes, True when every TTL delete was confirmed
    delivered). Stops at the first chunk that was not fully delivered. Raises what the archiver raises for a
    non-retryable Firehose error (missing stream, access denied)."""
    archived = skipped = 0
    for start in range(0, len(records), ARCHIVE_CHUNK):
        result = archiver.archive_batch(records[start:start + ARCHIVE_CHUNK], _Budget(budget_ms), config, firehose)
        archived += result.archived
        skipped += sum(result.skipped.values())
        if result.batch_item_failures:
            return archived, skipped, False
    return archived, skipped, True


# --------------------------------------------------------------------------- the queue


def _note(message: dict[str, Any]) -> Note:
    info = parse_note(message.get("Body", ""))
    size = info.get("batchSize")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"DDBStreamBatchInfo.batchSize {size!r} is not a positive whole number")
    return Note(message_id=message["MessageId"], receipt_handle=message["ReceiptHandle"], stream_arn=info["streamArn"], shard_id=info["shardId"],
                start=int(info["startSequenceNumber"]), end=int(info["endSequenceNumber"]), batch_size=size, condition=info["condition"],
                first_arrival=str(info.get("approximateArrivalOfFirstRecord") or ""), last_arrival=str(info.get("approximateArrivalOfLastRecord") or ""))


def redrive_note(note: Note, *, streams: Any, firehose: Any, config: archiver.Config, dry_run: bool = False, forget_lost: bool = False,
                 budget_ms: int = CHUNK_BUDGET_MS) -> NoteOutcome:
    """Read one note's records from the stream and archive them; decides whether the note may be deleted
    (``deleted`` in the outcome; the caller deletes it). Never raises for a Firehose failure: the outcome says."""
    read = read_range(streams, note)
    archivable = [r for r in read.records if archiver.skip_reason(r) is None]
    missing = max(0, note.batch_size - len(archivable))
    outcome = NoteOutcome(note, WOULD_REDRIVE if dry_run else REDRIVEN, note.message_id, records_read=len(read.records), missing=missing)
    outcome.skipped = len(read.records) - len(archivable)
    if missing:
        outcome.reason = read.gone or "not found in the stream at their sequence numbers"
    if not dry_run and archivable:
        try:
            outcome.archived, outcome.skipped, delivered = archive_records(read.records, config, firehose, budget_ms)
        except (ClientError, ValueError) as err:
            outcome.status, outcome.reason = FAILED, f"not archived: {err}"
            return outcome
        if not delivered:
            outcome.status, outcome.reason = FAILED, "Firehose did not confirm every record (see the log); run redrive again"
            return outcome
    if missing:
        outcome.status = PARTLY_LOST if archivable else LOST
        LOG.warning("%s: %d of %d record(s) are no longer in the stream (%s)", note.describe(), missing, note.batch_size, outcome.reason)
        if forget_lost and not dry_run:
            outcome.deleted = True
            outcome.reason += "; note deleted as asked (forget_lost)"
        return outcome
    outcome.deleted = not dry_run
    return outcome


def _clients(session: Any) -> tuple[Any, Any, Any]:
    sqs = session.client("sqs")
    streams = session.client("dynamodbstreams", config=BotoConfig(retries={"mode": "standard", "total_max_attempts": 10}))
    # The archiver resends what Firehose failed itself, within its time budget (as in the function).
    firehose = session.client("firehose", config=BotoConfig(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "total_max_attempts": 1}))
    return sqs, streams, firehose


def redrive(session: Any, settings: Settings, *, dry_run: bool = False, forget_lost: bool = False, max_notes: int | None = None,
            progress: bool = False, wait_seconds: int = 1) -> RedriveReport:
    """Redrive every note waiting in the stack's failure queue (see the module docstring); returns the report.

    Each note received is hidden from other readers while it is worked on; a note that is kept becomes
    visible again at the end (so its alarm stays on and the next run sees it). ``dry_run`` reads the stream
    and reports what would be archived, archiving and deleting nothing. ``max_notes`` bounds one run.
    ``progress`` shows a tqdm bar over the notes. ``wait_seconds``: SQS long polling per receive (0-20; a
    short poll, 0, may miss messages on AWS). Raises :class:`RedriveError` when the queue does not
    exist or the archiver's configuration is invalid, before any note is touched.
    """
    if max_notes is not None and (isinstance(max_notes, bool) or not isinstance(max_notes, int) or max_notes < 1):
        raise ValueError(f"max_notes must be a whole number of at least 1, got {max_notes!r}")
    if isinstance(wait_seconds, bool) or not isinstance(wait_seconds, int) or not 0 <= wait_seconds <= 20:
        raise ValueError(f"wait_seconds must be a whole number from 0 to 20 (SQS long polling), got {wait_seconds!r}")
    sqs, streams, firehose = _clients(session)
    url = failure_queue._queue_url(sqs, settings.failure_queue_name)
    if url is None:
        raise RedriveError(f"the failure queue {settings.failure_queue_name} does not exist: deploy the pipeline first, or check the stack name")
    config = archiver_config(session, settings)
    report = RedriveReport(queue=settings.failure_queue_name, dry_run=dry_run)
    keep: list[str] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=failure_queue.note_count(session, settings.failure_queue_name), unit="note", desc="redrive")
    try:
        while max_notes is None or len(report.outcomes) < max_notes:
            wanted = 10 if max_notes is None else min(10, max_notes - len(report.outcomes))
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=wanted, VisibilityTimeout=VISIBILITY_SECONDS, WaitTimeSeconds=wait_seconds).get("Messages", [])
            if not messages:
                break
            for message in messages:
                try:
                    note = _note(message)
                except ValueError as err:
                    outcome = NoteOutcome(None, NOT_A_NOTE, message.get("MessageId", ""), reason=f"{err}; left in the queue")
                else:
                    try:
                        outcome = redrive_note(note, streams=streams, firehose=firehose, config=config, dry_run=dry_run, forget_lost=forget_lost)
                    except ClientError as err:  # this note's stream could not be read: keep it, go on with the others
                        error = err.response.get("Error", {})
                        outcome = NoteOutcome(note, FAILED, note.message_id, reason=f"the stream could not be read ({error.get('Code')}: {error.get('Message', '')}); run redrive again")
                if outcome.deleted:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    keep.append(message["ReceiptHandle"])
                LOG.info("%s", outcome.describe())
                report.outcomes.append(outcome)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        for receipt in keep:  # visible again: the alarm and the next run see every kept note
            try:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
            except ClientError as err:
                LOG.warning("could not make a kept note visible again (it reappears within %d s): %s", VISIBILITY_SECONDS, err)
    return report
