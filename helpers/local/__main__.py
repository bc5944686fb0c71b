"""``python -m helpers.local start|status|stop|reset|serve [--port N]``."""

from __future__ import annotations

import argparse
import json
import sys

from . import server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.local", description="Manage the embedded local AWS on 127.0.0.1.")
    parser.add_argument("command", choices=["start", "status", "stop", "reset", "serve"])
    parser.add_argument("--port", type=int, default=None, help=f"port (default ${server.PORT_ENV} or {server.DEFAULT_PORT})")
    args = parser.parse_args(argv)
    port = args.port or server.configured_port()
    if args.command == "serve":
        server.serve(port)
        return 0
    if args.command == "start":
        url = server.ensure_running(port)
        print(url)
        return 0
    if args.command == "status":
        info = server.health(port)
        if not info:
            print(f"not running (nothing answers on {server.endpoint_url(port)})", file=sys.stderr)
            return 1
        print(server.endpoint_url(port))
        print(json.dumps(info, indent=2), file=sys.stderr)
        from .state_store import describe

        state = info.get("state") or {}
        where = state.get("folder") or "memory only (TTL_ARCHIVE_LOCAL_STATE=off)"
        print(f"state: {where}; saved {state.get('saves', 0)} time(s) since start", file=sys.stderr)
        for line in describe(state.get("restore") or {}):
            print("  " + line, file=sys.stderr)
        found = info.get("problems") or []
        if found:
            print(f"{len(found)} problem(s) inside the local AWS's runtime (see the log {server.log_path(port)}):", file=sys.stderr)
            for line in server.describe_problems(found):
                print("  " + line, file=sys.stderr)
        return 0
    if args.command == "stop":
        print("stopped" if server.stop(port) else "was not running")
        return 0
    if args.command == "reset":
        if not server.reset(port):
            removed = server.clear_saved_state(port)
            print(f"not running (nothing answers on {server.endpoint_url(port)}); saved state emptied"
                  + (f" ({', '.join(removed)} removed)" if removed else " (there was none)"))
            return 0
        print("reset: every resource removed, the saved state emptied")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
