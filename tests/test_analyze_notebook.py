"""notebooks/06_analyze_archive.ipynb runs top to bottom on the embedded local AWS, on a seeded archive
(what 05_verify would leave) and on an empty one, and draws its charts.

The bucket is seeded here (notebook 05 may not exist yet): the name the notebook derives from
TTL_ARCHIVE_STACK, the moto account and the region, with GZIP objects in the documented line format.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nbformat
import pytest

from helpers import Settings, identity
from helpers.notebook_runner import run_notebook

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_analyze_archive.ipynb"


def _line(n: int, deleted_at: str, ttl: int) -> str:
    item = {"id": f"order-{n}", "timestamp": n, "expires_at": ttl, "status": ["new", "paid"][n % 2], "total": n * 1.25, "address": {"city": "Berlin", "zip": "10115"}, "tags": ["a", "b"]}
    return json.dumps(
        {
            "event_id": f"evt-{n:04d}",
            "sequence_number": f"{10**20 + n}",
            "table": "ttl-demo-items",
            "region": "us-east-1",
            "event_source_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/ttl-demo-items/stream/2026-11-26T00:00:00.000",
            "deleted_at": deleted_at,
            "ttl_attribute": "expires_at",
            "ttl": ttl,
            "keys": {"id": item["id"], "timestamp": n},
            "item": item,
            "format": 1,
        }
    )


@pytest.fixture
def notebook_env(monkeypatch, stack, tmp_path):
    monkeypatch.setenv("TTL_ARCHIVE_STACK", stack)
    monkeypatch.setenv("TTL_ARCHIVE_PARQUET_PATH", str(tmp_path / "export" / "archive.parquet"))
    monkeypatch.setenv("TTL_ARCHIVE_SAMPLE_FOLDER", str(tmp_path / "sample"))
    monkeypatch.setenv("TTL_ARCHIVE_SAMPLE_DAYS", "2")
    monkeypatch.setenv("TTL_ARCHIVE_SAMPLE_ITEMS_PER_DAY", "300")
    monkeypatch.setenv("TTL_ARCHIVE_ATHENA_DATABASE", f"{stack.replace('-', '_')}_archive")
    return tmp_path


def _bucket(session, stack: str) -> str:
    who = identity(session)
    name = Settings(stack=stack).with_account(who.account_id, who.region).bucket_name
    session.client("s3").create_bucket(Bucket=name)
    return name


def _outputs(executed: Path) -> list[dict]:
    nb = nbformat.read(executed, as_version=4)
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def _text(outputs: list[dict]) -> str:
    parts = []
    for out in outputs:
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


CHARTS = 6  # items over time, daily rhythm, deletion delay, item sizes, object sizes, buffer what-if


def test_the_notebook_loads_a_seeded_archive_and_draws_every_chart(session, stack, notebook_env, monkeypatch):
    monkeypatch.setenv("TTL_ARCHIVE_ANALYZE", "pipeline")
    bucket = _bucket(session, stack)
    s3 = session.client("s3")
    n = 0
    for hour in (16, 17, 18):
        for part in range(2):
            lines = []
            for _ in range(15):
                ttl = 1764158400 + hour * 60  # TTL times before the deletions, delays of minutes to hours
                lines.append(_line(n, f"2026-11-26T{hour}:{(n * 7) % 60:02d}:00Z", ttl - (n % 5) * 3600))
                n += 1
            body = gzip.compress(("\n".join(lines) + "\n").encode())
            s3.put_object(Bucket=bucket, Key=f"archive/2026/11/26/{hour}/{stack}-archive-1-2026-11-26-{hour}-{part * 30:02d}-00-x{part}", Body=body)
    s3.put_object(Bucket=bucket, Key=f"archive/2026/11/26/18/{stack}-archive-1-2026-11-26-18-59-00-dup", Body=gzip.compress((_line(0, "2026-11-26T16:00:00Z", 1764158400) + "\n").encode()))

    executed = run_notebook(NOTEBOOK, output_dir=notebook_env / "executed", timeout=180)

    outputs = _outputs(executed)
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) == CHARTS
    text = _text(outputs)
    assert "90 items from 7 objects" in text and "1 duplicate deliveries removed" in text
    assert "charts below: the pipeline archive" in text
    assert "600 items" in text  # the generated sample was made and read as well
    assert "glue table" in text and "3 of 3 folders are projected partitions" in text
    assert (notebook_env / "export" / "archive.parquet").exists()
    assert "90 rows" in text
    assert not any(out.get("output_type") == "error" for out in outputs)


def test_the_notebook_says_so_when_the_archive_is_empty(session, stack, notebook_env, monkeypatch):
    monkeypatch.setenv("TTL_ARCHIVE_ANALYZE", "pipeline")
    _bucket(session, stack)

    executed = run_notebook(NOTEBOOK, output_dir=notebook_env / "executed", timeout=180)

    outputs = _outputs(executed)
    text = _text(outputs)
    assert "The archive has no items yet" in text and "run 05_verify" in text
    assert len([out for out in outputs if "image/png" in out.get("data", {})]) == CHARTS  # empty charts that say so
    assert "0 rows" in text


def test_the_notebook_is_committed_without_outputs_and_follows_the_template():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines() if line.startswith("#")]
    assert headings[0].startswith("# ")
    for title in ("## Overview", "## Prerequisites", "## Get started", "## 1. ", "## 12. ", "## Cleaning up", "## Next"):
        assert any(h.startswith(title) for h in headings), title
    steps = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## ") and c.source[3].isdigit()]
    assert len(steps) == 12
    assert all(nb.cells[i + 1].cell_type == "code" for i in steps)  # each step: its markdown, then its code


def test_the_notebook_analyzes_a_generated_month_with_its_charts_and_queries(session, stack, notebook_env):
    executed = run_notebook(NOTEBOOK, output_dir=notebook_env / "executed", timeout=180)

    outputs = _outputs(executed)
    assert not any(out.get("output_type") == "error" for out in outputs)
    text = _text(outputs)
    assert "charts below: the generated month" in text
    assert "created: 600 items" in text and "600 items from" in text and "0 problems" in text
    assert "lag model: lag after the TTL time: log-normal, median 20 min" in text
    assert "item_kb" in text and "compression_ratio" in text  # the cost model's inputs
    assert "(DuckDB: " in text and "folders are projected partitions; missing: []" in text
    assert len([out for out in outputs if "image/png" in out.get("data", {})]) == CHARTS
