"""Benchmark: an archive far larger than the memory a read may use, into a Parquet dataset by day.

Not a test. ``.venv/bin/python bench/bench_archive_to_parquet.py`` (about 5-10 minutes on 2 cores):

1. writes ``--items`` (10 million) archived items into GZIP objects under ``.bench/archive_to_parquet/bucket``,
   laid out like the bucket (``archive/YYYY/MM/DD/HH/<stream>-1-<time>-<uuid>``) over ``--days`` days, a few
   lines delivered twice. Lines come from the REAL archiver (``helpers.archiver.archive_line`` on stream
   records): a few dozen varied items are archived once with placeholder ids and times, then each line is
   that text with its own event id, sequence number, deletion time, TTL and key filled in, so the
   generator is fast and every line is byte for byte what the archiver writes;
2. runs ``helpers.archive_reader.archive_to_parquet`` in a subprocess (so its peak RSS is honest) and checks
   the dataset (rows, days, duplicates) with ``parquet_dataset``;
3. prints items/s, the decompressed size of the archive, the peak memory of the subprocess and the ratio
   against the target: peak RSS <= 1 GB (``--limit-mb``) whatever the archive's size.

Options: ``--items``, ``--per-object``, ``--days``, ``--workers``, ``--chunk-rows``, ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
import uuid
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = ROOT / ".bench" / "archive_to_parquet"
PREFIX = "archive/"
START = 1_795_651_200  # 2026-11-26T00:00:00Z
TTL = 1_999_999_999  # placeholder TTL in the templates (10 digits, as every TTL of the run)
STATUSES = ("ok", "warn", "fault", "offline")
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


# --------------------------------------------------------------------------- the archive


def _templates(count: int) -> list[str]:
    """Lines of the real archiver with placeholders, as %-format strings (``%(e)s`` event id,
    ``%(q)s`` sequence number, ``%(d)s`` deletion time, ``%(t)s`` TTL, ``%(k)s`` the device key)."""
    from helpers import archiver

    rng = random.Random(13)
    out = []
    for i in range(count):
        item = {
            "device": {"S": "@@KEY@@"}, "ts": {"N": "1764000000"}, "expires_at": {"N": str(TTL)},
            "temperature": {"N": f"{rng.uniform(-20, 40):.2f}"}, "humidity": {"N": str(rng.randint(10, 99))},
            "status": {"S": rng.choice(STATUSES)}, "site": {"S": f"site-{rng.randint(1, 400):03d}"},
            "location": {"M": {"lat": {"N": f"{rng.uniform(-80, 80):.5f}"}, "lon": {"N": f"{rng.uniform(-170, 170):.5f}"}}},
            "tags": {"SS": sorted(rng.sample(WORDS, rng.randint(1, 3)))},
        }
        if i % 3 == 0:
            item["note"] = {"S": " ".join(rng.choices(WORDS, k=rng.randint(3, 30)))}
        record = {
            "eventID": "@@EID@@", "eventName": "REMOVE", "awsRegion": "eu-west-1",
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/sensors/stream/2026-11-01T00:00:00.000",
            "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
            "dynamodb": {"ApproximateCreationDateTime": 1764180000, "Keys": {"device": item["device"], "ts": item["ts"]},
                         "OldImage": item, "SequenceNumber": "@@SEQ@@"},
        }
        line = archiver.archive_line(record).replace("%", "%%")
        for token, field in (("@@EID@@", "e"), ("@@SEQ@@", "q"), ("2025-11-26T18:00:00Z", "d"), (str(TTL), "t"), ("@@KEY@@", "k")):
            assert token in line, token
            line = line.replace(token, f"%({field})s")
        out.append(line + "\n")
    return out


def _write_objects(args: tuple) -> tuple[int, int, int]:
    """Objects ``first..last-1``: returns (items written, duplicate lines, decompressed bytes)."""
    folder, first, last, items, per_object, days, seed = args
    templates = _templates(48)
    rng = np.random.default_rng(seed + first)
    span = days * 86_400
    written = dupes = raw = 0
    for o in range(first, last):
        n0 = o * per_object
        count = min(per_object, items - n0)
        if count <= 0:
            break
        t0 = START + span * o // -(-items // per_object)
        times = np.sort(t0 + rng.integers(0, 900, count))
        stamps = np.datetime_as_string(times.astype("datetime64[s]"), unit="s")
        choice = rng.integers(0, len(templates), count)
        lines = [
            templates[c] % {"e": f"{n:032x}", "q": str(10**20 + n), "d": f"{s}Z", "t": str(int(t) - 3600), "k": f"dev-{n % 50_000:05d}"}
            for n, c, s, t in zip(range(n0, n0 + count), choice.tolist(), stamps.tolist(), times.tolist())
        ]
        if o % 50 == 49:  # a retried Firehose call: the first lines of this object delivered twice
            lines += lines[:5]
            dupes += 5
        text = "".join(lines).encode()
        stamp = time.gmtime(int(times[0]))
        key = f"{PREFIX}{time.strftime('%Y/%m/%d/%H', stamp)}/sensors-archive-1-{time.strftime('%Y-%m-%d-%H-%M-%S', stamp)}-{uuid.UUID(int=o)}"
        path = Path(folder) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        co = zlib.compressobj(1, zlib.DEFLATED, 31)  # GZIP, as Firehose writes
        path.write_bytes(co.compress(text) + co.flush())
        written += count
        raw += len(text)
    return written, dupes, raw


def write_archive(folder: Path, items: int, per_object: int, days: int) -> tuple[int, int, int]:
    if folder.exists():
        shutil.rmtree(folder)
    objects = -(-items // per_object)
    step = max(1, objects // 16)
    tasks = [(str(folder), i, min(i + step, objects), items, per_object, days, 20261126) for i in range(0, objects, step)]
    with ProcessPoolExecutor(min(2, os.cpu_count() or 1)) as pool:
        done = list(pool.map(_write_objects, tasks))
    return objects, sum(d[1] for d in done), sum(d[2] for d in done)


# --------------------------------------------------------------------------- the run (in a subprocess)


def run_one(args: argparse.Namespace) -> None:
    import pyarrow.dataset  # noqa: F401 - imports are part of the baseline, not of the read

    from helpers import archive_reader

    started = time.perf_counter()
    export = archive_reader.archive_to_parquet(args.folder, args.out, chunk_rows=args.chunk_rows, max_workers=args.workers, progress=False)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": export.rows, "seconds": seconds, "peak_rss": peak, "duplicates": export.duplicates,
                      "problems": len(export.problems), "files": len(export.files), "days": len(export.days), "largest_chunk": export.largest_chunk}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000_000)
    parser.add_argument("--per-object", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--chunk-rows", type=int, default=None, help="default: archive_to_parquet's")
    parser.add_argument("--limit-mb", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the generated archive and dataset under .bench/")
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        if args.chunk_rows is None:
            from helpers.archive_reader._dataset import DEFAULT_CHUNK_ROWS

            args.chunk_rows = DEFAULT_CHUNK_ROWS
        run_one(args)
        return 0

    folder, out = WORK / "bucket", WORK / "dataset"
    t0 = time.perf_counter()
    objects, dupes, raw = write_archive(folder, args.items, args.per_object, args.days)
    stored = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"archive: {args.items:,} items (+{dupes:,} lines delivered twice) in {objects:,} GZIP objects over {args.days} days, "
          f"{stored / 1e9:.2f} GB stored, {raw / 1e9:.2f} GB decompressed (written in {time.perf_counter() - t0:.0f} s)")
    try:
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, __file__, "--run", "--folder", str(folder), "--out", str(out), "--workers", str(args.workers)]
        if args.chunk_rows:
            cmd += ["--chunk-rows", str(args.chunk_rows)]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if done.returncode:
            raise SystemExit(f"archive_to_parquet failed:\n{done.stderr[-3000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        from helpers import archive_reader

        dataset = archive_reader.parquet_dataset(out)
        rows = dataset.count_rows()
        written = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    finally:
        if not args.keep:
            shutil.rmtree(WORK, ignore_errors=True)
    peak_mb = r["peak_rss"] / 1e6
    print(f"archive_to_parquet: {r['rows']:,} items in {r['seconds']:.0f} s ({r['rows'] / r['seconds']:,.0f} items/s), "
          f"{r['files']:,} files in {r['days']} day folders ({written / 1e9:.2f} GB Parquet), {r['duplicates']:,} duplicates removed, "
          f"{r['problems']} problems, at most {r['largest_chunk']:,} rows held at once")
    ok = rows == r["rows"] == args.items and r["duplicates"] == dupes and peak_mb <= args.limit_mb
    print(f"peak memory = {peak_mb:,.0f} MB (peak RSS of the subprocess, imports included), {r['peak_rss'] / raw:.1%} of the "
          f"{raw / 1e9:.2f} GB decompressed archive; target <= {args.limit_mb:,} MB: {'ok' if ok else 'MISSED'}")
    print(f"the dataset read back with parquet_dataset: {rows:,} rows (expected {args.items:,})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
