"""Column names: the envelope columns, and the rule that gives every item attribute a column of its own.

The naming rule (docs/archive-format.md, "Reading the archive into tables"):

* an item attribute ``X`` becomes the column ``X``;
* except when ``X`` is a reserved name (an envelope column, or :data:`PARTITION_COLUMN`, the day column of
  the Parquet dataset) or already starts with ``item.``: then it becomes ``item.X``.

So ``ttl`` -> ``item.ttl``, ``item.ttl`` -> ``item.item.ttl``, ``a.b`` -> ``a.b``, ``Ttl`` -> ``Ttl``. The rule
is one-to-one (:func:`attribute_name` inverts it: drop one leading ``item.``), so no two attributes ever
share a column, whatever their names; names are case-sensitive, as in DynamoDB.
"""

from __future__ import annotations

ENVELOPE_COLUMNS = (
    "event_id",
    "table",
    "region",
    "sequence_number",
    "event_source_arn",
    "keys",
    "deleted_at",
    "ttl_attribute",
    "ttl",
    "types",
    "record_bytes",
    "object_key",
    "object_line",
)
PARTITION_COLUMN = "deleted_date"  # the Parquet dataset's day folders: deleted_date=YYYY-MM-DD
ITEM_PREFIX = "item."
RESERVED = frozenset(ENVELOPE_COLUMNS) | {PARTITION_COLUMN}
ENVELOPE_SET = frozenset(ENVELOPE_COLUMNS)
_cache: dict[str, str] = {}


def column_name(attribute: str) -> str:
    """The frame column of an item attribute (see the module docstring)."""
    name = _cache.get(attribute)
    if name is None:
        name = ITEM_PREFIX + attribute if attribute in RESERVED or attribute.startswith(ITEM_PREFIX) else attribute
        if len(_cache) < 65_536:
            _cache[attribute] = name
    return name


def attribute_name(column: str) -> str:
    """The item attribute an item column holds: the inverse of :func:`column_name`."""
    return column[len(ITEM_PREFIX):] if column.startswith(ITEM_PREFIX) else column


def is_item_column(column: str) -> bool:
    return column not in RESERVED
