"""Manage the embedded local AWS: start, status, stop or reset it.

The embedded local AWS (a moto server plus this project's local runtime) listens on 127.0.0.1 at
TTL_ARCHIVE_LOCAL_PORT (default 4599) and is shared by every notebook kernel and command. 'status' exits 1
when it is not running; 'reset' empties every resource of every stack on it and its saved state (also when it
is stopped).
"""

from __future__ import annotations

import argparse

from .context import EXIT_CHECK_FAILED, EXIT_OK, Context, Result

NAME = "local"
EXAMPLES = """\
  ttl-archive local start
  ttl-archive local status --json
  TTL_ARCHIVE_LOCAL_PORT=4602 ttl-archive local reset
  ttl-archive local stop"""
NEEDS_SETTINGS = False  # managing the emulator needs only its port
ACTIONS = ("start", "status", "stop", "reset")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, help="start (if not running), status, stop or reset (empty every resource)")
    parser.add_argument("--port", type=int, default=None, help="port (default $TTL_ARCHIVE_LOCAL_PORT or 4599)")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from .. import settings as settings_mod
    from ..local import server

    port = args.port if args.port is not None else settings_mod.parameter("LOCAL_PORT")
    if not 1 <= port <= 65535:
        raise settings_mod.SettingsError("--port", port, "must be a whole number from 1 to 65535")
    url = server.endpoint_url(port)
    if args.action == "start":
        running = bool(server.health(port))
        server.ensure_running(port)
        info = server.health(port) or {}
        return Result(EXIT_OK, {"action": "start", "endpoint": url, "running": True, "already_running": running, "pid": info.get("pid")},
                      f"{'already running' if running else 'started'}: {url}")
    if args.action == "status":
        info = server.health(port)
        if not info:
            return Result(EXIT_CHECK_FAILED, {"action": "status", "endpoint": url, "running": False}, f"not running (nothing answers on {url})")
        text = f"{url}\nrunning (pid {info.get('pid')}, moto {info.get('moto')}, up {info.get('uptime_seconds', 0):.0f} s)"
        text += "".join(f"\n{line}" for line in server.state_report(port))  # where the state is kept; what a restart restored or lost
        found = info.get("problems") or []
        if found:
            text += f"\n{len(found)} problem(s) inside its runtime (log: {server.log_path(port)}):"
            text += "".join(f"\n  {line}" for line in server.describe_problems(found))
        return Result(EXIT_OK, {"action": "status", "endpoint": url, "running": True, **info}, text)
    if args.action == "stop":
        stopped = server.stop(port)
        return Result(EXIT_OK, {"action": "stop", "endpoint": url, "was_running": stopped}, "stopped" if stopped else f"was not running ({url})")
    if not server.reset(port):
        removed = server.clear_saved_state(port)
        return Result(EXIT_OK, {"action": "reset", "endpoint": url, "running": False, "removed": removed},
                      f"not running (nothing answers on {url}); saved state emptied" + (f" ({', '.join(removed)} removed)" if removed else " (there was none)"))
    return Result(EXIT_OK, {"action": "reset", "endpoint": url, "running": True}, f"reset: every resource on {url} removed, the saved state emptied")
