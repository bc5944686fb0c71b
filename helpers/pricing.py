"""Bundled AWS list prices for the cost model, and a command that refreshes them from the Price List API.

The bundled data is ``helpers/data/prices.csv``: one figure per row with its ``service``, ``item``,
``region``, ``price``, ``unit``, ``source``, ``date``, ``confidence`` (H = Price List extract or AWS
documentation, M = tool output derived from the Price List, L = third-party note or test fixture; see
``/work/shared/reference/prices.md``) and a ``note``. A figure that was not found has an **empty
price** and no confidence: it is *missing*, never guessed. Missing and L figures are *unverified*;
every cost-model result lists the unverified figures it used.

Refresh (public bulk files, no credentials)::

    python -m helpers.pricing refresh --region ap-northeast-1            # downloads, rewrites the CSV
    python -m helpers.pricing refresh --region us-east-1 --from-dir DIR  # uses DIR/<ServiceCode>.json
    python -m helpers.pricing show --region ap-northeast-1               # lists figures and flags

The refresh downloads ``https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<ServiceCode>/current/
<region>/index.json`` for each service code in :data:`SERVICE_CODES`, finds each catalogued item in it
(usage types matched on their suffix: many us-east-1 usage types carry no region prefix) and replaces
that item's row with confidence H, the offer URL as source and the offer's publication date. Items it
cannot find keep their bundled row, and the command says which. Without network it fails with
:class:`PriceListUnavailable` and leaves the file untouched.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

logger = logging.getLogger(__name__)

DATA_FILE = Path(__file__).parent / "data" / "prices.csv"
COLUMNS = ("service", "item", "region", "price", "unit", "source", "date", "confidence", "note")
CONFIDENCE = ("H", "M", "L")

REGIONS = {
    # region code -> (usage-type prefix, Price List "location")
    "ap-northeast-1": ("APN1", "Asia Pacific (Tokyo)"),
    "us-east-1": ("USE1", "US East (N. Virginia)"),
}

SERVICE_CODES = (
    "AmazonDynamoDB",
    "AmazonS3",
    "AmazonKinesisFirehose",
    "AWSLambda",
    "AmazonGlacier",
    "AmazonS3GlacierDeepArchive",
)
OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{code}/current/{region}/index.json"


class PriceListUnavailable(RuntimeError):
    """The Price List bulk API could not be reached (offline, proxy, HTTP error)."""


class MissingPriceError(ValueError):
    """A scenario needs a figure the bundled data does not have for the chosen region."""

    def __init__(self, missing: Iterable["Price"], context: str = "") -> None:
        self.missing = tuple(missing)
        names = ", ".join(f"{p.service}/{p.item} ({p.unit}) in {p.region}" for p in self.missing)
        where = f" for {context}" if context else ""
        super().__init__(
            f"No verified price{where}: {names} is missing from the bundled data (not found, never guessed). "
            "Run `python -m helpers.pricing refresh --region <region>` when online, or compute with "
            "on_missing='fallback' to borrow the other bundled region's figure, flagged as unverified."
        )


@dataclass(frozen=True)
class Price:
    """One bundled figure. ``price`` is None when the figure was not found (missing)."""

    service: str
    item: str
    region: str
    price: float | None
    unit: str
    source: str = ""
    date: str = ""
    confidence: str = ""
    note: str = ""
    borrowed_from: str = ""  # set when on_missing="fallback" used another region's figure

    @property
    def missing(self) -> bool:
        return self.price is None

    @property
    def verified(self) -> bool:
        """True for H and M figures of the region itself; False for missing, L and borrowed figures."""
        return not self.missing and self.confidence in ("H", "M") and not self.borrowed_from

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.item)

    def describe(self) -> str:
        """One line naming the figure, its value and why it is (un)verified."""
        label = f"{self.service}/{self.item} [{self.region}]"
        if self.missing:
            return f"{label}: MISSING (not found; {self.note or 'no source'})"
        text = f"{label} = {self.price:g} {self.unit} (confidence {self.confidence or '-'}; {self.source}"
        text += f"; {self.date})" if self.date else ")"
        if self.borrowed_from:
            text += f" -- BORROWED from {self.borrowed_from}: the {self.region} figure is missing"
        elif self.confidence == "L":
            text += " -- low confidence"
        return text


@dataclass(frozen=True)
class ItemSpec:
    """A catalogued figure: its unit, and how to find it in a Price List bulk file.

    ``match`` holds product attributes that must be equal (a tuple value accepts any of its strings; an
    absent attribute counts as ""); ``usagetype`` holds accepted usage-type suffixes (a file's usage
    type matches when it equals the suffix or ``<REGION PREFIX>-<suffix>``).
    ``band`` picks the price dimension: "first" (beginRange 0), "paid" (the lowest band priced above
    zero) or "free_end" (the endRange of the band priced at zero: a free-tier size). ``scale`` turns
    the Price List per-unit price into ``unit`` (1,000 for "per 1,000 requests").
    """

    service: str
    item: str
    unit: str
    service_codes: tuple[str, ...] = ()
    usagetype: tuple[str, ...] = ()
    match: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    band: str = "first"
    scale: float = 1.0


_S3 = ("AmazonS3", "AmazonGlacier", "AmazonS3GlacierDeepArchive")
_PER_1K = "USD per 1,000 requests"


def _s3(item: str, unit: str, usagetype: tuple[str, ...], scale: float = 1.0, codes=_S3,
        **match: str | tuple[str, ...]) -> ItemSpec:
    return ItemSpec("s3", item, unit, codes, usagetype, match, "first", scale)


CATALOG: tuple[ItemSpec, ...] = (
    ItemSpec("dynamodb", "storage_standard", "USD per GB-month", ("AmazonDynamoDB",), ("TimedStorage-ByteHrs",), band="paid"),
    ItemSpec("dynamodb", "storage_free_gb", "GB-month free per month", ("AmazonDynamoDB",), ("TimedStorage-ByteHrs",), band="free_end"),
    ItemSpec("dynamodb", "storage_standard_ia", "USD per GB-month", ("AmazonDynamoDB",), ("IA-TimedStorage-ByteHrs",)),
    ItemSpec("dynamodb", "write_request_unit", "USD per million units", ("AmazonDynamoDB",),
             match={"group": "DDB-WriteUnits", "operation": "PayPerRequestThroughput"}, scale=1e6),
    ItemSpec("dynamodb", "read_request_unit", "USD per million units", ("AmazonDynamoDB",),
             match={"group": "DDB-ReadUnits", "operation": "PayPerRequestThroughput"}, scale=1e6),
    ItemSpec("dynamodb", "write_request_unit_ia", "USD per million units", ("AmazonDynamoDB",),
             match={"group": "DDB-WriteUnitsIA", "operation": "PayPerRequestThroughput"}, scale=1e6),
    ItemSpec("dynamodb", "read_request_unit_ia", "USD per million units", ("AmazonDynamoDB",),
             match={"group": "DDB-ReadUnitsIA", "operation": "PayPerRequestThroughput"}, scale=1e6),
    ItemSpec("dynamodb", "streams_read_request", "USD per 100,000 requests", ("AmazonDynamoDB",),
             match={"group": "DDB-StreamsReadRequests"}, band="paid", scale=1e5),
    ItemSpec("dynamodb", "export_to_s3", "USD per GB", ("AmazonDynamoDB",), ("ExportDataSize-Bytes",)),
    ItemSpec("lambda", "requests", "USD per million requests", ("AWSLambda",), ("Request",), scale=1e6),
    ItemSpec("lambda", "duration_x86", "USD per GB-second", ("AWSLambda",), ("Lambda-GB-Second",)),
    ItemSpec("lambda", "duration_arm64", "USD per GB-second", ("AWSLambda",), ("Lambda-GB-Second-ARM",)),
    # Free tiers are not in the Price List offers: rows kept from prices.md.
    ItemSpec("lambda", "free_requests", "requests free per month"),
    ItemSpec("lambda", "free_gb_seconds", "GB-seconds free per month"),
    ItemSpec("firehose", "ingestion", "USD per GB", ("AmazonKinesisFirehose",), match={"group": "Event-by-Event Processing"}),
    ItemSpec("firehose", "format_conversion", "USD per GB", ("AmazonKinesisFirehose",), match={"operation": "DataFormatConversion"}),
    _s3("storage_standard", "USD per GB-month", ("TimedStorage-ByteHrs",), codes=("AmazonS3",)),
    _s3("storage_standard_ia", "USD per GB-month", ("TimedStorage-SIA-ByteHrs",)),
    _s3("storage_glacier_ir", "USD per GB-month", ("TimedStorage-GIR-ByteHrs",)),
    _s3("storage_glacier", "USD per GB-month", ("TimedStorage-GlacierByteHrs",)),
    _s3("storage_deep_archive", "USD per GB-month", ("TimedStorage-GDA-ByteHrs",)),
    _s3("put_standard", _PER_1K, ("Requests-Tier1",), 1e3, codes=("AmazonS3",)),
    _s3("put_standard_ia", _PER_1K, ("Requests-SIA-Tier1",), 1e3),
    _s3("put_glacier_ir", _PER_1K, ("Requests-GIR-Tier1",), 1e3),
    _s3("put_glacier", _PER_1K, ("Requests-GLACIER-Tier1",), 1e3),
    _s3("put_deep_archive", _PER_1K, ("Requests-GDA-Tier1",), 1e3),
    _s3("get_standard", _PER_1K, ("Requests-Tier2",), 1e3, codes=("AmazonS3",)),
    _s3("get_standard_ia", _PER_1K, ("Requests-SIA-Tier2",), 1e3),
    _s3("get_glacier_ir", _PER_1K, ("Requests-GIR-Tier2",), 1e3),
    _s3("get_glacier", _PER_1K, ("Requests-GLACIER-Tier2",), 1e3),
    _s3("get_deep_archive", _PER_1K, ("Requests-GDA-Tier2",), 1e3),
    # Requests-Tier4 carries the lifecycle transitions into GLACIER_IR, Standard-IA, One Zone-IA and
    # Intelligent-Tiering (AWS usage-type table), told apart by operation: S3-GIRTransition is pinned;
    # Standard-IA also accepts a Requests-Tier4 SKU without an operation (infracost queries it that way).
    _s3("transition_standard_ia", "USD per 1,000 objects", ("Requests-Tier4",), 1e3, codes=("AmazonS3",),
        operation=("", "S3-SIATransition")),
    _s3("transition_glacier_ir", "USD per 1,000 objects", ("Requests-Tier4",), 1e3, codes=("AmazonS3",),
        operation="S3-GIRTransition"),
    _s3("transition_glacier", "USD per 1,000 objects", ("Requests-Tier3",), 1e3, operation="S3-GlacierTransition"),
    _s3("transition_deep_archive", "USD per 1,000 objects", ("Requests-Tier3",), 1e3, operation="S3-GDATransition"),
    _s3("retrieval_standard_ia", "USD per GB", ("Retrieval-SIA",)),
    _s3("retrieval_glacier_ir", "USD per GB", ("Retrieval-GIR", "Retrieval-SIA-GIR")),
    _s3("retrieval_glacier_standard", "USD per GB", ("Standard-Retrieval-Bytes",), codes=("AmazonGlacier", "AmazonS3")),
    # Requests-Tier3 also carries the GLACIER and DEEP_ARCHIVE transitions: the operation tells them apart.
    _s3("restore_glacier_standard", _PER_1K, ("Requests-Tier3",), 1e3, codes=("AmazonS3",), operation="RestoreObject"),
    _s3("retrieval_glacier_bulk", "USD per GB", ("Bulk-Retrieval-Bytes",), codes=("AmazonGlacier", "AmazonS3")),
    _s3("restore_glacier_bulk", _PER_1K, ("Requests-Tier5",), 1e3, codes=("AmazonS3",)),
    _s3("retrieval_deep_archive_standard", "USD per GB", ("Standard-Retrieval-Bytes",), codes=("AmazonS3GlacierDeepArchive",)),
    _s3("restore_deep_archive_standard", _PER_1K, ("Requests-GDA-Tier3",), 1e3),
    _s3("retrieval_deep_archive_bulk", "USD per GB", ("Bulk-Retrieval-Bytes",), codes=("AmazonS3GlacierDeepArchive",)),
    _s3("restore_deep_archive_bulk", _PER_1K, ("Requests-GDA-Tier5",), 1e3),
)
CATALOG_BY_KEY = {(s.service, s.item): s for s in CATALOG}


def check_region(region: str) -> str:
    """Return ``region`` if prices are bundled for it, else raise ValueError naming the known regions."""
    if region not in REGIONS:
        raise ValueError(f"Unknown region {region!r}: bundled prices exist for {', '.join(sorted(REGIONS))}.")
    return region


# --------------------------------------------------------------------------------------------------
# Reading and writing the bundled data
# --------------------------------------------------------------------------------------------------

def _row_to_price(row: Mapping[str, str]) -> Price:
    raw = (row.get("price") or "").strip()
    return Price(
        service=row["service"], item=row["item"], region=row["region"],
        price=float(raw) if raw else None, unit=row["unit"], source=row.get("source", ""),
        date=row.get("date", ""), confidence=(row.get("confidence") or "").strip(), note=row.get("note", ""),
    )


def read_prices(path: Path | str | None = None) -> list[Price]:
    """Every row of the bundled price file (or ``path``), validated against :data:`CATALOG`.

    Raises ValueError when a row has an unknown item, a unit that differs from the catalogue, a
    confidence outside H/M/L, or a price without a confidence.
    """
    path = Path(path) if path else DATA_FILE
    with path.open(newline="", encoding="utf-8") as fh:
        prices = [_row_to_price(row) for row in csv.DictReader(fh)]
    for p in prices:
        spec = CATALOG_BY_KEY.get(p.key)
        if spec is None:
            raise ValueError(f"{path}: unknown item {p.service}/{p.item}")
        if p.unit != spec.unit:
            raise ValueError(f"{path}: {p.service}/{p.item} unit {p.unit!r} differs from the catalogue's {spec.unit!r}")
        if not p.missing and p.confidence not in CONFIDENCE:
            raise ValueError(f"{path}: {p.service}/{p.item} [{p.region}] has a price but confidence {p.confidence!r}")
    return prices


def write_prices(prices: Iterable[Price], path: Path | str | None = None) -> Path:
    """Write ``prices`` sorted by catalogue order then region. Returns the path."""
    path = Path(path) if path else DATA_FILE
    order = {key: i for i, key in enumerate(CATALOG_BY_KEY)}
    rows = sorted(prices, key=lambda p: (order.get(p.key, len(order)), p.region))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for p in rows:
            writer.writerow([p.service, p.item, p.region, "" if p.price is None else f"{p.price:.10g}",
                             p.unit, p.source, p.date, p.confidence, p.note])
    return path


def prices_frame(region: str | None = None, path: Path | str | None = None):
    """The bundled figures as a pandas DataFrame (optionally one region), with a ``status`` column:
    "verified", "low confidence" or "missing"."""
    import pandas as pd

    rows = [p for p in read_prices(path) if region is None or p.region == check_region(region)]
    df = pd.DataFrame([{c: getattr(p, c) for c in COLUMNS} for p in rows], columns=list(COLUMNS))
    df["status"] = ["missing" if p.missing else "verified" if p.verified else "low confidence" for p in rows]
    return df


class PriceBook:
    """The figures of one region, looked up by ``(service, item)``.

    ``on_missing`` decides what happens when a figure is missing for the region:
    "raise" (default) raises :class:`MissingPriceError` naming it; "fallback" borrows the same item
    from another bundled region and marks it ``borrowed_from`` (so it is reported as unverified).
    If no region has the figure, both modes raise.
    """

    def __init__(self, region: str, prices: Iterable[Price] | None = None, on_missing: str = "raise") -> None:
        self.region = check_region(region)
        if on_missing not in ("raise", "fallback"):
            raise ValueError(f"on_missing must be 'raise' or 'fallback', not {on_missing!r}")
        self.on_missing = on_missing
        self._all: dict[tuple[str, str, str], Price] = {}
        for p in (read_prices() if prices is None else prices):
            self._all[(p.service, p.item, p.region)] = p

    @classmethod
    def load(cls, region: str, path: Path | str | None = None, on_missing: str = "raise") -> "PriceBook":
        return cls(region, read_prices(path), on_missing)

    def figure(self, service: str, item: str) -> Price:
        """The figure as bundled for this region, possibly missing (never raises for a missing value)."""
        try:
            return self._all[(service, item, self.region)]
        except KeyError:
            if (service, item) not in CATALOG_BY_KEY:
                raise ValueError(f"Unknown price item {service}/{item}") from None
            spec = CATALOG_BY_KEY[(service, item)]
            return Price(service, item, self.region, None, spec.unit, note="no row in the bundled data")

    def get(self, service: str, item: str) -> Price:
        """The figure to compute with, honouring ``on_missing``; raises MissingPriceError if none."""
        p = self.figure(service, item)
        if not p.missing:
            return p
        if self.on_missing == "fallback":
            for other in sorted(REGIONS):
                alt = self._all.get((service, item, other))
                if other != self.region and alt is not None and not alt.missing:
                    logger.info("%s/%s missing for %s: borrowing the %s figure", service, item, self.region, other)
                    return replace(alt, region=self.region, borrowed_from=other)
        raise MissingPriceError([p], context=f"region {self.region}")

    def missing(self) -> list[Price]:
        return [p for (s, i, r), p in self._all.items() if r == self.region and p.missing]

    def unverified(self) -> list[Price]:
        return [p for (s, i, r), p in self._all.items() if r == self.region and not p.verified]


# --------------------------------------------------------------------------------------------------
# Refresh from the Price List bulk API
# --------------------------------------------------------------------------------------------------

Opener = Callable[..., Any]


def fetch_offer(service_code: str, region: str, opener: Opener | None = None, timeout: float = 60) -> dict:
    """Download and decode one bulk offer file. Raises PriceListUnavailable with an actionable message."""
    url = OFFER_URL.format(code=service_code, region=check_region(region))
    opener = opener or urllib.request.urlopen
    try:
        with opener(url, timeout=timeout) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as err:
        raise PriceListUnavailable(f"The AWS Price List API answered HTTP {err.code} for {url}.") from err
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        reason = getattr(err, "reason", err)
        raise PriceListUnavailable(
            f"Cannot reach the AWS Price List API ({url}): {reason}. This machine looks offline or behind a "
            "proxy. The bundled prices were left unchanged. Retry when online, or download the index.json "
            "files elsewhere and run `python -m helpers.pricing refresh --region "
            f"{region} --from-dir DIR` with DIR/<ServiceCode>.json."
        ) from err


def _usagetype_matches(usagetype: str, suffixes: tuple[str, ...], region: str) -> bool:
    prefix = REGIONS[region][0]
    for suffix in suffixes:
        if usagetype == suffix or usagetype == f"{prefix}-{suffix}":
            return True
    return False


def _attr_matches(value: str, wanted: str | tuple[str, ...]) -> bool:
    return value in wanted if isinstance(wanted, tuple) else value == wanted


def _dimensions(offer: Mapping, sku: str) -> list[dict]:
    dims: list[dict] = []
    for term in (offer.get("terms", {}).get("OnDemand", {}).get(sku) or {}).values():
        dims.extend((term.get("priceDimensions") or {}).values())
    return dims


def _pick(dims: list[dict], band: str) -> float | None:
    def begin(d: dict) -> float:
        return float(d.get("beginRange") or 0)

    def usd(d: dict) -> float | None:
        raw = (d.get("pricePerUnit") or {}).get("USD")
        return float(raw) if raw not in (None, "") else None

    priced = sorted((d for d in dims if usd(d) is not None), key=begin)
    if band == "first":
        return next((usd(d) for d in priced if begin(d) == 0), None)
    if band == "paid":
        return next((usd(d) for d in priced if usd(d) > 0), None)
    if band == "free_end":
        free = next((d for d in priced if begin(d) == 0 and usd(d) == 0), None)
        if free is None:
            return None
        end = free.get("endRange")
        return None if end in (None, "", "Inf") else float(end)
    raise ValueError(f"unknown band {band!r}")


def parse_offer(offer: Mapping, region: str, service_code: str | None = None) -> dict[tuple[str, str], Price]:
    """Find every catalogued item in one decoded bulk offer file (``products`` + ``terms.OnDemand``).

    Products must be in ``region`` (attribute ``regionCode`` or ``location``, when present), match the
    item's attributes and usage-type suffix. If several products match, the first in SKU order wins
    and a warning is logged. Returns ``{(service, item): Price}`` with confidence H.
    """
    check_region(region)
    code = service_code or offer.get("offerCode", "")
    url = OFFER_URL.format(code=code, region=region)
    date = (offer.get("publicationDate") or "")[:10]
    location = REGIONS[region][1]
    found: dict[tuple[str, str], Price] = {}
    products = offer.get("products", {})
    for spec in CATALOG:
        if code not in spec.service_codes or not (spec.usagetype or spec.match):
            continue
        values: list[tuple[str, float]] = []
        for sku in sorted(products):
            attrs = products[sku].get("attributes", {})
            if attrs.get("regionCode", region) != region or attrs.get("location", location) != location:
                continue
            if spec.usagetype and not _usagetype_matches(attrs.get("usagetype", ""), spec.usagetype, region):
                continue
            if not all(_attr_matches(attrs.get(k, ""), v) for k, v in spec.match.items()):
                continue
            value = _pick(_dimensions(offer, sku), spec.band)
            if value is not None:
                values.append((sku, value))
        if not values:
            continue
        if len({v for _, v in values}) > 1:
            logger.warning("%s/%s: %d products match in %s with different prices; using SKU %s",
                           spec.service, spec.item, len(values), code, values[0][0])
        sku, value = values[0]
        found[(spec.service, spec.item)] = Price(
            spec.service, spec.item, region, value * spec.scale if spec.band != "free_end" else value, spec.unit,
            source=f"AWS Price List bulk file {url} (SKU {sku})", date=date, confidence="H",
            note=f"refreshed from offer version {offer.get('version', '?')}",
        )
    return found


@dataclass
class RefreshReport:
    region: str
    updated: list[Price]
    kept: list[Price]
    path: Path

    def summary(self) -> str:
        lines = [f"{self.path}: {len(self.updated)} figures refreshed for {self.region}; "
                 f"{len(self.kept)} not found in the offers and kept as bundled:"]
        lines += [f"  kept {p.describe()}" for p in self.kept]
        return "\n".join(lines)


def refresh_region(
    region: str,
    path: Path | str | None = None,
    opener: Opener | None = None,
    from_dir: Path | str | None = None,
    service_codes: Iterable[str] = SERVICE_CODES,
) -> RefreshReport:
    """Rebuild ``region``'s rows of the price file from the bulk offers; other regions are untouched.

    Offers come from the Price List API through ``opener`` (default ``urllib.request.urlopen``; tests
    inject one) or, with ``from_dir``, from ``<from_dir>/<ServiceCode>.json``. Everything is downloaded
    and parsed before the file is written, so a failure (PriceListUnavailable, bad JSON) leaves it as it
    was. Returns a :class:`RefreshReport` listing refreshed and kept figures.
    """
    check_region(region)
    path = Path(path) if path else DATA_FILE
    existing = read_prices(path)
    found: dict[tuple[str, str], Price] = {}
    for code in service_codes:
        if from_dir is not None:
            file = Path(from_dir) / f"{code}.json"
            if not file.exists():
                logger.info("no %s in %s; skipped", file.name, from_dir)
                continue
            offer = json.loads(file.read_text(encoding="utf-8"))
        else:
            offer = fetch_offer(code, region, opener)
        for key, price in parse_offer(offer, region, code).items():
            found.setdefault(key, price)
    by_key = {p.key: p for p in existing if p.region == region}
    updated, kept, rows = [], [], [p for p in existing if p.region != region]
    for spec in CATALOG:
        key = (spec.service, spec.item)
        if key in found:
            updated.append(found[key])
            rows.append(found[key])
        else:
            old = by_key.get(key) or Price(spec.service, spec.item, region, None, spec.unit, "not found", note="n/f")
            kept.append(old)
            rows.append(old)
    write_prices(rows, path)
    return RefreshReport(region, updated, kept, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.pricing", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ref = sub.add_parser("refresh", help="rebuild a region's figures from the AWS Price List bulk files")
    ref.add_argument("--region", required=True, choices=sorted(REGIONS))
    ref.add_argument("--output", type=Path, default=None, help=f"price file to rewrite (default {DATA_FILE})")
    ref.add_argument("--from-dir", type=Path, default=None, help="read <ServiceCode>.json offers from here")
    show = sub.add_parser("show", help="list a region's figures with their confidence")
    show.add_argument("--region", required=True, choices=sorted(REGIONS))
    args = parser.parse_args(argv)
    if args.command == "show":
        for p in read_prices():
            if p.region == args.region:
                print(p.describe())
        return 0
    try:
        report = refresh_region(args.region, path=args.output, from_dir=args.from_dir)
    except PriceListUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
