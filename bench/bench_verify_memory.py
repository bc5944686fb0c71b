"""Benchmark (not a test): peak memory of the verify step (what ``ttl-archive demo`` and notebook 05 run)
against the number of items, on the embedded local AWS.

It writes the archive a run of N expired items would leave (GZIP objects of about 5 MB of lines in the
archiver's format, under today's hour folder, every 1,000th item delivered twice, so duplicates are
counted too) straight into a bucket of its own local AWS, then runs :func:`helpers.verify.check` in a
fresh process and reads that process's peak resident memory (``os.wait4``). Baselines measured in the
same run: the same process checking a run of 0 items (the import and client floor), and the previous
approach (the whole run read into a DataFrame with ``read_archive``) on the smaller size.

Target: 1,000,000 items checked in under 500 MB.
``python bench/bench_verify_memory.py [--sizes 100000 1000000] [--json]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

TARGET_ITEMS, TARGET_MB = 1_000_000, 500
OBJECT_BYTES = 5 * 1024 * 1024

CHILD = r"""
import json, sys, time
from datetime import datetime, timezone
from helpers import target, verify, archive_reader
run = verify.TestRun.from_json(sys.argv[2])
sess = target.session("local")
started = time.time()
if sys.argv[1] == "check":
    report = verify.check(sess, run)
    out = {"archived_unique": report.archived_unique, "duplicates": report.duplicates, "missing": report.missing}
else:  # the previous approach: the whole run as a DataFrame
    result = archive_reader.read_archive(sess, run.bucket_name, run.archive_prefix, start=datetime.fromtimestamp(run.written_at - 120, timezone.utc),
                                         error_prefix=None, drop_duplicates=False, progress=False, missing_ok=True)
    out = {"rows": len(result.frame)}
out["seconds"] = round(time.time() - started, 2)
print(json.dumps(out))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _line(run_id: str, n: int, now: int) -> bytes:
    key = f"verify-{run_id}-expired-{n:06d}"
    item = {"id": key, "timestamp": now, "expires_at": now - 60, "kind": "expired", "run_id": run_id,
            "payload": {"note": f"expired item of verify run {run_id}", "price": 9.99}}
    record = {"event_id": f"{n:032x}", "sequence_number": f"{n:024d}", "table": "bench-items", "region": "us-east-1",
              "event_source_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/bench-items/stream/2026-01-01T00:00:00.000",
              "deleted_at": "2026-01-01T00:00:00Z", "ttl_attribute": "expires_at", "ttl": now - 60,
              "keys": {"id": key, "timestamp": now}, "item": item, "format": 1}
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def write_archive(sess, bucket: str, run_id: str, n: int, now: int) -> int:
    """Put the archive of ``n`` expired items; returns the number of objects."""
    s3 = sess.client("s3")
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime())
    chunk: list[bytes] = []
    size = objects = 0

    def flush() -> None:
        nonlocal chunk, size, objects
        if chunk:
            s3.put_object(Bucket=bucket, Key=f"archive/{hour}/bench-{run_id}-{objects:05d}.gz", Body=gzip.compress(b"".join(chunk), 1))
            objects += 1
            chunk, size = [], 0

    for i in range(n):
        line = _line(run_id, i, now)
        chunk.append(line)
        size += len(line)
        if i % 1000 == 0:  # a re-delivery
            chunk.append(line)
        if size >= OBJECT_BYTES:
            flush()
    flush()
    return objects


def measure(mode: str, run_json: str, env: dict[str, str]) -> dict[str, object]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, run_json], env=env, stdout=subprocess.PIPE, cwd=ROOT)
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"the {mode} process failed ({status})")
    return {**json.loads(out), "peak_mb": round(usage.ru_maxrss / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, TARGET_ITEMS])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "TTL_ARCHIVE_LOCAL_PORT": str(_free_port()), "TTL_ARCHIVE_TARGET": "local",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(env)
    from helpers import local, target, verify

    local.ensure_running()
    try:
        sess = target.session("local")
        now = int(time.time())
        results: dict[str, object] = {}

        def run_for(n: int, run_id: str) -> str:
            bucket = f"bench-verify-{run_id}"
            sess.client("s3").create_bucket(Bucket=bucket)
            objects = write_archive(sess, bucket, run_id, n, now) if n else 0
            run = verify.TestRun(run_id=run_id, stack="bench", table_name="bench-items", bucket_name=bucket, archive_prefix="archive/",
                                 partition_key="id", sort_key="timestamp", ttl_attribute="expires_at", sort_value=now,
                                 written_at=time.time() - 60, write_seconds=1.0, expires_at=now - 60, refreshed_until=0,
                                 counts={"expired": n, "future": 0, "user_deleted": 0, "refreshed": 0}, future_expires_at=0)
            print(f"  archive of {n:,} items: {objects} objects", file=sys.stderr)
            return run.to_json()

        floor = measure("check", run_for(0, "floor"), env)
        results["floor"] = floor
        for n in args.sizes:
            run_json = run_for(n, f"n{n}")
            new = measure("check", run_json, env)
            assert new["archived_unique"] == n and new["missing"] == 0, new
            results[str(n)] = {"check": new, "bytes_per_item": round((new["peak_mb"] - floor["peak_mb"]) * 1024 * 1024 / n, 1)}
            if n == min(args.sizes):
                old = measure("frame", run_json, env)
                results[str(n)]["previous_approach"] = old
                results[str(n)]["previous_over_check"] = round(old["peak_mb"] / new["peak_mb"], 2)
    finally:
        local.stop()
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"floor (imports, clients, a run of 0 items): {floor['peak_mb']} MB")
    for n in args.sizes:
        r = results[str(n)]
        line = f"{n:>9,} items: check peak {r['check']['peak_mb']} MB in {r['check']['seconds']} s ({r['bytes_per_item']} bytes/item above the floor)"
        if "previous_approach" in r:
            line += f"; previous approach (DataFrame) {r['previous_approach']['peak_mb']} MB = {r['previous_over_check']}x"
        print(line)
    top = results.get(str(TARGET_ITEMS))
    if top:
        ok = top["check"]["peak_mb"] < TARGET_MB
        print(f"target: {TARGET_ITEMS:,} items under {TARGET_MB} MB: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
