"""Capacity at scale: what a TTL delete rate asks of the stream, the trigger, Lambda, Firehose and S3.

:func:`plan` takes a delete rate and an item size (and the trigger's settings) and computes, step by step
as docs/scale.md explains them:

1. **Stream shards** (estimate, or given): DynamoDB gives a stream one shard per table partition, and a
   partition holds at most 10 GB and 1,000 write units a second, so at least
   ``max(writes x WCU / 1000, table GB / 10)`` (the table holds ``rate x TTL`` items; items are written at
   the rate TTL deletes them). Count the real ones with DescribeStream (open shards have no
   ``EndingSequenceNumber``) and pass ``shards=``.
2. **Trigger concurrency** = shards x ParallelizationFactor: that many batches can run at once.
3. **Batches**: each concurrent poller receives ``rate / (shards x PF)`` records a second and invokes when the
   batching window ends, the batch is full, or the invocation payload reaches 6 MB; while one invocation
   runs, the next batch fills. The steady batch size solves ``b = rate x max(window, duration(b), 0.25 s)``.
4. **Lambda**: invocations a second, duration per invocation (the archiver benchmark's time per record,
   scaled to the function's CPU share, plus PutRecordBatch round trips), busy concurrency, GB-seconds.
5. **Firehose Direct PUT** per delivery stream: records/s, requests/s and MiB/s against the region's default
   quotas (:data:`FIREHOSE_QUOTAS`, with sources and dates): how many streams, or which increase to request.
6. **S3**: objects written per second, against the per-prefix request rates.
7. **Cost per month** at that rate, from :mod:`helpers.cost_model` (its public ``CostInputs``/``compare``).

Every assumption that is not an AWS figure is an input with a default (:class:`CapacityInputs`) and is
printed with the plan. No AWS call is made.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from . import validation

SECONDS_PER_MONTH = 30 * 86_400

# Amazon Data Firehose Developer Guide, "Amazon Data Firehose Quota" (https://docs.aws.amazon.com/firehose/latest/dev/limits.html),
# Direct PUT, per delivery stream, PutRecord and PutRecordBatch combined; text as archived on 2023-01-27 in
# awsdocs/amazon-kinesis-data-firehose-developer-guide doc_source/limits.md. The current figures are in the AWS General
# Reference, "Amazon Data Firehose endpoints and quotas" (https://docs.aws.amazon.com/general/latest/gr/fh.html) and Service
# Quotas. (The PutRecord API reference still quotes an older 5,000 records/s: the quota page wins.)
FIREHOSE_QUOTA_SOURCE = "Firehose developer guide, 'Amazon Data Firehose Quota' (limits.html), as of 2023-01-27"
FIREHOSE_HIGH_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
FIREHOSE_LOW_REGIONS = (
    "us-east-2", "us-west-1", "us-gov-east-1", "us-gov-west-1", "ap-east-1", "ap-south-1", "ap-northeast-2", "ap-southeast-1",
    "ap-southeast-2", "ap-northeast-1", "ca-central-1", "eu-central-1", "eu-west-2", "eu-west-3", "eu-north-1", "me-south-1",
    "sa-east-1", "af-south-1", "eu-south-1",
)
FIREHOSE_QUOTAS = {"high": {"records_per_s": 500_000, "requests_per_s": 2_000, "mib_per_s": 5.0},
                   "low": {"records_per_s": 100_000, "requests_per_s": 1_000, "mib_per_s": 1.0}}
# PutRecordBatch: 500 records, 4 MiB per call; a record at most 1,000 KiB (Firehose API reference, PutRecordBatch).
CALL_RECORDS, CALL_KIB, RECORD_KIB = 500, 4 * 1024, 1000
# DynamoDB developer guide, "Partitions and data distribution" / best practices: a partition holds up to 10 GB and serves
# up to 1,000 WCU; a stream shard per partition. Lambda developer guide ("Using AWS Lambda with Amazon DynamoDB"): Lambda
# polls each shard at a base rate of 4 times a second; GetRecords returns up to 1,000 records or 1 MB; a synchronous
# invocation's payload is at most 6 MB; 1,000 concurrent executions per region by default; 1,769 MB = one vCPU.
PARTITION_GB, PARTITION_WCU = 10.0, 1000.0
POLLS_PER_S, GET_RECORDS_MAX, GET_RECORDS_MB = 4, 1000, 1.0
PAYLOAD_KB, ACCOUNT_CONCURRENCY, ONE_VCPU_MB = 6 * 1024, 1000, 1769
# Amazon S3 user guide, "Best practices design patterns: optimizing Amazon S3 performance": per partitioned prefix.
S3_PUT_PER_PREFIX, S3_GET_PER_PREFIX = 3500, 5500
# bench/bench_archiver.py (README "Benchmarks"): conversion + packing of ~1 KB items, 34,400 records/s on one core.
BENCH_RECORDS_PER_S = 34_400


@dataclass(frozen=True)
class CapacityInputs:
    """What :func:`plan` needs. Defaults are the project's settings or stated assumptions (docs/scale.md)."""

    deletes_per_second: float
    item_kb: float
    region: str = "us-east-1"
    batch_size: int = 100
    batching_window_s: int = 1
    parallelization_factor: int = 1
    shards: int | None = None  # None: estimated from partitions (see the module docstring)
    ttl_days: float = 30.0  # how long an item lives before TTL deletes it (sizes the table, hence the partitions)
    lambda_memory_mb: int = 256
    ms_per_record: float = 1000 / BENCH_RECORDS_PER_S  # on one full vCPU, from the archiver benchmark
    ms_per_call: float = 50.0  # assumed PutRecordBatch round trip in the region (not measured here)
    invocation_overhead_ms: float = 5.0  # assumed: handler entry, logging, return
    line_overhead_kb: float = 0.25  # the JSON envelope around each item (benchmark: 1,259-byte lines for ~1 KB items)
    event_kb_factor: float = 1.2  # DynamoDB JSON of the old image in the Lambda event, relative to the item
    event_overhead_kb: float = 0.6  # the event record's metadata (ids, sequence number, userIdentity, ARN)
    buffer_size_mib: int = 5
    buffer_interval_s: int = 60
    compression_ratio: float = 4.0
    retention_days: float = 365.0

    def __post_init__(self) -> None:
        for name in ("deletes_per_second", "item_kb", "ttl_days", "ms_per_record", "ms_per_call", "compression_ratio", "retention_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"invalid {name} {value!r}: must be a number > 0")
        if self.item_kb > 400:
            raise ValueError(f"invalid item_kb {self.item_kb!r}: DynamoDB items are at most 400 KB")
        validation.int_range(self.batch_size, 1, 10_000, "batch size (BatchSize)")
        validation.int_range(self.batching_window_s, 0, 300, "batching window in seconds (MaximumBatchingWindowInSeconds)")
        validation.int_range(self.parallelization_factor, 1, 10, "ParallelizationFactor")
        validation.int_range(self.lambda_memory_mb, 128, 10_240, "Lambda memory (MB)")
        validation.int_range(self.buffer_size_mib, 1, 128, "Firehose buffer size (MiB)")
        validation.int_range(self.buffer_interval_s, 0, 900, "Firehose buffer interval (s)")
        if self.shards is not None:
            validation.int_range(self.shards, 1, 10_000_000, "stream shards")
        if not isinstance(self.region, str) or not self.region or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in self.region):
            raise ValueError(f"invalid region {self.region!r}: a region code such as ap-northeast-1")

    @property
    def line_kb(self) -> float:
        return self.item_kb + self.line_overhead_kb

    @property
    def event_kb(self) -> float:
        return self.item_kb * self.event_kb_factor + self.event_overhead_kb


def firehose_quota(region: str) -> tuple[dict[str, float], str]:
    """The region's default Direct PUT quotas per delivery stream, and a note on where they come from."""
    if region in FIREHOSE_HIGH_REGIONS:
        return FIREHOSE_QUOTAS["high"], FIREHOSE_QUOTA_SOURCE
    if region in FIREHOSE_LOW_REGIONS:
        return FIREHOSE_QUOTAS["low"], FIREHOSE_QUOTA_SOURCE
    return FIREHOSE_QUOTAS["low"], f"{region} is not listed in the {FIREHOSE_QUOTA_SOURCE}: the lower tier is assumed; check Service Quotas"


def estimated_shards(x: CapacityInputs) -> int:
    """Partitions the table needs (one stream shard each): by write rate and by size (the 100 bytes of
    per-item overhead DynamoDB bills are counted in the size)."""
    by_writes = x.deletes_per_second * math.ceil(x.item_kb) / PARTITION_WCU
    table_gb = x.deletes_per_second * x.ttl_days * 86_400 * (x.item_kb + 0.1) / 2**20
    return max(1, math.ceil(by_writes), math.ceil(table_gb / PARTITION_GB))


def calls_for(batch: float, x: CapacityInputs) -> tuple[int, int]:
    """(Firehose records, PutRecordBatch calls) for one invocation of ``batch`` lines, packed as the archiver
    packs them: lines into records of up to 1,000 KiB, records into calls of up to 500 records and 4 MiB."""
    per_record = max(1, math.floor(RECORD_KIB / x.line_kb))
    records = math.ceil(batch / per_record)
    calls = max(1, math.ceil(records / CALL_RECORDS), math.ceil(batch * x.line_kb / CALL_KIB))
    return records, calls


def duration_ms(batch: float, x: CapacityInputs) -> float:
    """One invocation's duration: per-record work at the function's CPU share (1,769 MB = one vCPU) plus
    one round trip per PutRecordBatch call."""
    cpu_share = min(1.0, x.lambda_memory_mb / ONE_VCPU_MB)
    return x.invocation_overhead_ms + batch * x.ms_per_record / cpu_share + calls_for(batch, x)[1] * x.ms_per_call


def steady_batch(x: CapacityInputs, shards: int) -> tuple[float, float, float]:
    """(records per invocation, duration in ms, utilisation of one poller) in steady state.

    Utilisation >= 1 means the pollers cannot keep up: records wait longer and longer (IteratorAge grows)."""
    rate = x.deletes_per_second / (shards * x.parallelization_factor)
    limit = min(x.batch_size, max(1, math.floor(PAYLOAD_KB / x.event_kb)))
    batch = 1.0
    for _ in range(100):
        wait_s = max(x.batching_window_s, duration_ms(batch, x) / 1000, 1 / POLLS_PER_S)
        nxt = min(float(limit), max(1.0, rate * wait_s))
        if abs(nxt - batch) < 1e-9:
            break
        batch = nxt
    d = duration_ms(batch, x)
    return batch, d, rate * d / 1000 / batch


@dataclass
class CapacityPlan:
    """The numbers :func:`plan` computed (per second unless named otherwise), and what to do about them."""

    inputs: CapacityInputs
    shards: int
    shards_estimated: bool
    records_per_shard_s: float
    trigger_concurrency: int
    batch_records: float
    batch_limit: int
    duration_ms: float
    poller_utilisation: float
    invocations_per_s: float
    busy_concurrency: float
    gb_seconds_per_month: float
    firehose: dict[str, Any]
    s3: dict[str, float]
    monthly_cost_usd: dict[str, float] = field(default_factory=dict)
    cost_notes: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["inputs"] = asdict(self.inputs)
        return out

    def rows(self) -> list[tuple[str, str]]:
        """(quantity, value) pairs, in the order of docs/scale.md."""
        x, f = self.inputs, self.firehose
        est = " (estimated from partitions)" if self.shards_estimated else " (given)"
        return [
            ("delete rate", f"{x.deletes_per_second:,.0f} items/s of {x.item_kb:g} KB ({x.deletes_per_second * 86_400 / 1e9:.2f} billion a day)"),
            ("stream shards", f"{self.shards:,}{est}; {self.records_per_shard_s:,.1f} records/s each"),
            ("trigger concurrency", f"{self.trigger_concurrency:,} = {self.shards:,} shards x ParallelizationFactor {x.parallelization_factor}"),
            ("batch", f"{self.batch_records:,.1f} records per invocation (BatchSize {x.batch_size}, limit {self.batch_limit:,}; window {x.batching_window_s} s)"),
            ("Lambda", f"{self.invocations_per_s:,.1f} invocations/s of {self.duration_ms:,.1f} ms; busy concurrency {self.busy_concurrency:,.1f}; "
                       f"poller utilisation {self.poller_utilisation:.0%}"),
            ("Lambda per month", f"{self.invocations_per_s * SECONDS_PER_MONTH / 1e6:,.1f} M invocations, {self.gb_seconds_per_month:,.0f} GB-s"),
            ("Firehose (all streams)", f"{f['records_per_s']:,.1f} records/s, {f['requests_per_s']:,.1f} requests/s, {f['mib_per_s']:,.2f} MiB/s"),
            ("Firehose quota per stream", f"{f['quota']['records_per_s']:,} records/s, {f['quota']['requests_per_s']:,} requests/s, "
                                          f"{f['quota']['mib_per_s']:g} MiB/s in {x.region} ({f['quota_source']})"),
            ("Firehose streams needed", f"{f['streams_needed']} at the default quota (bound by {f['binding']})"),
            ("S3", f"{self.s3['objects_per_s']:,.2f} objects/s ({self.s3['objects_per_s'] / S3_PUT_PER_PREFIX:.2%} of 3,500 PUT/s per prefix), "
                   f"{self.s3['stored_gb_per_month']:,.0f} GB stored per month"),
            ("cost per month (USD)", ", ".join(f"{k} {v:,.0f}" for k, v in self.monthly_cost_usd.items()) or "not computed"),
        ]

    def text(self) -> str:
        width = max(len(k) for k, _ in self.rows())
        lines = [f"{k:<{width}}  {v}" for k, v in self.rows()]
        lines += [f"- {a}" for a in self.advice] + [f"note: {n}" for n in self.cost_notes]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        table = "| quantity | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in self.rows())
        return table + "".join(f"\n- {a}" for a in self.advice)


def _firehose(x: CapacityInputs, invocations_per_s: float, batch: float) -> dict[str, Any]:
    records, calls = calls_for(batch, x)
    quota, source = firehose_quota(x.region)
    load = {"records_per_s": invocations_per_s * records, "requests_per_s": invocations_per_s * calls,
            "mib_per_s": x.deletes_per_second * x.line_kb / 1024}
    ratios = {k: load[k] / quota[k] for k in load}
    binding = max(ratios, key=ratios.get)
    return {**load, "quota": dict(quota), "quota_source": source, "streams_needed": max(1, math.ceil(ratios[binding])),
            "binding": binding, "ratios": ratios}


def _s3(x: CapacityInputs, firehose: dict[str, Any]) -> dict[str, float]:
    streams = firehose["streams_needed"]
    per_stream_mib = firehose["mib_per_s"] / streams
    objects = streams * max(per_stream_mib / x.buffer_size_mib, 1 / max(x.buffer_interval_s, 1))
    return {"objects_per_s": objects, "compressed_mib_per_s": firehose["mib_per_s"] / x.compression_ratio,
            "stored_gb_per_month": firehose["mib_per_s"] / x.compression_ratio * SECONDS_PER_MONTH / 1024}


def plan(x: CapacityInputs, *, with_cost: bool = True) -> CapacityPlan:
    """The capacity plan for ``x`` (see the module docstring); ``with_cost`` adds the cost model's month."""
    shards = x.shards if x.shards is not None else estimated_shards(x)
    batch, duration, utilisation = steady_batch(x, shards)
    invocations = x.deletes_per_second / batch
    firehose = _firehose(x, invocations, batch)
    result = CapacityPlan(
        inputs=x, shards=shards, shards_estimated=x.shards is None, records_per_shard_s=x.deletes_per_second / shards,
        trigger_concurrency=shards * x.parallelization_factor, batch_records=batch,
        batch_limit=min(x.batch_size, max(1, math.floor(PAYLOAD_KB / x.event_kb))), duration_ms=duration,
        poller_utilisation=utilisation, invocations_per_s=invocations, busy_concurrency=invocations * duration / 1000,
        gb_seconds_per_month=invocations * SECONDS_PER_MONTH * math.ceil(duration) / 1000 * x.lambda_memory_mb / 1024,
        firehose=firehose, s3=_s3(x, firehose),
    )
    result.advice = advice(result)
    if with_cost:
        result.monthly_cost_usd, result.cost_notes = monthly_cost(result)
    return result


def _window_for(p: CapacityPlan, invocations_wanted: float) -> int | None:
    """The batching window (s) that brings invocations down to ``invocations_wanted`` a second, if one exists."""
    x = p.inputs
    per_poller = x.deletes_per_second / (p.shards * x.parallelization_factor)
    batch_needed = x.deletes_per_second / invocations_wanted
    if batch_needed > p.batch_limit:
        return None
    window = math.ceil(batch_needed / per_poller)
    return window if window <= 300 else None


def advice(p: CapacityPlan) -> list[str]:
    """What to change or request, from the plan's numbers (empty when the defaults carry the load)."""
    x, f, out = p.inputs, p.firehose, []
    if p.records_per_shard_s > POLLS_PER_S * GET_RECORDS_MAX or p.records_per_shard_s * x.event_kb / 1024 > POLLS_PER_S * GET_RECORDS_MB:
        out.append(f"{p.records_per_shard_s:,.0f} records/s per shard exceeds what Lambda reads from one shard (4 polls/s of 1,000 records or 1 MB): "
                   "the table needs more partitions (pass the real shard count with --shards)")
    if p.poller_utilisation >= 1:
        out.append(f"the pollers cannot keep up (utilisation {p.poller_utilisation:.0%}): raise ParallelizationFactor "
                   f"(now {x.parallelization_factor}, up to 10; TTL_ARCHIVE_PARALLELIZATION_FACTOR) or BatchSize, or give the function more memory")
    elif p.poller_utilisation > 0.7:
        out.append(f"poller utilisation {p.poller_utilisation:.0%}: little headroom for bursts; consider a higher ParallelizationFactor")
    if p.busy_concurrency > 0.8 * ACCOUNT_CONCURRENCY:
        out.append(f"busy concurrency {p.busy_concurrency:,.0f} is near or above the default 1,000 concurrent executions per region: request an increase")
    if f["ratios"]["requests_per_s"] > 1:
        window = _window_for(p, 0.8 * f["quota"]["requests_per_s"])
        fix = f"raise the batching window to {window} s so batches grow" if window else "raise BatchSize and the batching window"
        out.append(f"{f['requests_per_s']:,.0f} PutRecordBatch requests/s exceed {f['quota']['requests_per_s']:,} per stream: each invocation makes at "
                   f"least one call, so small batches cost requests; {fix}")
    if f["ratios"]["mib_per_s"] > 1 or f["ratios"]["records_per_s"] > 1:
        need = math.ceil(f["mib_per_s"] * 1.25)
        out.append(f"{f['mib_per_s']:,.1f} MiB/s exceed the {f['quota']['mib_per_s']:g} MiB/s per stream in {x.region}: request a Direct PUT "
                   f"throughput increase to about {need} MiB/s (records/s and requests/s scale with it), or spread the load over "
                   f"{f['streams_needed']} delivery streams (the archiver writes to one stream today: spreading needs one stream name per "
                   "function, e.g. one archiver and trigger per stream, or a hash of the item key)")
    if p.s3["objects_per_s"] > 0.5 * S3_PUT_PER_PREFIX:
        out.append("Firehose writes close to S3's 3,500 PUT/s per prefix: add a key-derived part to the prefix")
    if p.invocations_per_s > 10 * max(1.0, f["requests_per_s"] / max(f["streams_needed"], 1)) and p.batch_records < 10:
        out.append(f"batches of {p.batch_records:.1f} records: most of the Lambda bill is per-invocation; a longer batching window makes fewer, larger batches")
    return out


def monthly_cost(p: CapacityPlan) -> tuple[dict[str, float], list[str]]:
    """The pipeline's USD per month at this rate, from :mod:`helpers.cost_model` (Lambda requests and duration,
    Firehose ingestion, S3 PUTs, and the first month's S3 Standard storage), in the first month in which items
    are archived the whole month. The application's DynamoDB costs are not included. Figures the bundled
    price list lacks for the region are borrowed from another region and named in the notes."""
    from . import cost_model

    x = p.inputs
    calls = calls_for(p.batch_records, x)[1]
    month = math.ceil(x.ttl_days / 30) + 2
    inputs = cost_model.CostInputs(
        region=x.region, horizon_months=month, table_gb=0.0, monthly_growth_gb=x.deletes_per_second * x.item_kb * SECONDS_PER_MONTH / 2**20,
        item_kb=x.item_kb, hot_days=x.ttl_days, retention_days=x.retention_days, compression_ratio=x.compression_ratio,
        buffer_size_mib=x.buffer_size_mib, buffer_interval_s=x.buffer_interval_s, lambda_batch_size=max(1, round(p.batch_records)),
        lambda_memory_mb=x.lambda_memory_mb, lambda_base_ms=x.invocation_overhead_ms + calls * x.ms_per_call,
        lambda_ms_per_item=x.ms_per_record / min(1.0, x.lambda_memory_mb / ONE_VCPU_MB), include_writes=False, dynamodb_free_tier=False,
    )
    scenario = cost_model.Scenario("Archive to S3 Standard", "archive", storage_class="STANDARD")
    comparison = cost_model.compare(inputs, [scenario], on_missing="fallback")
    result = comparison.results[scenario.name]
    row = result.monthly.iloc[-1]
    parts = ("lambda_requests", "lambda_duration", "firehose_ingestion", "s3_puts", "s3_storage")
    costs = {name: float(row[name]) for name in parts}
    costs["total"] = sum(costs.values())
    notes = [f"cost model, month {month} (first whole month of archiving); S3 storage grows by about that much each month until "
             f"{x.retention_days:g} days of retention; DynamoDB itself is not included"] + result.warnings()
    return costs, notes
