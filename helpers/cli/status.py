"""Show every resource of the stack and its state, and what needs attention.

Lists the table, bucket, roles, Firehose stream, failure queue, function, log groups, trigger and alarms
(exists? tagged for this stack? state), then the trigger's state and last result, the alarms' states, the
iterator age, the failure queue's depth and the newest archive object's time. Warns about more than one
trigger from the stream to this function, a stream that already has two other consumers, and TTL that is
disabled. Read-only. Exit status 0 when every resource is there and nothing needs attention, 1 otherwise.
"""

from __future__ import annotations

import argparse

from .context import EXIT_CHECK_FAILED, EXIT_OK, Context, Result

NAME = "status"
EXAMPLES = """\
  ttl-archive status
  ttl-archive status --stack orders-archive --target aws --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own: the common ones say which stack, where."""


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from .. import inventory

    ident = ctx.identity()
    ctx.say(f"Region {ident.region}, account {ident.account_id} ({'embedded local AWS' if ctx.target == 'local' else 'AWS'})")
    inv = inventory.inspect(ctx.session(), ctx.settings, ident)
    data = {"stack": ctx.settings.stack, "target": ctx.target, "account": ident.account_id, "region": ident.region, **inv.to_dict()}
    deployed = any(r.exists for r in inv.resources)
    text = inv.describe() if deployed else f"stack {ctx.settings.stack} is not deployed in region {ident.region} (nothing found); run 'ttl-archive deploy'"
    return Result(EXIT_OK if inv.ok else EXIT_CHECK_FAILED, data, text)
