"""The Lambda trigger on a DynamoDB stream (an event source mapping's poller), as Lambda runs it.

Stands in for AWS only; nothing here runs against a real account. Moto stores event source
mappings but never polls a stream (its own push is switched off in :mod:`.streams`).

One poller thread per mapping reads the mapping's configuration from moto's Lambda backend before
every step, so UpdateEventSourceMapping takes effect as on AWS, and honours:

* ``Enabled`` / State; ``StartingPosition`` TRIM_HORIZON (oldest record kept) or LATEST (the stream's
  end when the mapping was created);
* ``FilterCriteria``: each record, in the shape the function receives (``dynamodb`` key, lowercase
  ``userIdentity``), is matched against the patterns with moto's EventBridge matcher
  (``moto.events.models.EventPattern``; Lambda's filter syntax is EventBridge's). A record matching
  no filter is dropped, never retried, and the checkpoint moves past it;
* ``BatchSize`` (and the 6 MB invocation payload limit), ``MaximumBatchingWindowInSeconds``;
* in-order, one batch at a time per shard: a failing batch blocks the shard while it is retried;
  with ``ParallelizationFactor`` N > 1, up to N batches of one shard at once, the records spread over N
  lanes by item key (partition and sort key), so one item's records stay in one lane, in order, and never
  run concurrently (Lambda developer guide: concurrent batches per shard, in-order processing per item key);
* failures (error, timeout, crash) are retried with back-off until ``MaximumRetryAttempts``
  (-1 = forever) or ``MaximumRecordAgeInSeconds`` (-1 = none) give up, then the batch is discarded and,
  with a ``DestinationConfig.OnFailure`` SQS queue or SNS topic, its metadata is sent in AWS's shape
  (requestContext, responseContext, version, timestamp, DDBStreamBatchInfo) and the shard moves on;
* ``BisectBatchOnFunctionError``: a failing batch of two or more records is split in two and the halves
  are processed in order; the split does not count as a retry and each half has its own retry count, so
  a poison record ends up alone and is the only one discarded (documented intent: isolate bad records);
* ``FunctionResponseTypes: ReportBatchItemFailures``: ``{"batchItemFailures": [{"itemIdentifier":
  <SequenceNumber>}]}`` checkpoints before the lowest reported sequence number and retries from there
  (counts as a retry); an empty or null list, a null or non-object response = success; a missing,
  empty, non-string or unknown ``itemIdentifier`` = the whole batch failed (Lambda developer guide).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .faults import FAULTS
from .lambda_runtime import POOL, Invocation
from .records import wire_attributes
from .trigger_config import MappingConfig, lambda_record, matches_filters
from .state import DYNAMODB_LOCK, ENDPOINT, METRICS, PROBLEMS, SETTINGS
from .streams import shard_for_stream_arn

LOG = logging.getLogger(__name__)

PAYLOAD_LIMIT = 6 * 1024 * 1024  # synchronous invocation payload, bytes
READ_LIMIT = 1000  # records per GetRecords
MAX_BACKOFF_SECONDS = 2.0
RECORD_ERROR_ATTEMPTS = 3  # a record the local trigger itself cannot prepare is tried this often, then set aside


@dataclass
class Item:
    """One record of a batch: sequence number, arrival (epoch seconds), the event JSON of the record."""

    seq: int
    arrival: int
    json: str


def _iso(epoch: float, millis: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond // 1000:03d}" if millis else "") + "Z"


class MappingPoller:
    """Polls one mapping's shard in its own thread until the mapping is deleted or the runtime stops."""

    def __init__(self, account: str, region: str, uuid_: str, stop: threading.Event):
        self.account, self.region, self.uuid = account, region, uuid_
        self._stop = stop
        self.position: int | None = None
        self.shard_id: str | None = None
        self._window_started: float | None = None
        self._failing = False
        self.caught_up = True  # False while records wait behind the checkpoint
        self._record_errors: dict[int, int] = {}  # sequence number -> attempts, for records the runtime could not prepare
        self.thread = threading.Thread(target=self._run, name=f"esm-{uuid_[:8]}", daemon=True)

    # ---------------------------------------------------------------- moto lookups
    def _backend(self) -> Any:
        from moto.awslambda.models import lambda_backends

        return lambda_backends[self.account][self.region]

    def config(self) -> MappingConfig | None:
        esm = self._backend().get_event_source_mapping(self.uuid)
        return MappingConfig.from_moto(esm) if esm is not None else None

    # ---------------------------------------------------------------- loop
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                cfg = self.config()
                if cfg is None:
                    return  # mapping deleted (or the server was reset)
                busy = self._step(cfg) if cfg.enabled else False
                if self._failing:
                    self._failing = False
                    PROBLEMS.resolve("trigger", self.uuid, position=str(self.position))
            except Exception as err:  # noqa: BLE001 - keep the poller alive, and say so where people look
                LOG.exception("trigger %s failed a step", self.uuid)
                self._failing = True
                PROBLEMS.report("trigger", self.uuid, f"the local trigger of mapping {self.uuid} failed a step; its shard waits at "
                                f"sequence number {self.position} until the step succeeds", err, mapping=self.uuid,
                                shard_id=self.shard_id, position=str(self.position))
                busy = False
            if not busy:
                self._stop.wait(SETTINGS.poll_seconds)

    def _step(self, cfg: MappingConfig) -> bool:
        """Read, filter, maybe invoke; True when there may be more to do right away."""
        found = shard_for_stream_arn(cfg.stream_arn)
        if found is None:
            return False
        table, shard = found
        with DYNAMODB_LOCK:
            if self.position is None or self.shard_id != shard.id:
                self.shard_id = shard.id
                if cfg.starting_position == "LATEST":
                    self.position = cfg.latest_sequence_number if cfg.latest_sequence_number is not None else shard.next_sequence_number
                else:
                    self.position = shard.starting_sequence_number
            self.position = max(self.position, shard.starting_sequence_number)  # trimmed records are gone
            index = self.position - shard.starting_sequence_number
            raws = [r.record for r in shard.items[index : index + max(READ_LIMIT, cfg.batch_size * cfg.parallelization)]]
        self.caught_up = not raws
        if not raws:
            self._window_started = None
            return False
        batch: list[Item] = []
        size = len('{"Records":[]}')
        last_scanned: int | None = None
        filtered = 0
        for raw in raws:
            seq = int(raw["dynamodb"]["SequenceNumber"])
            try:
                text = self._prepare(raw, cfg)
            except Exception as err:  # noqa: BLE001 - a bug of the emulator must not stall the shard silently
                if batch:
                    break  # deliver the records before it first; it heads the next step
                if last_scanned is not None:
                    self.position = last_scanned + 1  # records filtered out before it are done
                if not self._record_error(cfg, shard.id, raw, seq, err):
                    return False  # tried again at the next poll; the health report shows the stuck shard
                last_scanned = seq  # set aside (OnFailure message); the shard moves on
                continue
            if text is None:
                filtered += 1
                last_scanned = seq
                continue
            if batch and size + len(text) + 1 > PAYLOAD_LIMIT * cfg.parallelization:
                break
            batch.append(Item(seq, int(raw["dynamodb"]["ApproximateCreationDateTime"]), text))
            size += len(text) + 1
            last_scanned = seq
            if len(batch) >= cfg.batch_size * cfg.parallelization:
                break
        full = len(batch) >= cfg.batch_size or size > PAYLOAD_LIMIT // 2
        if batch and cfg.window_seconds > 0 and not full:
            now = time.monotonic()
            if self._window_started is None:
                self._window_started = now
            if now - self._window_started < cfg.window_seconds:
                self._stop.wait(min(SETTINGS.poll_seconds, cfg.window_seconds - (now - self._window_started)))
                return True  # keep gathering; nothing is checkpointed yet
        self._window_started = None
        if filtered:
            METRICS.add("trigger.records_filtered_out", filtered)
        if batch and not self._deliver_lanes(cfg, shard.id, batch):
            return False  # stopped or mapping deleted while retrying: no checkpoint
        if last_scanned is not None:
            self.position = last_scanned + 1
        return True

    def _prepare(self, raw: dict[str, Any], cfg: MappingConfig) -> str | None:
        """The record's event JSON, or None when no filter matches it."""
        FAULTS.trigger_record_fails(raw["dynamodb"].get("Keys") or {})
        record = lambda_record(raw, cfg.stream_arn)
        if not matches_filters(record, cfg.filters):
            return None
        text = json.dumps(record, separators=(",", ":"))
        if self._record_errors:
            self._record_errors.pop(int(raw["dynamodb"]["SequenceNumber"]), None)
        return text

    def _record_error(self, cfg: MappingConfig, shard_id: str, raw: dict[str, Any], seq: int, err: Exception) -> bool:
        """Count and show an error preparing ``raw``; True once it was set aside after RECORD_ERROR_ATTEMPTS."""
        attempts = self._record_errors.get(seq, 0) + 1
        self._record_errors = {seq: attempts}
        METRICS.add("trigger.record_errors")
        LOG.error("trigger %s could not prepare record %s (attempt %d of %d): %r", cfg.uuid, seq, attempts, RECORD_ERROR_ATTEMPTS, err)
        detail = {"mapping": cfg.uuid, "function_arn": cfg.function_arn, "stream_arn": cfg.stream_arn, "shard_id": shard_id,
                  "sequence_number": str(seq), "keys": _printable_keys(raw), "attempts": attempts}
        if attempts < RECORD_ERROR_ATTEMPTS:
            PROBLEMS.report("trigger", f"{cfg.uuid}/{seq}", f"the local trigger cannot prepare record {seq}; the shard waits "
                            f"(attempt {attempts} of {RECORD_ERROR_ATTEMPTS})", err, **detail)
            return False
        destination = cfg.on_failure or "no OnFailure destination"
        PROBLEMS.report("trigger", f"{cfg.uuid}/{seq}", f"the local trigger could not prepare record {seq} and set it aside after "
                        f"{attempts} attempts (sent to {destination}); it stays readable in the stream for 24 h", err, **detail)
        PROBLEMS.resolve("trigger", f"{cfg.uuid}/{seq}", outcome=f"set aside, sent to {destination}")
        self._record_errors = {}
        METRICS.add("trigger.records_set_aside")
        arrival = int(raw["dynamodb"].get("ApproximateCreationDateTime") or time.time())
        self._discard(cfg, shard_id, [Item(seq, arrival, "")], "RetryAttemptsExhausted", attempts, None)
        return True

    # ---------------------------------------------------------------- ParallelizationFactor
    def _deliver_lanes(self, cfg: MappingConfig, shard_id: str, records: list[Item]) -> bool:
        """Deliver what one step read: with ParallelizationFactor N, over up to N lanes at once (one thread
        each), a record's lane chosen by its item key; each lane sends its records in order, in batches of at
        most BatchSize and 6 MB. The shard's checkpoint moves only when every lane is done (False if any
        was interrupted)."""
        lanes: list[list[Item]] = [[] for _ in range(cfg.parallelization)]
        for record in records:
            lanes[_lane(record, cfg.parallelization)].append(record)
        busy = [lane for lane in lanes if lane]
        if len(busy) == 1:
            return self._deliver_in_batches(cfg, shard_id, busy[0])
        results = [False] * len(busy)

        def run(index: int, lane: list[Item]) -> None:
            results[index] = self._deliver_in_batches(cfg, shard_id, lane)

        threads = [threading.Thread(target=run, args=(i, lane), name=f"esm-{self.uuid[:8]}-lane{i}", daemon=True) for i, lane in enumerate(busy)]
        METRICS.add("trigger.concurrent_batches", len(threads))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return all(results)

    def _deliver_in_batches(self, cfg: MappingConfig, shard_id: str, records: list[Item]) -> bool:
        start = 0
        while start < len(records):
            end, size = start, len('{"Records":[]}')
            while end < len(records) and end - start < cfg.batch_size and (end == start or size + len(records[end].json) + 1 <= PAYLOAD_LIMIT):
                size += len(records[end].json) + 1
                end += 1
            if not self._deliver(cfg, shard_id, records[start:end]):
                return False
            start = end
        return True

    # ---------------------------------------------------------------- delivery, retries, bisect
    def _deliver(self, cfg: MappingConfig, shard_id: str, records: list[Item]) -> bool:
        """Process ``records`` until every one succeeded or was discarded; False if interrupted."""
        pending: deque[tuple[list[Item], int]] = deque([(records, 0)])
        while pending:
            segment, failures = pending.popleft()
            latest = self.config()
            if latest is None or self._stop.is_set():
                return False
            cfg = latest
            if cfg.max_record_age >= 0:
                cutoff = time.time() - cfg.max_record_age
                too_old = [r for r in segment if r.arrival < cutoff]
                if too_old:
                    self._discard(cfg, shard_id, too_old, "RecordAgeExceeded", failures, None)
                    segment = [r for r in segment if r.arrival >= cutoff]
                    if not segment:
                        continue
            result = self._invoke(cfg, segment)
            retry_from: list[Item] | None = None
            if result.ok:
                ok, lowest = self._item_failures(cfg, result, segment)
                if ok and lowest is None:
                    METRICS.add("trigger.records_processed", len(segment))
                    continue
                if ok:
                    METRICS.add("trigger.partial_failures")
                    done = [r for r in segment if r.seq < lowest]
                    METRICS.add("trigger.records_processed", len(done))
                    retry_from = [r for r in segment if r.seq >= lowest]
            if retry_from is None:  # the whole segment failed
                METRICS.add("trigger.batches_failed")
                if cfg.bisect and len(segment) > 1:
                    METRICS.add("trigger.bisections")
                    middle = len(segment) // 2
                    pending.appendleft((segment[middle:], 0))
                    pending.appendleft((segment[:middle], 0))
                    continue
                retry_from = segment
            failures += 1
            if 0 <= cfg.max_retries < failures:
                self._discard(cfg, shard_id, retry_from, "RetryAttemptsExhausted", failures, result)
                continue
            delay = min(MAX_BACKOFF_SECONDS, SETTINGS.retry_seconds * (2 ** (failures - 1)))
            if self._stop.wait(delay):
                return False
            pending.appendleft((retry_from, failures))
        return True

    def _invoke(self, cfg: MappingConfig, segment: list[Item]) -> Invocation:
        event_json = '{"Records":[' + ",".join(r.json for r in segment) + "]}"
        METRICS.add("trigger.batches_invoked")
        fn = self._backend().get_function_by_arn(cfg.function_arn)
        if fn is None:
            error = {"errorType": "ResourceNotFoundException", "errorMessage": f"Function not found: {cfg.function_arn}"}
            return Invocation(str(uuid.uuid4()), False, json.dumps(error).encode(), error)
        return POOL.invoke(fn, event_json)

    @staticmethod
    def _item_failures(cfg: MappingConfig, result: Invocation, segment: list[Item]) -> tuple[bool, int | None]:
        """(valid, lowest failed sequence number or None) from a ReportBatchItemFailures response."""
        if not cfg.report_item_failures:
            return True, None
        try:
            body = result.result()
        except ValueError:
            return True, None
        if not isinstance(body, dict):
            return True, None
        failures = body.get("batchItemFailures")
        if failures is None or failures == []:
            return True, None
        if not isinstance(failures, list):
            return False, None
        known = {str(r.seq) for r in segment}
        lowest: int | None = None
        for entry in failures:
            identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
            if not isinstance(identifier, str) or identifier not in known:
                return False, None  # null, empty, wrong key or not in this batch: whole batch failed
            lowest = int(identifier) if lowest is None else min(lowest, int(identifier))
        return True, lowest

    # ---------------------------------------------------------------- discarding
    def _discard(self, cfg: MappingConfig, shard_id: str, records: list[Item], condition: str, invokes: int, last: Invocation | None) -> None:
        METRICS.add("trigger.records_discarded", len(records))
        LOG.warning("trigger %s discards %d record(s) (%s): sequence numbers %s-%s", cfg.uuid, len(records), condition, records[0].seq, records[-1].seq)
        if not cfg.on_failure:
            return
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if last is not None and not last.ok:
            response["functionError"] = "Unhandled"
        message = {
            "requestContext": {
                "requestId": last.request_id if last is not None else str(uuid.uuid4()),
                "functionArn": cfg.function_arn,
                "condition": condition,
                "approximateInvokeCount": invokes,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": _iso(time.time(), millis=True),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": str(records[0].seq),
                "endSequenceNumber": str(records[-1].seq),
                "approximateArrivalOfFirstRecord": _iso(records[0].arrival),
                "approximateArrivalOfLastRecord": _iso(records[-1].arrival),
                "batchSize": len(records),
                "streamArn": cfg.stream_arn,
            },
        }
        try:
            send_on_failure(cfg.on_failure, json.dumps(message))
            METRICS.add("trigger.on_failure_messages")
        except Exception:  # noqa: BLE001 - AWS would retry; locally we log and move on
            LOG.exception("could not send the OnFailure message to %s", cfg.on_failure)
            METRICS.add("trigger.on_failure_errors")


def _printable_keys(raw: dict[str, Any]) -> dict[str, Any]:
    try:
        return wire_attributes(raw["dynamodb"].get("Keys") or {})
    except Exception:  # noqa: BLE001 - only for the report
        return {"unprintable": repr(raw["dynamodb"].get("Keys"))[:200]}


def _lane(record: Item, lanes: int) -> int:
    """The lane of a record: a stable hash of its item key (Keys: partition and sort key)."""
    if lanes == 1:
        return 0
    keys = json.loads(record.json).get("dynamodb", {}).get("Keys") or {}
    return zlib.crc32(json.dumps(keys, sort_keys=True).encode()) % lanes


def send_on_failure(destination_arn: str, body: str) -> None:
    """SendMessage (SQS) or Publish (SNS) of ``body`` through the local endpoint."""
    import boto3

    parts = destination_arn.split(":")
    service, region, account, name = parts[2], parts[3], parts[4], parts[5]
    client = boto3.client(service, region_name=region, endpoint_url=ENDPOINT["url"], aws_access_key_id="testing", aws_secret_access_key="testing")
    if service == "sqs":
        url = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        client.send_message(QueueUrl=url, MessageBody=body)
    elif service == "sns":
        client.publish(TopicArn=destination_arn, Message=body)
    else:
        raise ValueError(f"unsupported OnFailure destination {destination_arn}")


class StreamTrigger:
    """Service: discovers DynamoDB-stream event source mappings and runs one poller per mapping."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._pollers: dict[tuple[str, str, str], MappingPoller] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._seeds: dict[tuple[str, str, str], tuple[str | None, int]] = {}  # checkpoints restored from disk

    def positions(self) -> dict[tuple[str, str, str], tuple[str | None, int]]:
        """Each mapping's checkpoint: (shard id, next sequence number to read); saved with the local state."""
        with self._lock:
            found = {k: (p.shard_id, p.position) for k, p in self._pollers.items() if p.position is not None}
            return {**self._seeds, **found}

    def busy(self) -> bool:
        """True while some mapping has records left to read (the state saver waits for a quiet moment)."""
        with self._lock:
            return any(p.thread.is_alive() and not p.caught_up for p in self._pollers.values())

    def seed(self, positions: dict[tuple[str, str, str], tuple[str | None, int]]) -> None:
        """Resume mappings from saved checkpoints (before :meth:`start`)."""
        with self._lock:
            self._seeds = dict(positions)

    def start(self, endpoint_url: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._discover_loop, name="esm-discovery", daemon=True)
        self._thread.start()

    def _discover_loop(self) -> None:
        while not self._stop.wait(SETTINGS.poll_seconds):
            try:
                self.discover()
            except Exception:  # noqa: BLE001
                LOG.exception("event source mapping discovery failed")

    def discover(self) -> None:
        from moto.awslambda.models import lambda_backends

        for account, per_region in list(lambda_backends.items()):
            for region, backend in list(per_region.items()):
                for esm in list(backend._event_source_mappings.values()):
                    if ":dynamodb:" not in esm.event_source_arn:
                        continue
                    key = (account, region, esm.uuid)
                    with self._lock:
                        poller = self._pollers.get(key)
                        if poller is not None and poller.thread.is_alive():
                            continue
                        poller = MappingPoller(account, region, esm.uuid, self._stop)
                        if key in self._seeds:
                            poller.shard_id, poller.position = self._seeds.pop(key)
                        self._pollers[key] = poller
                    poller.thread.start()
        with self._lock:
            for key in [k for k, p in self._pollers.items() if not p.thread.is_alive() and p.thread.ident is not None]:
                del self._pollers[key]

    def reset(self) -> None:
        self._stop.set()
        with self._lock:
            pollers = list(self._pollers.values())
            self._pollers.clear()
            self._seeds.clear()
        for poller in pollers:
            poller.thread.join(timeout=10)
        self._stop = threading.Event()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5)
        self._thread = threading.Thread(target=self._discover_loop, name="esm-discovery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            pollers = list(self._pollers.values())
        for poller in pollers:
            poller.thread.join(timeout=5)

    def status(self) -> dict[str, Any]:
        with self._lock:
            active = sum(1 for p in self._pollers.values() if p.thread.is_alive())
        return {"mappings_polled": active, **METRICS.snapshot("trigger.")}
