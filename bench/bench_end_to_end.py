"""Benchmark (not a test): from TTL expiry to the last item in S3, on the embedded local AWS.

For each size (default 1,000 and 10,000 expired items) the benchmark writes the items with a TTL a few
seconds ahead, so that writing is over before they expire, then measures from the moment they expire:

* ``swept``      when the local TTL sweeper had deleted all of them (``ttl.items_deleted``);
* ``processed``  when the trigger had handed all their REMOVE records to the function and the invocations
                 succeeded (``trigger.records_processed``): stream poll, batching window, Lambda, Firehose put;
* ``in S3``      when the last item was readable in the archive (Firehose buffer and flush, GZIP, S3 write),
                 seen by polling the bucket every 0.25 s.

Each phase is reported with when it started (first counter change) and ended, from the runtime's counters
sampled every 0.1 s through the health endpoint. Ratios against baselines measured in the same run: the
plain write rate of the same server (BatchWriteItem items/s), and 10,000 against 1,000 items (linear
scaling would be 10x). Target: 1,000 items archived within 20 s of expiry on 2 cores.

It starts its own embedded local AWS on a free port and stops it at the end:
``python bench/bench_end_to_end.py [--sizes 1000 10000] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

TARGET_ITEMS, TARGET_SECONDS = 1_000, 20.0
COUNTERS = {
    "swept": "ttl.items_deleted",
    "processed": "trigger.records_processed",
    "invocations": "lambda.invocations",
    "firehose_records": "firehose.records_accepted",
    "objects": "firehose.objects_written",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _counters(port: int) -> dict[str, int]:
    from helpers import local

    info = local.health(port, timeout=2.0) or {}
    runtime = info.get("runtime", {})
    flat: dict[str, int] = {}
    for service, values in runtime.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    flat[key] = value
    # the status report drops the service prefix: map our names onto its keys
    return {name: int(flat.get(metric.split(".", 1)[1], 0)) for name, metric in COUNTERS.items()}


def _state(port: int) -> dict[str, object]:
    from helpers import local

    return (local.health(port, timeout=5.0) or {}).get("state") or {}


def measure(sess, deployed, port: int, n: int, timeout: float) -> dict[str, object]:
    from helpers import verify

    lead = 3 + math.ceil(n / 800)  # seconds: enough to write n items before they expire (about 2,000/s here)
    expires_at = int(time.time()) + lead
    before = _counters(port)
    pause_before = _state(port).get("pause_seconds_total") or 0.0
    run = verify.start_run(sess, deployed.settings, deployed.identity, expired=n, future=0, user_deleted=0, refreshed=0,
                           expires_at=expires_at, run_id=f"bench{n}", save=False)
    write_rate = n / run.write_seconds if run.write_seconds else float("nan")
    written_end = run.written_at + run.write_seconds
    # TTL deletes items whose TTL is earlier than now: they are due from the instant expires_at on.
    due = max(float(expires_at), written_end)
    scanner = verify.ArchiveScanner(sess, run)
    first: dict[str, float] = {}
    done: dict[str, float] = {}
    targets = {"swept": n, "processed": n}
    last_seen = None
    next_scan = 0.0
    deadline = due + timeout
    while time.time() < deadline:
        now = time.time()
        delta = {k: v - before[k] for k, v in _counters(port).items()}
        for key, value in delta.items():
            if value > 0 and key not in first:
                first[key] = now
            if key in targets and value >= targets[key] and key not in done:
                done[key] = now
        if now >= next_scan:
            count_before = scanner.archived_count("expired")
            scanner.poll()
            archived = scanner.archived_count("expired")
            if archived > count_before:
                first.setdefault("in_s3", time.time())
                last_seen = time.time()
            if archived == n:
                done["in_s3"] = last_seen
                break
            next_scan = now + 0.25
        time.sleep(0.1)
    final = {k: v - before[k] for k, v in _counters(port).items()}
    state = _state(port)
    report = verify.check(sess, run, scanner=scanner, seconds=(last_seen or time.time()) - due, complete="in_s3" in done,
                          timed_out="in_s3" not in done)

    def rel(t):
        return None if t is None else round(t - due, 2)

    seconds = rel(done.get("in_s3"))
    return {
        "items": n,
        "write_seconds": round(run.write_seconds, 2),
        "write_items_per_s": round(write_rate, 1),
        "written_before_expiry": written_end <= expires_at,
        "phases_s_after_expiry": {
            name: {"first": rel(first.get(name)), "done": rel(done.get(name))} for name in ("swept", "processed", "in_s3")
        },
        "seconds_expiry_to_last_archived": seconds,
        "items_per_s": round(n / seconds, 1) if seconds else None,
        "lambda_invocations": final["invocations"],
        "firehose_records": final["firehose_records"],
        "s3_objects": report.s3_objects,
        "archived_unique": report.archived_unique,
        "missing": report.missing,
        "duplicates": report.duplicates,
        # the state saved to disk meanwhile (helpers/local/state_store.py): how often and how long each save paused the server
        "state_saves": state.get("saves"),
        "state_last_pause_seconds": state.get("last_pause_seconds"),
        "state_pause_seconds_during_run": round((state.get("pause_seconds_total") or 0.0) - pause_before, 3) if state else None,
        "state_bytes": state.get("last_bytes"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds after expiry to give up, per size")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args(argv)

    port = _free_port()
    os.environ["TTL_ARCHIVE_LOCAL_PORT"] = str(port)  # our own local AWS; the session below finds it
    from helpers import local, pipeline, target
    from helpers.settings import Settings

    local.ensure_running(port)
    results = []
    try:
        sess = target.session("local")
        for n in args.sizes:
            started = time.time()
            deployed = pipeline.ensure_pipeline(sess, Settings(stack=f"bench-{n}"))
            provision = time.time() - started
            result = measure(sess, deployed, port, n, args.timeout)
            result["provision_seconds"] = round(provision, 2)
            results.append(result)
            if not args.json:
                _print(result)
    finally:
        local.stop(port)

    by_size = {r["items"]: r for r in results}
    summary: dict[str, object] = {"cpus": os.cpu_count(), "results": results}
    small, big = by_size.get(1_000), by_size.get(10_000)
    if small and big and small["seconds_expiry_to_last_archived"] and big["seconds_expiry_to_last_archived"]:
        summary["ratio_10k_to_1k_seconds"] = round(big["seconds_expiry_to_last_archived"] / small["seconds_expiry_to_last_archived"], 2)
    if small:
        ok = small["seconds_expiry_to_last_archived"] is not None and small["seconds_expiry_to_last_archived"] <= TARGET_SECONDS and small["missing"] == 0
        summary["target"] = f"{TARGET_ITEMS:,} items within {TARGET_SECONDS:.0f} s of expiry: {'met' if ok else 'NOT met'}"
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        if "ratio_10k_to_1k_seconds" in summary:
            print(f"10,000 vs 1,000 items: {summary['ratio_10k_to_1k_seconds']}x the time (linear: 10x)")
        if "target" in summary:
            print(f"target: {summary['target']} ({os.cpu_count()} CPUs)")
    return 0 if all(r["missing"] == 0 for r in results) else 1


def _print(r: dict[str, object]) -> None:
    phases = r["phases_s_after_expiry"]
    print(f"\n{r['items']:,} expired items (written in {r['write_seconds']} s, {r['write_items_per_s']:,} items/s"
          f"{'' if r['written_before_expiry'] else ', NOT all before expiry'}; stack provisioned in {r['provision_seconds']} s)")
    for name, label in (("swept", "TTL sweeper deleted them"), ("processed", "trigger -> Lambda -> Firehose put"), ("in_s3", "readable in S3")):
        p = phases[name]
        print(f"  {label:<36} first at {p['first']!s:>6} s, all by {p['done']!s:>6} s after expiry")
    s = r["seconds_expiry_to_last_archived"]
    rate = r["items_per_s"]
    ratio = f" ({rate / r['write_items_per_s']:.2f}x the rate of merely writing them with BatchWriteItem)" if rate else ""
    print(f"  => last item archived {s} s after expiry: {rate} items/s{ratio}")
    print(f"  {r['lambda_invocations']} Lambda invocations, {r['firehose_records']} Firehose records, {r['s3_objects']} S3 objects; "
          f"{r['archived_unique']:,} archived, {r['missing']} missing, {r['duplicates']} duplicates")
    if r.get("state_saves") is not None:
        print(f"  local state saved {r['state_saves']} time(s) since the server started; saves paused it {r['state_pause_seconds_during_run']} s "
              f"during this run, from writing to the last item archived (the last save {r['state_last_pause_seconds']} s for {r['state_bytes']:,} bytes)")


if __name__ == "__main__":
    sys.exit(main())
