"""The embedded local AWS's state on disk, so that ``stop`` then ``start`` (or a reboot) keeps everything.

Stands in for AWS only; nothing here runs against a real account.

Moto has no persistence of its own. Mechanism: **pickling moto's backends at a safe point**.

* **What**: every moto service in use (tables with their items and streams, buckets with their objects, IAM,
  Lambda functions and event source mappings, Firehose streams, SQS queues with their messages, CloudWatch
  alarms, ...), one pickle per service, plus the local runtime's own state: each trigger's checkpoint
  (shard id and next sequence number) and the Firehose records accepted but not yet written to S3.
* **When**: from a background thread, once the state has been quiet for a second after a change (no writing
  request, no record waiting for a trigger, no invocation running, no Firehose record unwritten), or, while
  work goes on without a pause, once a change has waited ``TTL_ARCHIVE_LOCAL_STATE_SAVE_SECONDS`` (60 s); and
  at ``stop`` (after the runtime stopped and Firehose flushed its buffers). A burst of work is not paused
  again and again: the end-to-end benchmark measures the pipeline with saving on.
* **Safe point**: the saver takes the state gate exclusively (:class:`.runtime.state.Gate`): requests in
  progress finish, new ones wait while moto's objects are pickled (milliseconds for a learner's state),
  the DynamoDB lock keeps the TTL sweeper and the trigger out, and the Firehose flush holds the gate from
  taking a buffer to writing its object. A checkpoint only moves after its batch was delivered, so a state
  taken at any point loses nothing: at worst a batch is delivered again (duplicates, as on AWS).
* **Where**: ``state.bin`` in ``~/.cache/dynamodb-ttl-archive/local-aws-state/port-<port>/`` (``XDG_CACHE_HOME``
  honoured), outside any repository; ``TTL_ARCHIVE_LOCAL_STATE`` names another base folder (the state is in
  its ``port-<port>`` folder), or ``off`` to keep state in memory only. Written atomically (a temporary file, fsync, rename): a crash leaves the previous
  state whole.
* **Format**: a magic line, one JSON header line (format version, moto version, time, services) and a
  pickle. A file of another format version or moto minor version, or one that cannot be read, is never
  loaded half-way and never stops the server from starting: it is moved aside (``unreadable-<time>.bin``,
  kept for inspection), the server starts empty, and the health report (``python -m helpers.local status``)
  says what was lost and what to re-run. ``python -m helpers.local reset`` empties the folder.
* **Not kept**: warm Lambda workers (started again on demand), invocations in progress (their batch is
  delivered again from the checkpoint), injected faults, counters, shard iterators older than the restart.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import threading
import time
from pathlib import Path
from typing import Any

from .state_changes import SIGNING_NAMES, change_fingerprint, service_fingerprint, signing_name
from .state_pickle import dumps, moto_minor, moto_version

__all__ = ["SIGNING_NAMES", "StateError", "StateStore", "change_fingerprint", "clear", "describe", "dumps", "service_fingerprint",
           "signing_name", "state_dir"]

LOG = logging.getLogger(__name__)

STATE_ENV = "TTL_ARCHIVE_LOCAL_STATE"
FORMAT_VERSION = 1
MAGIC = b"dynamodb-ttl-archive local AWS state\n"
FILE_NAME = "state.bin"
OFF = {"off", "none", "false", "0", "memory"}
SKIP_SERVICES = {"moto_api"}
GATE_TIMEOUT_SECONDS = 2.0
QUIET_SECONDS = 1.0  # save once nothing changed for this long...
POLL_SECONDS = 0.25

# What each service holds for a learner, and what to re-run when it could not be restored.
SERVICE_NOTES: dict[str, tuple[str, str]] = {
    "dynamodb": ("tables with their items and streams", "notebook 01_dynamodb_table, then 04_lambda_trigger and 05_verify"),
    "dynamodbstreams": ("stream shard iterators", "nothing: readers ask for new iterators"),
    "s3": ("buckets with their objects (the archive)", "notebook 02_s3_bucket; archived objects cannot be re-created, run 05_verify again"),
    "iam": ("IAM roles and policies", "notebooks 03_firehose and 04_lambda_trigger"),
    "lambda": ("Lambda functions and their triggers (event source mappings)", "notebook 04_lambda_trigger"),
    "firehose": ("Firehose delivery streams", "notebook 03_firehose, then 04_lambda_trigger"),
    "sqs": ("SQS queues with their messages (the failure queue)", "notebook 04_lambda_trigger; the messages are gone"),
    "cloudwatch": ("CloudWatch alarms and metrics", "notebook 04_lambda_trigger"),
    "sts": ("nothing a learner made", "nothing"),
    "logs": ("CloudWatch Logs groups", "nothing"),
}


class StateError(Exception):
    """The state file cannot be used (corrupt, or written by another version)."""


def cache_base() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dynamodb-ttl-archive"


def state_dir(port: int) -> Path | None:
    """The state folder for the server on ``port`` (``port-<port>`` under ``TTL_ARCHIVE_LOCAL_STATE`` or the
    user cache folder, so two servers never share a file), or None when ``TTL_ARCHIVE_LOCAL_STATE=off``."""
    raw = os.environ.get(STATE_ENV, "").strip()
    if raw.lower() in OFF:
        return None
    base = Path(raw).expanduser() if raw else cache_base() / "local-aws-state"
    return base / f"port-{port}"


def clear(folder: Path | None) -> list[str]:
    """Delete the files this module wrote in ``folder`` (state and set-aside copies); returns their names."""
    removed: list[str] = []
    if folder is None or not folder.is_dir():
        return removed
    for path in folder.iterdir():
        if path.name == FILE_NAME or (path.name.startswith(("unreadable-", ".state-")) and path.suffix in (".bin", ".tmp")):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


# ------------------------------------------------------------------------------------------ the store


class StateStore:
    """Saves the server's state to ``folder`` (periodically and at stop) and restores it at start."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.path = folder / FILE_NAME if folder is not None else None
        self.report: dict[str, Any] = {"restored": False, "note": "state kept in memory only" if folder is None else "not restored yet"}
        self.saves = 0
        self.last_saved_at: float | None = None
        self.last_save_seconds: float | None = None
        self.last_bytes = 0
        self.last_pause_seconds: float | None = None  # how long the last save held requests back
        self.pause_seconds_total = 0.0
        self._saved_fingerprint: Any = None
        self._blobs: dict[str, tuple[Any, bytes]] = {}  # service -> (its change marks, its last pickle)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._save_lock = threading.Lock()

    # ---------------------------------------------------------------- saving
    def _capture(self, gate_timeout: float) -> tuple[dict[str, Any], bytes] | None:
        """Pickle every moto service and the runtime's state at a safe point; None when the gate stayed busy."""
        from moto.core.base_backend import BackendDict

        from .runtime import DELIVERY, TRIGGER
        from .runtime.state import DYNAMODB_LOCK, GATE, PROBLEMS

        if not GATE.acquire_exclusive(gate_timeout):
            return None
        paused = time.monotonic()
        try:
            with DYNAMODB_LOCK:
                fingerprint = change_fingerprint()
                services: dict[str, bytes] = {}
                for backend_dict in list(BackendDict._instances):
                    name = backend_dict.service_name
                    if name in SKIP_SERVICES:
                        continue
                    mark = service_fingerprint(name)
                    cached = self._blobs.get(name)
                    if cached is not None and cached[0] == mark:
                        services[name] = cached[1]  # unchanged since the last save: not pickled again
                        continue
                    try:
                        services[name] = dumps({account: dict(regions) for account, regions in backend_dict.items()})
                        self._blobs[name] = (mark, services[name])
                    except Exception as err:  # noqa: BLE001 - save the rest; say which service is not kept
                        PROBLEMS.report("state", f"save:{name}", f"the local AWS cannot save {name}; it will not survive a restart", err)
                runtime = dumps({"positions": TRIGGER.positions(), "buffers": DELIVERY.buffers()})
        finally:
            GATE.release_exclusive()
            self.last_pause_seconds = round(time.monotonic() - paused, 4)
            self.pause_seconds_total += self.last_pause_seconds
        header = {"format": FORMAT_VERSION, "moto": moto_version(), "saved_at": time.time(),
                  "services": {name: len(blob) for name, blob in sorted(services.items())}, "runtime": len(runtime)}
        self._pending_fingerprint = fingerprint
        return header, pickle.dumps({"services": services, "runtime": runtime}, protocol=pickle.HIGHEST_PROTOCOL)

    def save(self, *, force: bool = False, gate_timeout: float = GATE_TIMEOUT_SECONDS) -> bool:
        """Write the state now if it changed since the last save (or ``force``); True when written."""
        if self.path is None:
            return False
        with self._save_lock:
            if not force and change_fingerprint() == self._saved_fingerprint:
                return False
            started = time.monotonic()
            captured = self._capture(gate_timeout)
            if captured is None:
                LOG.info("state not saved: requests kept the server busy; trying again later")
                return False
            header, body = captured
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".state-{os.getpid()}.tmp")
            with open(temporary, "wb") as out:
                out.write(MAGIC)
                out.write(json.dumps(header).encode() + b"\n")
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
            try:
                fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError:
                pass
            self._saved_fingerprint = self._pending_fingerprint
            self.saves += 1
            self.last_saved_at = header["saved_at"]
            self.last_save_seconds = round(time.monotonic() - started, 4)
            self.last_bytes = len(body)
            return True

    def start(self, interval: float) -> None:
        if self.path is None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(interval,), name="state-saver", daemon=True)
        self._thread.start()

    def _loop(self, interval: float) -> None:
        """Save once the state has been quiet for QUIET_SECONDS after a change, or, under continuous activity,
        once a change has waited ``interval`` seconds: a burst of work (the pipeline archiving thousands of
        items) is not paused again and again, and a quiet server's disk copy is at most a second behind."""
        from . import runtime
        from .runtime.state import PROBLEMS

        seen, changed_at, unsaved_since = None, 0.0, None
        while not self._stop.wait(POLL_SECONDS):
            now = time.monotonic()
            current = change_fingerprint()
            if current == self._saved_fingerprint:
                unsaved_since = None
                continue
            if current != seen or runtime.busy():
                seen, changed_at = current, now  # still changing, or work in progress: not a quiet moment yet
            unsaved_since = unsaved_since or now
            if now - changed_at < QUIET_SECONDS and now - unsaved_since < interval:
                continue
            unsaved_since = None  # what changes from now on waits for the next quiet moment (or interval)
            try:
                self.save()
                PROBLEMS.resolve("state", "save")
            except Exception as err:  # noqa: BLE001 - keep serving; say that the state is not being saved
                LOG.exception("saving the local AWS state failed")
                PROBLEMS.report("state", "save", f"the local AWS could not save its state to {self.path}", err)

    def stop(self) -> None:
        """Stop the periodic saves and write the final state (call after the runtime stopped)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.path is not None:
            try:
                if not self.save(force=True, gate_timeout=10.0):
                    LOG.error("the final state could not be saved: requests kept the server busy")
            except Exception:  # noqa: BLE001
                LOG.exception("saving the final local AWS state failed")

    def forget(self) -> list[str]:
        """``reset``: empty the state folder; the next save writes the (empty) state again."""
        with self._save_lock:
            self._saved_fingerprint = None
            self._blobs.clear()
            removed = clear(self.folder)
        self.report = {"restored": False, "note": "reset: every resource removed, the saved state emptied"}
        return removed

    # ---------------------------------------------------------------- restoring
    def read(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(header, body) of the state file; StateError naming what is wrong with it."""
        assert self.path is not None
        try:
            with open(self.path, "rb") as stream:
                if stream.readline() != MAGIC:
                    raise StateError("it is not a local AWS state file (wrong first line)")
                try:
                    header = json.loads(stream.readline())
                except ValueError:
                    raise StateError("its header is damaged") from None
                if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
                    raise StateError(f"it has format {header.get('format') if isinstance(header, dict) else '?'}; this version reads format {FORMAT_VERSION}")
                if moto_minor(str(header.get("moto", ""))) != moto_minor(moto_version()):
                    raise StateError(f"it was written with moto {header.get('moto')}; this server runs moto {moto_version()}")
                try:
                    body = pickle.loads(stream.read())
                except Exception as err:  # noqa: BLE001 - any damage in the pickle
                    raise StateError(f"its data is damaged ({type(err).__name__}: {err})") from None
        except OSError as err:
            raise StateError(f"it cannot be read ({err})") from None
        if not isinstance(body, dict) or not isinstance(body.get("services"), dict):
            raise StateError("its data is damaged (unexpected layout)")
        return header, body

    def restore(self) -> dict[str, Any]:
        """Load the saved state into moto and the runtime (before they start); returns the restore report.

        Never raises for a bad file: it is set aside and the report says what was lost and what to re-run.
        """
        if self.path is None:
            return self.report
        if not self.path.exists():
            self.report = {"restored": False, "note": f"no saved state in {self.folder}: started empty"}
            return self.report
        try:
            header, body = self.read()
        except StateError as err:
            return self._set_aside(str(err))
        restored, lost = [], []
        for name, blob in sorted(body["services"].items()):
            try:
                _install(name, pickle.loads(blob))
                restored.append(name)
            except Exception as err:  # noqa: BLE001 - restore the others; say exactly what is gone
                what, rerun = SERVICE_NOTES.get(name, (f"{name} resources", f"whatever created the {name} resources"))
                lost.append({"service": name, "what": what, "re_run": rerun, "error": f"{type(err).__name__}: {err}"})
        positions = buffers = 0
        try:
            runtime_state = pickle.loads(body["runtime"])
            from .runtime import DELIVERY, TRIGGER

            TRIGGER.seed(runtime_state["positions"])
            DELIVERY.restore(runtime_state["buffers"])
            positions, buffers = len(runtime_state["positions"]), sum(len(b.records) for b in runtime_state["buffers"].values())
        except Exception as err:  # noqa: BLE001
            lost.append({"service": "runtime", "what": "trigger checkpoints and Firehose records not yet in S3",
                         "re_run": "nothing: triggers start again from their StartingPosition (items may be archived twice)",
                         "error": f"{type(err).__name__}: {err}"})
        self.report = {"restored": True, "from": str(self.path), "saved_at": header.get("saved_at"), "services": restored,
                       "trigger_checkpoints": positions, "firehose_records_buffered": buffers, "lost": lost}
        self._saved_fingerprint = None
        if lost:
            from .runtime.state import PROBLEMS

            for entry in lost:
                PROBLEMS.report("state", f"restore:{entry['service']}", f"lost at restart: {entry['what']}; re-run {entry['re_run']}", entry["error"])
        LOG.info("restored the local AWS state from %s (%s)%s", self.path, ", ".join(restored), f"; lost {lost}" if lost else "")
        return self.report

    def _set_aside(self, reason: str) -> dict[str, Any]:
        from .runtime.state import PROBLEMS

        assert self.path is not None
        moved = self.path.with_name(f"unreadable-{time.strftime('%Y%m%d-%H%M%S')}.bin")
        try:
            os.replace(self.path, moved)
        except OSError as err:
            moved = self.path
            reason += f" (and it could not be moved aside: {err}; delete it or run `python -m helpers.local reset`)"
        message = (f"the saved local AWS state {self.path} was not loaded: {reason}. It was moved to {moved}; the local AWS "
                   "started empty: everything was lost (tables, items, buckets, archive objects, roles, functions, triggers, "
                   "delivery streams, queues, alarms). Re-run the notebooks from 01_dynamodb_table on (or `python -m helpers demo`).")
        LOG.error("%s", message)
        PROBLEMS.report("state", "restore", "the saved state could not be loaded; the local AWS started empty", message)
        self.report = {"restored": False, "set_aside": str(moved), "reason": reason, "note": message,
                       "lost": [{"service": "all", "what": "every resource", "re_run": "the notebooks from 01_dynamodb_table on"}]}
        return self.report

    def status(self) -> dict[str, Any]:
        return {"folder": str(self.folder) if self.folder else None, "saves": self.saves, "last_saved_at": self.last_saved_at,
                "last_save_seconds": self.last_save_seconds, "last_pause_seconds": self.last_pause_seconds,
                "pause_seconds_total": round(self.pause_seconds_total, 4), "last_bytes": self.last_bytes, "restore": self.report}


def _install(service: str, accounts: dict[str, dict[str, Any]]) -> None:
    """Put restored backends into moto's BackendDict for ``service``."""
    from moto.backends import get_backend

    backend_dict = get_backend(service)  # type: ignore[arg-type]
    for account, regions in accounts.items():
        per_account = backend_dict[account]
        for region, backend in regions.items():
            dict.__setitem__(per_account, region, backend)


def describe(report: dict[str, Any]) -> list[str]:
    """The restore report for a person: what was restored, what was lost and what to re-run."""
    if not report.get("restored"):
        lines = [report.get("note", "")]
    else:
        saved = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.get("saved_at") or 0))
        lines = [f"restored the state saved at {saved} from {report.get('from')}: {', '.join(report.get('services', []))}; "
                 f"{report.get('trigger_checkpoints', 0)} trigger checkpoint(s), {report.get('firehose_records_buffered', 0)} Firehose record(s) not yet in S3"]
    for entry in report.get("lost") or []:
        if entry.get("service") != "all":
            lines.append(f"LOST {entry['what']} ({entry['service']}): re-run {entry['re_run']}")
    return [line for line in lines if line]
