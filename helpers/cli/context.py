"""What a subcommand's ``run(args, ctx)`` receives (:class:`Context`) and returns (:class:`Result`).

The framework (:mod:`helpers.cli.app`) builds the :class:`Context` after parsing the command line: the
parsed :class:`~helpers.settings.Settings` (every ``TTL_ARCHIVE_*`` variable checked before ``run`` starts),
the boto3 session for the target (created on first use), and how to talk to the operator (``say`` on
stderr, ``progress`` for tqdm bars, ``confirm`` for a yes/no question). ``run`` returns a :class:`Result`:
the framework prints ``json.dumps(data)`` on stdout with ``--json``, else ``text``, and exits with
``exit_code``. Library errors propagate out of ``run``; the framework maps them to exit codes 2 and 3.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..settings import Settings

EXIT_OK = 0  # success
EXIT_CHECK_FAILED = 1  # the command ran and its check failed (verify found missing items, status found a problem)
EXIT_USAGE = 2  # usage or settings error: nothing was done
EXIT_COULD_NOT_RUN = 3  # the command could not run (no credentials, endpoint unreachable, AWS refused)


class UsageError(ValueError):
    """A subcommand's options do not fit together (exit 2, nothing done)."""


class CouldNotRun(RuntimeError):
    """A subcommand cannot run in this situation; the message says why and what to do (exit 3)."""


@dataclass
class Result:
    """What a subcommand returns: ``exit_code`` (0/1/2/3), ``data`` (printed as one JSON object with
    ``--json``) and ``text`` (printed otherwise)."""

    exit_code: int = EXIT_OK
    data: dict[str, Any] = field(default_factory=dict)
    text: str = ""


class Context:
    """Settings, session and operator I/O for one subcommand run (see the module docstring)."""

    def __init__(self, args: argparse.Namespace, *, overrides: dict[str, Any] | None = None, sources: dict[str, str] | None = None,
                 stdin: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))
        self.verbose: bool = bool(getattr(args, "verbose", False))
        self.stdin = stdin or sys.stdin
        self.stderr = stderr or sys.stderr
        self._overrides = dict(overrides or {})
        self._sources = dict(sources or {})
        self._settings: Settings | None = None
        self._session: Any = None
        self._identity: Any = None

    # ------------------------------------------------------------------ settings and AWS
    @property
    def settings(self) -> Settings:
        """The parsed settings: defaults, ``TTL_ARCHIVE_*``, then ``--stack``/``--target`` and the command's own flags."""
        if self._settings is None:
            self._settings = Settings.from_env(sources=self._sources, **self._overrides)
        return self._settings

    @property
    def target(self) -> str:
        return self.settings.target

    def session(self) -> Any:
        """The boto3 session for the target (starts the embedded local AWS for ``local``)."""
        if self._session is None:
            from .. import target

            self._session = target.session(self.settings.target)
        return self._session

    def identity(self) -> Any:
        """Account, region and caller of the session (:class:`helpers.target.Identity`); one STS call, cached."""
        if self._identity is None:
            from .. import target

            self._identity = target.identity(self.session())
        return self._identity

    def where(self) -> str:
        """"account 123..., region us-east-1, as arn:... (endpoint ...)": say it before changing anything."""
        where = "the embedded local AWS" if self.settings.target == "local" else "AWS"
        return f"{where}: {self.identity().describe()}"

    # ------------------------------------------------------------------ talking to the operator
    @property
    def progress(self) -> bool:
        """True when a tqdm progress bar should be shown (human output on a terminal)."""
        return not self.json and self.stderr.isatty()

    def say(self, text: str) -> None:
        """A status line on stderr (stdout stays for the result)."""
        print(text, file=self.stderr, flush=True)

    def confirm(self, question: str) -> bool:
        """Ask ``question`` on the terminal; True only for an explicit yes. False when stdin is not a terminal."""
        if not self.stdin.isatty():
            return False
        print(f"{question} [y/N] ", end="", file=self.stderr, flush=True)
        answer = self.stdin.readline().strip().lower()
        return answer in {"y", "yes"}
