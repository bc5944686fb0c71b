"""What a person checks by hand: `python -m helpers.local status` prints the endpoint, and the real AWS CLI
pointed at it shows the table with its stream and TTL, and the bucket with public access blocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import Settings, dynamodb, identity, s3


def _run(*args: str) -> str:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_aws_cli_at_the_status_endpoint_shows_table_stream_ttl_and_blocked_bucket(session, stack):
    settings = Settings(stack=stack)
    ident = identity(session)
    settings = settings.with_account(ident.account_id, ident.region)
    dynamodb.ensure_table(session, settings)
    s3.ensure_bucket(session, settings, settings.bucket_name)

    endpoint, state = _run(sys.executable, "-m", "helpers.local", "status").strip().splitlines()[:2]
    assert endpoint.startswith("http://127.0.0.1:") and state.startswith("running (pid ")  # the URL, then one line of state
    report = json.loads(_run(sys.executable, "-m", "helpers.local", "status", "--json"))  # --json: the health report
    assert report["endpoint"] == endpoint and report["running"] is True and "runtime" in report
    aws = [sys.executable, "-m", "awscli", "--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"]

    table = json.loads(_run(*aws, "dynamodb", "describe-table", "--table-name", settings.table_name))["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["LatestStreamArn"].startswith(table["TableArn"] + "/stream/")
    ttl = json.loads(_run(*aws, "dynamodb", "describe-time-to-live", "--table-name", settings.table_name))
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    block = json.loads(_run(*aws, "s3api", "get-public-access-block", "--bucket", settings.bucket_name))
    assert block["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    encryption = json.loads(_run(*aws, "s3api", "get-bucket-encryption", "--bucket", settings.bucket_name))
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] in {"AES256", "aws:kms"}
