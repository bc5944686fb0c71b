"""Archive format 2 (helpers/archiver.py writes it) and helpers/item_codec.py (decodes it back).

No AWS: stream records are built in the Lambda event shape, turned into lines by the real archiver code and
decoded by the codec; the decoded item must equal the original type for type (sets compared as sets, numbers
by their exact digits).
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest

from helpers import archiver, item_codec
from helpers.archive_reader import PartJoiner
from tests.stream_records import lambda_shape

ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-11-26T18:00:00.000"
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
EVERY_BYTE = bytes(range(256))




def record_of(item: dict, keys=("id",), event_id="ev-1") -> dict:
    image = {k: lambda_shape(v) for k, v in item.items()}
    return {
        "eventID": event_id,
        "eventName": "REMOVE",
        "awsRegion": "eu-west-1",
        "eventSourceARN": ARN,
        "userIdentity": TTL_IDENTITY,
        "dynamodb": {
            "ApproximateCreationDateTime": 1_764_180_000,
            "Keys": {k: image[k] for k in keys},
            "OldImage": image,
            "SequenceNumber": "1000",
        },
    }


def comparable(av: dict):
    """An AttributeValue in a form where equal DynamoDB values compare equal (sets unordered)."""
    ((kind, value),) = av.items()
    if kind in ("SS", "BS"):
        return kind, frozenset(value)
    if kind == "NS":
        return kind, frozenset(value)  # digit strings: exact spelling must survive too
    if kind == "M":
        return kind, {k: comparable(v) for k, v in value.items()}
    if kind == "L":
        return kind, [comparable(v) for v in value]
    return kind, value


def same_item(a: dict, b: dict) -> bool:
    return {k: comparable(v) for k, v in a.items()} == {k: comparable(v) for k, v in b.items()}


def round_trip(item: dict, keys=("id",)) -> item_codec.DecodedRecord:
    line = archiver.archive_line(record_of(item, keys))
    decoded = item_codec.decode_record(line)
    assert decoded.format == 2 and decoded.ambiguous == []
    assert same_item(decoded.item, item), (decoded.item, item)
    return decoded


EVERY_TYPE = {
    "id": {"S": "order-1"},
    "s": {"S": "text é 🎉 \"quoted\" \\ \x00\x1f"},
    "n": {"N": "42"},
    "b": {"B": EVERY_BYTE},
    "bool_t": {"BOOL": True},
    "bool_f": {"BOOL": False},
    "null": {"NULL": True},
    "m": {"M": {"inner": {"S": "x"}, "deep": {"M": {"bin": {"B": b"\x00\xff"}}}}},
    "l": {"L": [{"S": "a"}, {"N": "1"}, {"B": b"\x01"}, {"NULL": True}, {"BOOL": False}]},
    "ss": {"SS": ["b", "a", "é", "Z"]},
    "ns": {"NS": ["10", "-1", "0.5", "1E+2"]},
    "bs": {"BS": [b"\xff", b"\x00", b"a", EVERY_BYTE]},
    "empty_s": {"S": ""},
    "empty_b": {"B": b""},
    "empty_m": {"M": {}},
    "empty_l": {"L": []},
}


def test_every_type_comes_back_as_that_type():
    decoded = round_trip(EVERY_TYPE)
    assert decoded.keys == {"id": {"S": "order-1"}}
    assert decoded.item["b"] == {"B": EVERY_BYTE} and decoded.item["empty_b"] == {"B": b""}
    assert decoded.item["empty_s"] == {"S": ""} and decoded.item["l"]["L"][2] == {"B": b"\x01"}


def test_types_is_a_sparse_tree_naming_only_what_json_cannot_tell():
    line = archiver.archive_line(record_of(EVERY_TYPE))
    doc = json.loads(line)
    assert list(doc)[-3:] == ["item", "types", "format"] and doc["format"] == 2
    assert doc["types"] == {
        "b": "B", "m": {"deep": {"bin": "B"}}, "l": {"2": "B"}, "ss": "SS", "ns": "NS", "bs": "BS", "empty_b": "B",
    }
    assert doc["item"]["ss"] == ["Z", "a", "b", "é"]  # still plain JSON: sets sorted as in format 1


def test_sets_and_binary_nested_at_any_depth():
    item = {
        "id": {"S": "n"},
        "a": {"L": [{"M": {"x": {"L": [{"SS": ["q"]}, {"M": {"y": {"BS": [b"\x00"]}}}]}}}, {"NS": ["1", "2"]}]},
        "plain": {"M": {"l": {"L": [{"M": {}}, {"L": [{"S": "s"}]}]}}},
    }
    doc = json.loads(archiver.archive_line(record_of(item)))
    assert doc["types"] == {"a": {"0": {"x": {"0": "SS", "1": {"y": "BS"}}}, "1": "NS"}}
    round_trip(item)


@pytest.mark.parametrize(
    "digits",
    [
        "12345678901234567890123456789012345678",
        "-12345678901234567890123456789012345678",
        "0.12345678901234567890123456789012345678",
        "9.9999999999999999999999999999999999999E+125",
        "1E-130",
        "-1E+125",
        "1E+2",
        "0.10",
        "-0.00001",
        "0",
    ],
)
def test_numbers_keep_every_digit_and_their_spelling(digits):
    item = {"id": {"N": digits}, "n": {"N": digits}, "ns": {"NS": [digits, "7"]}, "l": {"L": [{"N": digits}]}}
    decoded = round_trip(item)
    assert decoded.item["n"] == {"N": digits} and decoded.keys == {"id": {"N": digits}}
    assert decoded.item["l"]["L"][0] == {"N": digits}
    # Dicts parsed by a reader with Decimal (not the codec's own parser) decode to the same values.
    parsed = json.loads(archiver.archive_line(record_of(item)), parse_float=Decimal)
    assert Decimal(item_codec.decode_record(parsed).item["n"]["N"]) == Decimal(digits)


def test_binary_with_every_byte_value_in_b_and_bs_and_as_key():
    item = {"id": {"B": EVERY_BYTE}, "b": {"B": EVERY_BYTE[::-1]}, "bs": {"BS": [bytes([i]) for i in range(256)]}}
    decoded = round_trip(item)
    assert decoded.keys == {"id": {"B": EVERY_BYTE}}
    assert sorted(decoded.item["bs"]["BS"]) == [bytes([i]) for i in range(256)]


@pytest.mark.parametrize(
    "name",
    ["a.b", "a[0]", "/x/y", "~0~1", "profile.avatar", "#name", ":value", "types", "format", "item", "0", "é 🎉", 'q"uo\\te'],
)
def test_attribute_names_that_look_like_paths_or_envelope_fields(name):
    item = {"id": {"S": "x"}, name: {"M": {name: {"B": b"\x01"}, "n": {"N": "1"}}}, f"{name}.ss": {"SS": [name]}}
    decoded = round_trip(item)
    assert decoded.item[name]["M"][name] == {"B": b"\x01"}


def test_plain_item_does_not_grow_and_typed_item_grows_by_its_type_tree():
    plain = {"id": {"S": "order-1"}, "n": {"N": "1.5"}, "m": {"M": {"l": {"L": [{"S": "a"}, {"BOOL": True}]}}}, "z": {"NULL": True}}
    line = archiver.archive_line(record_of(plain))
    assert '"types"' not in line and line.endswith(',"format":2}')
    # Format 1 wrote the same text with "format":1: the same length, not one byte more.
    assert len(line) == len(line[: -len('2}')] + '1}')
    typed = {**plain, "avatar": {"B": b"\x89PNG"}}
    grown = archiver.archive_line(record_of(typed))
    assert len(grown) - len(archiver.archive_line(record_of({**plain, "avatar": {"S": "iVBORw=="}}))) == len(',"types":{"avatar":"B"}')


def test_huge_item_split_into_part_lines_decodes_after_joining():
    item = {
        "id": {"S": "big"},
        "blob": {"B": EVERY_BYTE * 1000},  # 256 KB of binary, 341 KB of base64
        "ctl": {"S": "\x01" * 120_000},  # six bytes each in JSON: 720 KB
        "set": {"BS": [EVERY_BYTE[:i] for i in range(1, 60)]},  # under DynamoDB's 400 KB in all
    }
    cfg = archiver.Config(delivery_stream_name="archive")
    encoded = archiver.encode_records([record_of(item, event_id="ev-big")], cfg)
    assert encoded.split_items == 1 and len(encoded.lines) >= 2
    joiner = PartJoiner()
    joined = None
    for n, (_, data) in enumerate(encoded.lines):
        part = json.loads(data)
        assert part["format"] == 2 and part["part_of"] == "ev-big"
        got = joiner.add("obj", n, part)
        joined = got if got is not None else joined
    text, _, _ = joined
    decoded = item_codec.decode_record(text)
    assert same_item(decoded.item, item)


def test_part_line_is_refused_until_joined():
    with pytest.raises(item_codec.CodecError, match="join the parts"):
        item_codec.decode_record('{"part_of":"e","part":0,"parts":2,"data":"{","format":2}')


FORMAT1 = (
    '{"event_id":"e1","keys":{"id":"a"},"item":{"id":"a","tags":["x","y"],"nums":[1,2,3],"list":["b","a"],'
    '"blob":"AP8A/w==","word":"abcd","text":"aGVsbG8=","m":{"inner":["p","q"]},"n":12345678901234567890123456789012345678},"format":1}'
)


def test_format_1_decodes_best_effort_and_names_the_ambiguous_attributes():
    decoded = item_codec.decode_record(FORMAT1)
    assert decoded.format == 1
    assert decoded.item["tags"] == {"L": [{"S": "x"}, {"S": "y"}]} and decoded.item["blob"] == {"S": "AP8A/w=="}
    assert decoded.item["n"] == {"N": "12345678901234567890123456789012345678"}
    # Arrays shaped like sets and base64 of bytes that are not text ("abcd" is b"i\xb7\x1d"); "list" is
    # unsorted (never a set in the archive) and "aGVsbG8=" is base64 of the text "hello": both left out.
    assert decoded.ambiguous == ["/tags", "/nums", "/blob", "/word", "/m/inner"]


def test_format_1_with_assumed_types_restores_exactly():
    decoded = item_codec.decode_record(FORMAT1, assume_types={"tags": "SS", "nums": "NS", "blob": "B", "m": {"inner": "SS"}})
    assert decoded.item["tags"] == {"SS": ["x", "y"]} and decoded.item["nums"] == {"NS": ["1", "2", "3"]}
    assert decoded.item["blob"] == {"B": b"\x00\xff\x00\xff"} and decoded.item["m"]["M"]["inner"] == {"SS": ["p", "q"]}


@pytest.mark.parametrize(
    "types, message",
    [
        ({"missing": "B"}, "does not hold"),
        ({"word": "SS"}, "non-empty array"),
        ({"tags": "B"}, "no base64 string"),
        ({"tags": "XX"}, "unknown type code"),
        ({"word": {"0": "B"}}, "nested values"),
        ({"tags": {"5": "B"}}, "position"),
        ({"nums": "SS"}, "not every element is a string"),
        ({"word": "B"}, None),  # "abcd" is valid base64: allowed
    ],
)
def test_a_types_tree_that_does_not_fit_the_item_is_an_error(types, message):
    if message is None:
        assert item_codec.decode_record(FORMAT1, assume_types=types).item["word"] == {"B": base64.b64decode("abcd")}
        return
    line = json.loads(FORMAT1, parse_float=Decimal)
    line.update(format=2, types=types)
    with pytest.raises(item_codec.CodecError, match=message):
        item_codec.decode_record(line)


def test_bad_input_is_a_clear_error():
    for bad, message in [
        ("not json", "not valid JSON"),
        ("[1]", "not an object"),
        ('{"event_id":"e","item":{},"format":3}', "format 3 unknown"),
        ('{"event_id":"e","format":2}', "item is not a JSON object"),
        ('{"item":{"b":"@@@@"},"types":{"b":"B"},"format":2}', "not valid base64"),
    ]:
        with pytest.raises(item_codec.CodecError, match=message):
            item_codec.decode_record(bad)
    with pytest.raises(item_codec.CodecError, match="parse_float=Decimal"):
        item_codec.decode_record(json.loads('{"item":{"x":1.5},"format":2}'))


def test_json_pointer_escapes_slash_and_tilde():
    assert item_codec.pointer(("a/b", "c~d", 3)) == "/a~1b/c~0d/3"


def test_a_binary_set_in_format_1_is_named_ambiguous_by_its_byte_order():
    # The archiver sorts a BS by its raw bytes: b"c0" ("YzA=") before b"ca" ("Y2E="), which is not text order
    # (the bytes are printable text, so no element is named on its own). In no order at all: a list, not a set.
    line = '{"event_id":"e","item":{"id":"a","bs":["YzA=","Y2E="],"unsorted":["Y2E=","YzA=","YQ=="]},"format":1}'
    assert item_codec.decode_record(line).ambiguous == ["/bs"]


def test_decode_item_rebuilds_a_plain_item_with_its_types_tree():
    plain = {"id": "a", "n": 5, "b": "AP8=", "m": {"ns": [2, 1]}, "l": [None, True]}
    assert item_codec.decode_item(plain, {"b": "B", "m": {"ns": "NS"}}) == {
        "id": {"S": "a"}, "n": {"N": "5"}, "b": {"B": b"\x00\xff"}, "m": {"M": {"ns": {"NS": ["2", "1"]}}},
        "l": {"L": [{"NULL": True}, {"BOOL": True}]},
    }
    with pytest.raises(item_codec.CodecError, match="'/m/x'"):
        item_codec.decode_item(plain, {"m": {"x": "B"}})
