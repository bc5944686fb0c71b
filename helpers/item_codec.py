"""An archive line back into the exact DynamoDB item (docs/archive-format.md).

Format 2 lines carry a sparse ``types`` tree next to the plain-JSON ``item``: every ``B``, ``SS``, ``NS`` and
``BS`` (top level or nested in ``M``/``L``) is named there, everything else is told by JSON itself (string ->
``S``, number -> ``N``, true/false -> ``BOOL``, null -> ``NULL``, object -> ``M``, array -> ``L``). So
:func:`decode_record` rebuilds the item type for type, numbers with the digits the archive holds.

Format 1 lines have no ``types``: a set and a list are both arrays, a ``B`` and an ``S`` both strings. They are
decoded best effort (strings as ``S``, arrays as ``L``) and :attr:`DecodedRecord.ambiguous` names, as JSON
Pointers (RFC 6901: ``/profile/tags``, ``~1`` for a ``/`` in a name, ``~0`` for a ``~``), every attribute that
could have been another type: an array that has the shape of a set (non-empty, distinct strings or numbers in
the archiver's set order) and a string that is canonical base64 of bytes that are not printable UTF-8 text.
``assume_types`` (a tree in the shape of format 2's ``types``) settles them when the caller knows better.

The returned item is in the shape of the low-level boto3 client (``{"id": {"S": "a"}, "data": {"B": b"..."}}``,
binary as ``bytes``), ready for ``PutItem``/``BatchWriteItem``. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

FORMATS = (1, 2)
TYPE_CODES = ("B", "SS", "NS", "BS")
_PRINTABLE_CONTROLS = frozenset("\t\n\r")


class CodecError(ValueError):
    """A line that cannot be decoded into a DynamoDB item (malformed, or ``types`` does not fit ``item``)."""


class Number(str):
    """A JSON number kept as its exact text (what DynamoDB's ``N`` holds)."""

    __slots__ = ()


def parse_line(line: str | bytes) -> dict:
    """One archive line (JSON text) as a dict whose numbers are :class:`Number` (their exact text).

    Raises :class:`CodecError` when the line is not a JSON object."""
    try:
        rec = json.loads(line, parse_float=Number, parse_int=Number)
    except ValueError as err:  # includes UnicodeDecodeError
        raise CodecError(f"not valid JSON: {err}") from None
    if not isinstance(rec, dict):
        raise CodecError(f"not an archive record: a JSON {type(rec).__name__}, not an object")
    return rec


def pointer(path: tuple) -> str:
    """A path (attribute names and list positions) as a JSON Pointer (RFC 6901)."""
    return "".join("/" + str(step).replace("~", "~0").replace("/", "~1") for step in path)


@dataclass
class DecodedRecord:
    """One archived item, decoded. ``item`` and ``keys`` are AttributeValue maps (low-level client shape);
    ``envelope`` holds the line's other fields (event_id, table, deleted_at, ttl_attribute, ttl...);
    ``ambiguous`` is empty for format 2."""

    item: dict
    keys: dict
    format: int
    envelope: dict = field(default_factory=dict)
    ambiguous: list = field(default_factory=list)

    @property
    def event_id(self) -> str | None:
        return self.envelope.get("event_id")


def decode_record(record: str | bytes | dict, assume_types: dict | None = None) -> DecodedRecord:
    """Decode an archive item line (text, or a dict parsed with exact numbers: :func:`parse_line`, or
    ``json.loads(..., parse_float=Decimal)``) into the DynamoDB item.

    ``assume_types`` applies to format 1 only (format 2 carries its own ``types``). Raises
    :class:`CodecError` for a part line (join the parts first), an unknown format, a line without an item,
    a float value (parsed without ``parse_float=Decimal``: digits may be lost), invalid base64, or a
    ``types`` tree that does not fit the item."""
    rec = parse_line(record) if isinstance(record, (str, bytes, bytearray)) else record
    if not isinstance(rec, dict):
        raise CodecError("not an archive record: expected a JSON object")
    if "part_of" in rec:
        raise CodecError("a part line: join the parts of the record first (archive_reader.PartJoiner)")
    fmt = rec.get("format", 1)
    fmt = int(fmt) if isinstance(fmt, (int, str)) and not isinstance(fmt, bool) and str(fmt).isdigit() else fmt
    if fmt not in FORMATS:
        raise CodecError(f"archive format {fmt!r} unknown (this codec reads formats {', '.join(map(str, FORMATS))})")
    plain = rec.get("item")
    if not isinstance(plain, dict):
        raise CodecError("not an archive record: item is not a JSON object")
    types = rec.get("types") if fmt == 2 else assume_types
    if types is not None and not isinstance(types, dict):
        raise CodecError(f"types must be a JSON object, got {type(types).__name__}")
    ambiguous: list = [] if fmt == 1 else None  # type: ignore[assignment]
    item = _map(plain, types, (), ambiguous)
    envelope = {k: v for k, v in rec.items() if k not in ("item", "types", "keys")}
    return DecodedRecord(item, _keys(rec.get("keys"), item, types), fmt, envelope, ambiguous or [])


def decode_item(plain: dict, types: dict | None = None) -> dict:
    """A plain-JSON item (the ``item`` field) and its ``types`` tree -> the DynamoDB item. Raises CodecError."""
    if not isinstance(plain, dict):
        raise CodecError("an item is a JSON object")
    return _map(plain, types, (), None)


def _keys(plain_keys: Any, item: dict, types: dict | None) -> dict:
    """The key attributes: the item's own AttributeValues (same types), else the plain keys decoded."""
    if not isinstance(plain_keys, dict):
        return {}
    if all(name in item for name in plain_keys):
        return {name: item[name] for name in plain_keys}
    return _map(plain_keys, {k: v for k, v in (types or {}).items() if k in plain_keys}, (), None)


def _map(plain: dict, types: dict | None, path: tuple, ambiguous: list | None) -> dict:
    if types:
        extra = [name for name in types if name not in plain]
        if extra:
            raise CodecError(f"types names {pointer(path + (extra[0],))!r}, which the item does not hold")
    get = types.get if types else _no_type
    return {name: _value(value, get(name), path + (name,), ambiguous) for name, value in plain.items()}


def _no_type(_name: str) -> None:
    return None


def _value(value: Any, hint: Any, path: tuple, ambiguous: list | None) -> dict:
    if isinstance(hint, str):
        return _typed(value, hint, path)
    if hint is not None and not isinstance(hint, dict):
        raise CodecError(f"types at {pointer(path)!r} is neither a type code nor an object: {hint!r}")
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str) and not isinstance(value, Number):
        if hint:
            raise CodecError(f"types at {pointer(path)!r} describes nested values, but the item holds a string")
        if ambiguous is not None and _looks_binary(value):
            ambiguous.append(pointer(path))
        return {"S": value}
    if isinstance(value, dict):
        return {"M": _map(value, hint, path, ambiguous)}
    if isinstance(value, list):
        return {"L": _list(value, hint, path, ambiguous)}
    if hint:
        raise CodecError(f"types at {pointer(path)!r} describes nested values, but the item holds a {type(value).__name__}")
    return {"N": _number(value, path)}


def _list(values: list, hint: dict | None, path: tuple, ambiguous: list | None) -> list:
    if hint:
        bad = [k for k in hint if not (k.isdigit() and k.isascii() and int(k) < len(values) and str(int(k)) == k)]
        if bad:
            raise CodecError(f"types names position {bad[0]!r} under {pointer(path)!r}, which the list does not hold")
    if ambiguous is not None and _looks_like_set(values):
        ambiguous.append(pointer(path))
    return [_value(v, hint.get(str(i)) if hint else None, path + (i,), ambiguous) for i, v in enumerate(values)]


def _number(value: Any, path: tuple) -> str:
    if isinstance(value, Number):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CodecError(f"{pointer(path)!r}: {value} is not a DynamoDB number")
        return str(value)
    if isinstance(value, float):
        raise CodecError(
            f"{pointer(path)!r} is a float: parse archive lines with json.loads(..., parse_float=Decimal) "
            "(or item_codec.parse_line) so that no digit is lost"
        )
    raise CodecError(f"{pointer(path)!r}: a {type(value).__name__} is not a JSON value")


def _typed(value: Any, code: str, path: tuple) -> dict:
    where = pointer(path)
    if code == "B":
        if not isinstance(value, str) or isinstance(value, Number):
            raise CodecError(f"types says {where!r} is B, but the item holds no base64 string there")
        return {"B": _b64(value, where)}
    if code not in ("SS", "NS", "BS"):
        raise CodecError(f"types at {where!r}: unknown type code {code!r} (expected one of {', '.join(TYPE_CODES)})")
    if not isinstance(value, list) or not value:
        raise CodecError(f"types says {where!r} is {code}, but the item holds no non-empty array there")
    if code == "NS":
        return {"NS": [_number(v, path + (i,)) for i, v in enumerate(value)]}
    if not all(isinstance(v, str) and not isinstance(v, Number) for v in value):
        raise CodecError(f"types says {where!r} is {code}, but not every element is a string")
    if code == "SS":
        return {"SS": list(value)}
    return {"BS": [_b64(v, where) for v in value]}


def _b64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CodecError(f"{where!r} is not valid base64") from None


def _looks_binary(text: str) -> bool:
    """Canonical base64 whose bytes are not printable UTF-8: plausibly a B archived in format 1."""
    if len(text) < 4 or len(text) % 4:
        return False
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    if base64.b64encode(raw).decode("ascii") != text:
        return False
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return not all(ch.isprintable() or ch in _PRINTABLE_CONTROLS for ch in decoded)


def _looks_like_set(values: list) -> bool:
    """Non-empty, distinct, all strings or all numbers, in the order the archiver writes sets."""
    if not values:
        return False
    if all(isinstance(v, str) and not isinstance(v, Number) for v in values):
        if len(set(values)) != len(values):
            return False
        if values == sorted(values):
            return True
        try:  # BS: base64 strings sorted by their raw bytes
            raw = [base64.b64decode(v, validate=True) for v in values]
        except (binascii.Error, ValueError):
            return False
        return raw == sorted(raw)
    if all(isinstance(v, (int, Decimal, Number)) and not isinstance(v, bool) for v in values):
        try:
            numbers = [Decimal(str(v)) for v in values]
        except ArithmeticError:
            return False
        return len(set(numbers)) == len(numbers) and numbers == sorted(numbers)
    return False


def comparable(av: dict) -> Any:
    """An AttributeValue in a form where equal DynamoDB values compare equal: sets unordered, numbers by value,
    binary as bytes (boto3 may hand ``bytes`` or ``bytearray``)."""
    ((kind, value),) = av.items()
    if kind == "N":
        return kind, Decimal(value)
    if kind == "NS":
        return kind, frozenset(Decimal(v) for v in value)
    if kind == "SS":
        return kind, frozenset(value)
    if kind == "B":
        return kind, bytes(value)
    if kind == "BS":
        return kind, frozenset(bytes(v) for v in value)
    if kind == "M":
        return kind, {k: comparable(v) for k, v in value.items()}
    if kind == "L":
        return kind, [comparable(v) for v in value]
    return kind, value


def equal_items(a: dict, b: dict) -> bool:
    """True when two items (AttributeValue maps) hold the same DynamoDB values, type for type."""
    return {k: comparable(v) for k, v in a.items()} == {k: comparable(v) for k, v in b.items()}
