"""helpers.athena and helpers.athena_queries: the Glue table fits the archive's real layout, and the example
queries give on real archive lines (through DuckDB) what the reader gives."""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from helpers import archive_reader, athena, athena_queries, sample
from helpers.sample_output import FolderDestination

BUCKET = "ttl-archive-demo-123456789012-us-east-1"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("athena")
    w = sample.Workload(days=2, items_per_day=500, start=date(2026, 10, 1), buffer_interval_s=900, devices=20, seed=5)
    sample.generate(w, FolderDestination(root), workers=1)
    read = archive_reader.read_archive(str(root), prefix="archive/", progress=False)
    return root, read


def _folders(read) -> set[str]:
    return {f"s3://{BUCKET}/" + key.rsplit("/", 1)[0] + "/" for key in read.objects["key"]}


def test_the_table_reads_json_lines_with_partition_projection_on_the_date_folders():
    table = athena.table_input("ttl_archive", BUCKET, "archive/", datetime(2026, 10, 3, 17, 30, tzinfo=timezone.utc))
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.datehour.type"] == "date" and params["projection.datehour.format"] == "yyyy/MM/dd/HH"
    assert params["projection.datehour.range"] == "2026/10/03/17,NOW"
    assert params["projection.datehour.interval"] == "1" and params["projection.datehour.interval.unit"] == "HOURS"
    assert params["storage.location.template"] == f"s3://{BUCKET}/archive/${{datehour}}/"
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert sd["SerdeInfo"]["Parameters"]["case.insensitive"] == "FALSE"
    names = [c["Name"] for c in sd["Columns"]]
    assert names[:10] == ["event_id", "sequence_number", "table", "region", "event_source_arn", "deleted_at", "ttl_attribute", "ttl", "keys", "item"]
    assert {"types", "part_of", "part", "parts", "data"} <= set(names)
    ddl = athena.create_table_ddl("archive_db", table)
    assert "PARTITIONED BY (`datehour` string)" in ddl and "'projection.datehour.range' = '2026/10/03/17,NOW'" in ddl


def test_every_folder_the_reader_finds_is_a_partition_the_projection_generates(archive, session, stack):
    _, read = archive
    first = read.objects["hour"].min().to_pydatetime()
    last = read.objects["hour"].max().to_pydatetime()
    database = f"{stack.replace('-', '_')}_archive"
    assert athena.ensure_database(session, database).action == "created"
    athena.ensure_table(session, database, athena.table_input("items", BUCKET, "archive/", first))
    stored = session.client("glue").get_table(DatabaseName=database, Name="items")["Table"]  # as the catalog keeps it
    projected = set(athena.projected_locations(stored, now=last + timedelta(minutes=30)))
    folders = _folders(read)
    assert len(folders) > 24 and folders <= projected
    # the check can fail: a projection that starts an hour late misses the archive's first folder
    late = athena.table_input("items", BUCKET, "archive/", first + timedelta(hours=1))
    assert not folders <= set(athena.projected_locations(late, now=last))


def test_creating_the_table_is_idempotent_and_updates_a_changed_definition(session, stack):
    database = f"{stack.replace('-', '_')}_idem"
    since = datetime(2026, 10, 1, tzinfo=timezone.utc)
    athena.ensure_database(session, database)
    assert athena.ensure_database(session, database).action == "already there"
    table = athena.table_input("items", BUCKET, "archive/", since)
    assert athena.ensure_table(session, database, table).action == "created"
    assert athena.ensure_table(session, database, table).action == "already there"
    moved = athena.table_input("items", BUCKET, "archive/", since - timedelta(days=30))
    assert athena.ensure_table(session, database, moved).action == "updated"
    stored = session.client("glue").get_table(DatabaseName=database, Name="items")["Table"]
    assert stored["Parameters"]["projection.datehour.range"] == "2026/09/01/00,NOW"
    assert athena.delete_database(session, database, {"ttl-archive-stack": stack}).startswith("kept: it does not carry")
    tags = {"managed-by": "dynamodb-ttl-archive", "ttl-archive-stack": stack}
    ours = f"{database}_ours"
    athena.ensure_database(session, ours, tags)
    athena.ensure_table(session, ours, table)
    assert athena.delete_database(session, ours, tags) == "kept: it still holds items"
    assert athena.delete_table(session, ours, "items") is True
    assert athena.delete_table(session, ours, "items") is False
    assert athena.delete_database(session, ours, tags) == "deleted"
    assert athena.delete_database(session, ours, tags) == "not found"


@pytest.mark.parametrize("args, message", [(("Bad-Name", BUCKET, "archive/"), "table name"), (("items", "Not_A_Bucket", "archive/"), "bucket"), (("items", BUCKET, "archive"), "prefix")])
def test_bad_names_are_refused_before_any_call(args, message):
    with pytest.raises(ValueError, match=message):
        athena.table_input(*args, datetime(2026, 10, 1, tzinfo=timezone.utc))


def test_the_example_queries_give_what_the_reader_gives(archive):
    root, read = archive
    frame = read.frame
    key = str(frame["id"].value_counts().index[0])
    day = date(2026, 10, 4)
    queries = athena_queries.example_queries("archive_db", "items", "id", key, day)
    got = athena_queries.run_duckdb(root, queries)
    assert sorted(got["items_of_key"]["event_id"]) == sorted(frame.loc[frame["id"] == key, "event_id"])
    on_day = frame[frame["deleted_at"].dt.date == day]
    assert len(on_day) > 100 and sorted(got["items_deleted_on"]["event_id"]) == sorted(on_day["event_id"])
    hourly = on_day["deleted_at"].dt.floor("h").value_counts().sort_index()
    duck = got["counts_per_hour"].set_index("hour")["items"]
    assert duck.index.tz is not None
    assert duck.to_dict() == {k: v for k, v in hourly.items()}
    for q in queries:  # both dialects are kept, and the difference is named
        assert q.athena != q.duckdb and q.difference and '"archive_db"."items"' in q.athena


def test_attribute_names_with_dots_quotes_and_case_are_addressed_exactly(tmp_path):
    item = {"id": "a", "timestamp": 1, "item.ttl": "dotted", "it's": "quoted", 'say "hi"': "double", "Status": "upper", "status": "lower"}
    line = {"event_id": "e1", "sequence_number": "1", "table": "t", "region": "us-east-1", "event_source_arn": "arn",
            "deleted_at": "2026-10-04T10:00:00Z", "ttl_attribute": "expires_at", "ttl": 1790000000, "keys": {"id": "a", "timestamp": 1}, "item": item, "format": 1}
    path = tmp_path / "archive" / "2026" / "10" / "04" / "10" / "s-1-2026-10-04-10-00-01-x.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress((json.dumps(line) + "\n").encode()))
    import duckdb

    con = duckdb.connect()
    athena_queries.duckdb_archive_view(con, tmp_path)
    for name, value in [("item.ttl", "dotted"), ("it's", "quoted"), ('say "hi"', "double"), ("Status", "upper"), ("status", "lower")]:
        athena_path, duck_path = athena_queries._json_path(name)
        assert athena_path.startswith('$["')
        got = con.execute(f"SELECT json_extract_string(item, {athena_queries._literal(duck_path)}) FROM archive").fetchone()[0]
        assert got == value, name
    assert con.execute("SELECT datehour FROM archive").fetchone()[0] == "2026/10/04/10"


def test_duckdb_view_refuses_a_folder_without_objects(tmp_path):
    import duckdb

    with pytest.raises(FileNotFoundError, match="no archive objects"):
        athena_queries.duckdb_archive_view(duckdb.connect(), tmp_path)
