"""Settings are parsed strictly, once, before anything: every bad TTL_ARCHIVE_* value is refused with the
variable, the value and the rule; the command line exits 2 and creates nothing on the embedded local AWS;
AWS_REGION is honoured before AWS_DEFAULT_REGION; an unreachable endpoint is one sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pathlib import Path

import pytest

from helpers import cli, pipeline, settings as settings_mod, target
from helpers.settings import Settings, SettingsError

# (variable without the prefix, bad value, a piece of the rule the error must quote)
BAD = [
    ("STACK", "Bad_Stack", "stack names are 2-32 characters"),
    ("STACK", "x" * 33, "stack names are 2-32 characters"),
    ("STACK", "-ab", "stack names are 2-32 characters"),
    ("TARGET", "azure", "must be one of local, aws"),
    ("TABLE", "ab", "table names are 3-255 characters"),
    ("TABLE", "orders table", "table names are 3-255 characters"),
    ("PARTITION_KEY", "é" * 128, "1-255 bytes of UTF-8"),
    ("SORT_KEY", "id", "partition key and the sort key must differ"),
    ("TTL_ATTRIBUTE", "x" * 256, "1-255 bytes of UTF-8"),
    ("TTL_ATTRIBUTE", "id", "partition key of a new table is a String"),
    ("EXISTING_TABLE", "ture", "true, false, 1, 0, yes, no"),
    ("EXISTING_TABLE", "2", "true, false, 1, 0, yes, no"),
    ("BUCKET", "Bad_Bucket", "bucket names are 3-63 characters"),
    ("BUCKET", "192.168.1.10", "not formatted as an IP address"),
    ("ARCHIVE_PREFIX", "/archive/", "do not start with '/'"),
    ("ARCHIVE_PREFIX", "archive", "end with '/'"),
    ("ERROR_PREFIX", "archive/errors/", "must not contain one another"),
    ("BUFFER_SIZE_MIB", "five", "whole number from 1 to 128"),
    ("BUFFER_SIZE_MIB", "0", "whole number from 1 to 128"),
    ("BUFFER_SIZE_MIB", "129", "whole number from 1 to 128"),
    ("BUFFER_SIZE_MIB", "5.0", "whole number from 1 to 128"),
    ("BUFFER_INTERVAL_SECONDS", "901", "whole number from 0 to 900"),
    ("BUFFER_INTERVAL_SECONDS", "-1", "whole number from 0 to 900"),
    ("BUFFER_INTERVAL_SECONDS", "1e2", "whole number from 0 to 900"),
    ("GLACIER_CLASS", "COLD", "GLACIER_IR, GLACIER, DEEP_ARCHIVE"),
    ("GLACIER_AFTER_DAYS", "ninety", "whole number from 0 to 36500"),
    ("GLACIER_AFTER_DAYS", "36501", "whole number from 0 to 36500"),
    ("LOCAL_PORT", "http", "whole number from 1 to 65535"),
    ("LOCAL_PORT", "0", "whole number from 1 to 65535"),
    ("LOCAL_TTL_INTERVAL", "0", "number from 0.05"),
    ("LOCAL_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR"),
    ("VERIFY_ITEMS", "0", "whole number from 1 to 1000000"),
    ("VERIFY_ITEMS", "many", "whole number from 1 to 1000000"),
    ("VERIFY_FUTURE_ITEMS", "-1", "whole number from 0 to 100000"),
    ("VERIFY_TIMEOUT", "soon", "greater than 0"),
    ("VERIFY_TIMEOUT", "nan", "greater than 0"),
    ("VERIFY_TIMEOUT", "0", "greater than 0"),
    ("VERIFY_NEW_RUN", "maybe", "true, false, 1, 0, yes, no"),
    ("FORCE_TEARDOWN", "sure", "true, false, 1, 0, yes, no"),
    ("DELETE_EXPORT", "y", "true, false, 1, 0, yes, no"),
    ("ANALYZE_HOURS", "a day", "greater than 0"),
]
IDS = [f"{name}={value[:12]}" for name, value, _ in BAD]


def _clean_env(monkeypatch):
    for variable in list(os.environ):
        if variable.startswith("TTL_ARCHIVE_") and variable not in ("TTL_ARCHIVE_LOCAL_PORT", "TTL_ARCHIVE_TARGET"):
            monkeypatch.delenv(variable)


_CLIENTS: dict[str, object] = {}


def _snapshot(session, stack: str) -> list[str]:
    """Which of the stack's resources exist (default names), checked by exact name."""
    from botocore.exceptions import ClientError

    def client(service):
        if service not in _CLIENTS:
            _CLIENTS[service] = session.client(service)
        return _CLIENTS[service]

    names = Settings(stack=stack).with_account("123456789012", session.region_name)
    checks = {
        "table": lambda: client("dynamodb").describe_table(TableName=names.table_name),
        "bucket": lambda: client("s3").head_bucket(Bucket=names.bucket_name),
        "role": lambda: client("iam").get_role(RoleName=names.firehose_role_name),
        "function": lambda: client("lambda").get_function(FunctionName=names.function_name),
        "queue": lambda: client("sqs").get_queue_url(QueueName=names.failure_queue_name),
        "stream": lambda: client("firehose").describe_delivery_stream(DeliveryStreamName=names.delivery_stream_name),
    }
    found = []
    for kind, call in checks.items():
        try:
            call()
            found.append(kind)
        except ClientError:
            pass
    return found


@pytest.mark.parametrize(("name", "value", "rule"), BAD, ids=IDS)
def test_every_bad_value_is_refused_naming_the_variable_value_and_rule(name, value, rule):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({f"TTL_ARCHIVE_{name}": value})
    message = str(caught.value)
    assert f"TTL_ARCHIVE_{name}" in message and repr(value) in message and rule in message, message
    assert isinstance(caught.value, ValueError) and caught.value.variable == f"TTL_ARCHIVE_{name}"


@pytest.mark.parametrize(("name", "value", "rule"), BAD, ids=IDS)
def test_deploy_with_a_bad_setting_exits_2_names_it_and_creates_nothing(name, value, rule, session, stack, monkeypatch, capsys):
    _clean_env(monkeypatch)
    if name != "STACK":
        monkeypatch.setenv("TTL_ARCHIVE_STACK", stack)
    monkeypatch.setenv(f"TTL_ARCHIVE_{name}", value)
    code = cli.main(["deploy", "--json", "--yes"])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    payload = json.loads(out)
    assert payload["exit_code"] == 2 and f"TTL_ARCHIVE_{name}" in payload["error"] and rule in payload["error"]
    assert f"TTL_ARCHIVE_{name}" in err and "Traceback" not in err
    assert _snapshot(session, stack) == []


def test_the_pipeline_creates_nothing_when_a_setting_is_invalid(session, stack):
    with pytest.raises(SettingsError, match="TTL_ARCHIVE_BUFFER_INTERVAL_SECONDS=901"):
        pipeline.ensure_pipeline(session, Settings(stack=stack, buffer_interval_seconds=901))
    with pytest.raises(SettingsError, match="TTL_ARCHIVE_BUCKET='Not_A_Bucket'"):
        pipeline.ensure_pipeline(session, Settings(stack=stack, bucket_name="Not_A_Bucket"))
    assert _snapshot(session, stack) == []


@pytest.mark.parametrize("raw,expected", [("true", True), ("TRUE", True), ("Yes", True), ("1", True), ("false", False), ("No", False), ("0", False)])
def test_booleans_take_only_the_six_words_in_any_case(raw, expected):
    assert Settings.from_env({"TTL_ARCHIVE_EXISTING_TABLE": raw, "TTL_ARCHIVE_TABLE": "orders"}).existing_table is expected


def test_numbers_names_and_empty_values():
    s = Settings.from_env({"TTL_ARCHIVE_BUFFER_SIZE_MIB": " 64 ", "TTL_ARCHIVE_GLACIER_CLASS": "deep_archive", "TTL_ARCHIVE_BUCKET": "", "TTL_ARCHIVE_TARGET": "AWS"})
    assert (s.buffer_size_mib, s.glacier_class, s.bucket_name, s.target) == (64, "DEEP_ARCHIVE", "", "aws")
    assert Settings.from_env({"TTL_ARCHIVE_GLACIER_CLASS": ""}).glacier_class is None
    assert settings_mod.parameter("VERIFY_TIMEOUT", {"TTL_ARCHIVE_VERIFY_TIMEOUT": "2.5"}) == 2.5
    assert settings_mod.parameter("VERIFY_ITEMS", {}) == 100


def test_direct_construction_is_checked_too_and_overrides_name_their_source():
    with pytest.raises(SettingsError, match="TTL_ARCHIVE_BUFFER_SIZE_MIB=True"):
        Settings(buffer_size_mib=True)
    with pytest.raises(SettingsError, match=r"--stack='Bad_Stack'"):
        Settings.from_env({}, sources={"stack": "--stack"}, stack="Bad_Stack")
    with pytest.raises(SettingsError, match=r"stack \(given as an argument\)='x'"):
        Settings.from_env({}, stack="x")
    # an override wins over a bad environment value of the same setting
    assert Settings.from_env({"TTL_ARCHIVE_STACK": "Bad_Stack"}, stack="good-stack").stack == "good-stack"


def test_adding_a_setting_is_one_line():
    from dataclasses import make_dataclass

    extended = make_dataclass(
        "Extended", [("alarm_email", "str | None", settings_mod.setting("ALARM_EMAIL", None, settings_mod.Text(r"[^@\s]+@[^@\s]+", "an e-mail address", optional=True)))],
        bases=(Settings,), frozen=True,
    )
    assert extended.from_env({"TTL_ARCHIVE_ALARM_EMAIL": "ops@example.com"}).alarm_email == "ops@example.com"
    with pytest.raises(SettingsError, match="TTL_ARCHIVE_ALARM_EMAIL='nobody': an e-mail address"):
        extended.from_env({"TTL_ARCHIVE_ALARM_EMAIL": "nobody"})


def test_ttl_on_the_number_sort_key_is_allowed_with_a_warning_on_the_trade_off():
    s = Settings.from_env({"TTL_ARCHIVE_TTL_ATTRIBUTE": "timestamp"})
    (warning,) = s.warnings()
    assert "every item expires" in warning.replace("every item carries it, so every item expires", "every item expires") and "cannot be removed" in warning
    assert Settings().warnings() == []


def test_a_misspelt_variable_is_reported(caplog):
    Settings.from_env({"TTL_ARCHIVE_BUFER_SIZE_MIB": "8"})
    assert "TTL_ARCHIVE_BUFER_SIZE_MIB is set but no setting has that name" in caplog.text


def test_cli_flags_are_named_in_their_errors(capsys):
    assert cli.main(["deploy", "--stack", "Bad_Stack", "--dry-run"]) == 2
    assert "--stack='Bad_Stack'" in capsys.readouterr().err
    assert cli.main(["deploy", "--existing-table", "no spaces allowed", "--dry-run", "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert "--existing-table='no spaces allowed'" in out["error"] and "table names are 3-255" in out["error"]


# --------------------------------------------------------------------------- region and endpoint


def test_aws_region_comes_before_aws_default_region(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-northeast-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert target.session("aws").region_name == "ap-northeast-1"
    monkeypatch.delenv("AWS_REGION")
    assert target.session("aws").region_name == "eu-west-1"
    assert target.session("aws", region="us-west-2").region_name == "us-west-2"


def test_the_region_is_printed_before_anything_is_created(local_aws, stack, monkeypatch, capsys):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # the local target honours it too
    assert cli.main(["deploy", "--stack", stack, "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("Region eu-west-1, account ")


def test_an_unreachable_endpoint_is_one_sentence_naming_it(monkeypatch):
    env = {**os.environ, "TTL_ARCHIVE_TARGET": "aws", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = subprocess.run([sys.executable, "-m", "helpers", "status", "--stack", "nowhere"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "Could not reach http://127.0.0.1:9" in result.stderr and "AWS_ENDPOINT_URL" in result.stderr


NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_stops_in_its_parameters_cell_and_creates_nothing(notebook, session, stack, monkeypatch):
    """The cells up to the parameters cell, as a kernel runs them (in this process, to stay fast)."""
    import nbformat

    monkeypatch.setenv("TTL_ARCHIVE_STACK", stack)
    monkeypatch.setenv("TTL_ARCHIVE_EXISTING_TABLE", "ture")  # accepted as "new-table mode" before this check existed
    namespace: dict = {"display": print}
    with pytest.raises(SettingsError, match=r"invalid TTL_ARCHIVE_EXISTING_TABLE='ture'"):
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type == "code":
                exec("\n".join(line for line in cell.source.splitlines() if not line.startswith("%")), namespace)  # noqa: S102
                if "parameters" in cell.metadata.get("tags", []):
                    break
    assert _snapshot(session, stack) == []


def test_every_ttl_archive_variable_the_code_reads_is_known(caplog):
    """A variable some module reads must not be reported as a typo (and a new one must be listed in settings)."""
    import re

    root = Path(__file__).resolve().parent.parent
    text = "\n".join(p.read_text(errors="replace") for folder in ("helpers", "notebooks") for p in (root / folder).rglob("*") if p.suffix in (".py", ".ipynb"))
    used = {v for v in re.findall(r"TTL_ARCHIVE_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_*])", text)}
    settings_mod._WARNED.clear()
    Settings.from_env({v: "" for v in used})
    assert "no setting has that name" not in caplog.text, caplog.text
