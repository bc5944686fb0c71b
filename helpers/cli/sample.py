"""Generate a realistic archive: D days of a time-series table deleted by TTL, archived as the pipeline would.

Simulates writes with a daily rhythm, TTL deletions with a stated lag model, the trigger's batches, the
archiver's own line building and record packing, and Firehose's buffering (size and interval, GZIP), and writes
the objects with their historical dates in keys and names: into a folder laid out like the bucket (--folder) or
into the stack's bucket under sample-archive/ (--to-bucket). Nothing is overwritten: a folder or prefix that
holds other objects is refused; the same parameters a second time report "already there".
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import date, timedelta

from .context import EXIT_OK, Context, Result, UsageError

NAME = "sample"
EXAMPLES = """\
  ttl-archive sample --folder build/sample --days 30 --items-per-day 100000
  ttl-archive sample --folder build/sample --lag-median-minutes 60 --lag-tail-share 0.1 --json
  ttl-archive sample --to-bucket --days 7 --items-per-day 20000 --buffer-interval 900"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--folder", help="write into this folder, laid out like the bucket (archive/YYYY/MM/DD/HH/...)")
    where.add_argument("--to-bucket", action="store_true", help="write into the stack's archive bucket (it must exist)")
    parser.add_argument("--prefix", default=None, help="literal prefix (default archive/ in a folder, sample-archive/ in the bucket)")
    parser.add_argument("--days", type=int, default=30, help="days of writes, 1-3660 (default 30)")
    parser.add_argument("--items-per-day", type=int, default=100_000, help="items written a day (default 100000)")
    parser.add_argument("--start", type=date.fromisoformat, default=None, help="first day of writes, YYYY-MM-DD (default: so that the archive ends before today)")
    parser.add_argument("--ttl-days", type=float, default=3.0, help="TTL after the write, in days (default 3)")
    parser.add_argument("--item-bytes", type=int, default=400, help="median item size in bytes (default 400)")
    parser.add_argument("--lag-median-minutes", type=float, default=20.0, help="lag model: median minutes from TTL to delete (default 20)")
    parser.add_argument("--lag-tail-share", type=float, default=0.05, help="lag model: share of items in the long tail (default 0.05)")
    parser.add_argument("--lag-tail-hours", type=float, default=6.0, help="lag model: mean hours of the tail (default 6)")
    parser.add_argument("--lag-max-hours", type=float, default=48.0, help="lag model: no lag beyond this (default 48)")
    parser.add_argument("--buffer-size", type=int, default=None, help="Firehose buffer MiB, 1-128 (default: TTL_ARCHIVE_BUFFER_SIZE_MIB)")
    parser.add_argument("--buffer-interval", type=int, default=None, help="Firehose buffer seconds, 0-900 (default: TTL_ARCHIVE_BUFFER_INTERVAL_SECONDS)")
    parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same archive (default 1)")
    parser.add_argument("--workers", type=int, default=None, help="processes encoding lines (default: the CPU count)")
    parser.add_argument("--yes", action="store_true", help="write to a bucket on AWS without asking")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from .. import sample, sample_output

    settings = ctx.settings
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be 1 or more")
    try:
        lag = sample.LagModel(median_minutes=args.lag_median_minutes, tail_share=args.lag_tail_share,
                              tail_hours=args.lag_tail_hours, max_hours=args.lag_max_hours)
        workload = sample.Workload(
            days=args.days, items_per_day=args.items_per_day,
            start=args.start or date.today() - timedelta(days=args.days + int(args.ttl_days) + 3),
            ttl_days=args.ttl_days, item_bytes=args.item_bytes, lag=lag, seed=args.seed,
            table=settings.table_name, ttl_attribute=settings.ttl_attribute, stream=settings.delivery_stream_name,
            partition_key=settings.partition_key, sort_key=settings.sort_key,
            buffer_size_mib=args.buffer_size if args.buffer_size is not None else settings.buffer_size_mib,
            buffer_interval_s=args.buffer_interval if args.buffer_interval is not None else settings.buffer_interval_seconds,
            prefix=args.prefix or ("sample-archive/" if args.to_bucket else settings.archive_prefix),
        )
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.to_bucket:
        who = ctx.identity()
        bucket = settings.with_account(who.account_id, who.region).bucket_name
        if ctx.target != "local" and not args.yes and not ctx.confirm(f"Write {workload.items:,} generated items to s3://{bucket}/{workload.prefix} on {ctx.where()}?"):
            raise UsageError("not confirmed: add --yes to write to a bucket on AWS")
        destination = sample_output.S3Destination(ctx.session(), bucket)
    else:
        destination = sample_output.FolderDestination(args.folder)
    ctx.say(f"Generating {workload.items:,} items ({workload.days} days x {workload.items_per_day:,}) into {destination}")
    ctx.say(f"Lag model: {lag.describe()}")
    result = sample.generate(workload, destination, workers=args.workers, progress=ctx.progress)
    return Result(EXIT_OK, asdict(result), result.summary())
