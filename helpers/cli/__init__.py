"""``ttl-archive``: one command line for the whole lifecycle (``python -m helpers`` is the same program).

One module per subcommand, listed in :data:`COMMANDS`. A subcommand module has::

    \"\"\"One-line summary. Then a paragraph shown in --help.\"\"\"
    NAME = "restore"
    EXAMPLES = \"\"\"\\
      ttl-archive restore --since 2026-11-01T00:00Z --dry-run\"\"\"
    def add_arguments(parser: argparse.ArgumentParser) -> None: ...   # the command's own options only
    def run(args: argparse.Namespace, ctx: Context) -> Result: ...

and optionally ``settings_overrides(args) -> {field: (value, "--flag")}`` (its flags that set a
:class:`~helpers.settings.Settings` field, checked with the rest before ``run``) and ``NEEDS_SETTINGS =
False`` (``local``: runs even when a setting is invalid).

The framework (:mod:`.app`) adds the common options ``--stack``, ``--target local|aws``, ``--json`` and
``--verbose``, parses every ``TTL_ARCHIVE_*`` setting before ``run`` (exit 2 naming the variable, nothing
done), builds the :class:`~.context.Context` and prints the :class:`~.context.Result`. Exit status:
0 success, 1 the check failed, 2 usage or settings error, 3 could not run.
"""

from __future__ import annotations

from typing import Sequence

from .context import EXIT_CHECK_FAILED, EXIT_COULD_NOT_RUN, EXIT_OK, EXIT_USAGE, Context, CouldNotRun, Result, UsageError

# In the order an operator meets them (``ttl-archive --help`` lists them so).
COMMANDS: list[str] = ["deploy", "status", "verify", "restore", "redrive", "reconcile", "demo", "sample", "destroy", "local", "capacity"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ttl-archive`` console script; returns the exit status."""
    from .app import main as run_main

    return run_main(argv)


def console() -> None:
    """The console script: exit with :func:`main`'s status."""
    raise SystemExit(main())


__all__ = ["COMMANDS", "Context", "CouldNotRun", "EXIT_CHECK_FAILED", "EXIT_COULD_NOT_RUN", "EXIT_OK", "EXIT_USAGE", "Result", "UsageError", "main"]
