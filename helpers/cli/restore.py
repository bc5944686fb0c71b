"""Put archived items back into a DynamoDB table: the original one or another existing table.

Reads the stack's archive, selects items by deletion time (--since/--until), key values (--key NAME=VALUE,
repeatable: several values of one name are alternatives, different names must all match) or a pandas query
on the archive's frame (--where), and writes them back. By default a live item is never overwritten (a
conditional PutItem; such items are reported as "skipped: exists"); --overwrite writes with BatchWriteItem.
The TTL attribute is removed by default so TTL does not delete the item again; --ttl +DAYS sets a new expiry,
--ttl keep keeps it (with a warning). --dry-run prints what would be written. On the aws target it asks for
confirmation before writing unless --yes. Exit status 0 when every
selected item was restored or skipped by rule, 1 when some failed or nothing matched the selection.
"""

from __future__ import annotations

import argparse

from .context import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, Context, CouldNotRun, Result, UsageError

NAME = "restore"
EXAMPLES = """\
  ttl-archive restore --since 2026-11-01T00:00Z --until 2026-11-02T00:00Z --dry-run
  ttl-archive restore --key id=abc --to-table copy --json
  ttl-archive restore --where "kind == 'order' and total > 100" --ttl +30
  ttl-archive restore --key id=abc --overwrite --rate 200"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="T", help="items deleted at or after T (ISO 8601, UTC when no zone: 2026-11-01T00:00Z)")
    parser.add_argument("--until", metavar="T", help="items deleted before T")
    parser.add_argument("--key", metavar="NAME=VALUE", action="append", default=[], help="a key attribute's value (repeatable; numbers match by value, binary keys as base64)")
    parser.add_argument("--where", metavar="QUERY", help="a pandas DataFrame.query on the archive's frame, e.g. \"kind == 'order'\"")
    parser.add_argument("--to-table", metavar="NAME", help="write into this existing table (default: the table the items came from)")
    parser.add_argument("--ttl", default="remove", help="the TTL attribute: remove (default), keep (warns), or +DAYS for a new expiry")
    parser.add_argument("--overwrite", action="store_true", help="replace items that exist (default: skip them)")
    parser.add_argument("--dry-run", action="store_true", help="write nothing; print what would be written")
    parser.add_argument("--rate", type=float, metavar="ITEMS_PER_SECOND", help="write at most this many items a second")
    parser.add_argument("--folder", metavar="PATH", help="read a local copy of the bucket (aws s3 sync) instead of S3")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation before writing on the aws target")


def options(args: argparse.Namespace) -> dict:
    """The flags, checked before any AWS call (UsageError naming the flag)."""
    from .. import archived_items, restore, validation

    times = {}
    for flag in ("since", "until"):
        value = getattr(args, flag)
        try:
            times[flag] = archived_items.utc(value)
        except (ValueError, TypeError):
            raise UsageError(f"--{flag} {value!r} is not a time: use ISO 8601, e.g. 2026-11-01T00:00Z") from None
    if times["since"] is not None and times["until"] is not None and times["until"] <= times["since"]:
        raise UsageError("--until must be after --since")
    try:
        keys = archived_items.parse_key_filters(args.key)
        restore.TtlRule.parse(args.ttl)
        if args.to_table:
            validation.table_name(args.to_table)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.rate is not None and not args.rate > 0:
        raise UsageError("--rate must be a positive number of items per second")
    return {"since": times["since"], "until": times["until"], "keys": keys, "where": args.where, "to_table": args.to_table,
            "ttl": args.ttl, "overwrite": args.overwrite, "dry_run": args.dry_run, "rate": args.rate, "folder": args.folder}


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from .. import restore

    opts = options(args)
    settings = ctx.settings
    ident = ctx.identity()
    settings = settings.with_account(ident.account_id, ident.region)
    ctx.say(f"On {ctx.where()}; stack {settings.stack}")
    ask = None
    if ctx.target == "aws" and not args.yes:
        if not ctx.stdin.isatty() and not opts["dry_run"]:
            return Result(EXIT_USAGE, {"restored": 0, "reason": "confirmation needed"},
                          "Not confirmed: restore writes to a table; pass --yes when not running from a terminal (or --dry-run).")

        def ask(count: int, table: str) -> bool:
            return ctx.confirm(f"Write {count:,} items into {table} in account {ident.account_id}, region {ident.region}?")
    try:
        chosen, report = restore.restore_from_archive(ctx.session(), settings, say=ctx.say, progress=ctx.progress, confirm=ask, **opts)
    except restore.TableNotFound as err:
        raise CouldNotRun(str(err)) from None
    except ValueError as err:  # the --where filter, or items that name no single table without --to-table
        raise UsageError(str(err)) from None
    except FileNotFoundError as err:
        raise CouldNotRun(f"{err}: deploy the stack first (ttl-archive deploy), or pass --folder") from None
    data = {**report.to_dict(), "stack": settings.stack, "ambiguous_items": sum(1 for r in chosen.records if r.ambiguous)}
    if not len(chosen):
        return Result(EXIT_CHECK_FAILED, data, "No archived item matches the selection: nothing was written.")
    if "declined: nothing was written" in report.warnings:
        return Result(EXIT_CHECK_FAILED, data, "Declined: nothing was written.")
    text = report.describe()
    if data["ambiguous_items"]:
        text += f"\nwarning: {data['ambiguous_items']:,} items come from format-1 lines whose sets and binaries were restored as lists and strings"
    return Result(EXIT_OK if report.ok else EXIT_CHECK_FAILED, data, text)
