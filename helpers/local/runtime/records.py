"""DynamoDB stream records in AWS's shapes: typed attribute values on the wire, and record sizes.

Stands in for AWS only; nothing here runs against a real account.

Moto keeps a stream record's images as Python values: a Binary (``B``) is raw ``bytes``, a Binary Set
(``BS``) a list of ``bytes``, at the top level and nested in ``M``/``L`` alike. AWS puts them on the
wire (GetRecords, the Lambda event) as base64 strings. :func:`wire_attributes` turns an image (or
``Keys``) into that JSON form, so every record can be ``json.dumps``-ed and matched by filters.

:func:`item_size` sizes attributes by DynamoDB's item-size rules (developer guide, "DynamoDB item
sizes and formats"):

* a String is its UTF-8 bytes; a Binary its raw bytes (not the base64 text);
* a Number is 1 byte plus 1 byte per two significant digits (leading and trailing zeros trimmed),
  rounded up: ``1 + ceil(significant digits / 2)``;
* a Boolean or Null is 1 byte;
* a List or Map is 3 bytes plus, per element, 1 byte plus the element's size (a Map element's size
  includes its name's UTF-8 bytes);
* a set is the sum of its elements' sizes, each sized as the scalar it holds;
* every attribute adds the UTF-8 bytes of its name.

:func:`record_size` is a stream record's ``dynamodb.SizeBytes``: the size of its ``Keys`` plus
the size of each image it carries (``NewImage``, ``OldImage``), each by :func:`item_size`. AWS
documents SizeBytes only as "the size of the stream record, in bytes"; keys plus images by the item
rules is the documented part of it (metadata such as the sequence number is not counted).
"""

from __future__ import annotations

import base64
import math
from typing import Any

_SCALARS = {"S", "N", "BOOL", "NULL", "SS", "NS"}


def _b64(value: Any) -> str:
    """A Binary as AWS's JSON has it: base64 text (moto may already hold text, kept as it is)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "to_json"):  # a moto DynamoType slipped through
        return _b64(next(iter(value.to_regular_json().values())))
    return str(value)


def wire_value(typed: Any) -> dict[str, Any]:
    """One typed value (``{"B": b"..."}``, ``{"M": {...}}``, ...) in AWS's JSON form."""
    if hasattr(typed, "to_regular_json"):  # moto DynamoType
        typed = typed.to_regular_json()
    if len(typed) != 1:
        raise ValueError(f"not a typed DynamoDB value: {typed!r}")
    ((kind, value),) = typed.items()
    if kind in _SCALARS:
        return typed
    if kind == "B":
        return {"B": _b64(value)}
    if kind == "BS":
        return {"BS": [_b64(v) for v in value]}
    if kind == "M":
        return {"M": {name: wire_value(v) for name, v in value.items()}}
    if kind == "L":
        return {"L": [wire_value(v) for v in value]}
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def wire_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """An image or ``Keys`` map in AWS's JSON form (see :func:`wire_value`)."""
    return {name: wire_value(typed) for name, typed in attributes.items()}


def raw_bytes(value: Any) -> bytes:
    """A Binary's raw bytes, whether moto holds bytes or base64 text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return base64.b64decode(str(value))


def number_size(text: str) -> int:
    """Bytes DynamoDB counts for a Number: 1 + one per two significant digits (rounded up)."""
    digits = "".join(ch for ch in str(text).split("e")[0].split("E")[0] if ch.isdigit()).strip("0")
    return 1 + math.ceil(max(1, len(digits)) / 2)  # zero counts as one digit


def value_size(typed: Any) -> int:
    """Bytes of one typed value by DynamoDB's item-size rules (without an attribute name)."""
    if hasattr(typed, "to_regular_json"):
        typed = typed.to_regular_json()
    ((kind, value),) = typed.items()
    if kind == "S":
        return len(value.encode("utf-8"))
    if kind == "N":
        return number_size(value)
    if kind == "B":
        return len(raw_bytes(value))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in value)
    if kind == "NS":
        return sum(number_size(v) for v in value)
    if kind == "BS":
        return sum(len(raw_bytes(v)) for v in value)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(v) for name, v in value.items())
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in value)
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(attributes: dict[str, Any]) -> int:
    """Bytes of an item (or ``Keys``) by DynamoDB's rules: names plus values."""
    return sum(len(name.encode("utf-8")) + value_size(typed) for name, typed in attributes.items())


def record_size(dynamodb: dict[str, Any]) -> int:
    """A stream record's ``SizeBytes``: its Keys plus each image it carries (see the module docstring)."""
    return sum(item_size(dynamodb[part]) for part in ("Keys", "NewImage", "OldImage") if part in dynamodb)
