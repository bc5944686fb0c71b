"""ttl-archive sample: the command-line face of helpers.sample (runs once issue-11's CLI framework is present)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("helpers.cli.context", reason="the ttl-archive CLI framework (helpers/cli) is not on this branch yet")

from helpers.cli import main  # noqa: E402


def test_sample_into_a_folder_prints_one_json_object(tmp_path, capsys):
    args = ["sample", "--folder", str(tmp_path), "--days", "1", "--items-per-day", "200", "--start", "2026-10-01", "--workers", "1", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["action"] == "created" and out["items"] == 200 and out["objects"] > 0
    assert list((tmp_path / "archive" / "2026" / "10").iterdir())
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "already there"


def test_bad_options_exit_2_before_writing(tmp_path, capsys):
    assert main(["sample", "--folder", str(tmp_path), "--days", "0"]) == 2
    assert main(["sample", "--folder", str(tmp_path), "--lag-tail-share", "2"]) == 2
    assert "tail_share" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_into_the_stacks_bucket_on_the_local_aws(session, stack, tmp_path, capsys, monkeypatch):
    from helpers import Settings, identity

    monkeypatch.setenv("TTL_ARCHIVE_STACK", stack)
    who = identity(session)
    bucket = Settings(stack=stack).with_account(who.account_id, who.region).bucket_name
    assert main(["sample", "--to-bucket", "--days", "1", "--items-per-day", "100", "--start", "2026-10-01", "--workers", "1", "--json"]) != 0  # no bucket yet
    session.client("s3").create_bucket(Bucket=bucket)
    capsys.readouterr()
    assert main(["sample", "--to-bucket", "--days", "1", "--items-per-day", "100", "--start", "2026-10-01", "--workers", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["destination"] == f"s3://{bucket}/"
    keys = [o["Key"] for o in session.client("s3").list_objects_v2(Bucket=bucket, Prefix="sample-archive/")["Contents"]]
    assert keys and all(k.startswith("sample-archive/2026/10/") for k in keys)
