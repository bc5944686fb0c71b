"""Compare TTL's own count of deletions with the archive, hour by hour.

Sums CloudWatch's TimeToLiveDeletedItemCount (AWS/DynamoDB, per table) per UTC hour and compares it with the
archived items per hour of deletion (duplicate deliveries removed). Lists every hour that differs and the
failure queue's state (notes waiting there: run 'ttl-archive redrive'). Exit status 0 when no hour differs,
1 otherwise.
"""

from __future__ import annotations

import argparse

from .context import EXIT_CHECK_FAILED, EXIT_OK, Context, CouldNotRun, Result, UsageError

NAME = "reconcile"
EXAMPLES = """\
  ttl-archive reconcile
  ttl-archive reconcile --since 2026-11-01T00:00Z --until 2026-11-08T00:00Z --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", default=None, help="start of the range, ISO 8601 UTC (default: 24 hours before --until)")
    parser.add_argument("--until", default=None, help="end of the range, ISO 8601 UTC (default: now)")
    parser.add_argument("--late-delivery-hours", type=float, default=25.0,
                        help="also read objects delivered up to this many hours after the range (default 25: redriven records count too)")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from datetime import timedelta

    from .. import reconcile

    try:
        since = reconcile._utc(args.since, "--since") if args.since else None
        until = reconcile._utc(args.until, "--until") if args.until else None
    except ValueError as err:
        raise UsageError(str(err)) from None
    if since and until and until <= since:
        raise UsageError("--until must be after --since")
    if not 0 <= args.late_delivery_hours <= 24 * 14:
        raise UsageError("--late-delivery-hours must be between 0 and 336")
    settings = ctx.settings
    ctx.say(f"Reconciling table {settings.table_name} with its archive ({ctx.where()})")
    try:
        report = reconcile.reconcile(ctx.session(), settings, start=since, end=until, identity=ctx.identity(),
                                     late_delivery=timedelta(hours=args.late_delivery_hours), progress=ctx.progress)
    except FileNotFoundError as err:
        raise CouldNotRun(f"{err} (ttl-archive deploy creates it)") from None
    return Result(EXIT_OK if report.ok else EXIT_CHECK_FAILED, {**report.to_dict(), "stack": settings.stack}, report.describe())
