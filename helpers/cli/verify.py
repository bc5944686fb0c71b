"""Prove the deployed pipeline: write items that expire, wait until the archive holds every one, compare.

Writes N items whose TTL is already past under keys unique to the run (verify-<run>-...), plus controls
that must not be archived (a future TTL, one deleted by hand, one whose TTL is refreshed), then waits until
every expired item is in the archive or the timeout passes. On AWS, TTL deletes within days, not seconds:
the run is saved and 'ttl-archive verify' checks the same run again later (--new-run starts another). On the
aws target it asks for confirmation unless --yes, since it writes to the table. Exit status 0 when nothing
is missing or unexpected and the controls are still in the table, 1 otherwise.
"""

from __future__ import annotations

import argparse

from .context import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, Context, CouldNotRun, Result, UsageError

NAME = "verify"
EXAMPLES = """\
  ttl-archive verify
  ttl-archive verify --items 500 --timeout 300 --json
  ttl-archive verify --target aws --yes            # later: the same command checks the saved run again"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--items", type=int, default=None, help="expired items to write (default $TTL_ARCHIVE_VERIFY_ITEMS or 100)")
    parser.add_argument("--future", type=int, default=None, help="items with a future TTL (default $TTL_ARCHIVE_VERIFY_FUTURE_ITEMS or 5)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait (default $TTL_ARCHIVE_VERIFY_TIMEOUT or 120)")
    parser.add_argument("--new-run", action="store_true", help="start a new run instead of checking the saved one (AWS)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation on the aws target")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from .. import dynamodb, verify
    from ..settings import parameter

    items = args.items if args.items is not None else parameter("VERIFY_ITEMS")
    future = args.future if args.future is not None else parameter("VERIFY_FUTURE_ITEMS")
    timeout = args.timeout if args.timeout is not None else parameter("VERIFY_TIMEOUT")
    if not 1 <= items <= 1_000_000 or not 0 <= future <= 100_000 or not timeout > 0:
        raise UsageError("--items must be 1-1000000, --future 0-100000 and --timeout greater than 0")
    settings = ctx.settings
    if settings.ttl_attribute in (settings.partition_key, settings.sort_key):
        raise UsageError(
            f"verify writes test items whose TTL ({settings.ttl_attribute}) differs from their key; with TTL on the key attribute "
            f"{settings.ttl_attribute!r} write items with a past {settings.ttl_attribute} yourself and check with 'ttl-archive status'"
        )
    ident = ctx.identity()
    settings = settings.with_account(ident.account_id, ident.region)
    ctx.say(f"Region {ident.region}, account {ident.account_id}; stack {settings.stack}, table {settings.table_name}, bucket {settings.bucket_name}")
    if ctx.target == "aws" and not args.yes:
        if not ctx.stdin.isatty():
            return Result(EXIT_USAGE, {"verified": False, "reason": "confirmation needed"}, "Not confirmed: verify writes test items to the table; pass --yes when not running from a terminal.")
        if not ctx.confirm(f"Write {items + future + 2} test items to {settings.table_name} in account {ident.account_id}?"):
            return Result(EXIT_CHECK_FAILED, {"verified": False, "reason": "declined"}, "Declined: nothing was written.")
    sess = ctx.session()
    try:
        test_run, resumed = verify.resume_or_start(sess, settings, ident, resume=None if not args.new_run else False,
                                                   expired=items, future=future, user_deleted=1, refreshed=1)
    except dynamodb.TableNotFound as err:
        raise CouldNotRun(f"{err} Deploy the stack first: ttl-archive deploy") from None
    ctx.say(("Checking the saved " if resumed else "Wrote ") + test_run.describe())
    report = verify.wait_for_archive(sess, test_run, timeout=timeout, progress=ctx.progress)
    data = {**report.to_dict(), "stack": settings.stack, "resumed": resumed, "region": ident.region}
    text = report.describe()
    if report.missing and ctx.target == "aws":
        text += "\nOn AWS, TTL deletes within days: run 'ttl-archive verify' again later to check this run."
    return Result(EXIT_OK if report.ok else EXIT_CHECK_FAILED, data, text)
