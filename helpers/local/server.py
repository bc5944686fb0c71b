"""The embedded local AWS: one background process on 127.0.0.1 shared by every notebook kernel.

It runs moto's server application (every create/describe call of the pipeline) and, in the same
process, the local runtime in :mod:`helpers.local.runtime` that stands in for the managed behaviour
moto does not have (TTL expiry, stream triggers, Lambda execution, Firehose delivery).

This module only exists to stand in for AWS; nothing here runs against a real account.

Process model
-------------
* :func:`ensure_running` finds a healthy server on the configured port or starts one
  (``python -m helpers.local serve``) in its own session, so it outlives the kernel that started it.
* Later kernels find it again through the health endpoint ``/_ttl_archive/health`` on the same port.
* State is kept on disk (:mod:`.state_store`): saved every few seconds while it changes and at stop,
  restored at start; :func:`reset` empties it (also the saved copy), :func:`stop` ends the process.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

LOG = logging.getLogger(__name__)

HOST = "127.0.0.1"  # never another interface
DEFAULT_PORT = 4599
PORT_ENV = "TTL_ARCHIVE_LOCAL_PORT"
HEALTH_PATH = "/_ttl_archive/health"
RESET_PATH = "/_ttl_archive/reset"
SHUTDOWN_PATH = "/_ttl_archive/shutdown"
FAULTS_PATH = "/_ttl_archive/faults"
SERVER_NAME = "dynamodb-ttl-archive local AWS"


def configured_port() -> int:
    """The port from ``TTL_ARCHIVE_LOCAL_PORT`` (default 4599)."""
    raw = os.environ.get(PORT_ENV, str(DEFAULT_PORT))
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{PORT_ENV} must be a port number between 1 and 65535, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{PORT_ENV} must be a port number between 1 and 65535, got {port}")
    return port


def endpoint_url(port: int | None = None) -> str:
    return f"http://{HOST}:{port or configured_port()}"


def log_path(port: int) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dynamodb-ttl-archive"
    base.mkdir(parents=True, exist_ok=True)
    return base / f"local-aws-{port}.log"


def _request(port: int, path: str, method: str = "GET", timeout: float = 2.0, payload: Any = None, raise_refusal: bool = False) -> dict[str, Any] | None:
    data = json.dumps(payload).encode() if payload is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(endpoint_url(port) + path, method=method, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            body = resp.read()
    except urllib.error.HTTPError as err:
        if not raise_refusal:
            return None
        body = err.read()
        try:
            detail = json.loads(body or b"{}").get("error", body.decode(errors="replace"))
        except ValueError:
            detail = body.decode(errors="replace")
        raise ValueError(f"the local AWS refused {method} {path}: {detail}") from None
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError):
        return None
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return None


def health(port: int | None = None, timeout: float = 2.0) -> dict[str, Any] | None:
    """The health report of our server on ``port``, or ``None`` if nothing (of ours) answers."""
    info = _request(port or configured_port(), HEALTH_PATH, timeout=timeout)
    if info and info.get("server") == SERVER_NAME:
        return info
    return None


def ensure_running(port: int | None = None, timeout: float = 60.0) -> str:
    """Start the embedded local AWS unless it already runs; return its endpoint URL.

    Idempotent: a healthy server on the port is reused (it may have been started by another kernel).
    Waits until the server answers its health check, or raises ``TimeoutError`` with the log's tail.
    """
    port = port or configured_port()
    info = health(port)
    if info:
        _warn_about_lost_state(info)
        return endpoint_url(port)
    log_file = log_path(port)
    with open(log_file, "ab") as log:
        subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "helpers.local", "serve", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the kernel that started it
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = health(port, timeout=1.0)
        if info:
            _warn_about_lost_state(info)
            return endpoint_url(port)
        time.sleep(0.1)
    tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
    raise TimeoutError(f"the embedded local AWS did not answer on {endpoint_url(port)} within {timeout:.0f} s; log {log_file}:\n{tail}")


def problems(port: int | None = None) -> list[dict[str, Any]] | None:
    """Errors inside the running local AWS's own runtime (stuck trigger, failed sweep...), or None when none runs."""
    info = health(port)
    return None if info is None else list(info.get("problems") or [])


def describe_problems(found: list[dict[str, Any]]) -> list[str]:
    """One line per runtime problem, for a person: state, source, what happened, how often, the error."""
    lines = []
    for entry in found:
        state = "ACTIVE" if entry.get("active") else "over"
        when = time.strftime("%H:%M:%S", time.localtime(entry.get("last_at", 0)))
        lines.append(f"[{state}] {entry.get('source')}: {entry.get('what')} ({entry.get('count')}x, last at {when}): {entry.get('error')}"
                     + (f"; {entry['outcome']}" if entry.get("outcome") else ""))
    return lines


def reset(port: int | None = None) -> bool:
    """Empty every resource, the runtime's state and the saved state. Returns False when no server runs
    (use :func:`clear_saved_state` then: the saved state is what the next start would restore)."""
    return _request(port or configured_port(), RESET_PATH, method="POST", timeout=30) is not None


def state_report(port: int | None = None) -> list[str]:
    """Where the running server keeps its state and what its last start restored or lost (lines for a person)."""
    from .state_store import describe

    info = health(port)
    if not info:
        return [f"not running (nothing answers on {endpoint_url(port)})"]
    state = info.get("state") or {}
    lines = [f"state saved in {state['folder']}" if state.get("folder") else "state kept in memory only (TTL_ARCHIVE_LOCAL_STATE=off)"]
    return lines + describe(state.get("restore") or {})


def clear_saved_state(port: int | None = None) -> list[str]:
    """Delete the saved state of the (stopped) server on ``port``; returns the files removed."""
    from .state_store import clear, state_dir

    return clear(state_dir(port or configured_port()))


_warned_restores: set[Any] = set()


def _warn_about_lost_state(info: dict[str, Any]) -> None:
    """Once per process and restart: say what a restart could not restore and what to re-run."""
    from .state_store import describe

    report = ((info.get("state") or {}).get("restore")) or {}
    if not report.get("lost"):
        return
    key = (info.get("pid"), report.get("saved_at"), report.get("set_aside"))
    if key in _warned_restores:
        return
    _warned_restores.add(key)
    import warnings

    text = report.get("note") if not report.get("restored") else "; ".join(describe(report)[1:])
    warnings.warn(f"The embedded local AWS restarted without part of its saved state: {text}", LocalStateLost, stacklevel=3)


class LocalStateLost(UserWarning):
    """The embedded local AWS could not restore (part of) its saved state after a restart."""


def stop(port: int | None = None, timeout: float = 10.0) -> bool:
    """Stop the server on ``port``. Returns False when none was running; waits until the port is free."""
    port = port or configured_port()
    info = health(port)
    if not info:
        return False
    _request(port, SHUTDOWN_PATH, method="POST")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not health(port, timeout=0.5):
            return True
        time.sleep(0.1)
    try:
        os.kill(int(info["pid"]), signal.SIGTERM)
    except (OSError, KeyError, ValueError):
        pass
    return True


def set_faults(port: int | None = None, **faults: Any) -> dict[str, Any]:
    """Replace the running server's injected faults (local testing only; see ``runtime/faults.py``).

    Keys: ``seed``, ``firehose_record_failure_rate``, ``firehose_call_failure_rate``,
    ``lambda_crash_rate``, ``lambda_timeout_rate`` (probabilities 0-1), ``firehose_call_failures`` (the next
    N Firehose calls fail with HTTP 500), ``trigger_error_keys`` (records the trigger itself fails on),
    ``delivery_streams`` and ``functions`` (optional name lists). Returns the fault set now in force; raises ValueError for a
    bad key or value and RuntimeError when no server runs.
    """
    result = _request(port or configured_port(), FAULTS_PATH, method="POST", payload=faults, timeout=10, raise_refusal=True)
    if result is None:
        raise RuntimeError(f"no embedded local AWS answers on {endpoint_url(port)}")
    return result


def clear_faults(port: int | None = None) -> bool:
    """Remove every injected fault. Returns False when no server runs."""
    return _request(port or configured_port(), FAULTS_PATH, method="DELETE", timeout=10) is not None


# --------------------------------------------------------------------------- the server process


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _host_and_port(value: str) -> tuple[str, str]:
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:4599
        host, _, rest = value.partition("]")
        return host + "]", rest.removeprefix(":")
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return host, port


def _is_loopback_name(host: str) -> bool:
    # *.localhost resolves to loopback without DNS (RFC 6761), so it cannot be rebound; S3 virtual-host
    # addressing against http://localhost:<port> uses <bucket>.localhost
    return host in LOOPBACK_NAMES or host.endswith(".localhost")


def refusal(environ: dict[str, Any], port: int) -> str | None:
    """Why a request must be refused (cross-site protection), or None to serve it.

    * The ``Host`` header must name the loopback address or ``localhost`` with this server's port: a DNS
      rebinding page (``http://evil.example:4599`` resolving to 127.0.0.1) sends its own name.
    * A request carrying a browser ``Origin`` must come from a local page (loopback or ``localhost``, any port,
      http or https): a page of another site cannot call the APIs or reset the state. SDKs and the AWS CLI
      send no ``Origin``.
    """
    host, host_port = _host_and_port(environ.get("HTTP_HOST", ""))
    if not _is_loopback_name(host) or host_port != str(port):
        return f"Host {environ.get('HTTP_HOST', '')!r} is not this local server (127.0.0.1:{port} or localhost:{port})"
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None:
        scheme, _, rest = origin.strip().lower().partition("://")
        origin_host, _ = _host_and_port(rest.split("/", 1)[0])
        if scheme not in ("http", "https") or not _is_loopback_name(origin_host):
            return f"Origin {origin!r} is not a local page; the local AWS answers only local pages, SDKs and the AWS CLI"
    return None


def _gated(environ: dict[str, Any]) -> bool:
    """Requests that hold the state gate while moto handles them: all but those that wait on other requests
    (Lambda Invoke runs a function that calls this server) or wait long (SQS ReceiveMessage long polls)."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/2015-03-31/functions/") and path.endswith("/invocations"):
        return False
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target != "AmazonSQS.ReceiveMessage"


class _Extensions:
    """WSGI middleware: cross-site protection, then our health/reset/shutdown routes in front of moto's application."""

    def __init__(self, moto_app: Callable, on_reset: Callable[[], None], on_shutdown: Callable[[], None], started: float, port: int = 0,
                 store: Any = None):
        self.moto_app = moto_app
        self.on_reset = on_reset
        self.on_shutdown = on_shutdown
        self.started = started
        self.port = port
        self.store = store

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        refused = refusal(environ, self.port) if self.port else None
        if refused is not None:
            from .runtime.state import METRICS

            METRICS.add("server.requests_refused")
            LOG.warning("refused %s %s: %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), refused)
            return self._json(start_response, {"error": f"Forbidden: {refused}"}, 403)
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            return self._json(start_response, self.health())
        if path == RESET_PATH and environ.get("REQUEST_METHOD") == "POST":
            self.on_reset()
            return self._json(start_response, {"reset": True})
        if path == SHUTDOWN_PATH and environ.get("REQUEST_METHOD") == "POST":
            threading.Thread(target=self.on_shutdown, daemon=True).start()
            return self._json(start_response, {"stopping": True})
        from . import runtime, state_store

        if path == FAULTS_PATH:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            code, payload = runtime.handle_faults(environ.get("REQUEST_METHOD", "GET"), body)
            return self._json(start_response, payload, code)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            runtime.METRICS.add("server.writes")  # the state changed: the saver writes it again
            name = state_store.signing_name(environ)
            runtime.METRICS.add(f"server.writes.{name if name in state_store.SIGNING_NAMES else 'unknown'}")
        lock = runtime.dynamodb_request_lock(environ)
        if not _gated(environ):
            return self.moto_app(environ, start_response)
        with runtime.GATE.shared():  # a state snapshot waits until this request is done
            if lock is None:
                return list(self.moto_app(environ, start_response))
            with lock:  # moto has no locking; the TTL sweeper's check-and-delete must be atomic
                return list(self.moto_app(environ, start_response))

    def health(self) -> dict[str, Any]:
        import moto

        from . import runtime

        return {
            "server": SERVER_NAME,
            "pid": os.getpid(),
            "moto": moto.__version__,
            "uptime_seconds": round(time.time() - self.started, 3),
            "runtime": runtime.status(),
            "problems": runtime.problems(),
            "requests_refused": runtime.METRICS.get("server.requests_refused"),
            "state": self.store.status() if self.store is not None else None,
        }

    @staticmethod
    def _json(start_response: Callable, payload: dict[str, Any], code: int = 200) -> list[bytes]:
        body = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed"}.get(code, "Error")
        start_response(f"{code} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def serve(port: int | None = None) -> None:
    """Run the server in this process until shutdown (``python -m helpers.local serve``)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from . import runtime, state_store

    port = port or configured_port()
    logging.basicConfig(level=os.environ.get("TTL_ARCHIVE_LOCAL_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    runtime.prepare()  # before the first request: patches moto where it must behave like AWS
    store = state_store.StateStore(state_store.state_dir(port))
    store.restore()  # before the runtime starts: triggers resume from their saved checkpoints
    moto_app = DomainDispatcherApplication(create_backend_app)
    server_box: dict[str, Any] = {}

    def do_reset() -> None:
        from moto.moto_api._internal.models import moto_api_backend

        runtime.reset()
        moto_api_backend.reset()
        store.forget()

    def do_shutdown() -> None:
        time.sleep(0.05)  # let the shutdown request's response go out first
        runtime.stop()  # Firehose writes what it buffered; triggers stop at their checkpoints
        store.stop()  # then the final state is saved
        server_box["server"].shutdown()

    app = _Extensions(moto_app, do_reset, do_shutdown, time.time(), port, store)
    class KeepAliveHandler(MotoRequestHandler):
        # HTTP/1.1 keeps connections open between requests (werkzeug's default, HTTP/1.0, closes every
        # one), so boto3's connection pools are reused as they are against AWS.
        protocol_version = "HTTP/1.1"

    server = make_server(HOST, port, app, threaded=True, request_handler=KeepAliveHandler)
    server_box["server"] = server
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=do_shutdown, daemon=True).start())
    runtime.start(endpoint_url(port))
    store.start(runtime.SETTINGS.state_save_seconds)
    LOG.info("%s listening on %s (pid %s), state in %s", SERVER_NAME, endpoint_url(port), os.getpid(), store.folder or "memory only")
    try:
        server.serve_forever()
    finally:
        runtime.stop()
        store.stop()
