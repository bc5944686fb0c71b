"""The embedded local AWS (moto server plus the project's local runtime) on 127.0.0.1.

Manage it with ``python -m helpers.local start|status|stop|reset``. Stands in for AWS only.
"""

from .server import DEFAULT_PORT, HOST, clear_faults, configured_port, describe_problems, endpoint_url, ensure_running, health, problems, reset, set_faults, state_report, stop

__all__ = ["DEFAULT_PORT", "HOST", "clear_faults", "configured_port", "describe_problems", "endpoint_url", "ensure_running", "health", "problems",
           "reset", "set_faults", "state_report", "stop"]
