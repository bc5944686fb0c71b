"""Size the pipeline for a TTL delete rate: shards, trigger concurrency, Lambda, Firehose quotas, S3, cost.

Computes, without calling AWS, what N deletes a second of K KB items ask of the stream (shards, estimated
from the table's partitions unless --shards gives the real count), the trigger (shards x
ParallelizationFactor concurrent batches, batch size and window), Lambda (invocations, duration from the
archiver benchmark, concurrency), Firehose Direct PUT (records/s, requests/s and MiB/s against the region's
default quotas: how many delivery streams, or which increase to request), S3 (objects a second against the
per-prefix rates) and the monthly cost from the cost model. docs/scale.md explains every step.
"""

from __future__ import annotations

import argparse
import os

from .context import EXIT_OK, Context, Result, UsageError

# CapacityInputs field -> the flag that sets it (errors name the flag)
FLAGS = {"deletes_per_second": "--deletes-per-second", "item_kb": "--item-kb", "region": "--region", "shards": "--shards", "ttl_days": "--ttl-days",
         "batch_size": "--batch-size", "batching_window_s": "--batching-window", "parallelization_factor": "--parallelization-factor",
         "lambda_memory_mb": "--memory-mb"}

NAME = "capacity"
NEEDS_SETTINGS = False
EXAMPLES = """\
  ttl-archive capacity --deletes-per-second 11600 --item-kb 1 --region ap-northeast-1
  ttl-archive capacity --deletes-per-second 11600 --item-kb 1 --batching-window 10 --parallelization-factor 2 --json
  ttl-archive capacity --deletes-per-second 500 --item-kb 4 --shards 12 --no-cost"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deletes-per-second", type=float, required=True, metavar="N", help="items TTL deletes a second (steady rate)")
    parser.add_argument("--item-kb", type=float, required=True, metavar="K", help="mean item size in KB (at most 400)")
    parser.add_argument("--region", default=None, help="AWS region for quotas and prices (default AWS_REGION, else us-east-1)")
    parser.add_argument("--shards", type=int, default=None, help="the stream's open shard count (default: estimated from partitions)")
    parser.add_argument("--ttl-days", type=float, default=30.0, help="how long items live before TTL deletes them (sizes the table; default 30)")
    parser.add_argument("--batch-size", type=int, default=100, help="the trigger's BatchSize (1-10,000; default 100)")
    parser.add_argument("--batching-window", type=int, default=1, metavar="SECONDS", help="MaximumBatchingWindowInSeconds (0-300; default 1)")
    parser.add_argument("--parallelization-factor", type=int, default=None, help="ParallelizationFactor 1-10 (default TTL_ARCHIVE_PARALLELIZATION_FACTOR or 1)")
    parser.add_argument("--memory-mb", type=int, default=256, help="the archiver's memory (128-10,240 MB; default 256)")
    parser.add_argument("--no-cost", action="store_true", help="skip the cost model")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from .. import capacity

    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    factor = args.parallelization_factor
    if factor is None:  # the stack's setting (TTL_ARCHIVE_PARALLELIZATION_FACTOR, checked strictly by Settings)
        factor = ctx.settings.parallelization_factor
    values = dict(deletes_per_second=args.deletes_per_second, item_kb=args.item_kb, region=region, shards=args.shards, ttl_days=args.ttl_days,
                  batch_size=args.batch_size, batching_window_s=args.batching_window, parallelization_factor=factor, lambda_memory_mb=args.memory_mb)
    try:
        inputs = capacity.CapacityInputs(**values)
    except ValueError as err:
        message = str(err)
        for name, flag in FLAGS.items():
            message = message.replace(f"invalid {name} ", f"invalid {flag} ")
        raise UsageError(message) from None
    result = capacity.plan(inputs, with_cost=not args.no_cost)
    return Result(EXIT_OK, result.as_dict(), result.text())
