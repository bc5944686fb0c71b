"""The embedded local AWS: one process on 127.0.0.1, found again, health-checked, reset, stopped."""

from __future__ import annotations

import subprocess
import sys

import boto3

from helpers import local, target


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers.local", *args], capture_output=True, text=True, timeout=60)


def test_status_prints_the_endpoint_and_exits_zero_while_running(local_aws):
    result = _cli("status")
    assert result.returncode == 0
    assert result.stdout.strip() == local_aws
    assert local_aws.startswith("http://127.0.0.1:")


def test_start_finds_the_running_server_instead_of_starting_another(local_aws):
    pid = local.health()["pid"]
    assert _cli("start").stdout.strip() == local_aws
    assert local.health()["pid"] == pid


def test_listens_on_loopback_only(local_aws):
    import socket

    port = int(local_aws.rsplit(":", 1)[1])
    others = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
    for address in others:
        with socket.socket() as s:
            s.settimeout(0.5)
            assert s.connect_ex((address, port)) != 0, f"reachable on {address}"


def test_session_points_every_client_at_the_local_endpoint(session, local_aws):
    assert target.endpoint_of(session) == local_aws
    assert target.is_local(session)
    assert session.client("dynamodb").meta.endpoint_url == local_aws


def test_status_on_a_port_with_nothing_exits_non_zero():
    from tests.conftest import _free_port

    result = _cli("status", "--port", str(_free_port()))
    assert result.returncode == 1
    assert "not running" in result.stderr


def test_start_stop_and_reset_on_a_second_port():
    from tests.conftest import _free_port

    port = _free_port()
    url = local.ensure_running(port)
    try:
        ddb = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
        ddb.create_table(
            TableName="reset-me",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        assert ddb.list_tables()["TableNames"] == ["reset-me"]
        assert _cli("reset", "--port", str(port)).returncode == 0
        assert ddb.list_tables()["TableNames"] == []
    finally:
        assert local.stop(port)
    assert local.health(port) is None
    assert local.stop(port) is False
