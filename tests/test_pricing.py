"""Bundled prices, the price book's missing/fallback behaviour, and the Price List refresh parser."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

from helpers import pricing
from helpers.pricing import MissingPriceError, Price, PriceBook, PriceListUnavailable

FIXTURES = Path(__file__).parent / "fixtures" / "pricing"
REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- bundled data


def test_bundled_file_has_one_row_per_item_and_region_with_the_catalogue_units():
    prices = pricing.read_prices()  # validates units and confidences against the catalogue
    keys = [(p.service, p.item, p.region) for p in prices]
    assert len(keys) == len(set(keys))
    for spec in pricing.CATALOG:
        for region in pricing.REGIONS:
            assert (spec.service, spec.item, region) in keys, f"no row for {spec.item} in {region}"


def test_every_bundled_figure_has_a_source_and_missing_ones_have_no_confidence():
    for p in pricing.read_prices():
        if p.missing:
            assert p.confidence == "", p
        else:
            assert p.confidence in ("H", "M", "L") and p.source and p.source != "not found", p


def test_tokyo_dynamodb_storage_and_free_tier_are_the_prices_md_figures():
    book = PriceBook.load("ap-northeast-1")
    assert book.get("dynamodb", "storage_standard").price == 0.285
    assert book.get("dynamodb", "storage_free_gb").price == 25
    assert book.get("s3", "storage_standard").price == 0.025


def _without(*keys: tuple[str, str, str]) -> list[Price]:
    """The bundled figures with some blanked out (not found), to exercise the missing-figure policy."""
    from dataclasses import replace as _replace

    return [_replace(p, price=None, confidence="", source="not found") if (p.service, p.item, p.region) in keys else p
            for p in pricing.read_prices()]


def test_tokyo_has_every_figure_the_model_uses_with_source_date_and_confidence():
    # Issue 12: every Tokyo figure is bundled (no borrowing), each with a source, a date and H or M.
    for p in pricing.read_prices():
        assert not p.missing and p.confidence in ("H", "M"), p.describe()
        assert p.source and p.date, p.describe()
    book = PriceBook.load("ap-northeast-1")
    assert book.get("firehose", "ingestion").price == 0.036
    assert book.get("s3", "put_deep_archive").price == pytest.approx(0.065)
    assert book.get("s3", "transition_standard_ia").price == pytest.approx(0.01)
    assert book.get("s3", "transition_glacier_ir").price == pytest.approx(0.02)
    assert book.get("s3", "restore_glacier_standard").price == pytest.approx(0.0571)
    assert book.get("dynamodb", "write_request_unit_ia").price == pytest.approx(0.89)


def test_the_mislabelled_rows_are_fixed():
    rows = {(p.service, p.item, p.region): p for p in pricing.read_prices()}
    streams = rows[("dynamodb", "streams_read_request", "us-east-1")]
    assert "us-east-2" not in streams.source and "US East (N. Virginia)" in streams.source
    deep = rows[("s3", "storage_deep_archive", "ap-northeast-1")]
    assert "INT-DAA" not in deep.source and "Glacier Deep Archive GB Mo" in deep.source and deep.price == 0.002


def test_a_missing_figure_raises_an_error_naming_it():
    book = PriceBook("ap-northeast-1", _without(("firehose", "ingestion", "ap-northeast-1")))
    assert book.figure("firehose", "ingestion").missing
    with pytest.raises(MissingPriceError, match=r"firehose/ingestion .*ap-northeast-1"):
        book.get("firehose", "ingestion")


def test_fallback_borrows_the_other_region_and_marks_it_unverified():
    book = PriceBook("ap-northeast-1", _without(("firehose", "ingestion", "ap-northeast-1")), on_missing="fallback")
    p = book.get("firehose", "ingestion")
    assert p.price == 0.029 and p.borrowed_from == "us-east-1" and p.region == "ap-northeast-1"
    assert not p.verified
    assert "BORROWED from us-east-1" in p.describe()


def test_fallback_still_raises_when_no_region_has_the_figure():
    keys = [("dynamodb", "export_to_s3", r) for r in pricing.REGIONS]
    book = PriceBook("us-east-1", _without(*keys), on_missing="fallback")
    assert book.figure("dynamodb", "export_to_s3").missing
    with pytest.raises(MissingPriceError, match="export_to_s3"):
        book.get("dynamodb", "export_to_s3")


def test_unknown_region_and_mode_are_value_errors():
    with pytest.raises(ValueError, match="Unknown region 'eu-west-9'"):
        PriceBook.load("eu-west-9")
    with pytest.raises(ValueError, match="on_missing"):
        PriceBook.load("us-east-1", on_missing="guess")


def test_read_prices_rejects_a_unit_that_differs_from_the_catalogue(tmp_path):
    bad = tmp_path / "p.csv"
    bad.write_text(
        "service,item,region,price,unit,source,date,confidence,note\n"
        "s3,storage_standard,us-east-1,0.023,USD per TB-month,x,2026-01-01,H,\n"
    )
    with pytest.raises(ValueError, match="unit 'USD per TB-month' differs"):
        pricing.read_prices(bad)


# ---------------------------------------------------------------- refresh parser


def _offer(region: str, code: str) -> dict:
    return json.loads((FIXTURES / region / f"{code}.json").read_text())


def test_parser_reads_tokyo_dynamodb_bands_and_does_not_confuse_ia_storage():
    found = pricing.parse_offer(_offer("ap-northeast-1", "AmazonDynamoDB"), "ap-northeast-1")
    # Bands in the fixture: 0-25 GB at 0 USD, then 25-Inf at 0.285 USD per GB-Mo.
    assert found[("dynamodb", "storage_standard")].price == pytest.approx(0.285)
    assert found[("dynamodb", "storage_free_gb")].price == 25
    # APN1-IA-TimedStorage-ByteHrs must not be taken for APN1-TimedStorage-ByteHrs (and vice versa).
    assert found[("dynamodb", "storage_standard_ia")].price == pytest.approx(0.114)
    # 0.000000715 USD per unit x 1e6 = 0.715 per million units.
    assert found[("dynamodb", "write_request_unit")].price == pytest.approx(0.715)
    assert found[("dynamodb", "read_request_unit")].price == pytest.approx(0.1425)
    # Streams: the paid band (2.5M free first): 0.000000228 x 1e5 = 0.0228 per 100,000.
    assert found[("dynamodb", "streams_read_request")].price == pytest.approx(0.0228)
    p = found[("dynamodb", "storage_standard")]
    assert p.confidence == "H" and p.date == "2026-11-01"
    assert "AmazonDynamoDB/current/ap-northeast-1/index.json" in p.source and "DDBSTD0000000001" in p.source


def test_parser_matches_us_east_1_usage_types_without_a_region_prefix():
    found = pricing.parse_offer(_offer("us-east-1", "AmazonS3"), "us-east-1")
    assert found[("s3", "storage_standard")].price == pytest.approx(0.023)  # first band of three
    assert found[("s3", "storage_standard_ia")].price == pytest.approx(0.0125)
    assert found[("s3", "storage_glacier")].price == pytest.approx(0.0036)
    assert found[("s3", "put_standard")].price == pytest.approx(0.005)  # 0.000005 per request x 1,000
    assert found[("s3", "get_standard")].price == pytest.approx(0.0004)
    # Requests-Tier3 carries both transitions; the operation tells them apart.
    assert found[("s3", "transition_glacier")].price == pytest.approx(0.03)
    assert found[("s3", "transition_deep_archive")].price == pytest.approx(0.05)
    assert ("s3", "storage_glacier_ir") not in found  # not in the fixture: not invented


def test_parser_tells_the_requests_tier4_transitions_apart_by_operation():
    # AWS bills lifecycle transitions into GLACIER_IR, Standard-IA, One Zone-IA and Intelligent-Tiering
    # as Requests-Tier4; the operation (S3-GIRTransition, S3-SIATransition, ...) tells them apart.
    found = pricing.parse_offer(_offer("us-east-1", "AmazonS3"), "us-east-1")
    gir = found[("s3", "transition_glacier_ir")]
    assert gir.price == pytest.approx(0.02)  # 0.00002 per request x 1,000
    assert "S3TGI00000000009" in gir.source and gir.confidence == "H"
    assert found[("s3", "transition_standard_ia")].price == pytest.approx(0.01)


def test_parser_reads_a_standard_ia_transition_without_an_operation_but_never_the_gir_one():
    offer = _offer("us-east-1", "AmazonS3")
    offer["products"]["S3TSI00000000010"]["attributes"].pop("operation")
    found = pricing.parse_offer(offer, "us-east-1")
    assert found[("s3", "transition_standard_ia")].price == pytest.approx(0.01)
    del offer["products"]["S3TSI00000000010"]
    found = pricing.parse_offer(offer, "us-east-1")
    assert ("s3", "transition_standard_ia") not in found  # the GIR transition SKU is not taken for it
    assert found[("s3", "transition_glacier_ir")].price == pytest.approx(0.02)


def test_parser_reads_glacier_flexible_retrieval_restore_requests():
    found = pricing.parse_offer(_offer("us-east-1", "AmazonS3"), "us-east-1")
    # Requests-Tier3 holds the standard restore (RestoreObject) next to the two transitions.
    assert found[("s3", "restore_glacier_standard")].price == pytest.approx(0.05)
    assert "S3RST00000000011" in found[("s3", "restore_glacier_standard")].source
    assert found[("s3", "transition_glacier")].price == pytest.approx(0.03)
    # Requests-Tier5: bulk restore requests, priced at zero (a real figure, not a missing one).
    bulk = found[("s3", "restore_glacier_bulk")]
    assert bulk.price == 0 and not bulk.missing and "S3RBK00000000012" in bulk.source


def test_parser_reads_deep_archive_restore_requests_from_their_own_offer():
    found = pricing.parse_offer(_offer("us-east-1", "AmazonS3GlacierDeepArchive"), "us-east-1")
    assert found[("s3", "restore_deep_archive_standard")].price == pytest.approx(0.10)
    assert found[("s3", "restore_deep_archive_bulk")].price == pytest.approx(0.025)
    # The Glacier Flexible Retrieval restores are not looked for in the Deep Archive offer.
    assert ("s3", "restore_glacier_standard") not in found


def test_glacier_restore_matchers_ignore_the_same_usage_types_in_other_offers():
    # AmazonGlacier (the vault service) has its own Requests-Tier3 and Requests-Tier5 usage types.
    offer = _offer("us-east-1", "AmazonS3")
    offer["offerCode"] = "AmazonGlacier"
    found = pricing.parse_offer(offer, "us-east-1", "AmazonGlacier")
    for item in ("restore_glacier_standard", "restore_glacier_bulk", "transition_glacier_ir"):
        assert ("s3", item) not in found


def test_refresh_from_a_folder_updates_the_restore_and_gir_transition_rows(tmp_path):
    prices = tmp_path / "prices.csv"
    shutil.copy(pricing.DATA_FILE, prices)
    report = pricing.refresh_region("us-east-1", path=prices, from_dir=FIXTURES / "us-east-1")
    after = {(p.service, p.item): p for p in pricing.read_prices(prices) if p.region == "us-east-1"}
    for item, value in [("transition_glacier_ir", 0.02), ("restore_glacier_standard", 0.05),
                        ("restore_glacier_bulk", 0.0), ("restore_deep_archive_standard", 0.10),
                        ("restore_deep_archive_bulk", 0.025)]:
        assert after[("s3", item)].price == pytest.approx(value), item
        assert after[("s3", item)].confidence == "H" and "index.json" in after[("s3", item)].source
        assert ("s3", item) in {p.key for p in report.updated}


def test_parser_takes_the_first_lambda_duration_tier_and_firehose_first_band():
    found = pricing.parse_offer(_offer("ap-northeast-1", "AWSLambda"), "ap-northeast-1")
    assert found[("lambda", "duration_x86")].price == pytest.approx(0.0000166667)
    assert found[("lambda", "duration_arm64")].price == pytest.approx(0.0000133334)
    assert found[("lambda", "requests")].price == pytest.approx(0.20)
    fh = pricing.parse_offer(_offer("ap-northeast-1", "AmazonKinesisFirehose"), "ap-northeast-1")
    assert fh[("firehose", "ingestion")].price == pytest.approx(0.031)


def test_parser_ignores_a_tokyo_prefix_in_a_us_east_1_file():
    offer = _offer("ap-northeast-1", "AWSLambda")
    for product in offer["products"].values():
        product["attributes"].pop("regionCode")
        product["attributes"].pop("location")
    assert pricing.parse_offer(offer, "us-east-1") == {}


def test_refresh_from_a_folder_rewrites_only_that_region_and_keeps_unfound_rows(tmp_path):
    prices = tmp_path / "prices.csv"
    shutil.copy(pricing.DATA_FILE, prices)
    before = {(p.service, p.item, p.region): p for p in pricing.read_prices(prices)}
    report = pricing.refresh_region("ap-northeast-1", path=prices, from_dir=FIXTURES / "ap-northeast-1")
    after = {(p.service, p.item, p.region): p for p in pricing.read_prices(prices)}
    assert after[("firehose", "ingestion", "ap-northeast-1")].price == pytest.approx(0.031)
    assert after[("firehose", "ingestion", "ap-northeast-1")].confidence == "H"
    # Not in the fixtures: kept exactly as bundled, and reported as kept.
    assert after[("s3", "storage_glacier_ir", "ap-northeast-1")] == before[("s3", "storage_glacier_ir", "ap-northeast-1")]
    assert ("s3", "storage_glacier_ir") in {p.key for p in report.kept}
    # The other region is untouched.
    assert {k: v for k, v in after.items() if k[2] == "us-east-1"} == {k: v for k, v in before.items() if k[2] == "us-east-1"}
    assert "refreshed for ap-northeast-1" in report.summary()


def _offline_opener(url, timeout=None):
    raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))


def test_refresh_offline_raises_a_clear_message_and_leaves_the_file_alone(tmp_path):
    prices = tmp_path / "prices.csv"
    shutil.copy(pricing.DATA_FILE, prices)
    original = prices.read_bytes()
    with pytest.raises(PriceListUnavailable) as info:
        pricing.refresh_region("ap-northeast-1", path=prices, opener=_offline_opener)
    message = str(info.value)
    assert "Cannot reach the AWS Price List API" in message
    assert "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonDynamoDB/current/ap-northeast-1/index.json" in message
    assert "left unchanged" in message and "--from-dir" in message
    assert prices.read_bytes() == original


def test_refresh_reports_http_errors_with_their_code():
    def opener(url, timeout=None):
        raise urllib.error.HTTPError(url, 403, "Forbidden", {}, None)

    with pytest.raises(PriceListUnavailable, match="HTTP 403"):
        pricing.fetch_offer("AmazonS3", "us-east-1", opener=opener)


def test_refresh_command_offline_exits_2_with_the_message_on_stderr(tmp_path):
    # This machine has no internet; on an online machine the download would succeed, so skip there.
    prices = tmp_path / "prices.csv"
    shutil.copy(pricing.DATA_FILE, prices)
    try:
        pricing.fetch_offer("AWSLambda", "us-east-1", timeout=3)
    except PriceListUnavailable:
        pass
    else:  # pragma: no cover - only online
        pytest.skip("online: the real refresh would download the offers")
    proc = subprocess.run(
        [sys.executable, "-m", "helpers.pricing", "refresh", "--region", "us-east-1", "--output", str(prices)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "error: Cannot reach the AWS Price List API" in proc.stderr
    assert prices.read_bytes() == pricing.DATA_FILE.read_bytes()


def test_describe_names_low_confidence_and_missing_figures():
    low = Price("s3", "storage_deep_archive", "ap-northeast-1", 0.002, "USD per GB-month", "fixture", "", "L")
    assert "low confidence" in low.describe() and not low.verified
    gone = Price("s3", "storage_glacier_ir", "ap-northeast-1", None, "USD per GB-month", note="n/f")
    assert "MISSING" in gone.describe() and gone.missing
