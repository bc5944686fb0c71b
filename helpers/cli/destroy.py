"""Delete what this stack created, in dependency order, and say what was kept and why.

Deletes only resources tagged for the stack (managed-by: dynamodb-ttl-archive, ttl-archive-stack: STACK).
Keeps, unless --force: a bucket that still holds archives, a table that still holds items, and a table
this stack did not create (existing-table mode). --dry-run shows what would be deleted and deletes nothing.
On the aws target it asks for confirmation unless --yes. Exit status 0 when nothing was kept or failed,
1 when something was kept or failed (the report says why and how to force).
"""

from __future__ import annotations

import argparse

from .context import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, Context, Result

NAME = "destroy"
EXAMPLES = """\
  ttl-archive destroy --dry-run
  ttl-archive destroy --stack orders-archive
  ttl-archive destroy --force --yes --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show what would be deleted or kept; delete nothing")
    parser.add_argument("--force", action="store_true", help="also delete a bucket holding archives, a table holding items, a table this stack did not create")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation on the aws target")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ..teardown import teardown

    ident = ctx.identity()
    settings = ctx.settings.with_account(ident.account_id, ident.region)
    ctx.say(f"Region {ident.region}, account {ident.account_id} ({'embedded local AWS' if ctx.target == 'local' else 'AWS'}; as {ident.arn})")
    ctx.say(f"Stack {settings.stack}" + (" (force)" if args.force else "") + (" (dry run)" if args.dry_run else ""))
    base = {"stack": settings.stack, "target": ctx.target, "account": ident.account_id, "region": ident.region, "dry_run": args.dry_run, "force": args.force}
    if ctx.target == "aws" and not args.dry_run and not args.yes:
        if not ctx.stdin.isatty():
            return Result(EXIT_USAGE, {**base, "destroyed": False, "reason": "confirmation needed"},
                          "Not confirmed: destroy on the aws target asks for confirmation; pass --yes when not running from a terminal. Nothing was deleted.")
        preview = teardown(ctx.session(), settings, force=args.force, dry_run=True, identity=ident)
        ctx.say(str(preview))
        if not ctx.confirm(f"Delete what is marked 'would delete' in account {ident.account_id}, region {ident.region}?"):
            return Result(EXIT_CHECK_FAILED, {**base, "destroyed": False, "reason": "declined"}, "Declined: nothing was deleted.")
    report = teardown(ctx.session(), settings, force=args.force, dry_run=args.dry_run, identity=ident)
    entries = [{"kind": e.kind, "name": e.name, "status": e.status, "reason": e.reason} for e in report.entries]
    data = {**base, "resources": entries, "notes": report.notes, "kept": len(report.kept), "failed": len(report.failed),
            "deleted": len(report.deleted), "would_delete": len(report.would_delete)}
    text = str(report)
    if report.kept and not args.force:
        text += "\nTo delete what was kept as well (after copying what you need): ttl-archive destroy --force"
    return Result(EXIT_CHECK_FAILED if report.kept or report.failed else EXIT_OK, data, text)
