"""Benchmark (not a test): restore 20,000 archived items into DynamoDB against a naive put_item loop.

On the embedded local AWS (its own server on a free port, stopped at the end). The items are the archiver
benchmark's ~1 KB sessions (strings, numbers, a map, a list of maps, a string set and a binary), written as a
GZIP archive by the real archiver code into a folder, read back with :func:`helpers.archived_items.load` and
written, in the same run, into three fresh tables, the three taking turns slice by slice (2,000 items a turn) so that
load from other processes on a shared machine falls on all of them alike:

  (a) ``restore.restore(..., overwrite=True)``: BatchWriteItem, 25 items a call, 8 threads
  (b) ``restore.restore(...)``, the default: conditional PutItem (never overwrite), 8 threads
  (c) the naive loop: ``client.put_item(TableName=..., Item=item)`` for each item, one after the other

Prints items/s of each and the ratios to (c), and checks every table holds every item (Select=COUNT).
Target: (a) at least 5x (c).

Run: ``.venv/bin/python bench/bench_restore.py [--items 20000] [--json]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

TARGET_RATIO = 5.0
MODES = ("batch", "conditional", "naive")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_archive(folder: Path, n: int) -> None:
    """n items as the archiver writes them, in GZIP objects of about 5 MB of lines (Firehose's default buffer)."""
    from bench.bench_archiver import ARN, make_item  # noqa: F401 - same items as the archiver benchmark
    from helpers import archiver

    rng = random.Random(20261130)
    cfg = archiver.Config(delivery_stream_name="bench")
    chunk: list = []
    size = 0
    objects = 0

    def flush():
        nonlocal chunk, size, objects
        if chunk:
            path = folder / f"archive/2025/11/26/18/bench-1-2025-11-26-18-{objects // 60:02d}-{objects % 60:02d}-{objects:06d}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(b"".join(chunk)))
            objects += 1
            chunk, size = [], 0

    for i in range(n):
        image = make_item(rng, i)
        record = {"eventID": f"{i:032x}", "eventName": "REMOVE", "awsRegion": "us-east-1", "eventSourceARN": ARN,
                  "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
                  "dynamodb": {"ApproximateCreationDateTime": 1_764_180_000 + i % 3000, "Keys": {"pk": image["pk"], "sk": image["sk"]},
                               "OldImage": image, "SequenceNumber": str(10**20 + i)}}
        for _, line in archiver.encode_records([record], cfg).lines:
            chunk.append(line)
            size += len(line)
        if size >= 5 * 1024 * 1024:
            flush()
    flush()


def make_table(client, name: str) -> str:
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}])
    client.get_waiter("table_exists").wait(TableName=name)
    return name


def count(client, table: str) -> int:
    total, kwargs = 0, {"TableName": table, "Select": "COUNT"}
    while True:
        page = client.scan(**kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def naive(client, table: str, items: list) -> None:
    for item in items:
        client.put_item(TableName=table, Item=item)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--slice", type=int, default=2_000, help="items per turn: the modes take turns, slice by slice")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    port = _free_port()
    os.environ["TTL_ARCHIVE_LOCAL_PORT"] = str(port)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    from helpers import archived_items, local, restore, target

    local.ensure_running(port)
    try:
        sess = target.session("local")
        client = sess.client("dynamodb")
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            write_archive(Path(tmp), args.items)
            t1 = time.perf_counter()
            loaded = archived_items.load(sess, folder=tmp, progress=False)
            t2 = time.perf_counter()
        assert len(loaded) == args.items, loaded.summary()
        items = [r.item for r in loaded.records]
        tables = {name: make_table(client, f"bench-restore-{name}") for name in MODES}
        seconds = dict.fromkeys(MODES, 0.0)
        reports: dict = {name: [] for name in MODES}
        # The machine is shared: the modes take turns on slices of the items, so a busy minute slows them all.
        for start in range(0, args.items, args.slice):
            part = archived_items.select(loaded, where=lambda f, s=start: (f.index >= s) & (f.index < s + args.slice))
            for name in MODES:
                began = time.perf_counter()
                if name == "naive":
                    naive(client, tables[name], items[start:start + args.slice])
                else:
                    reports[name].append(restore.restore(sess, part, tables[name], overwrite=name == "batch", progress=False))
                seconds[name] += time.perf_counter() - began
        results = {}
        for name in MODES:
            stored = count(client, tables[name])
            assert stored == args.items, f"{name}: {stored} of {args.items} items in the table"
            assert all(r.ok for r in reports[name]) and sum(r.restored for r in reports[name]) in (0, args.items)
            calls: dict = {}
            for r in reports[name]:
                for call, n in r.calls.items():
                    calls[call] = calls.get(call, 0) + n
            results[name] = {"seconds": round(seconds[name], 2), "items_per_second": round(args.items / seconds[name], 1),
                             "calls": calls or {"put_item": args.items}}
        naive_rate = results["naive"]["items_per_second"]
        for name in ("batch", "conditional"):
            results[name]["ratio_to_naive"] = round(results[name]["items_per_second"] / naive_rate, 2)
        summary = {"items": args.items, "archive_write_seconds": round(t1 - t0, 2), "load_seconds": round(t2 - t1, 2),
                   "load_items_per_second": round(args.items / (t2 - t1), 1), **results,
                   "target": f"batch >= {TARGET_RATIO}x naive", "met": results["batch"]["ratio_to_naive"] >= TARGET_RATIO}
    finally:
        local.stop()
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.items:,} items (~1 KB each, every line format 2 with a string set and a binary)")
        print(f"  archive loaded and decoded: {summary['load_seconds']} s ({summary['load_items_per_second']:,.0f} items/s)")
        for name, label in [("batch", "(a) restore --overwrite (BatchWriteItem)"), ("conditional", "(b) restore, default (conditional PutItem)"),
                            ("naive", "(c) naive put_item loop")]:
            r = results[name]
            ratio = f"  {r['ratio_to_naive']:.2f}x (c)" if "ratio_to_naive" in r else ""
            print(f"  {label:45s} {r['seconds']:8.2f} s {r['items_per_second']:9,.0f} items/s{ratio}")
        print(f"target: (a) >= {TARGET_RATIO}x (c): {'met' if summary['met'] else 'NOT met'}")
    return 0 if summary["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
