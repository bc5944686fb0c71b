"""End to end on the embedded local AWS: the whole stack deployed by helpers.pipeline, items expired by
the local TTL sweeper, archived through the stream trigger, the archiver function and Firehose into S3.

Proves: N expired items give exactly N distinct archived items; items with a future TTL, an item deleted
by hand and an item whose TTL was refreshed before it expired are not archived and (except the deleted
one) stay in the table; the demo command reports the same and exits 0 (non-zero when items are missing)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from helpers import iam, pipeline, target, verify
from helpers.settings import Settings

EXPIRED = 200


@pytest.fixture(scope="module")
def sess(local_aws):
    return target.session("local")


@pytest.fixture(scope="module")
def deployed(sess):
    return pipeline.ensure_pipeline(sess, Settings(stack=f"e{uuid.uuid4().hex[:8]}"))


@pytest.fixture(scope="module")
def finished(sess, deployed):
    """One run: EXPIRED expired items, 5 with a future TTL, 2 deleted by hand, 2 refreshed; waited for."""
    run = verify.start_run(sess, deployed.settings, deployed.identity, expired=EXPIRED, future=5, user_deleted=2, refreshed=2, save=False)
    report = verify.wait_for_archive(sess, run, timeout=90, progress=False)
    scanner = verify.ArchiveScanner(sess, run)
    scanner.poll()
    return run, report, scanner


def test_every_expired_item_is_archived_exactly_once(finished):
    run, report, scanner = finished
    assert report.complete and not report.timed_out, report.describe()
    assert report.expired_written == EXPIRED
    assert report.archived_unique == EXPIRED
    assert report.missing == 0
    assert report.duplicates == 0
    assert scanner.deliveries == EXPIRED and scanner.archived_count("expired") == EXPIRED
    assert set(scanner.archived_keys("expired")) == set(run.expired_ids)
    assert len(scanner.event_ids) == EXPIRED


def test_future_user_deleted_and_refreshed_items_are_not_archived(finished):
    run, report, scanner = finished
    assert report.unexpected == 0 and report.unexpected_ids == []
    archived = scanner.archived_ids()
    for kind in ("future", "user_deleted", "refreshed"):
        assert run.ids[kind] and not set(run.ids[kind]) & archived, kind
    assert time.time() > run.refreshed_until  # the refreshed items' first TTL has passed


def test_items_with_a_future_or_refreshed_ttl_are_still_in_the_table_and_the_deleted_one_is_gone(sess, finished):
    run, report, _ = finished
    assert report.controls_expected_kept == 5 + 2
    assert report.controls_kept == report.controls_expected_kept
    ddb = sess.client("dynamodb")

    def exists(key):
        return "Item" in ddb.get_item(TableName=run.table_name, Key={run.partition_key: {"S": key}, run.sort_key: {"N": str(run.sort_value)}})

    refreshed = ddb.get_item(TableName=run.table_name, Key={run.partition_key: {"S": run.ids["refreshed"][0]}, run.sort_key: {"N": str(run.sort_value)}})["Item"]
    assert int(refreshed[run.ttl_attribute]["N"]) > time.time() + 24 * 3600
    assert not any(exists(k) for k in run.ids["user_deleted"])
    assert not any(exists(k) for k in run.expired_ids[:20])


def test_archived_lines_follow_the_documented_format(sess, deployed, finished):
    run, _report, scanner = finished
    record = scanner.sample
    assert record["format"] == 2 and "types" not in record  # plain items carry no type tree
    assert record["table"] == run.table_name
    assert record["event_source_arn"] == deployed.stream_arn
    assert record["region"] == sess.region_name
    assert record["ttl_attribute"] == run.ttl_attribute and record["ttl"] == run.expires_at
    assert record["keys"] == {run.partition_key: record["item"][run.partition_key], run.sort_key: run.sort_value}
    assert record["item"]["kind"] == "expired" and str(record["item"]["payload"]["price"]) == "9.99"
    assert record["deleted_at"].endswith("Z")


def test_archive_objects_are_gzip_under_dated_folders(sess, finished):
    run, _report, scanner = finished
    assert scanner.objects_with_run
    for key in scanner.objects_with_run:
        assert key.startswith(run.archive_prefix) and key.count("/") >= 5, key
        body = sess.client("s3").get_object(Bucket=run.bucket_name, Key=key)["Body"].read()
        assert body[:2] == b"\x1f\x8b"
        assert gzip.decompress(body).endswith(b"\n")


def test_the_deployed_archiver_role_grants_no_wildcards(sess, deployed):
    policy = sess.client("iam").get_role_policy(RoleName=deployed.settings.lambda_role_name, PolicyName=iam.ARCHIVER_POLICY_NAME)["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert iam.wildcard_violations(policy) == []
    resources = {r for s in policy["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    assert deployed.stream_arn in resources and deployed.delivery_stream_arn in resources and deployed.failure_queue_arn in resources


def test_the_trigger_is_connected_with_the_ttl_filter(sess, deployed):
    mapping = sess.client("lambda").get_event_source_mapping(UUID=deployed.mapping_uuid)
    assert mapping["EventSourceArn"] == deployed.stream_arn
    assert mapping["FunctionArn"] == deployed.function_arn
    assert json.loads(mapping["FilterCriteria"]["Filters"][0]["Pattern"])["userIdentity"] == {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}


def test_a_second_provisioning_changes_nothing(sess, deployed, finished):
    again = pipeline.ensure_pipeline(sess, Settings(stack=deployed.settings.stack), deployed.identity)
    assert not again.changed, again.summary()
    assert [o.action for o in again.outcomes] == ["already there"] * len(deployed.outcomes)
    assert again.mapping_uuid == deployed.mapping_uuid


def test_items_that_have_not_expired_time_out_with_a_report(sess, deployed):
    run = verify.start_run(sess, deployed.settings, deployed.identity, expired=3, future=0, user_deleted=0,
                           expires_at=int(time.time()) + 3600, save=False)
    report = verify.wait_for_archive(sess, run, timeout=1.0, interval=0.2, progress=False)
    assert report.timed_out and not report.complete
    assert (report.archived_unique, report.missing) == (0, 3)
    with pytest.raises(TimeoutError, match="0 of 3 expired items archived"):
        verify.wait_for_archive(sess, run, timeout=0.5, interval=0.2, progress=False, raise_on_timeout=True)


def test_no_item_is_lost_when_firehose_and_the_function_fail_some_of_the_time(sess):
    """Faults (local runtime): Firehose rejects records and whole calls, workers crash after the handler ran.
    Retries may deliver a line twice; after de-duplicating by event id, every item is there exactly once."""
    from helpers import local

    # Batches of 10: some 30 invocations and Firehose calls, so that every kind of fault does happen.
    deployed = pipeline.ensure_pipeline(sess, Settings(stack=f"f{uuid.uuid4().hex[:8]}"), batch_size=10)
    local.set_faults(seed=7, firehose_record_failure_rate=0.2, firehose_call_failure_rate=0.1, lambda_crash_rate=0.2,
                     delivery_streams=[deployed.settings.delivery_stream_name], functions=[deployed.settings.function_name])
    try:
        run = verify.start_run(sess, deployed.settings, deployed.identity, expired=300, future=2, user_deleted=1, save=False)
        report = verify.wait_for_archive(sess, run, timeout=120, progress=False)
        faults = local.health()["runtime"]["FaultService"]
    finally:
        local.clear_faults()
    assert report.complete, report.describe()
    assert (report.archived_unique, report.missing, report.unexpected) == (300, 0, 0)
    assert report.controls_kept == report.controls_expected_kept == 2
    assert faults.get("lambda_crashes", 0) > 0 and faults.get("firehose_calls_failed", 0) + faults.get("firehose_records_failed", 0) > 0, faults
    # A worker that crashed after its handler ran had sent its lines: the retry sends them again. The second
    # delivery may still sit in Firehose's buffer when the last distinct item shows up: wait for it, bounded.
    from helpers.retry import wait_until

    later = wait_until(lambda: (lambda r: r if r.duplicates > 0 else None)(verify.check(sess, run)), what="the re-delivered lines", timeout=15)
    assert (later.archived_unique, later.missing, later.unexpected) == (300, 0, 0)


def _demo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TTL_ARCHIVE_STACK": "e2e-demo"}
    return subprocess.run([sys.executable, "-m", "helpers", "demo", *args], capture_output=True, text=True, timeout=240, env=env)


def test_demo_command_prints_one_json_object_and_exits_zero(local_aws):
    result = _demo("--items", "50", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout + result.stderr
    payload = json.loads(result.stdout)
    for key in ("expired_written", "archived_unique", "duplicates", "unexpected", "missing", "s3_objects", "seconds"):
        assert key in payload, key
    assert payload["expired_written"] == payload["archived_unique"] == 50
    assert payload["missing"] == payload["unexpected"] == 0
    assert payload["s3_objects"] >= 1 and payload["seconds"] > 0


def test_demo_command_exits_non_zero_when_items_are_missing(local_aws):
    result = _demo("--items", "5", "--json", "--timeout", "0.01")
    assert result.returncode == 1, result.stdout + result.stderr
    payload = json.loads(result.stdout)
    assert payload["archived_unique"] < payload["expired_written"] == 5
    assert payload["timed_out"] is True and payload["missing"] > 0


# --------------------------------------------------------------------------- notebooks 04 and 05


def _outputs(path) -> str:
    import nbformat

    text = []
    for cell in nbformat.read(path, as_version=4).cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", "") + "".join(str(v) for v in out.get("data", {}).values()))
    return "\n".join(text)


@pytest.mark.timeout(300)
def test_notebooks_04_and_05_run_after_01_to_03_and_04_again_changes_nothing(local_aws, tmp_path, monkeypatch):
    from pathlib import Path

    from helpers.notebook_runner import run_notebook

    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    stack = f"n{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TTL_ARCHIVE_STACK", stack)  # inherited by the kernels, with the run's local AWS port
    monkeypatch.setenv("TTL_ARCHIVE_VERIFY_ITEMS", "30")
    for name in ("01_dynamodb_table", "02_s3_bucket", "03_firehose", "04_lambda_trigger", "05_verify"):
        run_notebook(notebooks / f"{name}.ipynb", tmp_path / "first", timeout=120)
    run_notebook(notebooks / "04_lambda_trigger.ipynb", tmp_path / "second", timeout=120)

    first, second = _outputs(tmp_path / "first" / "04_lambda_trigger.ipynb"), _outputs(tmp_path / "second" / "04_lambda_trigger.ipynb")
    assert f"Lambda function {stack}-archiver: created" in first
    assert "aws lambda create-event-source-mapping" in first and '\\"principalId\\":[\\"dynamodb.amazonaws.com\\"]' in first
    assert "wildcard grants: []" in first
    assert f"Lambda function {stack}-archiver: already there" in second
    assert "aws lambda create-function" not in second and "aws lambda update-function-code" not in second
    sha = [line.split()[-1] for line in first.splitlines() if line.strip().startswith("CodeSha256:")]
    assert sha and f"CodeSha256 unchanged: True {sha[0]}" in second
    verified = _outputs(tmp_path / "first" / "05_verify.ipynb")
    assert "30 of 30 expired items archived" in verified and "0 missing, 0 unexpected" in verified
    assert "all expired items archived, nothing else" in verified
    assert '"ttl_attribute": "expires_at"' in verified
