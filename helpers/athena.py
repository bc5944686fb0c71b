"""Query the archive where it lies: a Glue Data Catalog table over the archive prefix for Amazon Athena.

The table (:func:`table_input`):

* **Location** ``s3://<bucket>/<prefix>``; text files (``TextInputFormat``; Athena reads GZIP by the
  ``.gz`` extension), one JSON line per row through the **OpenX JSON SerDe**
  (``org.openx.data.jsonserde.JsonSerDe``) with ``case.insensitive = FALSE``: the SerDe then leaves key
  names as written, so attribute names that differ only in case stay apart inside ``item``.
* **Columns**: the envelope (``event_id``, ``sequence_number``, ``table``, ``region``,
  ``event_source_arn``, ``deleted_at`` as ISO 8601 text, ``ttl_attribute``, ``ttl`` epoch seconds,
  ``format``), ``keys`` and ``item`` as **JSON text** (a string column holding an object gets the
  object's JSON text from the OpenX SerDe), so any attribute name and any DynamoDB type fits without a
  schema per table: read attributes with ``json_extract_scalar(item, '$["name"]')``. Format 2's ``types``
  is JSON text too. Part lines (an item larger than a Firehose record, split by the archiver) fill
  ``part_of``, ``part``, ``parts`` and ``data`` instead; the example queries skip them (``part_of IS NULL``).
* **Partition projection** on the date folders Firehose writes (``YYYY/MM/DD/HH/``): one partition key,
  ``datehour``, of projection type ``date`` with format ``yyyy/MM/dd/HH``, one hour apart, from the
  archive's first hour to ``NOW``, and ``storage.location.template`` ``s3://<bucket>/<prefix>${datehour}/``.
  Athena computes the partitions from these table properties: no crawler, no ``MSCK REPAIR TABLE``, no
  ``ALTER TABLE ADD PARTITION`` as the archive grows. :func:`projected_locations` evaluates the same
  properties, so a test can prove that every folder of a real archive is a partition Athena will read.

``datehour`` is when Firehose **received** an item's record (its object's key time), which is at or after
its deletion (``deleted_at``): a query for deletions in a time range reads the folders of that range plus
the next hour (:func:`datehour_range`), then filters on ``deleted_at``. Duplicated deliveries (Firehose
retries) are rows with the same ``event_id``: counts use ``count(DISTINCT event_id)``.

The example queries (:data:`QUERIES`) are kept in two dialects side by side: Athena's (Trino) and DuckDB's,
which runs them locally on a folder copy of the bucket (:func:`duckdb_archive_view`). Each says what differs.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from . import validation
from .outcome import Ensured

LOG = logging.getLogger(__name__)

SERDE = "org.openx.data.jsonserde.JsonSerDe"
INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARTITION_KEY = "datehour"
DATEHOUR_FORMAT = "yyyy/MM/dd/HH"  # Java DateTimeFormatter pattern (projection.<key>.format)
COLUMNS = (
    ("event_id", "string", "the stream record's eventID; the same value twice is a duplicated delivery"),
    ("sequence_number", "string", "the stream record's SequenceNumber (can exceed 64 bits)"),
    ("table", "string", "the DynamoDB table the item lived in (quote it: \"table\")"),
    ("region", "string", "the table's region"),
    ("event_source_arn", "string", "the stream ARN"),
    ("deleted_at", "string", "when TTL deleted the item, ISO 8601 UTC (from_iso8601_timestamp)"),
    ("ttl_attribute", "string", "the TTL attribute's name"),
    ("ttl", "bigint", "the TTL value, epoch seconds (from_unixtime)"),
    ("keys", "string", "the item's key attributes as JSON text"),
    ("item", "string", "the whole item as JSON text (json_extract_scalar(item, '$[\"name\"]'))"),
    ("types", "string", "format 2: DynamoDB types plain JSON cannot tell, as JSON text"),
    ("format", "int", "the line format version"),
    ("part_of", "string", "part lines only: the event id of the item split across lines"),
    ("part", "int", "part lines only: this part's index"),
    ("parts", "int", "part lines only: how many parts"),
    ("data", "string", "part lines only: this part's slice of the item's line"),
)
_NAME = re.compile(r"[a-z0-9_]{1,255}\Z")


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"invalid {what} {value!r}: Glue and Athena names are 1-255 characters of lowercase letters, digits and underscores")
    return value


def datehour(moment: datetime) -> str:
    """The partition value (and folder) of an instant: ``YYYY/MM/DD/HH`` in UTC."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y/%m/%d/%H")


def table_input(table: str, bucket: str, prefix: str, since: datetime, *, description: str = "") -> dict[str, Any]:
    """The Glue ``TableInput`` of the archive table (see the module docstring). ``since``: the archive's first
    hour (the projection range starts there; an earlier start only costs Athena more empty folders)."""
    _check_name(table, "table name")
    validation.bucket_name(bucket)
    prefix = validation.prefix(prefix, "archive prefix")
    location = f"s3://{bucket}/{prefix}"
    return {
        "Name": table,
        "Description": description or f"DynamoDB items archived by TTL, one JSON line each, under {location}",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "json",
            "compressionType": "gzip",
            "projection.enabled": "true",
            f"projection.{PARTITION_KEY}.type": "date",
            f"projection.{PARTITION_KEY}.format": DATEHOUR_FORMAT,
            f"projection.{PARTITION_KEY}.range": f"{datehour(since)},NOW",
            f"projection.{PARTITION_KEY}.interval": "1",
            f"projection.{PARTITION_KEY}.interval.unit": "HOURS",
            "storage.location.template": f"{location}${{{PARTITION_KEY}}}/",
        },
        "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "string", "Comment": "YYYY/MM/DD/HH: when Firehose received the record (UTC)"}],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t, "Comment": c} for n, t, c in COLUMNS],
            "Location": location,
            "InputFormat": INPUT_FORMAT,
            "OutputFormat": OUTPUT_FORMAT,
            "Compressed": True,
            "SerdeInfo": {"SerializationLibrary": SERDE, "Parameters": {"case.insensitive": "FALSE", "ignore.malformed.json": "FALSE"}},
        },
    }


def projected_locations(table: dict[str, Any], now: datetime) -> list[str]:
    """The S3 folders Athena's partition projection generates for ``table`` (a ``TableInput`` or the
    ``Table`` of ``glue.get_table``) up to ``now``: its ``date`` projection evaluated as Athena documents it
    (format, range ``start,NOW``, interval and unit), put into ``storage.location.template``."""
    params = table["Parameters"]
    if params.get("projection.enabled") != "true":
        raise ValueError("partition projection is not enabled on this table")
    (key,) = [k["Name"] for k in table["PartitionKeys"]]
    if params[f"projection.{key}.type"] != "date" or params[f"projection.{key}.interval.unit"] != "HOURS":
        raise ValueError("only an hourly date projection is evaluated here")
    pattern = _java_to_strftime(params[f"projection.{key}.format"])
    first, last = params[f"projection.{key}.range"].split(",")
    step = timedelta(hours=int(params[f"projection.{key}.interval"]))
    moment = datetime.strptime(first, pattern).replace(tzinfo=timezone.utc)
    end = now if last.strip() == "NOW" else datetime.strptime(last, pattern).replace(tzinfo=timezone.utc)
    template = params["storage.location.template"]
    out = []
    while moment <= end:
        out.append(template.replace(f"${{{key}}}", moment.strftime(pattern)))
        moment += step
    return out


def _java_to_strftime(pattern: str) -> str:
    out = pattern
    for java, c in (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H")):
        out = out.replace(java, c)
    return out


def datehour_range(start: datetime, end: datetime, late: timedelta = timedelta(hours=1)) -> tuple[str, str]:
    """The ``datehour`` values that can hold items deleted in ``[start, end)``: objects are keyed when
    Firehose receives a record, at or after the deletion (the trigger and buffer add seconds to minutes)."""
    return datehour(start), datehour(end - timedelta(microseconds=1) + late)


# ----------------------------------------------------------------------------------------- the catalog


TABLE = "items"  # notebook 06's table name


def database_name(stack: str, environ: dict[str, str] | None = None) -> str:
    """Notebook 06's Glue database: ``TTL_ARCHIVE_ATHENA_DATABASE`` when set, else ``<stack>_archive`` with the
    stack's hyphens as underscores (Glue names take lower-case letters, digits and underscores)."""
    env = os.environ if environ is None else environ
    return _check_name(env.get("TTL_ARCHIVE_ATHENA_DATABASE", "").strip() or f"{stack.replace('-', '_')}_archive", "database name")


def database_tags(session, database: str) -> dict[str, str] | None:
    """The Glue database's tags, or None when it does not exist."""
    glue = session.client("glue")
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        return None
    return glue.get_tags(ResourceArn=_database_arn(session, database)).get("Tags", {})


def table_names(session, database: str) -> list[str]:
    """The tables in ``database`` (every page)."""
    pages = session.client("glue").get_paginator("get_tables").paginate(DatabaseName=database)
    return [t["Name"] for page in pages for t in page.get("TableList", [])]


def ensure_database(session, database: str, tags: dict[str, str] | None = None) -> Ensured:
    """Create the Glue database if missing (idempotent; an existing one is left as it is)."""
    _check_name(database, "database name")
    glue = session.client("glue")
    try:
        found = glue.get_database(Name=database)["Database"]
        return Ensured("glue database", database, "already there", found)
    except glue.exceptions.EntityNotFoundException:
        pass
    glue.create_database(DatabaseInput={"Name": database, "Description": "DynamoDB TTL archive (dynamodb-ttl-archive)"}, Tags=tags or {})
    LOG.info("created Glue database %s", database)
    return Ensured("glue database", database, "created", glue.get_database(Name=database)["Database"])


def ensure_table(session, database: str, table: dict[str, Any]) -> Ensured:
    """Create the archive table in ``database``, or update it when its definition differs (idempotent)."""
    glue = session.client("glue")
    name = table["Name"]
    try:
        current = glue.get_table(DatabaseName=database, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_table(DatabaseName=database, TableInput=table)
        LOG.info("created Glue table %s.%s", database, name)
        return Ensured("glue table", f"{database}.{name}", "created", glue.get_table(DatabaseName=database, Name=name)["Table"])
    if _same(current, table):
        return Ensured("glue table", f"{database}.{name}", "already there", current)
    glue.update_table(DatabaseName=database, TableInput=table)
    LOG.info("updated Glue table %s.%s", database, name)
    return Ensured("glue table", f"{database}.{name}", "updated", glue.get_table(DatabaseName=database, Name=name)["Table"])


def _same(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    sd, want_sd = current.get("StorageDescriptor", {}), wanted["StorageDescriptor"]
    return (
        current.get("Parameters") == wanted["Parameters"]
        and [(k["Name"], k["Type"]) for k in current.get("PartitionKeys", [])] == [(k["Name"], k["Type"]) for k in wanted["PartitionKeys"]]
        and [(c["Name"], c["Type"]) for c in sd.get("Columns", [])] == [(c["Name"], c["Type"]) for c in want_sd["Columns"]]
        and sd.get("Location") == want_sd["Location"]
        and sd.get("SerdeInfo") == want_sd["SerdeInfo"]
    )


def delete_table(session, database: str, table: str) -> bool:
    """Delete the table (only the catalog entry: the archive's objects stay). "Not found" is done: False."""
    glue = session.client("glue")
    try:
        glue.delete_table(DatabaseName=database, Name=table)
    except glue.exceptions.EntityNotFoundException:
        return False
    return True


def _database_arn(session, database: str) -> str:
    from .target import identity

    who = identity(session)
    partition = "aws-cn" if who.region.startswith("cn-") else "aws-us-gov" if who.region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:glue:{who.region}:{who.account_id}:database/{database}"


def delete_database(session, database: str, tags: dict[str, str]) -> str:
    """Delete the Glue database if it carries ``tags`` (this stack's) and holds no table; never the archive.
    Returns "deleted", "not found", or "kept: <why>" (another owner's database, or tables left in it)."""
    glue = session.client("glue")
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        return "not found"
    found = glue.get_tags(ResourceArn=_database_arn(session, database)).get("Tags", {})
    if any(found.get(k) != v for k, v in tags.items()):
        return "kept: it does not carry this stack's tags"
    tables = [t["Name"] for t in glue.get_tables(DatabaseName=database).get("TableList", [])]
    if tables:
        return f"kept: it still holds {', '.join(tables)}"
    glue.delete_database(Name=database)
    return "deleted"


def create_table_ddl(database: str, table: dict[str, Any]) -> str:
    """The same table as Athena DDL (``CREATE EXTERNAL TABLE``), to read or to paste into the console."""
    sd = table["StorageDescriptor"]
    cols = ",\n".join(f"  `{c['Name']}` {c['Type']}" for c in sd["Columns"])
    keys = ", ".join(f"`{k['Name']}` {k['Type']}" for k in table["PartitionKeys"])
    serde = ", ".join(f"'{k}' = '{v}'" for k, v in sd["SerdeInfo"]["Parameters"].items())
    props = ",\n".join(f"  '{k}' = '{v}'" for k, v in table["Parameters"].items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{table['Name']}` (\n{cols}\n)\n"
        f"PARTITIONED BY ({keys})\n"
        f"ROW FORMAT SERDE '{sd['SerdeInfo']['SerializationLibrary']}'\nWITH SERDEPROPERTIES ({serde})\n"
        f"STORED AS INPUTFORMAT '{sd['InputFormat']}'\nOUTPUTFORMAT '{sd['OutputFormat']}'\n"
        f"LOCATION '{sd['Location']}'\nTBLPROPERTIES (\n{props}\n)"
    )
