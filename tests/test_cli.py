"""The ttl-archive command line on the embedded local AWS: deploy, status, verify and destroy with --json
parsed, --help with examples for every subcommand, exit codes, confirmation on the aws target, dry runs that
change nothing, and the local subcommand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli


def _run(capsys, *argv: str) -> tuple[int, dict]:
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1, out  # --json: one object, nothing else on stdout
    return code, json.loads(out)


@pytest.mark.parametrize("command", cli.COMMANDS)
def test_every_subcommand_has_help_with_examples_and_the_common_options(command, capsys):
    assert cli.main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "examples:\n  ttl-archive" in text or "examples:\n  TTL_ARCHIVE" in text
    for option in ("--stack", "--target", "--json", "--verbose"):
        assert option in text


def test_usage_errors_exit_2(capsys):
    assert cli.main([]) == 2
    assert cli.main(["deploy", "--target", "azure"]) == 2
    assert cli.main(["no-such-command"]) == 2
    assert cli.main(["demo", "--items", "0"]) == 2
    assert "--items must be" in capsys.readouterr().err


def test_the_console_script_and_python_m_helpers_are_the_same_program():
    script = Path(sys.executable).with_name("ttl-archive")
    assert script.exists(), "pip install -e . declares the ttl-archive console script"
    by_script = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    by_module = subprocess.run([sys.executable, "-m", "helpers", "--help"], capture_output=True, text=True, timeout=60)
    assert by_script.returncode == by_module.returncode == 0
    assert by_script.stdout == by_module.stdout and "deploy" in by_script.stdout and "destroy" in by_script.stdout


def test_deploy_status_verify_destroy_on_the_embedded_local_aws(local_aws, stack, capsys):
    code, dry = _run(capsys, "deploy", "--stack", stack, "--dry-run", "--json")
    assert code == 0 and dry["dry_run"] is True and {p["action"] for p in dry["plan"]} == {"create"}
    code, status = _run(capsys, "status", "--stack", stack, "--json")
    assert code == 1 and not any(r["exists"] for r in status["resources"])  # the dry run created nothing

    code, deployed = _run(capsys, "deploy", "--stack", stack, "--json")
    assert code == 0 and deployed["deployed"] and deployed["region"] == "us-east-1" and deployed["account"].isdigit()
    assert {r["action"] for r in deployed["resources"]} == {"created"}
    assert deployed["names"]["table"] == f"{stack}-items" and deployed["names"]["function"] == f"{stack}-archiver"
    code, again = _run(capsys, "deploy", "--stack", stack, "--json")
    assert code == 0 and again["changed"] is False and {r["action"] for r in again["resources"]} == {"already there"}

    code, status = _run(capsys, "status", "--stack", stack, "--json")
    assert code == 0 and status["ok"] and status["complete"] and status["warnings"] == [], status
    kinds = {r["kind"] for r in status["resources"]}
    assert {"DynamoDB table", "S3 bucket", "IAM role", "Firehose stream", "SQS queue", "Lambda function", "log group",
            "event source mapping", "CloudWatch alarm"} <= kinds
    assert all(r["exists"] and r["ours"] for r in status["resources"])
    (trigger,) = status["triggers"]
    assert trigger["state"] == "Enabled"
    assert set(status["alarm_states"].values()) <= {"OK", "INSUFFICIENT_DATA", "ALARM"} and len(status["alarm_states"]) == 3
    assert status["failure_queue_depth"] == 0 and status["newest_archive_object"] is None

    code, verified = _run(capsys, "verify", "--stack", stack, "--items", "15", "--future", "2", "--timeout", "60", "--json")
    assert code == 0, verified
    assert verified["expired_written"] == verified["archived_unique"] == 15 and verified["missing"] == verified["unexpected"] == 0

    code, status = _run(capsys, "status", "--stack", stack, "--json")
    assert status["newest_archive_object"].startswith("archive/") and status["newest_archive_time"].endswith("Z")

    code, kept = _run(capsys, "destroy", "--stack", stack, "--json")
    assert code == 1  # the bucket holds archives and the table holds the items that must stay: kept
    by_kind = {e["kind"]: e for e in kept["resources"]}
    assert by_kind["S3 bucket"]["status"] == "kept" and by_kind["DynamoDB table"]["status"] == "kept"
    assert "still holds items" in by_kind["DynamoDB table"]["reason"] and "--force" in by_kind["DynamoDB table"]["reason"]
    assert by_kind["Lambda function"]["status"] == "deleted"

    code, preview = _run(capsys, "destroy", "--stack", stack, "--force", "--dry-run", "--json")
    assert code == 0 and {e["status"] for e in preview["resources"] if e["kind"] in ("S3 bucket", "DynamoDB table")} == {"would delete"}
    code, forced = _run(capsys, "destroy", "--stack", stack, "--force", "--json")
    assert code == 0 and forced["kept"] == forced["failed"] == 0
    code, status = _run(capsys, "status", "--stack", stack, "--json")
    assert code == 1 and not any(r["exists"] for r in status["resources"])


def test_deploy_on_the_aws_target_needs_yes_when_not_interactive(local_aws, stack, monkeypatch, capsys):
    # Another emulator is reached as the aws target through AWS_ENDPOINT_URL: here, the embedded one.
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws)
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    code, refused = _run(capsys, "deploy", "--stack", stack, "--target", "aws", "--json")
    assert code == 2 and refused["deployed"] is False and refused["reason"] == "confirmation needed"
    code, status = _run(capsys, "status", "--stack", stack, "--target", "aws", "--json")
    assert not any(r["exists"] for r in status["resources"])
    code, destroy = _run(capsys, "destroy", "--stack", stack, "--target", "aws", "--json")
    assert code == 2 and destroy["destroyed"] is False


def test_existing_table_flag_and_a_missing_table(local_aws, stack, capsys):
    code, dry = _run(capsys, "deploy", "--stack", stack, "--existing-table", f"{stack}-orders", "--dry-run", "--json")
    assert code == 1  # refused: existing-table mode and no such table
    (table,) = [p for p in dry["plan"] if p["kind"] == "DynamoDB table"]
    assert table["name"] == f"{stack}-orders" and table["action"].startswith("refuse")
    assert "existing-table mode" in dry["names"]["table"]
    code, failed = _run(capsys, "deploy", "--stack", stack, "--existing-table", f"{stack}-orders", "--json")
    assert code == 3 and f"{stack}-orders" in failed["error"] and "does not exist" in failed["error"]


def test_the_demo_refuses_the_aws_target(capsys):
    code, refused = _run(capsys, "demo", "--target", "aws", "--json")
    assert code == 2 and "embedded local AWS only" in refused["error"]


def test_local_status_start_and_an_unused_port(local_aws, capsys):
    code, status = _run(capsys, "local", "status", "--json")
    assert code == 0 and status["running"] is True and status["endpoint"] == local_aws
    code, started = _run(capsys, "local", "start", "--json")
    assert code == 0 and started["already_running"] is True
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    code, nothing = _run(capsys, "local", "status", "--port", str(free), "--json")
    assert code == 1 and nothing["running"] is False
    code, emptied = _run(capsys, "local", "reset", "--port", str(free), "--json")
    assert code == 0 and emptied["running"] is False and emptied["removed"] == []  # stopped: only its saved state is emptied (none here)
