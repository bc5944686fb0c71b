"""Read the archive (an S3 bucket, or a local folder copy of one) into pandas.

The archive is what Firehose wrote: objects under the archive prefix, keyed
``<prefix>YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<random>``, each holding
newline-terminated JSON lines of format 1 or 2 (``docs/archive-format.md``).
:func:`read_archive` lists them, downloads them concurrently, decodes GZIP or plain text by content
(the magic bytes ``1f 8b``, never the name), parses every line, joins split records (``part_of`` lines),
removes duplicate deliveries and returns an :class:`ArchiveReadResult`: the rows as a DataFrame plus an
honest report of what was read, what was skipped and why.

What the frame holds
--------------------
One row per archived item (per TTL delete). Envelope columns first:

=================  =========================================================================
event_id           the stream record's eventID (unique per delete; duplicates are removed)
table, region      where the item lived (``category`` dtype)
sequence_number    the stream record's SequenceNumber (text: it can exceed 64 bits)
event_source_arn   the stream ARN
keys               the item's key attributes, a dict
deleted_at         when the stream saw the delete, ``datetime64[ns, UTC]``
ttl_attribute      the TTL attribute's name (``category``)
ttl                the TTL value as a time, ``datetime64[s, UTC]``; NaT when the item had none
types              format 2's type tree (which values are B, SS, NS or BS), a dict; None when the line has none
record_bytes       UTF-8 bytes of the archived line with its newline: what the item weighs in the archive and the
                   Firehose record size (billed rounded up to 5 KB)
object_key         the archive object the row came from, and ``object_line`` its line number
=================  =========================================================================

then one column per top-level attribute of the items, named by one rule (:mod:`._names`): an attribute
``X`` is the column ``X``, or ``item.X`` when ``X`` is a reserved name (an envelope column or
``deleted_date``) or starts with ``item.`` itself. Any names read without clash (``ttl`` and ``item.ttl``
become ``item.ttl`` and ``item.item.ttl``; names differing only in case stay apart);
:func:`iter_items` gives the items back under their own names. Attributes are converted as the archive format says
(S -> str, B -> base64 str, BOOL -> bool, NULL -> None, M -> dict, L -> list, SS/NS/BS -> sorted lists)
and a column gets the narrowest dtype that holds every value exactly:

* whole numbers that fit in 64 bits -> ``int64`` (``Int64`` when some rows lack the attribute);
* numbers with a fraction -> ``float64`` **only if every value survives the trip through float**
  (``Decimal(repr(float(v))) == v``, i.e. about 15 significant digits); otherwise the column stays
  ``object`` holding exact :class:`decimal.Decimal` (and ``int`` for whole numbers beyond 64 bits).
  Lines are parsed with ``json.loads(..., parse_float=Decimal)``, so no digit is lost before that choice;
* true/false -> ``bool`` (``boolean`` with missing values); text -> pandas' string dtype;
* maps, lists, sets and mixed-type attributes -> ``object``, values kept intact (nested numbers are
  ``int`` or ``Decimal``, never rounded).

Damaged data never raises and is never silent: a line that is not JSON, not an archive record, or an
object that cannot be downloaded or decompressed (a truncated GZIP keeps the lines before the damage)
becomes a :class:`Problem` (object key, line number, reason), is logged, and is skipped. Objects under
the Firehose error prefix (``errors/``) are read separately into ``error_records``.

Speed and memory: objects are downloaded on ``max_workers`` threads in jobs of consecutive objects
(a bounded window of jobs in flight). The objects of a job that pyarrow can read exactly are parsed
in one ``pyarrow.json.read_json`` call over their joined text (pyarrow's cost per call dominates for
small objects) on a pool of as many threads as CPUs, and the table is sliced back per object. Each
object's bytes are dropped as soon as they are parsed; rows stay in Arrow until the end, where the
frame is built one column at a time, releasing each column's Arrow chunks once converted. Memory
follows the data kept, not every raw byte plus its parsed copy. Objects pyarrow cannot read exactly
go line by line into per-column lists (see :mod:`._fast`, "the fast path").

The package, one concern a module
---------------------------------
``_sources`` (the bucket or folder, listing, which objects to read), ``_download`` (jobs of objects on the
thread pools), ``_decode`` (GZIP, lines, records, part lines), ``_fast`` (the pyarrow path), ``_dedup``
(event ids already read), ``_collect`` (the rows kept, object after object), ``_columns`` (frame assembly and
dtypes), ``_names`` (the naming rule), ``_read`` (:func:`read_archive`), ``_parquet`` (one Parquet file),
``_dataset`` (:func:`archive_to_parquet`: an archive larger than memory into a Parquet dataset by day).
"""

from ._collect import Collector
from ._columns import iter_items
from ._dataset import ParquetExport, archive_to_parquet, parquet_dataset
from ._decode import ARCHIVE_FORMATS, GZIP_MAGIC, PartJoiner, object_lines
from ._download import DEFAULT_WORKERS, JOB_STORED_BYTES, PROGRESS_MIN_OBJECTS
from ._names import ENVELOPE_COLUMNS, ITEM_PREFIX, PARTITION_COLUMN, RESERVED, attribute_name, column_name
from ._parquet import read_parquet, to_json_text, write_parquet
from ._read import DEFAULT_ERROR_PREFIX, DEFAULT_PREFIX, read_archive
from ._results import MAX_LOGGED_PROBLEMS, ArchiveReadResult, Problem
from ._sources import FolderSource, ReadFailed, S3Source, listing_prefixes, object_hour

__all__ = [
    "ARCHIVE_FORMATS", "DEFAULT_ERROR_PREFIX", "DEFAULT_PREFIX", "DEFAULT_WORKERS", "ENVELOPE_COLUMNS", "GZIP_MAGIC", "ITEM_PREFIX",
    "JOB_STORED_BYTES", "MAX_LOGGED_PROBLEMS", "PARTITION_COLUMN", "PROGRESS_MIN_OBJECTS", "RESERVED",
    "ArchiveReadResult", "Collector", "FolderSource", "ParquetExport", "PartJoiner", "Problem", "ReadFailed", "S3Source",
    "archive_to_parquet", "attribute_name", "column_name", "iter_items", "listing_prefixes", "object_hour", "object_lines",
    "parquet_dataset", "read_archive", "read_parquet", "to_json_text", "write_parquet",
]
