"""Benchmark: helpers.sample.generate, a month of 100,000 items a day, against baselines measured in the same run.

Not a test. ``.venv/bin/python bench/bench_sample.py`` (about a minute on 2 idle cores; more on a busy machine).

1. **archiver floor**: the archiver's own work alone (``archiver.encode_records`` + ``pack_records``) on the
   first 20,000 items' stream records, built beforehand and not timed: no generator can be cheaper per item;
2. **one process**: one day of the workload with ``workers=1`` (stages 1-5, GZIP and files included);
3. **the month**: ``--days`` days of ``--items-per-day`` with ``--workers`` processes (default: the CPU count),
   written to ``.bench/sample/`` (a folder laid out like the bucket), then deleted unless ``--keep``.

Prints wall and CPU seconds, items/s, peak RSS, the ratios (month items/s against one process: the parallel
speed-up; one process per item against the archiver floor: what simulation, Firehose cutting, GZIP and files
add) and the target: a month in about 60 s. The load average is printed too: on a shared machine wall times
follow it, CPU seconds much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers import archiver, sample, sample_stream  # noqa: E402
from helpers.sample_output import FolderDestination  # noqa: E402

WORK = ROOT / ".bench" / "sample"
TARGET_SECONDS = 60.0


def cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def archiver_floor(w: sample.Workload, items: int = 20_000) -> float:
    """Seconds per item of encode_records + pack_records alone."""
    t = sample.timeline(w)
    builder = sample_stream._Items(w, 1)
    batches = [sample_stream._stream_records(w, t, int(a), int(b), builder) for a, b in zip(t.batch_starts, t.batch_ends) if b <= items]
    config = archiver.load_config({"DELIVERY_STREAM_NAME": w.stream})
    count = sum(len(b) for b in batches)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for records in batches:
            archiver.pack_records(archiver.encode_records(records, config).lines, config.target_record_bytes)
        best = min(best, time.perf_counter() - started)
    return best / count


def run(w: sample.Workload, folder: Path, workers: int) -> tuple[sample.SampleResult, float, float]:
    shutil.rmtree(folder, ignore_errors=True)
    wall, used = time.perf_counter(), cpu()
    result = sample.generate(w, FolderDestination(folder), workers=workers)
    return result, time.perf_counter() - wall, cpu() - used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--items-per-day", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", action="store_true", help="keep .bench/sample/ (the month's archive)")
    args = parser.parse_args()
    month = sample.Workload(days=args.days, items_per_day=args.items_per_day, start=date(2026, 10, 1))
    day = sample.Workload(days=1, items_per_day=args.items_per_day, start=date(2026, 10, 1))
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    floor = archiver_floor(day)
    one, one_wall, one_cpu = run(day, WORK / "one-day", 1)
    full, wall, used = run(month, WORK / "month", args.workers)
    peak_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    rows = [
        ("archiver floor (encode + pack only)", 1 / floor, None, None),
        ("one day, 1 process", one.items / one_wall, one_wall, one_cpu),
        (f"{args.days} days, {args.workers} processes", full.items / wall, wall, used),
    ]
    print(f"\n{'run':<40}{'items/s':>12}{'wall s':>10}{'CPU s':>10}")
    for name, rate, w_s, c_s in rows:
        print(f"{name:<40}{rate:>12,.0f}{'' if w_s is None else f'{w_s:>10.1f}'}{'' if c_s is None else f'{c_s:>10.1f}'}")
    print(f"\nmonth: {full.summary()}")
    print(f"peak RSS of one process: {peak_mb:,.0f} MB")
    print(f"parallel speed-up (month items/s / one-process items/s): {full.items / wall / (one.items / one_wall):.2f}x on {args.workers} processes")
    print(f"one process per item / archiver floor per item: {(one_wall / one.items) / floor:.2f}x (simulation, Firehose, GZIP, files)")
    print(f"CPU seconds per million items: {used / full.items * 1e6:.1f}; on 2 idle cores that is about {used / 2:.0f} s for the month")
    print(f"target: {args.days} days x {args.items_per_day:,}/day in about {TARGET_SECONDS:.0f} s -> measured {wall:.1f} s ({wall / TARGET_SECONDS:.2f}x the target)")
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
