"""The embedded local AWS: one process on 127.0.0.1, found again, health-checked, reset, stopped."""

from __future__ import annotations

import subprocess
import uuid
import sys

import boto3

from helpers import local, target


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers.local", *args], capture_output=True, text=True, timeout=60)


def test_status_prints_the_endpoint_and_exits_zero_while_running(local_aws):
    result = _cli("status")
    assert result.returncode == 0
    endpoint, state = result.stdout.splitlines()[:2]  # the URL alone on the first line, then one line of state
    assert endpoint == local_aws and state.startswith("running (pid ")
    assert local_aws.startswith("http://127.0.0.1:")


def test_start_finds_the_running_server_instead_of_starting_another(local_aws):
    pid = local.health()["pid"]
    assert _cli("start").stdout.strip() == f"already running: {local_aws}"
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
    assert "not running" in result.stdout


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


def _raw_request(local_aws: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    import http.client

    port = int(local_aws.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_foreign_host_is_refused_so_dns_rebinding_cannot_reset_or_call_the_apis(session, stack, local_aws):
    port = local_aws.rsplit(":", 1)[1]
    session.client("sqs").create_queue(QueueName=f"{stack}-survivor")
    list_tables = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"}
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1", "127.0.0.1:1", f"10.0.0.1:{port}", f"localhost.evil.example:{port}"):
        status, body = _raw_request(local_aws, "POST", "/_ttl_archive/reset", {"Host": host, "Origin": "http://evil.example"})
        assert status == 403 and b"is not this local server" in body, (host, status, body)
        status, _ = _raw_request(local_aws, "POST", "/", {"Host": host, **list_tables}, b"{}")
        assert status == 403, host
    assert any(url.endswith(f"{stack}-survivor") for url in session.client("sqs").list_queues().get("QueueUrls", [])), "nothing was reset"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        status, body = _raw_request(local_aws, "POST", "/", {"Host": host, **list_tables}, b"{}")
        assert status == 200 and b"TableNames" in body, host
    assert local.health()["requests_refused"] >= 12


def test_a_foreign_browser_origin_is_refused_and_local_pages_sdks_and_the_cli_are_served(local_aws):
    port = local_aws.rsplit(":", 1)[1]
    host = {"Host": f"127.0.0.1:{port}"}
    for origin in ("http://evil.example", f"http://evil.example:{port}", "null", "https://127.0.0.1.evil.example", "file://"):
        status, body = _raw_request(local_aws, "GET", "/_ttl_archive/health", {**host, "Origin": origin})
        assert status == 403 and b"is not a local page" in body, origin
        status, _ = _raw_request(local_aws, "OPTIONS", "/", {**host, "Origin": origin, "Access-Control-Request-Method": "POST"})
        assert status == 403, origin
    for origin in (f"http://127.0.0.1:{port}", "http://localhost:8888", "https://localhost", "http://[::1]:8888"):
        status, _ = _raw_request(local_aws, "GET", "/_ttl_archive/health", {**host, "Origin": origin})
        assert status == 200, origin
    # SDKs send no Origin; boto3 also works through the localhost name (S3 then addresses <bucket>.localhost)
    url = f"http://localhost:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = f"origin-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
