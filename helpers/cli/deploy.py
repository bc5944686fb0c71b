"""Create or update the whole pipeline for a stack (idempotent; safe to run again, or twice at once).

Prints the account, the region and every name before creating anything, then shows any trade-off of
the settings. On the aws target it asks for confirmation unless --yes (when not run from a terminal,
--yes is required). --dry-run shows what would be created or changed, by resource, and changes
nothing; it also lists the IAM actions the deployment needs and, on AWS, names those the caller lacks
(iam:SimulatePrincipalPolicy; exit 1 when some are missing, a note when the caller may not simulate).
--existing-table NAME archives an application's table (the same as TTL_ARCHIVE_EXISTING_TABLE=true with
TTL_ARCHIVE_TABLE=NAME): its items and tags are never touched, only its stream and TTL are turned on where
they are off.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from .context import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, Context, Result

NAME = "deploy"
EXAMPLES = """\
  ttl-archive deploy --dry-run
  ttl-archive deploy --stack orders-archive
  AWS_REGION=ap-northeast-1 ttl-archive deploy --target aws --existing-table orders --yes
  ttl-archive deploy --json --yes"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show what would be created or changed, by resource; change nothing")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation on the aws target")
    parser.add_argument("--existing-table", metavar="NAME", help="archive the application's table NAME (existing-table mode)")


def settings_overrides(args: argparse.Namespace) -> dict[str, tuple[Any, str]]:
    if args.existing_table is None:
        return {}
    return {"table_name": (args.existing_table, "--existing-table"), "existing_table": (True, "--existing-table")}


def names(settings: Any) -> dict[str, str]:
    """Every name the stack uses (printed before anything is created)."""
    from .. import iam

    return {
        "table": settings.table_name + (" (the application's, existing-table mode)" if settings.existing_table else ""),
        "bucket": settings.bucket_name,
        "firehose_stream": settings.delivery_stream_name,
        "firehose_role": settings.firehose_role_name,
        "failure_queue": settings.failure_queue_name,
        "function": settings.function_name,
        "function_role": settings.lambda_role_name,
        "log_groups": f"{iam.firehose_log_group_name(settings)}, {iam.lambda_log_group_name(settings)}",
        "alarms": f"{settings.function_name}-errors, {settings.function_name}-iterator-age, {settings.failure_queue_name}-depth",
        "trigger": f"{settings.function_name} <- the stream of {settings.table_name} (TTL deletes only)",
        "ttl_attribute": settings.ttl_attribute,
    }


def announce(ctx: Context, settings: Any) -> dict[str, Any]:
    """Say where and with which names the stack lives; returns the same as data."""
    ident = ctx.identity()
    ctx.say(f"Region {ident.region}, account {ident.account_id} ({'embedded local AWS' if ctx.target == 'local' else 'AWS'}; as {ident.arn})")
    ctx.say(f"Stack {settings.stack}:")
    listed = names(settings)
    for key, value in listed.items():
        ctx.say(f"  {key.replace('_', ' '):16} {value}")
    for warning in settings.warnings():
        ctx.say(f"WARNING: {warning}")
    return {"stack": settings.stack, "target": ctx.target, "account": ident.account_id, "region": ident.region,
            "caller": ident.arn, "endpoint": ident.endpoint_url, "names": listed, "warnings": settings.warnings()}


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from .. import inventory, pipeline, preflight

    ident = ctx.identity()
    settings = ctx.settings.with_account(ident.account_id, ident.region)
    data = announce(ctx, settings)
    if args.dry_run:
        inv = inventory.inspect(ctx.session(), settings, ident)
        plan = inv.plan()
        refused = [p for p in plan if p["action"].startswith("refuse")]
        data.update(dry_run=True, plan=plan, stack_warnings=inv.warnings)
        text = "\n".join(["Dry run: nothing changed. What deploy would do:"] + [f"  {p['action']:38} {p['kind']} {p['name']}" for p in plan]
                         + [f"WARNING: {w}" for w in inv.warnings])
        check = preflight.preflight(ctx.session(), settings, ident)  # the IAM actions; simulated on AWS
        data["preflight"] = check.as_dict()
        text += "\n\nPreflight: " + check.text()
        return Result(EXIT_CHECK_FAILED if refused or not check.ok else EXIT_OK, data, text)
    if ctx.target == "aws" and not args.yes:
        if not ctx.stdin.isatty():
            return Result(EXIT_USAGE, {**data, "deployed": False, "reason": "confirmation needed"},
                          "Not confirmed: deploy on the aws target asks for confirmation; pass --yes when not running from a terminal. Nothing was created.")
        if not ctx.confirm(f"Create or update these resources in account {ident.account_id}, region {ident.region}?"):
            return Result(EXIT_CHECK_FAILED, {**data, "deployed": False, "reason": "declined"}, "Declined: nothing was created.")
    started = time.monotonic()
    deployed = pipeline.ensure_pipeline(ctx.session(), settings, ident, on_step=lambda outcome: ctx.say(f"  {outcome}"))
    outcomes = [{"kind": o.kind, "name": o.name, "action": o.action, "changes": o.changes} for o in deployed.outcomes]
    data.update(
        deployed=True, changed=deployed.changed, seconds=round(time.monotonic() - started, 3), resources=outcomes,
        trigger_uuid=deployed.mapping_uuid, stream_arn=deployed.stream_arn, function_arn=deployed.function_arn,
        duplicate_triggers_deleted=[c for o in deployed.outcomes if o.kind == "event source mapping" for c in o.changes if "duplicate" in c],
    )
    verb = "changed" if deployed.changed else "already in place, nothing changed"
    return Result(EXIT_OK, data, f"Stack {settings.stack} deployed ({verb}) in region {ident.region}.\n{deployed.summary()}")
