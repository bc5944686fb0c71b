"""The archiver's delivery paths that mutation testing found untested (issue 15): Firehose answering a
different number of responses than records sent, time running out between two successful calls, the
HTTP 5xx fallback, exceptions that are not ClientError, backoff growth after per-record failures, and
the size budget of split parts. Unit tests on fakes: no AWS, no server, well under a second."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from helpers import archiver
from tests.test_archiver import fresh_caches  # noqa: F401 - autouse: every test starts with empty caches
from tests.test_archiver import FakeContext, FakeFirehose, client_error, read_lines, run, seqs, stream_record, ttl_batch


@pytest.fixture
def top_of_jitter(monkeypatch):
    """Every backoff delay at the top of its full-jitter range, so the growth is visible."""
    monkeypatch.setattr(archiver.random, "uniform", lambda low, high: high)


# ---------------------------------------------------------------------- Firehose answers the wrong count
@pytest.mark.parametrize("answered", [0, 2, 4])
def test_a_response_count_that_differs_from_the_records_sent_resends_them_all(answered, top_of_jitter):
    records = ttl_batch(3)

    class Miscounting(FakeFirehose):
        def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803 - boto3 names
            response = super().put_record_batch(DeliveryStreamName, Records)
            if len(self.calls) == 1:  # the first answer has the wrong number of entries: nothing is known
                response["RequestResponses"] = [{"RecordId": f"r{i}"} for i in range(answered)]
            return response

    fake = Miscounting()
    result, fake, context = run(records, fake, max_record_bytes=1024)
    assert len(fake.calls) == 2 and fake.calls[1] == fake.calls[0]  # every record sent again, same order
    assert result.stats.error_codes == {"ResponseMismatch": 3} and result.stats.retried == 3
    assert context.sleeps == [archiver.BACKOFF_BASE_SECONDS]  # a failed call: backoff before the resend
    assert result.batch_item_failures == [] and result.archived == 3 and result.failed == 0
    # At least once: the first call's records may have been stored too; nothing is lost.
    assert {d["event_id"] for d in read_lines(fake.stored)} == {r["eventID"] for r in records}


def test_a_missing_request_responses_field_counts_as_a_mismatch_not_as_success():
    class Silent(FakeFirehose):
        def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803
            response = super().put_record_batch(DeliveryStreamName, Records)
            if len(self.calls) == 1:
                del response["RequestResponses"]
            return response

    result, fake, _ = run(ttl_batch(2), Silent(), max_record_bytes=1024)
    assert len(fake.calls) == 2 and result.stats.error_codes == {"ResponseMismatch": 2}


# ---------------------------------------------------------------------- time between successful calls
def test_time_running_out_between_two_successful_calls_stops_without_a_sleep():
    records = ttl_batch(4)
    context = FakeContext(remaining_ms=5_000)
    fake = FakeFirehose(context=context, call_ms=1_000)  # every call succeeds, each takes a second
    result, fake, context = run(records, fake, context, max_record_bytes=1024, max_batch_records=1, safety_margin_ms=3_000)
    # 5 s -> call 1 -> 4 s -> call 2 -> 3 s (= the margin: still allowed) -> call 3 -> 2 s: stop.
    assert len(fake.calls) == 3 and context.sleeps == []
    assert result.stats.out_of_time and result.stats.calls == 3
    assert result.batch_item_failures == seqs(records, 3) and result.archived == 3 and result.failed == 1
    assert [d["event_id"] for d in read_lines(fake.stored)] == [r["eventID"] for r in records[:3]]


def test_exactly_the_margin_left_still_sends_and_one_millisecond_less_does_not():
    for remaining, calls in ((3_000, 2), (2_999, 1)):
        context = FakeContext(remaining_ms=remaining + 100)
        fake = FakeFirehose(context=context, call_ms=100)
        result, fake, _ = run(ttl_batch(2), fake, context, max_record_bytes=1024, max_batch_records=1, safety_margin_ms=3_000)
        assert len(fake.calls) == calls, remaining
        assert result.stats.out_of_time is (calls == 1)


def test_no_backoff_sleep_starts_that_would_end_inside_the_margin(top_of_jitter):
    # After two failed calls the next delay is 0.2 s: 3,150 ms left - 200 ms < 3,000 ms: stop, do not sleep.
    context = FakeContext(remaining_ms=3_250)
    fake = FakeFirehose(then=client_error("ThrottlingException"))
    result, fake, context = run(ttl_batch(2), fake, context, safety_margin_ms=3_000)
    assert context.sleeps == [0.1] and len(fake.calls) == 2
    assert result.stats.out_of_time and result.batch_item_failures == seqs(ttl_batch(2))
    assert result.stats.throttled_calls == 2 and result.stats.error_codes == {"ThrottlingException": 2}  # one Firehose record, twice


# ---------------------------------------------------------------------- which errors are retried
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_an_unknown_error_code_with_an_http_5xx_status_is_retried(status, top_of_jitter):
    fake = FakeFirehose(script=[client_error("SomethingNewFromAws", status)])
    result, fake, context = run(ttl_batch(2), fake)
    assert len(fake.calls) == 2 and result.batch_item_failures == []
    assert result.stats.error_codes == {"SomethingNewFromAws": 1} and result.stats.throttled_calls == 1
    assert context.sleeps == [0.1]


@pytest.mark.parametrize("status", [400, 403, 499, None])
def test_an_unknown_error_code_below_500_is_raised_after_one_call(status):
    error = client_error("SomethingNewFromAws", status) if status else ClientError({"Error": {"Code": "SomethingNewFromAws"}}, "PutRecordBatch")
    fake = FakeFirehose(script=[error])
    with pytest.raises(ClientError, match="SomethingNewFromAws"):
        run(ttl_batch(2), fake)
    assert len(fake.calls) == 1


@pytest.mark.parametrize("code", sorted(archiver.RETRYABLE_ERROR_CODES))
def test_every_retryable_code_is_retried_even_with_a_400_status(code):
    assert archiver._is_retryable(client_error(code, 400))


@pytest.mark.parametrize("error", [
    EndpointConnectionError(endpoint_url="https://firehose.eu-west-1.amazonaws.com"),
    ReadTimeoutError(endpoint_url="https://firehose.eu-west-1.amazonaws.com"),
    ConnectionClosedError(endpoint_url="https://firehose.eu-west-1.amazonaws.com"),
], ids=type)
def test_network_errors_that_are_not_client_errors_are_retried(error, top_of_jitter):
    fake = FakeFirehose(script=[error])
    result, fake, context = run(ttl_batch(2), fake)
    assert len(fake.calls) == 2 and result.batch_item_failures == []
    assert result.stats.error_codes == {type(error).__name__: 1} and context.sleeps == [0.1]


@pytest.mark.parametrize("error", [RuntimeError("bug in a client wrapper"), TimeoutError("socket"), KeyError("x")], ids=type)
def test_other_exceptions_are_raised_after_one_call_and_logged_with_their_type(error, capsys):
    archiver.configure_logging("INFO")
    fake = FakeFirehose(script=[error])
    with pytest.raises(type(error)):
        run(ttl_batch(2), fake)
    assert len(fake.calls) == 1
    (log,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert log["level"] == "ERROR" and log["error_code"] == type(error).__name__ and log["hint"] == ""


def test_a_known_non_retryable_code_logs_its_hint_with_the_stream_name(capsys):
    archiver.configure_logging("INFO")
    with pytest.raises(ClientError):
        run(ttl_batch(1), FakeFirehose(script=[client_error("AccessDeniedException")]))
    (log,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert log["error_code"] == "AccessDeniedException"
    assert log["hint"] == "the function's role may not call firehose:PutRecordBatch on 'archive'"


# ---------------------------------------------------------------------- backoff growth
def test_backoff_doubles_after_each_per_record_failure_and_resets_after_a_clean_call(top_of_jitter):
    records = ttl_batch(3)
    # calls 1-4: record at position 0 fails each time; call 5 clean; call 6: one more failure; call 7 clean.
    fake = FakeFirehose(script=[{0}, {0}, {0}, {0}, None, {0}, None])
    result, fake, context = run(records, fake, max_record_bytes=1024, max_batch_records=1)
    assert context.sleeps == [0.1, 0.2, 0.4, 0.8, 0.1]
    assert result.batch_item_failures == [] and result.stats.retried == 5
    assert result.stats.error_codes == {"ServiceUnavailableException": 5}


def test_backoff_is_capped_at_five_seconds(top_of_jitter):
    fake = FakeFirehose(script=[{0}] * 9)
    result, fake, context = run(ttl_batch(1), fake)
    assert context.sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    assert result.batch_item_failures == []


def test_the_jitter_range_starts_at_zero(monkeypatch):
    ranges = []
    monkeypatch.setattr(archiver.random, "uniform", lambda low, high: ranges.append((low, high)) or low)
    run(ttl_batch(1), FakeFirehose(script=[{0}, {0}]))
    assert ranges == [(0.0, 0.1), (0.0, 0.2)]


# ---------------------------------------------------------------------- split parts and their budget
@pytest.mark.parametrize("filler", ["a", "é", "✓", "😀", '"', "\n", "\u0001"])
def test_split_parts_fill_their_budget_without_passing_it(filler):
    text = json.dumps({"s": filler * 3000}, ensure_ascii=False)
    max_bytes = 1024
    parts = archiver.split_line(text, "event-1", max_bytes)
    docs = [json.loads(p) for p in parts]
    assert "".join(d["data"] for d in docs) == text
    assert all(len(p) <= max_bytes and p.endswith(b"\n") for p in parts)
    # Every part but the last is full up to what the 7-digit placeholders for part and parts reserve,
    # less a few code points that did not fit (the slice is cut between code points; 16 bytes at most).
    reserved = [(7 - len(str(i))) + (7 - len(str(len(parts)))) for i in range(len(parts))]
    assert all(len(p) >= max_bytes - r - 16 for p, r in zip(parts[:-1], reserved)), [len(p) for p in parts]
    assert [(d["part_of"], d["part"], d["parts"], d["format"]) for d in docs] == [("event-1", i, len(parts), 2) for i in range(len(parts))]


def test_split_part_overhead_counts_the_event_id_and_the_largest_part_numbers():
    text = "x" * 5000
    long_id = "e" * 200
    parts = archiver.split_line(text, long_id, 1024)
    assert all(len(p) <= 1024 for p in parts) and len(parts) > 5
    head = len(b'{"part_of":"' + long_id.encode() + b'","part":9999999,"parts":9999999,"data":"","format":2}\n')
    assert len(json.loads(parts[0])["data"]) == 1024 - head  # the first part's data is exactly the budget


def test_a_budget_under_12_bytes_is_refused_and_12_is_accepted():
    overhead = len(b'{"part_of":"e","part":9999999,"parts":9999999,"data":"","format":2}\n')
    with pytest.raises(ValueError, match="leaves no room"):
        archiver.split_line("abc" * 10, "e", overhead + 11)
    parts = archiver.split_line("abc" * 10, "e", overhead + 12)
    assert "".join(json.loads(p)["data"] for p in parts) == "abc" * 10
    assert all(len(p) <= overhead + 12 for p in parts)


def test_split_items_are_sized_to_the_record_target_and_delivered_in_the_fewest_calls():
    config = archiver.Config(delivery_stream_name="archive")
    assert config.target_record_bytes == 838_860  # 4 MiB / 5: five full records fill a call
    small = archiver.Config(delivery_stream_name="archive", max_record_bytes=1024, max_batch_bytes=4096, max_batch_records=500)
    assert small.target_record_bytes == 1024
    few = archiver.Config(delivery_stream_name="archive", max_record_bytes=1024, max_batch_bytes=4096, max_batch_records=2)
    assert few.target_record_bytes == 1024  # min(record limit, 4096 // 2)
    odd = archiver.Config(delivery_stream_name="archive", max_record_bytes=1500, max_batch_bytes=4096, max_batch_records=500)
    assert odd.target_record_bytes == 1365  # ceil(4096 / 1500) = 3 records per call: 4096 // 3
    item = {"id": {"S": "big"}, "s": {"S": "z" * 10_000}}
    result, fake, _ = run([stream_record(0, item)], max_record_bytes=1500, max_batch_bytes=4096)
    sizes = [len(d) for call in fake.calls for d in call]
    assert result.split_items == 1 and max(sizes) <= 1365 and all(sum(map(len, call)) <= 4096 for call in fake.calls)
    assert len(fake.calls) == -(-len(sizes) // 3)
    assert read_lines(fake.stored)[0]["item"]["s"] == "z" * 10_000


# ---------------------------------------------------------------------- encoding paths the Lambda event does not take
def test_bytes_values_are_written_as_base64_like_the_lambda_events_text():
    image = {"id": {"S": "k"}, "b": {"B": b"\x00\x01"}, "bs": {"BS": [b"\x02", b"\x01\x00"]},
             "m": {"M": {"inner": {"B": bytearray(b"\xff")}}}, "l": {"L": [{"B": b"\x07"}, {"N": "007"}, {"S": "x"}]}}
    text, types = archiver.image_to_json_typed(image)
    assert text == '{"id":"k","b":"AAE=","bs":["AQA=","Ag=="],"m":{"inner":"/w=="},"l":["Bw==",7,"x"]}'
    assert types == '{"b":"B","bs":"BS","m":{"inner":"B"},"l":{"0":"B"}}'
    assert archiver.attribute_value_to_json({"B": b"\x01"}) == '"AQ=="'


def test_deleted_at_from_every_accepted_time_shape():
    from datetime import datetime, timedelta, timezone

    iso = archiver._iso_utc
    assert iso(1_764_180_000) == "2025-11-26T18:00:00Z"
    assert iso(1_764_180_061) == "2025-11-26T18:01:01Z"
    assert iso(1_764_180_000.25) == "2025-11-26T18:00:00.250000Z"
    assert iso("1764180000.5") == "2025-11-26T18:00:00.500000Z"
    assert iso(datetime(2025, 11, 26, 18, 0, 0, 7)) == "2025-11-26T18:00:00.000007Z"  # naive: UTC
    assert iso(datetime(2025, 11, 26, 19, 30, tzinfo=timezone(timedelta(hours=1, minutes=30)))) == "2025-11-26T18:00:00Z"
    assert iso(None) is None and iso(True) is None
    with pytest.raises(ValueError, match="not a time"):
        iso(float("nan"))
    assert iso(0) == "1970-01-01T00:00:00Z" and iso(-1) == "1969-12-31T23:59:59Z"


def test_table_and_region_come_from_the_stream_arn_when_the_record_lacks_them():
    record = stream_record(0)
    del record["awsRegion"]
    doc = json.loads(archiver.archive_line(record))
    assert (doc["table"], doc["region"]) == ("orders", "eu-west-1")
    record["eventSourceARN"] = "not-an-arn"
    doc = json.loads(archiver.archive_line(record))
    assert (doc["table"], doc["region"], doc["event_source_arn"]) == (None, None, "not-an-arn")
    del record["eventSourceARN"]
    record["awsRegion"] = "ap-south-1"
    doc = json.loads(archiver.archive_line(record))
    assert (doc["table"], doc["region"], doc["event_source_arn"]) == (None, "ap-south-1", None)


def test_without_a_lambda_context_the_time_budget_is_sixty_seconds():
    left = archiver._time_left(object())()
    assert 59_000 < left <= 60_000
    context = FakeContext(remaining_ms=1234)
    assert archiver._time_left(context)() == 1234


def test_the_default_firehose_client_has_short_timeouts_and_no_botocore_retries(monkeypatch):
    monkeypatch.setattr(archiver, "_firehose_client", None)
    client = archiver.firehose_client()
    assert archiver.firehose_client() is client and client.meta.service_model.service_name == "firehose"
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (5, 20)
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    fake = FakeFirehose()
    archiver.set_firehose_client(fake)
    assert archiver.firehose_client() is fake
    archiver.set_firehose_client(None)
    assert archiver.firehose_client() is not fake


# ---------------------------------------------------------------------- configuration edges
@pytest.mark.parametrize("name, low, high", [
    ("MAX_RECORD_BYTES", 1024, 1_024_000), ("MAX_BATCH_RECORDS", 1, 500),
    ("MAX_BATCH_BYTES", 1024, 4 * 1024 * 1024), ("SAFETY_MARGIN_MS", 0, 900_000),
])
def test_each_limit_accepts_its_bounds_and_names_itself_just_outside(name, low, high):
    field = name.lower()
    for value in (low, high):
        assert getattr(archiver.load_config({"DELIVERY_STREAM_NAME": "s", name: str(value)}), field) == value
    for value in (low - 1, high + 1):
        with pytest.raises(archiver.ConfigError, match=rf"{name}={value} is out of range: it must be between {low:,} and {high:,} \("):
            archiver.load_config({"DELIVERY_STREAM_NAME": "s", name: str(value)})
    with pytest.raises(archiver.ConfigError, match=rf"{name}='x' is not an integer \("):
        archiver.load_config({"DELIVERY_STREAM_NAME": "s", name: "x"})


def test_blank_settings_take_their_defaults():
    config = archiver.load_config({"DELIVERY_STREAM_NAME": " s ", "MAX_RECORD_BYTES": "  ", "SAFETY_MARGIN_MS": "",
                                   "TTL_ATTRIBUTE": "", "LOG_LEVEL": ""})
    assert config == archiver.Config(delivery_stream_name="s")
    assert config.log_level == "INFO" and config.safety_margin_ms == 3_000
    assert archiver.load_config({"DELIVERY_STREAM_NAME": "s", "LOG_LEVEL": " debug "}).log_level == "DEBUG"
    assert archiver.load_config({"DELIVERY_STREAM_NAME": "s", "TTL_ATTRIBUTE": "gone_at"}).ttl_attribute == "gone_at"


def test_a_missing_stream_name_and_a_too_long_ttl_attribute_name_their_variable():
    for env in ({}, {"DELIVERY_STREAM_NAME": "   "}):
        with pytest.raises(archiver.ConfigError, match="^DELIVERY_STREAM_NAME is not set"):
            archiver.load_config(env)
    assert archiver.load_config({"DELIVERY_STREAM_NAME": "s", "TTL_ATTRIBUTE": "é" * 127 + "a"}).ttl_attribute.endswith("a")  # 255 bytes
    with pytest.raises(archiver.ConfigError, match="^TTL_ATTRIBUTE is longer than 255 bytes"):
        archiver.load_config({"DELIVERY_STREAM_NAME": "s", "TTL_ATTRIBUTE": "é" * 128})  # 256 bytes
    assert archiver.load_config({"DELIVERY_STREAM_NAME": "a" * 64}).delivery_stream_name == "a" * 64
    with pytest.raises(archiver.ConfigError, match="DELIVERY_STREAM_NAME='a{65}' is not a Firehose stream name"):
        archiver.load_config({"DELIVERY_STREAM_NAME": "a" * 65})
    with pytest.raises(archiver.ConfigError, match="LOG_LEVEL='LOUD' must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        archiver.load_config({"DELIVERY_STREAM_NAME": "s", "LOG_LEVEL": "loud"})


# ---------------------------------------------------------------------- line details and the logged counts
@pytest.mark.parametrize("ttl, written", [("007", "7"), ("+5", "5"), ("1.50", "1.50"), ("1E3", "1E3"), (".5", "0.5"), ("1764180000", "1764180000")])
def test_the_ttl_number_is_written_as_json_whatever_its_spelling(ttl, written):
    record = stream_record(0, {"id": {"S": "k"}, "expires_at": {"N": ttl}})
    line = archiver.archive_line(record)
    assert f'"ttl":{written},' in line and json.loads(line)["ttl"] is not None


def test_a_record_without_keys_writes_keys_null_and_an_item_without_typed_values_no_types():
    record = stream_record(0, {"id": {"S": "k"}, "n": {"N": "1"}})
    del record["dynamodb"]["Keys"]
    line = archiver.archive_line(record)
    assert '"keys":null,' in line and '"types"' not in line
    typed = archiver.archive_line(stream_record(1, {"id": {"S": "k"}, "tags": {"SS": ["b", "a"]}}))
    assert '"item":{"id":"k","tags":["a","b"]},"types":{"tags":"SS"},"format":2}' in typed


def test_deliver_without_stats_and_the_counts_the_invocation_logs(top_of_jitter):
    records = [archiver.FirehoseRecord(b"a\n" * n, n, n) for n in (1, 2, 3)]
    config = archiver.Config(delivery_stream_name="archive")
    context = FakeContext()
    assert archiver.deliver(records, FakeFirehose(), config, context.get_remaining_time_in_millis, sleep=context.sleep) == [True] * 3

    # throttled once, then record 1 fails once, then all stored: 3 calls, 3 + 3 + 1 records sent
    fake = FakeFirehose(script=[client_error("ThrottlingException"), {1}, None])
    stats = archiver.DeliveryStats()
    assert archiver.deliver(records, fake, config, context.get_remaining_time_in_millis, sleep=context.sleep, stats=stats) == [True] * 3
    assert (stats.calls, stats.records_sent, stats.bytes_sent) == (3, 7, 12 + 12 + 4)
    assert (stats.retried, stats.throttled_calls, stats.out_of_time) == (4, 1, False)
    assert stats.error_codes == {"ThrottlingException": 3, "ServiceUnavailableException": 1}
    assert context.sleeps == [0.1, 0.2]


def test_the_summary_logged_per_invocation_has_every_count():
    records = [stream_record(0), stream_record(1, event="INSERT"), stream_record(2, {"id": {"S": "big"}, "s": {"S": "z" * 3000}}),
               stream_record(3, event="REMOVE", identity=None)]
    fake = FakeFirehose(script=[{0}])
    result, fake, _ = run(records, fake, max_record_bytes=1024, max_batch_records=500)
    summary = result.summary()
    assert summary == {
        "seen": 4, "archived": 2, "skipped": 2, "skipped_by_reason": {"insert": 1, "user_delete": 1}, "failed": 0,
        "batch_item_failures": 0, "retried": 1, "lines": result.lines, "split_items": 1,
        "payload_bytes": result.payload_bytes, "firehose_records": result.firehose_records,
        "firehose_calls": 2, "firehose_records_sent": result.firehose_records + 1,
        "firehose_bytes_sent": result.payload_bytes + len(fake.calls[1][0]),
        "firehose_error_codes": {"ServiceUnavailableException": 1}, "out_of_time": False,
    }
    assert result.lines > 3 and result.payload_bytes == sum(len(d) for d in fake.stored)


def test_typed_values_nested_in_lists_and_maps_keep_their_place_in_the_types_tree():
    image = {"id": {"S": "k"}, "l": {"L": [{"M": {"b": {"B": "AQ=="}, "s": {"S": "x"}}}, {"L": [{"S": "y"}, {"NS": ["2", "1"]}]},
                                             {"M": {"plain": {"N": "1"}}}, {"L": []}]},
             "m": {"M": {"deep": {"L": [{"SS": ["b", "a"]}]}, "flat": {"BOOL": True}, "none": {"NULL": True}}}}
    text, types = archiver.image_to_json_typed(image)
    assert text == '{"id":"k","l":[{"b":"AQ==","s":"x"},["y",[1,2]],{"plain":1},[]],"m":{"deep":[["a","b"]],"flat":true,"none":null}}'
    assert types == '{"l":{"0":{"b":"B"},"1":{"1":"NS"}},"m":{"deep":{"0":"SS"}}}'
    assert archiver.image_to_json(image) == text  # the same item text without the tree (keys use it)
    assert archiver.image_to_json({"k": {"L": [{"M": {"a": {"N": "007"}}}, {"L": [{"S": "s"}]}]}}) == '{"k":[{"a":7},["s"]]}'


def test_every_malformed_value_is_a_value_error_naming_what_is_wrong():
    with pytest.raises(ValueError, match="exactly one type key, got \\['N', 'S'\\]"):
        archiver.attribute_value_to_json({"S": "a", "N": "1"})
    with pytest.raises(ValueError, match="unknown DynamoDB type 'Q'"):
        archiver.attribute_value_to_json({"Q": 1})
    with pytest.raises(ValueError, match="malformed AttributeValue"):
        archiver.attribute_value_to_json({"B": 1.5})
    with pytest.raises(ValueError, match="malformed item image"):
        archiver.image_to_json_typed({"b": {"B": 1.5}})
    with pytest.raises(ValueError, match="not a DynamoDB number: 'abc'"):
        archiver.attribute_value_to_json({"N": "abc"})
    with pytest.raises(ValueError, match="not a DynamoDB number: 'Infinity'"):
        archiver.attribute_value_to_json({"N": "Infinity"})
    record = stream_record(0)
    record["dynamodb"]["ApproximateCreationDateTime"] = "soon"
    with pytest.raises(ValueError, match="bad ApproximateCreationDateTime"):
        archiver.archive_line(record)


def test_a_backoff_that_ends_exactly_at_the_margin_still_sleeps_and_sends(top_of_jitter):
    context = FakeContext(remaining_ms=3_100)  # after the first failure: 3,100 - 100 ms = the margin
    result, fake, context = run(ttl_batch(1), FakeFirehose(script=[{0}]), context, safety_margin_ms=3_000)
    assert context.sleeps == [0.1] and len(fake.calls) == 2 and result.batch_item_failures == []


def test_the_default_sleep_is_time_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(archiver.time, "sleep", slept.append)
    archiver._sleep(0.25)
    assert slept == [0.25]


def test_several_typed_values_in_one_nested_list_are_all_in_the_types_tree():
    image = {"l": {"L": [{"L": [{"B": "AQ=="}, {"S": "x"}, {"SS": ["a"]}]}]}}
    assert archiver.image_to_json_typed(image)[1] == '{"l":{"0":{"0":"B","2":"SS"}}}'
