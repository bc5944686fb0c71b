"""helpers.archive_reader: any attribute name and any value read back, on the fast path and the exact path,
from lines written by the real archiver; format 2 lines (the ``types`` envelope field) read like format 1."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import archive_reader as ar
from helpers import archiver
from helpers.archive_reader import _fast

# More examples for a bug hunt: ARCHIVE_READER_EXAMPLES=500 pytest tests/test_archive_reader_names.py
EXAMPLES = int(os.environ.get("ARCHIVE_READER_EXAMPLES", "30"))
KEY = "archive/2026/11/26/18/s-1-2026-11-26-18-00-00-{}"


def av(value: object) -> dict:
    """A plain value as the DynamoDB AttributeValue a stream record carries."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, Decimal)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, dict):
        return {"M": {k: av(v) for k, v in value.items()}}
    return {"L": [av(v) for v in value]}


def record(n: int, item: dict) -> dict:
    """A TTL-delete stream record (Lambda event shape) for a plain item."""
    image = {"pk": {"S": f"k{n}"}, "expires_at": {"N": "1764180000"}, **{k: av(v) for k, v in item.items()}}
    return {
        "eventID": f"evt-{n}", "eventName": "REMOVE", "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-11-26T00:00:00.000",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {"ApproximateCreationDateTime": 1764180000 + n, "Keys": {"pk": {"S": f"k{n}"}}, "OldImage": image,
                     "SequenceNumber": str(10**20 + n)},
    }


def write(folder: Path, lines: list[str], name: str = "a") -> None:
    path = folder / KEY.format(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress("".join(line + "\n" for line in lines).encode()))


def norm(value: object) -> object:
    """Values compared as the archive keeps them: numbers by value (the fast path gives fractions as
    exact floats), maps without the absent keys Arrow fills with None."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, float):
        return ("n", Decimal(repr(value)))
    if isinstance(value, (int, Decimal)):
        return ("n", Decimal(value))
    if isinstance(value, dict):
        return ("m", {k: norm(v) for k, v in value.items() if v is not None})
    if isinstance(value, list):
        return ("l", [norm(v) for v in value])
    return (type(value).__name__, value)


def expected_items(items: list[dict]) -> list[dict]:
    # A NULL top-level attribute reads as a missing value (documented); nested NULLs are kept.
    return [{k: norm(v) for k, v in {"pk": f"k{n}", "expires_at": 1764180000, **item}.items() if v is not None} for n, item in enumerate(items)]


def read_both(folder: Path) -> dict[str, list[dict]]:
    got = {}
    for engine in ("auto", "python"):
        result = ar.read_archive(folder, engine=engine, progress=False, max_workers=1)
        assert result.problems == [], result.problems
        frame = result.frame.sort_values("object_line", ignore_index=True)
        got[engine] = [{k: norm(v) for k, v in item.items()} for item in ar.iter_items(frame)]
    return got


def test_the_naming_rule_is_one_to_one_and_keeps_envelope_names_apart():
    names = ["ttl", "item.ttl", "item.item.ttl", "a.b", "Ttl", "TTL", "deleted_date", "types", "x", "item.", "item"]
    columns = [ar.column_name(n) for n in names]
    assert columns == ["item.ttl", "item.item.ttl", "item.item.item.ttl", "a.b", "Ttl", "TTL", "item.deleted_date", "item.types", "x", "item.item.", "item"]
    assert len(set(columns)) == len(names) and not set(columns) & ar.RESERVED
    assert [ar.attribute_name(c) for c in columns] == names


def test_every_envelope_name_next_to_its_item_prefixed_twin_reads_on_both_paths(tmp_path, monkeypatch):
    item = {}
    for i, name in enumerate(sorted(ar.RESERVED)):
        item[name] = f"v{i}"
        item[f"item.{name}"] = i
    item.update({"a.b": "dot", "A.b": "DOT", "a": {"b": 1}, "Case": 1, "case": 2, "CASE": "3"})
    items = [item, {**item, "case": 5}]
    write(tmp_path, [archiver.archive_line(record(n, it)) for n, it in enumerate(items)])
    accepted = []
    real = _fast._arrow_table
    monkeypatch.setattr(_fast, "_arrow_table", lambda text: accepted.append(real(text)) or accepted[-1])

    got = read_both(tmp_path)

    assert accepted, "the fast path must read this object"
    assert got["auto"] == got["python"] == expected_items(items)
    frame = ar.read_archive(tmp_path, progress=False).frame
    assert frame["item.ttl"].tolist() == ["v" + str(sorted(ar.RESERVED).index("ttl"))] * 2
    assert frame["item.item.ttl"].tolist() == [sorted(ar.RESERVED).index("ttl")] * 2
    assert (frame["ttl"] == pd.Timestamp(1764180000, unit="s", tz="UTC")).all()  # the envelope's ttl
    assert frame["case"].tolist() == [2, 5] and frame["CASE"].tolist() == ["3", "3"]


names = st.one_of(
    st.sampled_from(sorted(ar.RESERVED) + ["item." + n for n in sorted(ar.RESERVED)] + ["a.b", "A.B", "a", "A", "item.", ".", "item"]),
    st.text(min_size=1, max_size=8),
)
numbers = st.one_of(
    st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**20), max_value=10**20),
)
scalars = st.one_of(st.text(max_size=10), numbers, st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(names, inner, max_size=3)), max_leaves=8)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(names, values, min_size=1, max_size=6), min_size=1, max_size=3))
def test_any_names_and_values_come_back_on_both_paths(items):
    items = [{k: v for k, v in item.items() if k not in {"pk", "expires_at"}} for item in items]
    with tempfile.TemporaryDirectory() as folder:
        write(Path(folder), [archiver.archive_line(record(n, item)) for n, item in enumerate(items)])
        got = read_both(Path(folder))
    assert got["python"] == expected_items(items)
    assert got["auto"] == got["python"]


@settings(max_examples=max(1, EXAMPLES * 2 // 3), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(names, st.one_of(st.text(alphabet="abcxyz", max_size=5), st.integers(-1000, 1000)), min_size=1, max_size=8), min_size=2, max_size=4))
def test_any_names_on_the_fast_path_lose_no_value(items):
    with tempfile.TemporaryDirectory() as folder:
        write(Path(folder), [archiver.archive_line(record(n, item)) for n, item in enumerate(items)])
        got = read_both(Path(folder))
    assert got["auto"] == got["python"] == expected_items([{k: v for k, v in item.items() if k not in {"pk", "expires_at"}} for item in items])


# --------------------------------------------------------------------------- format 2


def _untyped(line: str) -> str:
    """An archiver line of plain values (no ``types``: S, N, BOOL, NULL, M, L only) without its format field."""
    assert "types" not in json.loads(line) and line.endswith(('"format":1}', '"format":2}')), line
    return line[: -len(',"format":1}')]


def format2(line: str, types: dict | None) -> str:
    """A line as format 2 with the ``types`` tree given (the test's own, for values the test wrote as plain
    JSON): ``types`` after the item, then ``"format":2``, as docs/archive-format.md says."""
    typed = "" if types is None else ',"types":' + json.dumps(types, separators=(",", ":"))
    return _untyped(line) + typed + ',"format":2}'


def format1(line: str) -> str:
    """A line as format 1 (what the archiver wrote before format 2)."""
    return _untyped(line) + ',"format":1}'


def test_format_2_lines_read_like_format_1_with_their_types_in_an_envelope_column(tmp_path):
    plain = {"n": 1, "s": "x"}
    typed = {"blob": "AAE=", "tags": ["a", "b"], "m": {"inner": ["AQ=="], "x": 1}, "l": [1, ["AA=="]]}
    types = {"blob": "B", "tags": "SS", "m": {"inner": "BS"}, "l": {"1": {"0": "B"}}}
    write(tmp_path, [
        format2(archiver.archive_line(record(0, plain)), None),
        format2(archiver.archive_line(record(1, typed)), types),
        format1(archiver.archive_line(record(2, plain))),
    ], "a")
    write(tmp_path, [format2(archiver.archive_line(record(3, {"types": "an attribute"})), None)], "b")

    for engine in ("auto", "python"):
        result = ar.read_archive(tmp_path, engine=engine, progress=False)
        assert result.problems == [] and len(result.frame) == 4, (engine, result.problems)
        frame = result.frame
        assert frame["types"].tolist() == [None, types, None, None], engine
        assert frame["item.types"].tolist()[3] == "an attribute" and "format" not in frame.columns
        assert frame["blob"].tolist()[1] == "AAE=" and frame["tags"].tolist()[1] == ["a", "b"]


def test_format_2_part_lines_are_joined_and_an_unknown_format_is_a_problem(tmp_path):
    line = format2(archiver.archive_line(record(0, {"blob": "AAE=", "essay": "ü" * 500})), {"blob": "B"})
    parts = [json.dumps({"part_of": "evt-0", "part": i, "parts": 3, "data": line[i * 400:(i + 1) * 400] if i < 2 else line[800:], "format": 2}) for i in range(3)]
    future = _untyped(archiver.archive_line(record(1, {"x": 1}))) + ',"format":3}'
    write(tmp_path, [*parts, future])

    result = ar.read_archive(tmp_path, progress=False)

    assert result.frame["event_id"].tolist() == ["evt-0"] and result.frame["types"][0] == {"blob": "B"}
    assert result.frame["essay"][0] == "ü" * 500
    assert [(p.line, "format 3" in p.reason) for p in result.problems] == [(4, True)]


def test_json_text_keeps_exact_numbers_and_text_that_looks_like_a_marker():
    value = {"n": Decimal("1234567890123456789012345678901234567.8"), "s": "\x00decimal:5", "l": [Decimal("1E+2"), True, None]}
    text = ar.to_json_text(value)
    assert json.loads(text, parse_float=Decimal) == value
    assert ar.to_json_text({"a": 1}) == '{"a":1}' and ar.to_json_text(None) is None


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_parquet_keeps_names_that_differ_only_in_case_and_reserved_twins(tmp_path, engine):
    item = {"ttl": "t", "item.ttl": 1, "Ab": 1, "ab": 2, "a.b": {"x": Decimal("0.1")}}
    write(tmp_path / "in", [archiver.archive_line(record(0, item))])
    frame = ar.read_archive(tmp_path / "in", engine=engine, progress=False).frame

    back = ar.read_parquet(ar.write_parquet(frame, tmp_path / "out.parquet"))

    assert list(ar.iter_items(back)) == [{"pk": "k0", "expires_at": 1764180000, **item}]


def test_the_fast_path_reads_format_2_and_keeps_each_types_tree_as_written(tmp_path, monkeypatch):
    typed = {"blob": "AAE=", "tags": ["a", "b"], "m": {"inner": ["AQ=="], "x": 1}}
    trees = [{"blob": "B", "tags": "SS", "m": {"inner": "BS"}}, {"blob": "B"}, None]
    items = [typed, {"blob": "AA=="}, {"n": 1}]
    write(tmp_path, [format2(archiver.archive_line(record(n, item)), tree) for n, (item, tree) in enumerate(zip(items, trees))])
    accepted = []
    real = _fast._arrow_table
    monkeypatch.setattr(_fast, "_arrow_table", lambda text: accepted.append(real(text)) or accepted[-1])

    fast = ar.read_archive(tmp_path, progress=False)

    assert accepted and fast.problems == []
    # Arrow gives every row the union of the trees' keys; the reader drops what a line did not write.
    assert fast.frame["types"].tolist() == trees
    assert fast.frame["types"].tolist() == ar.read_archive(tmp_path, progress=False, engine="python").frame["types"].tolist()


def test_the_naming_rule_holds_when_computed_afresh(monkeypatch):
    from helpers.archive_reader import _names

    monkeypatch.setattr(_names, "_cache", {})  # as in a new process: nothing remembered yet
    for _ in range(2):  # computed, then remembered
        assert [ar.column_name(n) for n in ("ttl", "item.x", "x", "deleted_date")] == ["item.ttl", "item.item.x", "x", "item.deleted_date"]
