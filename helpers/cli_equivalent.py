"""The AWS CLI equivalent of what a helper did: record its boto3 calls and render them as ``aws ...`` commands.

Generic, not written per step: botocore emits events around every API call, and :func:`recording`
listens to them on the session, so whatever a helper calls is what the reader sees::

    from helpers.cli_equivalent import recording

    with recording(sess) as calls:
        outcome = ensure_table(sess, settings)
    calls.show()        # a ```bash block in Jupyter, plain text otherwise
    calls.commands      # ["aws dynamodb describe-table --table-name ...", "aws dynamodb create-table ...", ...]

What is recorded
----------------
* Every call that reached the wire: read calls (``describe-*``, ``get-*``, ``list-*``...) as well as
  the changes, because "look before you change" is part of what the walkthrough teaches. Pass
  ``mutating_only=True`` (to :func:`recording` or to :meth:`Calls.show`) for only the calls that change
  something (the operation name does not start with a read verb such as Describe/Get/List/Head/Query/Scan).
* Calls that AWS answered with an error are kept and marked (``show`` appends ``# -> ErrorCode``): a
  ``ResourceNotFoundException`` from a describe is how an idempotent helper learns it must create.
  Calls rejected by botocore before sending (parameter validation) never reached AWS and are not recorded.
* A waiter's polls are recorded one by one; ``show`` folds consecutive identical commands into one line
  with a count.

How a call is rendered
----------------------
* Service: the botocore service name, which is the CLI's command, except ``s3`` -> ``s3api`` (plus the
  CLI's two other renames, ``config`` -> ``configservice`` and ``codedeploy`` -> ``deploy``).
* Operation: ``CreateTable`` -> ``create-table`` (botocore's ``xform_name`` with ``-``).
* Parameters, in the order given: ``--kebab-case`` flags; structures, lists and maps as JSON; booleans as
  ``--flag`` / ``--no-flag``; timestamps in ISO 8601; blobs as placeholders (``fileb://<name>.bin`` at the
  top level, a streaming body as a file name, ``"<N bytes>"`` inside JSON) since bytes do not belong in a
  command line. Every value is shell-quoted (``shlex.quote``). A call whose response is a stream
  (``get-object``) gets the CLI's positional output file: the last part of the object key.
* ``--region`` is added with the client's region, and ``--endpoint-url`` when the session targets an
  emulator (the embedded local AWS or ``AWS_ENDPOINT_URL``), so the command goes where the call went.

Which clients are seen
----------------------
botocore copies the session's event emitter into each client when the client is created. The hooks are
registered on the session when the ``with`` block starts, so **clients created inside the block are
recorded and clients created before it are not**. Every helper in this package creates its clients
inside the call, so wrapping the helper call is enough. When the block ends the hooks are removed from
the session, and the copies inside clients created in the block go quiet (a client kept after the block
records nothing more).
"""

from __future__ import annotations

import datetime as _dt
import json
import shlex
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import boto3
from botocore import xform_name
from botocore.model import OperationModel, Shape

CLI_SERVICE_NAMES = {"s3": "s3api", "config": "configservice", "codedeploy": "deploy"}
READ_PREFIXES = ("Describe", "Get", "List", "Head", "Query", "Scan", "BatchGet", "Lookup", "Search", "Select", "Check", "Estimate", "Simulate", "Test", "Validate")
_CONTEXT_KEY = "ttl_archive_cli_equivalent"
_WRAP_AT = 100  # show() breaks commands with longer parameters into one parameter per line


def cli_service_name(service_name: str) -> str:
    """The ``aws <service>`` word for a botocore service name (``s3`` -> ``s3api``)."""
    return CLI_SERVICE_NAMES.get(service_name, service_name)


def is_mutating(operation_name: str) -> bool:
    """False for operations whose name starts with a read verb (Describe, Get, List, Head, Query, Scan...)."""
    return not operation_name.startswith(READ_PREFIXES)


@dataclass
class RecordedCall:
    """One API call as the CLI would make it."""

    service: str  # botocore service name, e.g. "dynamodb", "s3"
    operation: str  # API name, e.g. "CreateTable"
    arguments: list[str]  # the rendered "--flag value" tokens, already shell-quoted
    region: str | None = None
    endpoint_url: str | None = None
    error: str | None = None  # the error code AWS answered with, or the exception name

    @property
    def mutating(self) -> bool:
        return is_mutating(self.operation)

    def _global_options(self) -> list[str]:
        tail: list[str] = []
        if self.region:
            tail += ["--region", shlex.quote(self.region)]
        if self.endpoint_url:
            tail += ["--endpoint-url", shlex.quote(self.endpoint_url)]
        return tail

    def tokens(self) -> list[str]:
        head = ["aws", cli_service_name(self.service), xform_name(self.operation, "-")]
        return head + self.arguments + self._global_options()

    @property
    def command(self) -> str:
        """The command on one line."""
        return " ".join(self.tokens())

    def wrapped(self) -> str:
        """The command with one parameter per line (backslash continuations) when the parameters are
        long; ``--region`` and ``--endpoint-url`` share the last line."""
        head = ["aws", cli_service_name(self.service), xform_name(self.operation, "-")]
        if len(" ".join(head + self.arguments)) <= _WRAP_AT:
            return self.command
        lines = [" ".join(head)]
        for tok in self.arguments:
            if tok.startswith("--") or len(lines) == 1:
                lines.append("    " + tok)
            else:
                lines[-1] += " " + tok
        tail = self._global_options()
        if tail:
            lines.append("    " + " ".join(tail))
        return " \\\n".join(lines)


@dataclass
class Calls:
    """The calls recorded by one :func:`recording` block, in the order they were made."""

    calls: list[RecordedCall] = field(default_factory=list)
    mutating_only: bool = False

    def _selected(self, mutating_only: bool | None = None) -> list[RecordedCall]:
        only = self.mutating_only if mutating_only is None else mutating_only
        return [c for c in self.calls if c.mutating or not only]

    @property
    def commands(self) -> list[str]:
        """One single-line ``aws ...`` command per recorded call (waiter polls included, unfolded)."""
        return [c.command for c in self._selected()]

    def __len__(self) -> int:
        return len(self._selected())

    def __iter__(self) -> Iterator[RecordedCall]:
        return iter(self._selected())

    def text(self, mutating_only: bool | None = None, per_operation: int | None = None) -> str:
        """The commands as a shell script: long ones wrapped, failed calls marked with ``# -> Code``,
        consecutive repeats (a waiter polling) folded into one line with their count. With
        ``per_operation=N``, at most N commands of each operation are written out and a closing comment
        counts the rest (a loop of a thousand ``batch-write-item`` calls reads as two and a count)."""
        blocks: list[str] = []
        previous: str | None = None
        count = 0
        shown: dict[str, int] = {}
        left_out: dict[str, int] = {}

        def flush() -> None:
            if previous is not None:
                blocks.append(previous + (f"  # x{count} (polling until ready)" if count > 1 else ""))

        for call in self._selected(mutating_only):
            name = " ".join(call.tokens()[:3])  # "aws dynamodb batch-write-item"
            if per_operation is not None and shown.get(name, 0) >= per_operation:
                left_out[name] = left_out.get(name, 0) + 1
                continue
            rendered = call.wrapped() + (f"  # -> {call.error}" if call.error else "")
            if rendered == previous:
                count += 1
                continue
            shown[name] = shown.get(name, 0) + 1
            flush()
            previous, count = rendered, 1
        flush()
        blocks += [f"# ... and {n:,} more `{name}` call{'s' if n > 1 else ''} like the above" for name, n in left_out.items()]
        return "\n".join(blocks) if blocks else "# (no AWS calls were made)"

    def _repr_markdown_(self) -> str:
        body = self.text()
        fence = "```"
        while fence in body:
            fence += "`"
        return f"{fence}bash\n{body}\n{fence}"

    def show(self, mutating_only: bool | None = None, per_operation: int | None = None) -> None:
        """Display the commands (see :meth:`text`): a Markdown ``bash`` block in Jupyter, plain text elsewhere."""
        text = self.text(mutating_only, per_operation)
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:  # pragma: no cover - IPython ships with the project
            shell = None
        if shell is not None and getattr(shell, "kernel", None) is not None:
            from IPython.display import Markdown, display

            fence = "```"
            while fence in text:
                fence += "`"
            display(Markdown(f"{fence}bash\n{text}\n{fence}"))
        else:
            print(text)


# --------------------------------------------------------------------------- rendering


def _placeholder_bytes(value: Any) -> str:
    size = len(value) if isinstance(value, (bytes, bytearray, str)) else None
    return f"<{size} bytes>" if size is not None else "<binary data>"


def _plain(value: Any, shape: Shape | None) -> Any:
    """The JSON the CLI accepts for ``value`` (blobs become placeholders, timestamps ISO 8601)."""
    type_name = shape.type_name if shape is not None else None
    if type_name == "blob" or isinstance(value, (bytes, bytearray)):
        return _placeholder_bytes(value)
    if isinstance(value, dict):
        if type_name == "structure":
            members = shape.members  # type: ignore[union-attr]
            return {k: _plain(v, members.get(k)) for k, v in value.items()}
        if type_name == "map":
            return {k: _plain(v, shape.value) for k, v in value.items()}  # type: ignore[union-attr]
        return {k: _plain(v, None) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        member = shape.member if type_name == "list" else None  # type: ignore[union-attr]
        return [_plain(v, member) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if hasattr(value, "read"):
        return "<stream>"
    return value


def render_arguments(params: dict[str, Any], input_shape: Shape | None) -> list[str]:
    """The ``--flag value`` tokens, shell-quoted, for API parameters ``params`` of an operation."""
    members = input_shape.members if input_shape is not None else {}
    tokens: list[str] = []
    for name, value in params.items():
        shape = members.get(name)
        flag = "--" + xform_name(name, "-")
        type_name = shape.type_name if shape is not None else None
        if type_name == "boolean" or isinstance(value, bool):
            tokens.append(flag if value else "--no-" + flag[2:])
        elif type_name == "blob" or isinstance(value, (bytes, bytearray)) or hasattr(value, "read"):
            streaming = shape is not None and bool(shape.metadata.get("streaming") or shape.serialization.get("streaming"))
            placeholder = f"{xform_name(name, '-')}.bin" if streaming else f"fileb://{xform_name(name, '-')}.bin"
            tokens += [flag, shlex.quote(placeholder)]
        elif isinstance(value, (dict, list, tuple)):
            tokens += [flag, shlex.quote(json.dumps(_plain(value, shape), default=str))]
        elif isinstance(value, (_dt.datetime, _dt.date)):
            tokens += [flag, shlex.quote(value.isoformat())]
        else:
            tokens += [flag, shlex.quote(str(value))]
    return tokens


def render_command(service_name: str, operation_name: str, params: dict[str, Any], *, region: str | None = None, endpoint_url: str | None = None, input_shape: Shape | None = None) -> str:
    """One ``aws ...`` command for an API call (no AWS access; used by :func:`recording` and tests)."""
    return RecordedCall(service_name, operation_name, render_arguments(params, input_shape), region, endpoint_url).command


def _outfile(model: OperationModel, params: dict[str, Any]) -> list[str]:
    """The positional file the AWS CLI writes a streaming response to (``get-object ... <outfile>``):
    the object key's last part, so the command runs as shown."""
    if not model.has_streaming_output:
        return []
    name = str(params.get("Key") or "output.bin").rstrip("/").rsplit("/", 1)[-1] or "output.bin"
    return [shlex.quote(name)]


# --------------------------------------------------------------------------- recording


@contextmanager
def recording(session: boto3.Session, *, mutating_only: bool = False) -> Iterator[Calls]:
    """Record the API calls made by clients created from ``session`` inside the block.

    Yields a :class:`Calls` that fills as calls are made; see the module docstring for what is
    recorded and how. ``mutating_only=True`` makes ``commands`` and ``show()`` leave out read calls.
    Nesting is allowed (each block records independently). The session's hooks are removed on exit.
    """
    from .target import endpoint_of

    calls = Calls(mutating_only=mutating_only)
    endpoint_url = endpoint_of(session)
    active = {"on": True}
    uid = f"cli-equivalent-{uuid.uuid4().hex}"

    def on_params(params: dict[str, Any], model: OperationModel, context: dict[str, Any], **_: Any) -> None:
        if not active["on"]:
            return None
        try:
            arguments = render_arguments(params, model.input_shape) + _outfile(model, params)
        except Exception as err:  # noqa: BLE001 - recording must never break the call it watches
            arguments = [f"# (could not render parameters: {type(err).__name__})"]
        context.setdefault(_CONTEXT_KEY, {})[uid] = RecordedCall(model.service_model.service_name, model.name, arguments, endpoint_url=endpoint_url)
        return None

    def on_before_call(context: dict[str, Any], request_signer: Any = None, **_: Any) -> None:
        call = context.get(_CONTEXT_KEY, {}).get(uid)
        if call is None or not active["on"]:
            return None
        call.region = getattr(request_signer, "region_name", None) or session.region_name
        calls.calls.append(call)
        return None

    def on_after_call(context: dict[str, Any], http_response: Any = None, parsed: Any = None, **_: Any) -> None:
        call = context.get(_CONTEXT_KEY, {}).get(uid)
        if call is None:
            return None
        status = getattr(http_response, "status_code", 200)
        if status >= 300 and isinstance(parsed, dict):
            call.error = parsed.get("Error", {}).get("Code") or f"HTTP {status}"
        return None

    def on_after_call_error(context: dict[str, Any], exception: BaseException | None = None, **_: Any) -> None:
        call = context.get(_CONTEXT_KEY, {}).get(uid)
        if call is not None and exception is not None:
            call.error = type(exception).__name__
        return None

    hooks = (
        ("provide-client-params", on_params),
        ("before-call", on_before_call),
        ("after-call", on_after_call),
        ("after-call-error", on_after_call_error),
    )
    events = session.events
    for event, handler in hooks:
        events.register(event, handler, unique_id=f"{uid}-{event}")
    try:
        yield calls
    finally:
        active["on"] = False
        for event, _handler in hooks:
            events.unregister(event, unique_id=f"{uid}-{event}")
