"""helpers.cli_equivalent: boto3 calls recorded through botocore's hooks and rendered as `aws ...` commands."""

from __future__ import annotations

import json
import os
import shlex
import sys
import subprocess

import boto3
import botocore.exceptions
import pytest

from helpers.cli_equivalent import Calls, RecordedCall, cli_service_name, is_mutating, recording, render_command


def _flags(command: str) -> dict[str, str | bool]:
    """Parse a rendered command back into {flag: value}; valueless flags map to True."""
    tokens = shlex.split(command)
    out: dict[str, str | bool] = {}
    i = 3
    while i < len(tokens):
        flag = tokens[i]
        assert flag.startswith("--"), (flag, command)
        if i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
            out[flag] = tokens[i + 1]
            i += 2
        else:
            out[flag] = True
            i += 1
    return out


def _create_table(client, name: str) -> None:
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "owner", "Value": "it's me"}],
    )


def test_records_calls_of_clients_created_inside_the_block_with_region_and_endpoint(session, stack):
    name = f"{stack}-cli"
    with recording(session) as calls:
        ddb = session.client("dynamodb")
        with pytest.raises(ddb.exceptions.ResourceNotFoundException):
            ddb.describe_table(TableName=name)
        _create_table(ddb, name)
    assert [c.operation for c in calls] == ["DescribeTable", "CreateTable"]
    describe, create = calls.commands
    assert describe.startswith(f"aws dynamodb describe-table --table-name {name} ")
    flags = _flags(create)
    assert shlex.split(create)[:3] == ["aws", "dynamodb", "create-table"]
    assert json.loads(flags["--key-schema"]) == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert json.loads(flags["--tags"]) == [{"Key": "owner", "Value": "it's me"}]  # quoting survives a quote
    assert flags["--billing-mode"] == "PAY_PER_REQUEST"
    assert flags["--region"] == "us-east-1"
    assert flags["--endpoint-url"] == session.endpoint_url
    # the failed describe is kept and marked: it is how an idempotent helper decides to create
    assert calls.calls[0].error == "ResourceNotFoundException"
    assert "# -> ResourceNotFoundException" in calls.text().splitlines()[0]


def test_clients_created_before_the_block_or_kept_after_it_are_not_recorded(session, stack):
    before = session.client("dynamodb")
    with recording(session) as calls:
        inside = session.client("dynamodb")
        before.list_tables()
    assert len(calls) == 0
    inside.list_tables()  # after the block: the client's copy of the hook is quiet
    assert len(calls) == 0
    assert calls.text() == "# (no AWS calls were made)"


def test_calls_rejected_before_sending_are_not_recorded(session):
    with recording(session) as calls:
        client = session.client("dynamodb")
        with pytest.raises(botocore.exceptions.ParamValidationError):
            client.describe_table()  # TableName missing: never sent
    assert calls.commands == []


def test_s3_maps_to_s3api_and_booleans_blobs_render_as_the_cli_expects(session, stack):
    bucket = f"{stack}-cli-equivalent"
    with recording(session) as calls:
        s3 = session.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": False},
        )
        s3.put_object(Bucket=bucket, Key="a/b.json", Body=b'{"x": 1}\n')
    create, pab, put = calls.commands
    assert create.startswith(f"aws s3api create-bucket --bucket {bucket}")
    assert json.loads(_flags(pab)["--public-access-block-configuration"])["RestrictPublicBuckets"] is False
    flags = _flags(put)
    assert flags["--body"] == "body.bin"  # a streaming body is a file name for the CLI
    assert flags["--key"] == "a/b.json"
    # top-level booleans and non-streaming blobs, rendered without AWS
    lam = boto3.Session(region_name="us-east-1").client("lambda", aws_access_key_id="x", aws_secret_access_key="x")
    shape = lam.meta.service_model.operation_model("UpdateFunctionCode").input_shape
    cmd = render_command("lambda", "UpdateFunctionCode", {"FunctionName": "f", "ZipFile": b"PK\x03\x04", "Publish": True, "DryRun": False}, input_shape=shape)
    assert cmd == "aws lambda update-function-code --function-name f --zip-file fileb://zip-file.bin --publish --no-dry-run"


def test_mutating_only_leaves_out_reads_and_show_folds_waiter_polls(session, stack, capsys):
    name = f"{stack}-poll"
    with recording(session, mutating_only=True) as calls:
        ddb = session.client("dynamodb")
        _create_table(ddb, name)
        ddb.get_waiter("table_exists").wait(TableName=name)
        ddb.describe_table(TableName=name)
    assert [c.operation for c in calls] == ["CreateTable"]
    assert len(calls.calls) >= 3  # everything is kept; the filter applies when reading
    calls.mutating_only = False
    calls.calls.insert(2, calls.calls[1])  # two identical polls in a row
    calls.show()
    shown = capsys.readouterr().out
    assert "aws dynamodb create-table \\\n" in shown  # long commands wrapped one flag per line
    assert shown.count("describe-table") == 1 and "# x" in shown
    assert calls._repr_markdown_().startswith("```bash\naws dynamodb create-table")


def test_names_and_verbs():
    assert cli_service_name("s3") == "s3api" and cli_service_name("firehose") == "firehose"
    assert not is_mutating("DescribeTimeToLive") and not is_mutating("ListTagsOfResource") and not is_mutating("HeadBucket")
    assert is_mutating("UpdateTimeToLive") and is_mutating("PutBucketPolicy") and is_mutating("TagResource")
    call = RecordedCall("dynamodb", "DeleteTable", ["--table-name", "t"], region="eu-west-1")
    assert call.command == "aws dynamodb delete-table --table-name t --region eu-west-1"
    assert Calls([call]).commands == [call.command]


def test_the_rendered_commands_run_with_the_real_aws_cli(session, stack):
    """The point of the module: a reader can paste the commands. Replay them with the CLI on a fresh name."""
    name = f"{stack}-replayed"
    with recording(session) as calls:
        _create_table(session.client("dynamodb"), f"{stack}-original")
    command = calls.commands[0].replace(f"{stack}-original", name)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    argv = shlex.split(command)
    assert argv[0] == "aws"
    # the AWS CLI of this environment (the dev extra installs it), whatever PATH holds
    done = subprocess.run([sys.executable, "-m", "awscli", *argv[1:]], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    table = session.client("dynamodb").describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    tags = session.client("dynamodb").list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert tags == [{"Key": "owner", "Value": "it's me"}]


def test_per_operation_writes_out_a_few_commands_of_each_kind_and_counts_the_rest(session, stack):
    with recording(session) as calls:
        s3 = session.client("s3")
        s3.create_bucket(Bucket=f"{stack}-many")
        for n in range(5):
            s3.put_object(Bucket=f"{stack}-many", Key=f"k{n}", Body=b"x")
        s3.list_objects_v2(Bucket=f"{stack}-many")
    text = calls.text(per_operation=2)
    lines = text.splitlines()
    assert sum(line.startswith("aws s3api put-object") for line in lines) == 2 and "--key k0" in text and "--key k1" in text and "k4" not in text
    assert "# ... and 3 more `aws s3api put-object` calls like the above" in text
    assert sum(line.startswith(("aws s3api create-bucket", "aws s3api list-objects-v2")) for line in lines) == 2
    assert "more `aws s3api create-bucket`" not in text
    assert calls.text().count("aws s3api put-object") == 5  # by default every call


def test_a_streaming_download_names_its_output_file_and_the_command_runs(session, stack, tmp_path):
    s3 = session.client("s3")
    s3.create_bucket(Bucket=f"{stack}-dl")
    s3.put_object(Bucket=f"{stack}-dl", Key="archive/2026/11/30/23/obj.gz", Body=b"payload")
    with recording(session) as calls:
        session.client("s3").get_object(Bucket=f"{stack}-dl", Key="archive/2026/11/30/23/obj.gz")["Body"].read()
    argv = shlex.split(calls.commands[0])
    assert argv[:3] == ["aws", "s3api", "get-object"] and "obj.gz" in argv
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    done = subprocess.run([sys.executable, "-m", "awscli", *argv[1:]], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "obj.gz").read_bytes() == b"payload"
