"""Shared fixtures: fake credentials before any client exists, and one embedded local AWS server
process on a free port for the whole run (notebook kernels, separate processes, reach it too)."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_configure(config: pytest.Config) -> None:
    # Set before any boto3 client exists, and inherited by notebook kernels started by the tests.
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "TTL_ARCHIVE_TARGET": "local",
            "TTL_ARCHIVE_LOCAL_PORT": os.environ.get("TTL_ARCHIVE_TEST_PORT") or str(_free_port()),
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "MPLBACKEND": "Agg",
            # the local AWS saves its state here (a folder of this run's own, never the user's saved state)
            "TTL_ARCHIVE_LOCAL_STATE": tempfile.mkdtemp(prefix="ttl-archive-test-state-"),
        }
    )


@pytest.fixture(scope="session")
def local_aws() -> str:
    """The embedded local AWS for this test run (its own port); stopped at the end."""
    from helpers import local

    url = local.ensure_running()
    yield url
    local.stop()


@pytest.fixture
def session(local_aws):
    """A boto3 session on the embedded local AWS."""
    from helpers import target

    return target.session("local")


@pytest.fixture
def stack(request) -> str:
    """A stack name unique to the test, so tests never see each other's resources."""
    return f"t{uuid.uuid4().hex[:8]}"
