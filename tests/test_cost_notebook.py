"""Notebook 07 and the charts/calculator behind it: the template, a headless run that draws the charts
(no AWS needed), and the calculator computing only when its button is pressed."""

from __future__ import annotations

import socket
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402

from helpers import cost_charts, cost_model  # noqa: E402
from helpers.notebook_runner import run_notebook  # noqa: E402
from helpers.pricing import PriceBook  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "07_cost_comparison.ipynb"


def test_notebook_is_committed_without_outputs_and_follows_the_template():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert markdown.startswith("# 07 ")
    for heading in ("## Overview", "## Prerequisites", "## Get started", "## 1. ", "## Cleaning up", "## Next"):
        assert heading in markdown, heading
    # A markdown cell before every code cell, except consecutive chart cells of one step.
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and nb.cells[i - 1].cell_type == "code":
            assert "plot_break_even" in cell.source, f"cell {i} has no markdown cell before it"
    # Every chart step says how to read it.
    assert markdown.count("**How to read it:**") >= 5


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def _printed(out: Path) -> str:
    nb = nbformat.read(out, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_notebook_runs_headless_without_aws_and_draws_its_charts(tmp_path, monkeypatch):
    monkeypatch.delenv("TTL_ARCHIVE_COST_ARCHIVE_DIR", raising=False)
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_PORT", _free_port())  # no local AWS runs there: the defaults
    out = run_notebook(NOTEBOOK, output_dir=tmp_path, timeout=120)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 7  # monthly, cumulative, breakdown, buffer sweep, object size, two break-even charts
    text = "".join(o.get("text", "") for o in outputs)
    assert "Pricing region" in text and "Other tables' DynamoDB storage" in text  # the region and free tier, stated
    assert "Totals are the sum of the bills of months 1-36" in text
    assert "NOT COMPUTED" not in text
    assert "Inputs: the defaults above (no archive measured: the embedded local AWS is not running" in text
    answer = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert "Archiving pays" in answer or "Archiving does not pay" in answer  # the answer, computed
    assert "a transition pays for itself from objects of" in answer
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)  # the calculator


def test_notebook_takes_its_inputs_from_a_folder_archive(tmp_path, monkeypatch):
    from datetime import date

    from helpers import archive_stats, sample
    from helpers.sample_output import FolderDestination

    root = tmp_path / "archive-copy"
    w = sample.Workload(days=1, items_per_day=200, start=date(2026, 10, 1), buffer_interval_s=300, seed=7)
    sample.generate(w, FolderDestination(root), workers=1)  # the real archiver's lines, GZIP objects
    measured = archive_stats.archive_inputs(str(root))
    monkeypatch.setenv("TTL_ARCHIVE_COST_ARCHIVE_DIR", str(root))
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_PORT", _free_port())
    text = _printed(run_notebook(NOTEBOOK, output_dir=tmp_path / "out", timeout=120))
    assert f"Inputs measured from the folder {root}/archive/ (TTL_ARCHIVE_COST_ARCHIVE_DIR is set):" in text
    assert f"{measured.objects:,} objects over {measured.days:,.2f} days" in text
    c = measured.cost_inputs()
    assert f"item_kb={c['item_kb']}, compression_ratio={c['compression_ratio']}, monthly_growth_gb={c['monthly_growth_gb']}" in text
    # the measured inputs are the ones in force
    assert f"In force: item_kb={c['item_kb']:g}, compression_ratio={c['compression_ratio']:g}, monthly_growth_gb={c['monthly_growth_gb']:g}" in text
    nb = nbformat.read(tmp_path / "out" / NOTEBOOK.name, as_version=4)
    assert not [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert "Totals are the sum of the bills of months 1-36" in text


def _inputs(**kw) -> cost_model.CostInputs:
    base = dict(region="us-east-1", horizon_months=12, table_gb=200, monthly_growth_gb=20, item_kb=2)
    base.update(kw)
    return cost_model.CostInputs(**base)


def test_calculator_recomputes_on_the_button_only(monkeypatch):
    calls = []
    real = cost_model.compare

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(cost_charts.cm, "compare", counting)
    box = cost_charts.build_calculator(_inputs())
    assert len(calls) == 1  # the default result, drawn once when built
    sliders = [c for c in box.controls.values() if hasattr(c, "continuous_update")]
    assert sliders and all(c.continuous_update is False for c in sliders)
    box.controls["table_gb"].value = 1000
    box.controls["buffer_size_mib"].value = 64
    assert len(calls) == 1  # moving sliders computes nothing
    button = next(c for c in box.children[-2].children if getattr(c, "description", "") == "Compute")
    button.click()
    assert len(calls) == 2
    assert calls[-1].table_gb == pytest.approx(1000) and calls[-1].buffer_size_mib == 64
    plt.close("all")


def test_calculator_in_strict_mode_computes_every_tokyo_scenario(capsys):
    box = cost_charts.build_calculator(_inputs(region="ap-northeast-1"), on_missing="raise")
    printed = capsys.readouterr().out  # outside a kernel the Output widget prints through
    assert "NOT COMPUTED" not in printed and "Every figure used is verified" in printed
    assert box.children[-2].children[1].value == "computed 7 scenarios for ap-northeast-1"
    labels = [c.description for c in box.controls.values()]
    assert all(len(label) <= 30 for label in labels)  # whole at the 230 px description width
    plt.close("all")


def test_charts_draw_one_line_per_scenario_and_mark_break_even():
    comparison = cost_model.compare(_inputs(), on_missing="fallback")
    n = len(comparison.results)
    assert len(cost_charts.plot_monthly(comparison).get_lines()) == n
    assert len(cost_charts.plot_cumulative(comparison).get_lines()) == n
    even = cost_model.break_even(comparison)
    ax = cost_charts.plot_break_even(comparison)
    # one saving line per non-baseline scenario, one dot per break-even month, plus the zero line
    assert len(ax.get_lines()) == (n - 1) + sum(m is not None for m in even.values()) + 1
    result = comparison.results[cost_model.lifecycle_scenario("GLACIER", 30).name]
    ax = cost_charts.plot_breakdown(result)
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "Firehose ingestion" in labels and "S3 lifecycle transitions" in labels
    # Legends sit below the axes (outside the data)
    anchor = ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert anchor.y1 < 0
    plt.close("all")


def test_object_size_chart_marks_each_break_even():
    book = PriceBook.load("us-east-1")
    curve = cost_model.object_size_curve(book, 0, 365, 12)
    sizes = {c: cost_model.break_even_object_kb(book, c, 0, 365, 12) for c in ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")}
    ax = cost_charts.plot_object_size(curve, sizes, object_kb_now=100, window_months=12)
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(dots) == 3
    for dot, kb in zip(dots, sizes.values()):
        assert dot.get_xdata()[0] == pytest.approx(kb)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(f"pays from {sizes['GLACIER']:,.0f} KB" in label for label in labels)
    plt.close("all")


def test_unverified_report_names_borrowed_figures_and_skipped_scenarios():
    from dataclasses import replace

    from helpers.pricing import read_prices

    tokyo = _inputs(region="ap-northeast-1")
    prices = [replace(p, price=None, confidence="") if (p.item, p.region) == ("ingestion", "ap-northeast-1") else p
              for p in read_prices()]
    report = cost_charts.unverified_report(cost_model.compare(tokyo, book=PriceBook("ap-northeast-1", prices, "fallback")))
    assert "firehose/ingestion [ap-northeast-1]" in report and "BORROWED from us-east-1" in report
    strict = cost_model.compare(tokyo, book=PriceBook("ap-northeast-1", prices))
    assert "NOT COMPUTED: Archive in S3 Standard" in cost_charts.unverified_report(strict)
    table = cost_charts.summary_table(strict)
    assert table.loc["Archive in S3 Standard", "status"].startswith("NOT COMPUTED")
