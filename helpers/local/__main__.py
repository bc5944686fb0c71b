"""``python -m helpers.local start|status|stop|reset [--port N] [--json]``: the same as ``ttl-archive local``.

``serve`` (run the server in this process) is what ``start`` launches in the background; it is not for people.
"""

from __future__ import annotations

import argparse
import sys

from . import server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.local", description="Manage the embedded local AWS on 127.0.0.1 (same as `ttl-archive local`).")
    parser.add_argument("command", choices=["start", "status", "stop", "reset", "serve"])
    parser.add_argument("--port", type=int, default=None, help=f"port (default ${server.PORT_ENV} or {server.DEFAULT_PORT})")
    parser.add_argument("--json", action="store_true", help="print one JSON object (status: the health report)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        server.serve(args.port or server.configured_port())
        return 0
    from ..cli import main as cli_main

    return cli_main(["local", args.command, *(["--port", str(args.port)] if args.port else []), *(["--json"] if args.json else [])])


if __name__ == "__main__":
    sys.exit(main())
