"""Replay the batches the trigger gave up on, from the stream into the archive.

Reads the failure queue's notes (shard and sequence range of each discarded batch), reads those records
from the table's stream while they are still there (24 hours), archives them with the archiver's own code
and deletes a note only after its records were delivered. Records no longer in the stream are reported
(shard, range, how many) and their note is kept; --forget-lost deletes such notes once you have written the
loss down. Exit status 0 when every note was redriven (or none waited), 1 when a note is kept.
"""

from __future__ import annotations

import argparse

from .context import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, Context, CouldNotRun, Result, UsageError

NAME = "redrive"
EXAMPLES = """\
  ttl-archive redrive --dry-run
  ttl-archive redrive --json
  ttl-archive redrive --forget-lost --yes     # after writing down what is no longer in the stream"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="read the stream and report what would be archived; archive and delete nothing")
    parser.add_argument("--max-notes", type=int, default=None, help="redrive at most this many notes in this run (default: all)")
    parser.add_argument("--forget-lost", action="store_true", help="also delete notes whose records are no longer in the stream (asks first on aws)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation of --forget-lost on the aws target")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from .. import redrive

    if args.max_notes is not None and args.max_notes < 1:
        raise UsageError("--max-notes must be at least 1")
    if args.dry_run and args.forget_lost:
        raise UsageError("--dry-run deletes nothing: leave out --forget-lost")
    settings = ctx.settings
    if args.forget_lost and ctx.target == "aws" and not args.yes:
        if not ctx.confirm(f"Delete the notes in {settings.failure_queue_name} whose records are no longer in the stream? They are the only record of that loss."):
            return Result(EXIT_USAGE, {"ok": False, "reason": "not confirmed"}, "Not confirmed: pass --yes to delete notes of lost records without asking.")
    ctx.say(f"Redriving the notes in {settings.failure_queue_name} ({ctx.where()})")
    try:
        report = redrive.redrive(ctx.session(), settings, dry_run=args.dry_run, forget_lost=args.forget_lost,
                                 max_notes=args.max_notes, progress=ctx.progress)
    except redrive.RedriveError as err:
        raise CouldNotRun(str(err)) from None
    return Result(EXIT_OK if report.ok else EXIT_CHECK_FAILED, {**report.to_dict(), "stack": settings.stack}, report.describe())
