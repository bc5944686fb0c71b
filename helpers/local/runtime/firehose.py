"""Firehose delivery to S3 as AWS does it: limits, buffering, GZIP, prefix expressions, object names.

Stands in for AWS only; nothing here runs against a real account. Moto writes one uncompressed object
per call immediately, takes the prefix literally and accepts any size. Here (patched into moto's
``FirehoseBackend.put_record_batch`` / ``put_record`` by :func:`install`):

* **Limits** (PutRecordBatch API reference): more than 500 records or a record over 1,000 KiB
  (1,024,000 bytes) -> ``ValidationException`` with AWS's message; more than 4 MiB in one call ->
  ``InvalidArgumentException`` "Records size exceeds 4 MB limit". Nothing of a rejected call is kept.
* **Faults** (see :mod:`.faults`): whole calls fail with ``ServiceUnavailableException`` answered as AWS
  does (HTTP 500, so boto3's own retries handle it; ``firehose_call_failures`` fails the next N calls, more
  than boto3's attempts outlasts them); single records fail with ``ErrorCode: ServiceUnavailableException``
  and count in ``FailedPutCount``.
* **Buffering**: accepted records are buffered per stream and destination and written as one object
  when the buffer reaches the stream's ``BufferingHints.SizeInMBs`` or has waited
  ``min(IntervalInSeconds, TTL_ARCHIVE_LOCAL_FIREHOSE_FLUSH_SECONDS)`` (default 1 s: AWS waits the full
  interval, 300 s by default; locally the wait is capped so learners see objects quickly). Records are
  concatenated with no delimiter, as on AWS.
* **Objects**: ``CompressionFormat: GZIP`` writes GZIP with the ``.gz`` extension (other formats are
  written uncompressed, with a warning). The key is ``<prefix><stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>``
  where the prefix has ``!{timestamp:<Java DateTimeFormatter pattern>}``, ``!{firehose:random-string}``
  and ``!{firehose:error-output-type}`` expanded (UTC, the arrival time of the object's first record);
  a prefix without expressions gets ``YYYY/MM/DD/HH/`` appended (and an empty prefix is just that).
* Objects that cannot be written (bucket missing) stay buffered and are retried on every flush tick while
  the delivery stream exists, like Firehose's delivery retries.
"""

from __future__ import annotations

import gzip
import logging
import re
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .faults import FAULTS
from .state import GATE, METRICS, PROBLEMS, SETTINGS

LOG = logging.getLogger(__name__)

MAX_RECORDS = 500
MAX_RECORD_BYTES = 1_024_000
MAX_CALL_BYTES = 4 * 1024 * 1024
_EXPRESSION = re.compile(r"!\{([a-zA-Z]+):([^}]*)\}")
_JAVA_TOKENS = re.compile(r"'[^']*'|yyyy|uuuu|yy|MM|dd|HH|mm|ss|SSS|.", re.DOTALL)
_JAVA_TO_STRFTIME = {"yyyy": "%Y", "uuuu": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_originals: dict[str, Any] = {}


def _java_format(moment: datetime, pattern: str) -> str:
    out = []
    for token in _JAVA_TOKENS.findall(pattern):
        if token.startswith("'"):
            out.append(token[1:-1] or "'")
        elif token == "SSS":
            out.append(f"{moment.microsecond // 1000:03d}")
        elif token in _JAVA_TO_STRFTIME:
            out.append(moment.strftime(_JAVA_TO_STRFTIME[token]))
        else:
            out.append(token)
    return "".join(out)


def expand_prefix(prefix: str, moment: datetime, error_output_type: str = "processing-failed") -> str:
    """The S3 key prefix Firehose uses for an object whose first record arrived at ``moment`` (UTC)."""
    if not _EXPRESSION.search(prefix):
        return prefix + moment.strftime("%Y/%m/%d/%H/")

    def replace(match: re.Match[str]) -> str:
        namespace, value = match.group(1), match.group(2)
        if namespace == "timestamp":
            return _java_format(moment, value)
        if namespace == "firehose" and value == "random-string":
            return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(11))
        if namespace == "firehose" and value == "error-output-type":
            return error_output_type
        raise ValueError(f"unsupported prefix expression {match.group(0)!r}")

    return _EXPRESSION.sub(replace, prefix)


def object_key(prefix: str, stream: str, version: str, moment: datetime, compression: str) -> str:
    extension = ".gz" if compression == "GZIP" else ""
    return f"{expand_prefix(prefix, moment)}{stream}-{version}-{moment:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{extension}"


@dataclass
class Buffer:
    account: str
    partition: str
    stream: str
    version: str
    destination: dict[str, Any]
    first_arrival: float
    records: list[bytes] = field(default_factory=list)
    size: int = 0

    @property
    def size_limit(self) -> int:
        return int((self.destination.get("BufferingHints") or {}).get("SizeInMBs", 5)) * 1024 * 1024

    @property
    def max_wait(self) -> float:
        interval = (self.destination.get("BufferingHints") or {}).get("IntervalInSeconds", 300)
        return min(float(interval), SETTINGS.firehose_flush_seconds)


SERVICE_UNAVAILABLE_STATUS = 500  # the Firehose API reference's HTTP status for ServiceUnavailableException


def _service_unavailable(message: str) -> Exception:
    """AWS's answer when Firehose is unavailable: HTTP 500, JSON ``{"__type": "ServiceUnavailableException",
    "message": ...}``. A 5xx is what boto3's retry modes (legacy and standard) retry; moto's service errors
    would answer 400, which boto3 never retries."""
    from moto.core.exceptions import JsonRESTError

    class ServiceUnavailableException(JsonRESTError):
        code = SERVICE_UNAVAILABLE_STATUS

        def __init__(self) -> None:
            super().__init__("ServiceUnavailableException", message)

    return ServiceUnavailableException()


def _data(record: dict[str, Any]) -> bytes:
    data = record.get("Data", b"")
    if isinstance(data, str):
        import base64

        return base64.b64decode(data)
    return bytes(data)


class FirehoseDelivery:
    """Service: per-stream buffers and the thread that flushes them to S3."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffers: dict[tuple[str, str, str, str], Buffer] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, endpoint_url: str) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._flush_loop, name="firehose-flush", daemon=True)
        self._thread.start()

    def reset(self) -> None:
        with self._lock:
            self._buffers.clear()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush(force=True)

    def status(self) -> dict[str, Any]:
        with self._lock:
            buffered = sum(len(b.records) for b in self._buffers.values())
        return {"records_buffered": buffered, "flush_seconds": SETTINGS.firehose_flush_seconds, **METRICS.snapshot("firehose.")}

    # ---------------------------------------------------------------- API side
    def put_record_batch(self, backend: Any, stream_name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        from moto.firehose.exceptions import InvalidArgumentException, ResourceNotFoundException, ValidationException

        stream = backend.delivery_streams.get(stream_name)
        if not stream:
            raise ResourceNotFoundException(f"Firehose {stream_name} under account {backend.account_id} not found.")
        if len(records) > MAX_RECORDS:
            METRICS.add("firehose.limit_errors")
            raise ValidationException(
                f"1 validation error detected: Value '[...{len(records)} records]' at 'records' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_RECORDS}"
            )
        blobs = [_data(r) for r in records]
        too_big = [i for i, b in enumerate(blobs, start=1) if len(b) > MAX_RECORD_BYTES]
        if too_big:
            METRICS.add("firehose.limit_errors")
            details = "; ".join(
                f"Value 'java.nio.HeapByteBuffer[pos=0 lim={len(blobs[i - 1])} cap={len(blobs[i - 1])}]' at 'records.{i}.member.data' "
                f"failed to satisfy constraint: Member must have length less than or equal to {MAX_RECORD_BYTES}"
                for i in too_big
            )
            raise ValidationException(f"{len(too_big)} validation error{'s' if len(too_big) > 1 else ''} detected: {details}")
        if sum(len(b) for b in blobs) > MAX_CALL_BYTES:
            METRICS.add("firehose.limit_errors")
            raise InvalidArgumentException("Records size exceeds 4 MB limit")
        if FAULTS.firehose_call_fails(stream_name):
            raise _service_unavailable("Slow down.")
        responses: list[dict[str, str]] = []
        accepted: list[bytes] = []
        for blob in blobs:
            if FAULTS.firehose_record_fails(stream_name):
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."})
            else:
                responses.append({"RecordId": uuid.uuid4().hex + uuid.uuid4().hex})
                accepted.append(blob)
        failed = len(blobs) - len(accepted)
        METRICS.add("firehose.records_accepted", len(accepted))
        if failed:
            METRICS.add("firehose.records_rejected", failed)
        if accepted:
            for destination in stream.destinations:
                config = destination.get("ExtendedS3") or destination.get("S3")
                if config is not None:
                    self._buffer(backend, stream, destination.get("destination_id", ""), config, accepted)
                elif "HttpEndpoint" in destination:
                    backend.put_http_records(destination["HttpEndpoint"], [{"Data": b} for b in accepted])
        return {"FailedPutCount": failed, "Encrypted": False, "RequestResponses": responses}

    def put_record(self, backend: Any, stream_name: str, record: dict[str, Any]) -> dict[str, Any]:
        result = self.put_record_batch(backend, stream_name, [record])
        if result["FailedPutCount"]:
            raise _service_unavailable("Slow down.")
        return {"RecordId": result["RequestResponses"][0]["RecordId"], "Encrypted": False}

    def _buffer(self, backend: Any, stream: Any, destination_id: str, config: dict[str, Any], blobs: list[bytes]) -> None:
        key = (backend.account_id, backend.region_name, stream.delivery_stream_name, destination_id)
        full: Buffer | None = None
        with self._lock:
            buffer = self._buffers.get(key)
            if buffer is None:
                buffer = Buffer(backend.account_id, backend.partition, stream.delivery_stream_name, str(stream.version_id), dict(config), time.time())
                self._buffers[key] = buffer
            buffer.records.extend(blobs)
            buffer.size += sum(len(b) for b in blobs)
            if buffer.size >= buffer.size_limit:
                full = self._buffers.pop(key)
        if full is not None:
            self._write(key, full)

    # ---------------------------------------------------------------- delivery side
    def _flush_loop(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.flush()
            except Exception as err:  # noqa: BLE001
                LOG.exception("Firehose flush failed")
                PROBLEMS.report("firehose", "flush", "the local Firehose could not flush its buffers (tried again)", err)

    def flush(self, force: bool = False) -> int:
        """Write every buffer that is due (all of them with ``force``); returns objects written.

        Holds the state gate (shared) from taking a buffer to writing its object, so a saved state never
        misses records that are in neither (see :mod:`helpers.local.state_store`)."""
        with GATE.shared():
            now = time.time()
            with self._lock:
                due = [(k, b) for k, b in self._buffers.items() if force or now - b.first_arrival >= b.max_wait]
                for key, _ in due:
                    del self._buffers[key]
            return sum(1 for key, buffer in due if self._write(key, buffer))

    def busy(self) -> bool:
        with self._lock:
            return bool(self._buffers)

    def buffers(self) -> dict[tuple[str, str, str, str], Buffer]:
        """The records accepted but not yet written to S3 (saved with the local state)."""
        with self._lock:
            return {k: Buffer(b.account, b.partition, b.stream, b.version, dict(b.destination), b.first_arrival, list(b.records), b.size)
                    for k, b in self._buffers.items()}

    def restore(self, buffers: dict[tuple[str, str, str, str], Buffer]) -> None:
        with self._lock:
            self._buffers.update(buffers)

    def _write(self, key: tuple[str, str, str, str], buffer: Buffer) -> bool:
        from moto.s3.models import s3_backends

        moment = datetime.fromtimestamp(buffer.first_arrival, tz=timezone.utc)
        compression = buffer.destination.get("CompressionFormat") or "UNCOMPRESSED"
        data = b"".join(buffer.records)
        if compression == "GZIP":
            data = gzip.compress(data, compresslevel=6)
        elif compression != "UNCOMPRESSED":
            LOG.warning("CompressionFormat %s is not emulated locally; writing uncompressed", compression)
            compression = "UNCOMPRESSED"
        bucket = buffer.destination["BucketARN"].split(":")[-1]
        try:
            object_name = object_key(buffer.destination.get("Prefix") or "", buffer.stream, buffer.version, moment, compression)
            s3_backends[buffer.account][buffer.partition].put_object(bucket, object_name, data, **_encryption(buffer.destination))
        except Exception as err:  # noqa: BLE001 - keep the records and retry, as Firehose does
            if self._stream_exists(key):
                LOG.warning("Firehose %s could not write to s3://%s (%s); retrying", buffer.stream, bucket, err)
                METRICS.add("firehose.delivery_retries")
                with self._lock:
                    current = self._buffers.get(key)
                    if current is not None:  # newer records arrived meanwhile: keep ours first
                        buffer.records.extend(current.records)
                        buffer.size += current.size
                    buffer.first_arrival = min(buffer.first_arrival, time.time() - buffer.max_wait + 1.0)
                    self._buffers[key] = buffer
            else:
                METRICS.add("firehose.records_dropped_stream_deleted", len(buffer.records))
            return False
        METRICS.add("firehose.objects_written")
        METRICS.add("firehose.records_delivered", len(buffer.records))
        return True

    @staticmethod
    def _stream_exists(key: tuple[str, str, str, str]) -> bool:
        from moto.firehose.models import firehose_backends

        account, region, name, _ = key
        try:
            return name in firehose_backends[account][region].delivery_streams
        except KeyError:
            return False


DELIVERY = FirehoseDelivery()


def install() -> None:
    """Route moto's PutRecordBatch / PutRecord through :data:`DELIVERY`."""
    from moto.firehose.models import FirehoseBackend

    if _originals:
        return
    _originals["put_record_batch"] = FirehoseBackend.put_record_batch
    _originals["put_record"] = FirehoseBackend.put_record
    FirehoseBackend.put_record_batch = lambda self, delivery_stream_name, records: DELIVERY.put_record_batch(self, delivery_stream_name, records)
    FirehoseBackend.put_record = lambda self, delivery_stream_name, record: DELIVERY.put_record(self, delivery_stream_name, record)



def _encryption(destination: dict) -> dict:
    """The server-side encryption Firehose requests for a delivered object: the destination's KMS key when
    its ``EncryptionConfiguration`` names one (as on AWS, where Firehose sends it with PutObject). Otherwise
    nothing, and the bucket's default encryption applies (moto's put_object applies it, as S3 does)."""
    kms = ((destination.get("EncryptionConfiguration") or {}).get("KMSEncryptionConfig") or {}).get("AWSKMSKeyARN")
    return {"encryption": "aws:kms", "kms_key_id": kms} if kms else {}
