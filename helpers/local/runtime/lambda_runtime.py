"""Lambda execution: runs a deployed function's code in a worker process, as the Lambda service does.

Stands in for AWS only; nothing here runs against a real account. Moto keeps the zip (in-process
only) but can run it only through Docker; this module runs it with the server's Python instead.

* The zip from moto's Lambda backend is unpacked once per CodeSha256 into a private directory; the
  handler ("module.function") runs in a **worker process** (:mod:`.lambda_worker`), never in the server.
* The worker's environment is the function's variables plus what Lambda sets (AWS_REGION,
  AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_MEMORY_SIZE, _HANDLER, LAMBDA_TASK_ROOT, ...), fake
  credentials and ``AWS_ENDPOINT_URL`` = this server, so boto3 inside the handler reaches the local AWS.
* Timeout: the worker is killed when the function's Timeout passes -> ``Sandbox.Timedout``.
  A worker that exits (crash, ``os._exit``, a signal) -> ``Runtime.ExitError``. Memory: a worker whose
  resident size passes MemorySize is killed -> ``Runtime.ExitError`` ("signal: killed"), as on AWS.
  Each of these is a failed invocation (FunctionError "Unhandled"), and the worker is replaced.
* Warm workers are reused per function + code + configuration (like Lambda's warm execution
  environments); a changed code sha or configuration starts fresh ones, idle ones stop after
  ``TTL_ARCHIVE_LOCAL_WORKER_IDLE_SECONDS``.
* ``lambda.Invoke`` (RequestResponse, Event, DryRun) runs the real code through the same workers:
  :func:`install` replaces moto's Docker path ``LambdaFunction.invoke``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .faults import FAULTS
from .state import ENDPOINT, METRICS, SETTINGS

LOG = logging.getLogger(__name__)

WORKER_SCRIPT = str(Path(__file__).with_name("lambda_worker.py"))
INIT_TIMEOUT_SECONDS = 10.0  # Lambda's init phase limit
MAX_IDLE_PER_FUNCTION = 4
RESERVED_ENV = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}  # Lambda refuses these as function variables


@dataclass(frozen=True)
class FunctionSpec:
    """What one invocation needs from moto's LambdaFunction (copied, so moto can change meanwhile)."""

    name: str
    arn: str
    region: str
    account_id: str
    handler: str
    runtime: str
    code_sha256: str
    timeout: float
    memory_mb: int
    environment: tuple[tuple[str, str], ...]
    code: bytes = field(repr=False, compare=False, hash=False)

    @classmethod
    def from_moto(cls, fn: Any) -> "FunctionSpec":
        return cls(
            name=fn.function_name,
            arn=fn.function_arn,
            region=fn.region,
            account_id=fn.account_id,
            handler=fn.handler or "",
            runtime=fn.run_time or "python3.12",
            code_sha256=fn.code_sha_256,
            timeout=float(fn.timeout or 3),
            memory_mb=int(fn.memory_size or 128),
            environment=tuple(sorted((str(k), str(v)) for k, v in (fn.environment_vars or {}).items())),
            code=fn.code_bytes,
        )

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.arn, self.code_sha256, self.handler, self.runtime, self.timeout, self.memory_mb, self.environment)


@dataclass
class Invocation:
    """The outcome of one invocation: ``payload`` is the JSON AWS would return (result or error)."""

    request_id: str
    ok: bool
    payload: bytes
    error: dict[str, Any] | None = None
    duration_seconds: float = 0.0

    def result(self) -> Any:
        return json.loads(self.payload) if self.payload else None


class WorkerError(Exception):
    """The worker process ended or was killed; ``error`` is the AWS-shaped error payload."""

    def __init__(self, error: dict[str, Any]):
        super().__init__(error.get("errorMessage"))
        self.error = error


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


class Worker:
    """One warm worker process for one FunctionSpec."""

    def __init__(self, spec: FunctionSpec, task_root: Path):
        self.spec = spec
        self.last_used = time.monotonic()
        self._buffer = b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "HOME": str(task_root.parent),
            "TMPDIR": tempfile.gettempdir(),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
        }
        env.update({k: v for k, v in spec.environment if k not in RESERVED_ENV})
        env.update(
            {
                "_HANDLER": spec.handler,
                "LAMBDA_TASK_ROOT": str(task_root),
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "TTL_ARCHIVE_LOCAL_FUNCTION_ARN": spec.arn,
            }
        )
        if ENDPOINT["url"]:
            env.setdefault("AWS_ENDPOINT_URL", ENDPOINT["url"])
        self.proc = subprocess.Popen(  # noqa: S603 - our own worker script
            [sys.executable, "-u", WORKER_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=str(task_root),
            start_new_session=True,
        )
        METRICS.add("lambda.workers_started")
        hello = self._read(time.monotonic() + INIT_TIMEOUT_SECONDS, enforce_memory=False)
        self.init_error: dict[str, Any] | None = None if hello.get("ready") else hello.get("error", {"errorMessage": "init failed", "errorType": "Runtime.Unknown"})

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            METRICS.add("lambda.workers_stopped")
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass

    def _exit_error(self, request_id: str) -> dict[str, Any]:
        code = self.proc.poll()
        status = f"signal: {signal.Signals(-code).name.lower().removeprefix('sig')}" if code is not None and code < 0 else f"exit status {code}"
        return {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {status}"}

    def _read(self, deadline: float, enforce_memory: bool, request_id: str = "") -> dict[str, Any]:
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.kill()
                    raise TimeoutError
                if selector.select(timeout=min(remaining, 0.05)):
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        self.proc.wait(timeout=5)
                        raise WorkerError(self._exit_error(request_id))
                    self._buffer += chunk
                if enforce_memory and _rss_mb(self.proc.pid) > self.spec.memory_mb:
                    self.kill()
                    METRICS.add("lambda.out_of_memory")
                    raise WorkerError({"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed (memory above {self.spec.memory_mb} MB)"})
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def call(self, request_id: str, event_json: str, fault: str | None) -> dict[str, Any]:
        """One invocation; returns the worker's reply or raises WorkerError / TimeoutError."""
        timeout_ms = int(self.spec.timeout * 1000)
        head = json.dumps({"request_id": request_id, "remaining_ms": timeout_ms, "fault": fault})[:-1]
        try:
            self.proc.stdin.write(f'{head},"event":{event_json}}}\n'.encode())  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            self.proc.wait(timeout=5)
            raise WorkerError(self._exit_error(request_id)) from None
        self.last_used = time.monotonic()
        reply = self._read(time.monotonic() + self.spec.timeout, enforce_memory=True, request_id=request_id)
        self.last_used = time.monotonic()
        return reply


class WorkerPool:
    """Warm workers per FunctionSpec.key; also the service object registered with the runtime."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[Any, ...], list[Worker]] = {}
        self._busy: set[Worker] = set()
        self._code_dir: Path | None = None
        self._code_lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    # ---------------------------------------------------------------- service interface
    def start(self, endpoint_url: str) -> None:
        self._stop.clear()
        self._reaper = threading.Thread(target=self._reap_loop, name="lambda-worker-reaper", daemon=True)
        self._reaper.start()

    def reset(self) -> None:
        self._kill_all()

    def stop(self) -> None:
        self._stop.set()
        self._kill_all()
        if self._code_dir is not None:
            shutil.rmtree(self._code_dir, ignore_errors=True)
            self._code_dir = None

    def busy(self) -> bool:
        with self._lock:
            return bool(self._busy)

    def status(self) -> dict[str, Any]:
        with self._lock:
            idle = sum(len(v) for v in self._idle.values())
            busy = len(self._busy)
        return {"workers_idle": idle, "workers_busy": busy, **METRICS.snapshot("lambda.")}

    # ---------------------------------------------------------------- workers
    def _task_root(self, spec: FunctionSpec) -> Path:
        with self._code_lock:
            if self._code_dir is None:
                self._code_dir = Path(tempfile.mkdtemp(prefix="ttl-archive-lambda-"))
            root = self._code_dir / spec.code_sha256.replace("/", "_").replace("+", "-").rstrip("=") / "task"
            if not root.exists():
                staging = root.with_name("task.partial")
                shutil.rmtree(staging, ignore_errors=True)
                staging.mkdir(parents=True)
                with zipfile.ZipFile(io.BytesIO(spec.code)) as archive:
                    archive.extractall(staging)
                staging.rename(root)
            return root

    def acquire(self, spec: FunctionSpec) -> Worker:
        stale: list[Worker] = []
        with self._lock:
            for key in [k for k in self._idle if k[0] == spec.arn and k != spec.key]:
                stale.extend(self._idle.pop(key))  # code or configuration changed: cold start
            idle = self._idle.get(spec.key, [])
            worker = None
            while idle and worker is None:
                candidate = idle.pop()
                if candidate.alive:
                    worker = candidate
                else:
                    stale.append(candidate)
        for old in stale:
            old.kill()
        if worker is None:
            worker = Worker(spec, self._task_root(spec))
        with self._lock:
            self._busy.add(worker)
        return worker

    def release(self, worker: Worker, healthy: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            keep = healthy and worker.alive and worker.init_error is None and not self._stop.is_set()
            if keep:
                idle = self._idle.setdefault(worker.spec.key, [])
                keep = len(idle) < MAX_IDLE_PER_FUNCTION
                if keep:
                    idle.append(worker)
        if not keep:
            worker.kill()

    def _kill_all(self) -> None:
        with self._lock:
            workers = [w for ws in self._idle.values() for w in ws]
            self._idle.clear()
        for worker in workers:
            worker.kill()

    def _reap_loop(self) -> None:
        while not self._stop.wait(1.0):
            cutoff = time.monotonic() - SETTINGS.worker_idle_seconds
            expired: list[Worker] = []
            with self._lock:
                for key, workers in list(self._idle.items()):
                    keep = [w for w in workers if w.last_used >= cutoff and w.alive]
                    expired.extend(w for w in workers if w not in keep)
                    if keep:
                        self._idle[key] = keep
                    else:
                        del self._idle[key]
            for worker in expired:
                worker.kill()

    # ---------------------------------------------------------------- invocation
    def invoke(self, fn: Any, event_json: str, request_id: str | None = None) -> Invocation:
        """Run ``fn`` (moto LambdaFunction) on ``event_json`` in a worker; never raises for function errors."""
        spec = FunctionSpec.from_moto(fn)
        request_id = request_id or str(uuid.uuid4())
        started = time.monotonic()
        METRICS.add("lambda.invocations")
        if not spec.code:
            return self._failed(request_id, started, {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": "the function has no zip code the local runtime can run"})
        fault = FAULTS.lambda_fault(spec.name)
        try:
            worker = self.acquire(spec)
        except (OSError, zipfile.BadZipFile, TimeoutError, WorkerError, ValueError) as err:
            error = err.error if isinstance(err, WorkerError) else {"errorType": "Runtime.Unknown", "errorMessage": f"could not start the function: {err!r}"}
            return self._failed(request_id, started, error)
        if worker.init_error is not None:
            self.release(worker, healthy=False)
            return self._failed(request_id, started, dict(worker.init_error, requestId=request_id))
        try:
            reply = worker.call(request_id, event_json, fault)
        except TimeoutError:
            self.release(worker, healthy=False)
            METRICS.add("lambda.timeouts")
            return self._failed(request_id, started, {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds"})
        except WorkerError as err:
            self.release(worker, healthy=False)
            METRICS.add("lambda.crashes")
            return self._failed(request_id, started, err.error)
        self.release(worker, healthy=True)
        if not reply.get("ok"):
            return self._failed(request_id, started, reply.get("error") or {"errorType": "Runtime.Unknown", "errorMessage": "no error detail"})
        payload = json.dumps(reply.get("payload"), separators=(",", ":")).encode()
        return Invocation(request_id, True, payload, None, time.monotonic() - started)

    @staticmethod
    def _failed(request_id: str, started: float, error: dict[str, Any]) -> Invocation:
        METRICS.add("lambda.function_errors")
        return Invocation(request_id, False, json.dumps(error).encode(), error, time.monotonic() - started)


POOL = WorkerPool()


def _moto_invoke(self: Any, body: Any, request_headers: Any, response_headers: dict[str, str]) -> bytes:
    """Replacement for moto's ``LambdaFunction.invoke`` (Docker): the real code through a worker."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    event_json = body if body else "{}"
    try:
        json.loads(event_json)
    except ValueError:
        event_json = json.dumps(event_json)
    invocation_type = (request_headers or {}).get("X-Amz-Invocation-Type") or (request_headers or {}).get("x-amz-invocation-type") or "RequestResponse"
    response_headers["x-amz-executed-version"] = "$LATEST"
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        threading.Thread(target=POOL.invoke, args=(self, event_json), name=f"invoke-async-{self.function_name}", daemon=True).start()
        return b""
    result = POOL.invoke(self, event_json)
    if not result.ok:
        response_headers["x-amz-function-error"] = "Unhandled"
    return result.payload


def install() -> None:
    """Route moto's Lambda invocations (Invoke API, and moto's own event pushes) to the workers."""
    from moto.awslambda.models import LambdaFunction

    LambdaFunction.invoke = _moto_invoke
