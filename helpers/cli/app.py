"""The ``ttl-archive`` framework: parser, common options, Settings and Context, output, exit codes."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from types import ModuleType
from typing import Any, Sequence

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from .. import target as target_mod
from ..settings import SettingsError
from .context import EXIT_COULD_NOT_RUN, EXIT_USAGE, Context, CouldNotRun, Result, UsageError

LOG = logging.getLogger("helpers.cli")
PROG = "ttl-archive"


def load(name: str) -> ModuleType:
    """The subcommand module ``helpers.cli.<name>`` (``-`` in a name becomes ``_``)."""
    return importlib.import_module(f"helpers.cli.{name.replace('-', '_')}")


def _summary(module: ModuleType) -> tuple[str, str]:
    doc = (module.__doc__ or "").strip()
    first, _, rest = doc.partition("\n")
    return first.strip(), rest.strip()


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--stack", metavar="NAME", help="stack name (default $TTL_ARCHIVE_STACK or ttl-archive-demo)")
    group.add_argument("--target", choices=target_mod.TARGETS, help="local: the embedded local AWS; aws: the credential chain (default $TTL_ARCHIVE_TARGET or local)")
    group.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else there")
    group.add_argument("--verbose", action="store_true", help="log what each step does (stderr)")
    return common


def build_parser(commands: Sequence[str]) -> argparse.ArgumentParser:
    """The parser with one subparser per module in ``commands``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Archive DynamoDB items to S3 when TTL deletes them: deploy, check and remove the pipeline.",
        epilog="exit status: 0 success, 1 the check failed, 2 usage or settings error (nothing done), 3 could not run.\n"
        f"Run '{PROG} COMMAND --help' for a command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _common_options()
    for name in commands:
        module = load(name)
        summary, description = _summary(module)
        command = sub.add_parser(
            module.NAME, help=summary, description=f"{summary}\n\n{description}".strip(), parents=[common],
            epilog="examples:\n" + module.EXAMPLES.rstrip(), formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(_module=module)
    return parser


def _overrides(args: argparse.Namespace, module: ModuleType) -> tuple[dict[str, Any], dict[str, str]]:
    overrides: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if args.stack is not None:
        overrides["stack"], sources["stack"] = args.stack, "--stack"
    if args.target is not None:
        overrides["target"], sources["target"] = args.target, "--target"
    extra = getattr(module, "settings_overrides", None)
    if extra is not None:
        for key, (value, source) in extra(args).items():
            overrides[key], sources[key] = value, source
    return overrides, sources


def error_exit(err: BaseException) -> tuple[int, str]:
    """The exit code and one-sentence message for an error that escaped a subcommand."""
    if isinstance(err, (SettingsError, UsageError)):
        return EXIT_USAGE, str(err)
    if isinstance(err, target_mod.UNREACHABLE_ERRORS):
        return EXIT_COULD_NOT_RUN, str(target_mod.unreachable(err, target_mod.endpoint_of_error(err)))
    if isinstance(err, (target_mod.CredentialsMissing, target_mod.EndpointUnreachable, CouldNotRun)):
        return EXIT_COULD_NOT_RUN, str(err)
    if isinstance(err, NoCredentialsError):
        return EXIT_COULD_NOT_RUN, "No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --target local."
    if isinstance(err, NoRegionError):
        return EXIT_COULD_NOT_RUN, "No AWS region set: set AWS_REGION (for example AWS_REGION=ap-northeast-1)."
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return EXIT_COULD_NOT_RUN, f"AWS refused {err.operation_name}: {error.get('Code', '?')}: {error.get('Message', '')}"
    if isinstance(err, ValueError):
        return EXIT_USAGE, str(err)
    return EXIT_COULD_NOT_RUN, f"could not run: {type(err).__name__}: {err}"


def _emit(ctx_json: bool, result: Result) -> None:
    if ctx_json:
        print(json.dumps(result.data, sort_keys=True, default=str))
    elif result.text:
        print(result.text)


def main(argv: Sequence[str] | None = None, commands: Sequence[str] | None = None) -> int:
    """Run ``ttl-archive``; returns the exit status (0 success, 1 check failed, 2 usage/settings, 3 could not run)."""
    from . import COMMANDS

    parser = build_parser(commands or COMMANDS)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return int(exit_.code or 0)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    module = args._module
    try:
        overrides, sources = _overrides(args, module)
        ctx = Context(args, overrides=overrides, sources=sources)
        if getattr(module, "NEEDS_SETTINGS", True):
            ctx.settings  # noqa: B018 - parse every setting before the command does anything
        result = module.run(args, ctx)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - mapped to an exit status and one message
        code, message = error_exit(err)
        LOG.debug("%s failed", module.NAME, exc_info=True)
        if args.verbose and code == EXIT_COULD_NOT_RUN:
            LOG.error("%s", message, exc_info=err)
        print(f"{PROG} {module.NAME}: {message}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": message, "exit_code": code, "command": module.NAME}, sort_keys=True))
        return code
    _emit(args.json, result)
    return result.exit_code
