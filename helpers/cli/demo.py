"""Provision on the embedded local AWS, expire N items, and check that every one is archived.

Deploys the stack on the embedded local AWS (idempotently), writes N items whose TTL is already past plus
controls (items with a future TTL, one deleted by hand, one whose TTL is refreshed before it expires),
waits until the archive holds every expired item or the timeout passes, and compares. Exit status 0 only
when nothing is missing, nothing unexpected was archived and the controls are still in the table; 1
otherwise. The demo never touches a real account: with --target aws it refuses (use deploy and verify).
"""

from __future__ import annotations

import argparse
import json
import time

from .context import EXIT_CHECK_FAILED, EXIT_OK, Context, Result, UsageError

NAME = "demo"
EXAMPLES = """\
  ttl-archive demo
  ttl-archive demo --items 1000 --timeout 300 --json
  python -m helpers demo --stack my-demo --items 50"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--items", type=int, default=100, help="expired items to write, 1-1000000 (default 100)")
    parser.add_argument("--future", type=int, default=5, help="items with a future TTL, which must not be archived (default 5)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the archive (default 120)")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from .. import pipeline, verify

    if not 1 <= args.items <= 1_000_000:
        raise UsageError("--items must be a whole number from 1 to 1000000")
    if args.future < 0 or not args.timeout > 0:
        raise UsageError("--future must be 0 or more and --timeout greater than 0")
    if ctx.settings.ttl_attribute in (ctx.settings.partition_key, ctx.settings.sort_key):
        raise UsageError(f"the demo's test items need a TTL attribute apart from their key; TTL_ARCHIVE_TTL_ATTRIBUTE={ctx.settings.ttl_attribute} is a key attribute")
    if ctx.target != "local":
        raise UsageError("the demo runs on the embedded local AWS only; on AWS use 'ttl-archive deploy' then 'ttl-archive verify'")
    sess = ctx.session()
    ctx.say(f"Deploying stack {ctx.settings.stack} on {ctx.where()}")
    started = time.monotonic()
    deployed = pipeline.ensure_pipeline(sess, ctx.settings, ctx.identity(), on_step=lambda outcome: ctx.say(f"  {outcome}"))
    provision_seconds = time.monotonic() - started
    run_ = verify.start_run(sess, deployed.settings, ctx.identity(), expired=args.items, future=args.future, user_deleted=1, refreshed=1, save=False)
    ctx.say(f"Wrote {run_.describe()}")
    report = verify.wait_for_archive(sess, run_, timeout=args.timeout, progress=ctx.progress)
    data = {**report.to_dict(), "stack": deployed.settings.stack, "provision_seconds": round(provision_seconds, 3)}
    text = report.describe()
    if report.sample_record:
        text += "\nAn archived line:\n" + json.dumps(report.sample_record, default=str, indent=1)
    return Result(EXIT_OK if report.ok else EXIT_CHECK_FAILED, data, text)
