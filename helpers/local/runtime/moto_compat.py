"""The moto internals the local runtime patches or reads, checked before anything is patched.

Stands in for AWS only. Moto's internals change between minor versions; the runtime is written
against moto 5.2.x. :func:`problems` lists every assumption that no longer holds, and
:func:`check` (called by ``runtime.prepare()``) refuses to start on a mismatch instead of
silently running a pipeline that loses records.
"""

from __future__ import annotations

import inspect
from typing import Any

SUPPORTED = ((5, 2), (5, 3))  # [from, to): moto 5.2.x


def _version() -> tuple[int, ...]:
    import moto

    return tuple(int(p) for p in moto.__version__.split(".")[:3] if p.isdigit())


def _params(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


def problems() -> list[str]:
    """Every moto internal the runtime relies on that is missing or changed (empty list = fine).

    Inspects moto as installed: call it before the patches are applied (``runtime.prepare()`` does).
    """
    found: list[str] = []
    version = _version()
    if not (SUPPORTED[0] <= version[:2] < SUPPORTED[1]):
        found.append(f"moto {'.'.join(map(str, version))} is outside the supported range 5.2.x")

    def expect(condition: bool, what: str) -> None:
        if not condition:
            found.append(what)

    try:
        from moto.dynamodb.models import dynamodb_backends  # noqa: F401
        from moto.dynamodb.models.table import StreamRecord, StreamShard, Table

        expect(_params(StreamShard.__init__) == ["self", "account_id", "table"], "StreamShard.__init__(account_id, table) changed")
        expect(_params(StreamShard.add) == ["self", "old", "new"], "StreamShard.add(old, new) changed")
        expect(_params(StreamShard.get) == ["self", "start", "quantity"], "StreamShard.get(start, quantity) changed")
        expect("send_dynamodb_items" in inspect.getsource(StreamShard.add), "StreamShard.add no longer pushes to Lambda (re-check the patch)")
        expect(_params(StreamRecord.__init__) == ["self", "table", "stream_type", "event_name", "old", "new", "seq"], "StreamRecord.__init__ changed")
        expect(_params(Table.delete_item) == ["self", "hash_key", "range_key"], "Table.delete_item(hash_key, range_key) changed")
        src = inspect.getsource(Table.__init__)
        for attr in ("self.ttl", "self.items", "self.stream_shard", "self.lambda_event_source_mappings"):
            expect(attr in src, f"Table has no {attr}")
        shard_src = inspect.getsource(StreamShard.__init__)
        for attr in ("self.id", "self.starting_sequence_number", "self.items", "self.created_on"):
            expect(attr in shard_src, f"StreamShard has no {attr}")
        record_src = inspect.getsource(StreamRecord.__init__)
        expect('"ApproximateCreationDateTime"' in record_src and '"awsRegion"' in record_src, "StreamRecord.record layout changed")
    except (ImportError, AttributeError, TypeError, OSError) as err:
        found.append(f"moto.dynamodb internals: {err!r}")

    try:
        from moto.dynamodbstreams.models import ShardIterator

        src = inspect.getsource(ShardIterator.__init__)
        expect("stream_shard.starting_sequence_number" in src, "ShardIterator no longer starts from starting_sequence_number")
    except (ImportError, AttributeError, OSError) as err:
        found.append(f"moto.dynamodbstreams internals: {err!r}")

    try:
        from moto.awslambda.models import EventSourceMapping, LambdaBackend, LambdaFunction

        expect(_params(LambdaFunction.invoke) == ["self", "body", "request_headers", "response_headers"], "LambdaFunction.invoke changed")
        expect(_params(LambdaBackend.create_event_source_mapping) == ["self", "spec"], "LambdaBackend.create_event_source_mapping(spec) changed")
        expect(hasattr(LambdaBackend, "get_function_by_arn") and hasattr(LambdaBackend, "get_event_source_mapping"), "LambdaBackend lookups changed")
        init_src = inspect.getsource(LambdaFunction.__init__) + inspect.getsource(LambdaFunction._set_function_code)
        for attr in ("self.code_bytes", "self.code_sha_256", "self.handler", "self.environment_vars", "self.timeout", "self.memory_size"):
            expect(attr in init_src, f"LambdaFunction has no {attr}")
        esm_src = inspect.getsource(EventSourceMapping.__init__)
        for attr in ("self.enabled", "self.starting_position", "self.bisect_on_error", "self.destination_config", "self.filter_criteria",
                     "self.function_response_types", "self.max_batch_window", "self.max_record_age", "self.max_retry_attempts", "self.function_arn"):
            expect(attr in esm_src, f"EventSourceMapping has no {attr}")
        expect("_event_source_mappings" in inspect.getsource(LambdaBackend.__init__) or "_event_source_mappings" in inspect.getsource(LambdaBackend),
               "LambdaBackend._event_source_mappings missing")
    except (ImportError, AttributeError, OSError) as err:
        found.append(f"moto.awslambda internals: {err!r}")

    try:
        from moto.events.models import EventPattern, EventPatternParser

        expect(EventPattern(None, EventPatternParser('{"a": ["b"]}').parse()).matches_event({"a": "b"}), "moto.events EventPattern no longer matches")
    except (ImportError, AttributeError, TypeError) as err:
        found.append(f"moto.events pattern matcher: {err!r}")

    try:
        from moto.firehose.models import DeliveryStream, FirehoseBackend

        expect(_params(FirehoseBackend.put_record_batch) == ["self", "delivery_stream_name", "records"], "FirehoseBackend.put_record_batch changed")
        src = inspect.getsource(DeliveryStream.__init__)
        expect("self.destinations" in src and "self.version_id" in src, "DeliveryStream.destinations/version_id changed")
    except (ImportError, AttributeError, OSError) as err:
        found.append(f"moto.firehose internals: {err!r}")

    try:
        from moto.s3.models import S3Backend

        expect(_params(S3Backend.put_object)[:4] == ["self", "bucket_name", "key_name", "value"], "S3Backend.put_object changed")
    except (ImportError, AttributeError) as err:
        found.append(f"moto.s3 internals: {err!r}")
    return found


def check() -> None:
    """Raise RuntimeError naming every broken assumption (see :func:`problems`)."""
    found = problems()
    if found:
        raise RuntimeError("the local runtime does not support this moto: " + "; ".join(found) + ". Pin moto>=5.2,<5.3.")
