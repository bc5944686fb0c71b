"""The Lambda worker process: runs one function's handler, one invocation at a time.

Stands in for the AWS Lambda Python runtime only. Started by :mod:`.lambda_runtime` as
``python lambda_worker.py`` (standard library only; the project's source tree is not put on its path) with the
function's environment, ``LAMBDA_TASK_ROOT`` = the unpacked zip and ``_HANDLER`` = "module.function".

Protocol (one JSON document per line): the worker first writes ``{"ready": true}`` (or
``{"ready": false, "error": {...}}`` when the handler cannot be imported); then, for each request line
``{"request_id", "remaining_ms", "event", "fault"}`` on stdin it writes ``{"ok": true, "payload": ...}``
or ``{"ok": false, "error": {"errorMessage", "errorType", "requestId", "stackTrace"}}``. The
handler's own prints go to stderr (the server log), never into the protocol stream.
"""

import importlib
import json
import os
import sys
import time
import traceback


class LambdaContext:
    """The attributes and method of the AWS Lambda Python context object that handlers use."""

    def __init__(self, request_id, remaining_ms):
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("TTL_ARCHIVE_LOCAL_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + remaining_ms / 1000.0

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc, request_id):
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]),
    }


def main():
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # print() in the handler goes to stderr
    sys.stdout = sys.stderr
    requests = sys.stdin

    def send(message):
        protocol.write(json.dumps(message, separators=(",", ":")) + "\n")
        protocol.flush()

    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # noqa: BLE001 - reported as AWS reports an init error
        error = _error(exc, "")
        error["errorType"] = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else "Runtime.HandlerNotFound"
        error["errorMessage"] = f"Unable to import module '{module_name}': {exc}" if isinstance(exc, ImportError) else f"Handler '{function_name}' missing on module '{module_name}': {exc}"
        send({"ready": False, "error": error})
        return 1
    send({"ready": True})
    for line in requests:
        request = json.loads(line)
        request_id = request["request_id"]
        context = LambdaContext(request_id, request["remaining_ms"])
        try:
            result = handler(request["event"], context)
            try:
                reply = {"ok": True, "payload": result}
                text = json.dumps(reply, separators=(",", ":"))
            except (TypeError, ValueError) as exc:
                reply = {"ok": False, "error": {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError", "requestId": request_id, "stackTrace": []}}
                text = json.dumps(reply)
        except Exception as exc:  # noqa: BLE001 - an unhandled error is the invocation's result
            traceback.print_exc()
            text = json.dumps({"ok": False, "error": _error(exc, request_id)})
        fault = request.get("fault")
        if fault == "crash":  # injected: the handler ran, the process dies before answering
            sys.stderr.flush()
            os._exit(1)
        if fault == "timeout":  # injected: the handler ran, the answer never comes
            time.sleep(10**6)
        protocol.write(text + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
