"""``python -m helpers demo --items N [--json] [--timeout S]``: the whole pipeline, proven, in one command.

Provisions the stack on the embedded local AWS (idempotently, :func:`helpers.pipeline.ensure_pipeline`),
writes N items whose TTL is already past plus controls (items with a future TTL, one deleted by hand, one
whose TTL is refreshed before it expires), waits until the archive holds every expired item or the
timeout passes, and prints the comparison (:class:`helpers.verify.Report`). With ``--json`` it prints
exactly one JSON object on stdout. Exit status 0 only when nothing is missing, nothing unexpected was
archived and the items that must stay are still in the table; 1 otherwise; 2 for usage errors; 3 when the
demo could not run at all (the error is on stderr).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time


def _demo(args: argparse.Namespace) -> int:
    from . import pipeline, target, verify
    from .settings import Settings

    sess = target.session("local")  # the demo never touches a real account
    ident = target.identity(sess)
    settings = Settings.from_env(**({"stack": args.stack} if args.stack else {}))
    say = (lambda *_a: None) if args.json else (lambda text: print(text, file=sys.stderr, flush=True))
    say(f"Deploying stack {settings.stack} on the embedded local AWS ({ident.describe()})")
    started = time.monotonic()
    deployed = pipeline.ensure_pipeline(sess, settings, ident, on_step=lambda outcome: say(f"  {outcome}"))
    provision_seconds = time.monotonic() - started
    run = verify.start_run(
        sess, deployed.settings, ident, expired=args.items, future=args.future, user_deleted=1, refreshed=1, save=False
    )
    say(f"Wrote {run.describe()}")
    report = verify.wait_for_archive(sess, run, timeout=args.timeout, progress=not args.json and sys.stderr.isatty())
    if args.json:
        payload = {**report.to_dict(), "stack": deployed.settings.stack, "provision_seconds": round(provision_seconds, 3)}
        print(json.dumps(payload, sort_keys=True))
    else:
        print(report.describe())
        if report.sample_record:
            print("An archived line:")
            print(json.dumps(report.sample_record, default=str, indent=1))
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description="dynamodb-ttl-archive helpers")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="provision on the embedded local AWS, expire N items, check the archive")
    demo.add_argument("--items", type=int, default=100, help="expired items to write (default 100)")
    demo.add_argument("--future", type=int, default=5, help="items with a future TTL, which must not be archived (default 5)")
    demo.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the archive (default 120)")
    demo.add_argument("--stack", default=None, help="stack name (default $TTL_ARCHIVE_STACK or ttl-archive-demo)")
    demo.add_argument("--json", action="store_true", help="print one JSON object and nothing else on stdout")
    demo.add_argument("--verbose", action="store_true", help="log what each step does (stderr)")
    args = parser.parse_args(argv)
    if args.items < 1 or args.items > 1_000_000:
        parser.error("--items must be between 1 and 1000000")
    if args.future < 0 or args.timeout <= 0:
        parser.error("--future must be >= 0 and --timeout > 0")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    try:
        return _demo(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - a failure to run is not a verdict on the archive: its own exit status
        logging.getLogger("helpers.demo").error("the demo could not run: %s: %s", type(err).__name__, err, exc_info=args.verbose)
        return 3


if __name__ == "__main__":
    sys.exit(main())
