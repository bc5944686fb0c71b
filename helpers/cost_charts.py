"""Charts of the cost model (matplotlib) and the ipywidgets calculator of notebook 07.

Every ``plot_*`` function draws on the ``ax`` it is given (or a new figure) and returns the Axes; it
computes nothing itself: the numbers come from :mod:`helpers.cost_model`. :func:`build_calculator`
returns explicit widgets and recomputes only when its "Compute" button is pressed (sliders use
``continuous_update=False``), and renders the default result once when built, so a headless run shows
it too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import cost_model as cm
from .pricing import REGIONS, PriceBook

COMPONENT_LABELS = {
    "dynamodb_storage": "DynamoDB storage",
    "dynamodb_writes": "DynamoDB writes",
    "dynamodb_reads": "DynamoDB reads back",
    "lambda_requests": "Lambda requests",
    "lambda_duration": "Lambda duration",
    "firehose_ingestion": "Firehose ingestion",
    "s3_puts": "S3 PUTs",
    "s3_storage": "S3 storage (data)",
    "s3_object_overhead": "S3 per-object overhead (40 KB / 128 KB min)",
    "s3_transitions": "S3 lifecycle transitions",
    "s3_early_delete": "S3 early deletion",
    "s3_retrieval": "S3 retrieval",
}


def _ax(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5.2), layout="constrained")
    return ax


def _usd(ax, label: str = "USD") -> None:
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)


def _legend_below(ax, ncol: int = 2) -> None:
    """The legend under the axes, outside the data, in columns: nothing drawn is covered and long
    scenario names stay whole at JupyterLab's default width."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=ncol,
                  frameon=False)


def plot_monthly(comparison: cm.Comparison, ax=None):
    """One line per scenario: its cost in each month of the horizon."""
    ax = _ax(ax)
    comparison.monthly_totals().plot(ax=ax, linewidth=1.6)
    ax.set_title(f"Monthly cost per scenario ({comparison.inputs.region})")
    ax.set_xlabel("month")
    _usd(ax, "USD per month")
    _legend_below(ax)
    return ax


def plot_cumulative(comparison: cm.Comparison, ax=None):
    """One line per scenario: what it has cost in total by the end of each month."""
    ax = _ax(ax)
    comparison.cumulative().plot(ax=ax, linewidth=1.6)
    ax.set_title("Cumulative cost")
    ax.set_xlabel("month")
    _usd(ax, "USD since month 1")
    _legend_below(ax)
    return ax


def plot_breakdown(result: cm.ScenarioResult, ax=None):
    """Stacked bars: the chosen scenario's monthly cost split by component (zero components omitted)."""
    ax = _ax(ax)
    monthly = result.monthly.loc[:, (result.monthly > 0).any()]
    monthly = monthly.rename(columns=COMPONENT_LABELS)
    if monthly.empty:
        ax.text(0.5, 0.5, "no cost", ha="center", transform=ax.transAxes)
    else:
        monthly.plot.bar(stacked=True, ax=ax, width=0.85, colormap="tab20")
        step = max(1, len(monthly) // 12)
        ax.set_xticks(range(0, len(monthly), step))
        ax.set_xticklabels(monthly.index[::step], rotation=0)
        _legend_below(ax, ncol=3)
    ax.set_title(f"Where the money goes: {result.scenario.name}")
    ax.set_xlabel("month")
    _usd(ax, "USD per month")
    return ax


def plot_buffer_sweep(sweep: pd.DataFrame, ax=None, value: str = "total_usd"):
    """Total cost over the horizon against the Firehose buffer size, one line per scenario and interval
    (solid: the first interval, dashed: the others). Labels give the mean object size at both ends."""
    ax = _ax(ax)
    intervals = sorted(sweep["buffer_interval_s"].unique())
    colours = {}
    for (scenario, interval), group in sweep.groupby(["scenario", "buffer_interval_s"], sort=False):
        group = group.sort_values("buffer_size_mib")
        colour = colours.setdefault(scenario, f"C{len(colours)}")
        style = "-" if interval == intervals[0] else "--"
        kb = group["mean_object_kb"].to_numpy()
        label = f"{scenario}, {interval:g} s (objects {kb[0]:.0f}-{kb[-1]:.0f} KB)"
        ax.plot(group["buffer_size_mib"], group[value], style, color=colour, marker="o", markersize=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("Firehose buffer size (MiB)")
    ax.set_title("Small files: total cost over the horizon against the buffer size")
    _usd(ax, "USD over the horizon")
    _legend_below(ax, ncol=1)
    return ax


def plot_break_even(comparison: cm.Comparison, baseline: str = cm.BASELINE, ax=None):
    """Cumulative saving against ``baseline`` (positive: cheaper than keeping it), with a marker at each
    scenario's break-even month."""
    ax = _ax(ax)
    cum = comparison.cumulative()
    if baseline not in cum:
        ax.text(0.5, 0.5, f"baseline {baseline!r} not computed", ha="center", transform=ax.transAxes)
        return ax
    even = cm.break_even(comparison, baseline)
    for i, name in enumerate(c for c in cum.columns if c != baseline):
        saving = cum[baseline] - cum[name]
        line, = ax.plot(saving.index, saving, label=f"{name} (break-even: {even[name] or 'never'})", color=f"C{i + 1}")
        if even[name] is not None:
            ax.plot([even[name]], [saving.loc[even[name]]], "o", color=line.get_color())
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_title(f"Cumulative saving against '{baseline}'")
    ax.set_xlabel("month")
    _usd(ax, "USD saved so far")
    if len(cum.columns) > 1:
        _legend_below(ax)
    return ax


def plot_object_size(curve: pd.DataFrame, break_even_kb: dict | None = None, object_kb_now: float | None = None,
                     window_months: float | None = None, ax=None):
    """USD per GB stored over the window against the object size (log-log), one line per storage class
    (``cost_model.object_size_curve``), a dot where each class's line meets S3 Standard's (its
    break-even object size, from ``break_even_kb``: class -> KB), and the 128 KB lifecycle default and
    today's object size as vertical lines."""
    ax = _ax(ax)
    for i, cls in enumerate(curve.columns):
        label = "stays in S3 Standard" if cls == "STANDARD" else f"→ {cm.CLASS_LABEL[cls].removeprefix('S3 ')}"
        kb = (break_even_kb or {}).get(cls)
        if kb is not None:
            label += f" (pays from {kb:,.0f} KB)"
        line, = ax.plot(curve.index, curve[cls], color=f"C{i}", linewidth=1.6, label=label)
        if kb is not None and curve.index.min() <= kb <= curve.index.max():
            y = np.interp(kb, curve.index, curve["STANDARD"])
            ax.plot([kb], [y], "o", color=line.get_color(), markersize=7, markeredgecolor="black")
    ax.axvline(cm.LIFECYCLE_DEFAULT_MIN_KB, color="grey", linestyle=":", linewidth=1)
    ax.annotate("128 KB lifecycle default", (cm.LIFECYCLE_DEFAULT_MIN_KB, 1), xycoords=("data", "axes fraction"),
                xytext=(-3, -12), textcoords="offset points", fontsize=8, color="grey", ha="right")
    if object_kb_now:
        ax.axvline(object_kb_now, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"today's objects: {object_kb_now:,.0f} KB", (object_kb_now, 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -24), textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("object size (KB, compressed)")
    window = f" over {window_months:g} months" if window_months else ""
    ax.set_title(f"Cost per GB{window} against the object size")
    _usd(ax, "USD per GB stored")
    _legend_below(ax)
    return ax


def calculator_figures(comparison: cm.Comparison, scenario: str, sweep: pd.DataFrame | None = None,
                       answer: "cm.Answer | None" = None, curve: pd.DataFrame | None = None) -> list:
    """The notebook's charts, one figure each at the notebook's size (so they read at JupyterLab's default
    width, as in the walkthrough above the calculator): monthly, cumulative, breakdown of ``scenario``,
    break-even, buffer sweep (if given), cost against object size (if ``answer`` and ``curve``)."""
    figures = []

    def new(plot, *args, **kwargs):
        ax = plot(*args, **kwargs, ax=_ax(None))
        figures.append(ax.figure)

    new(plot_monthly, comparison)
    new(plot_cumulative, comparison)
    if scenario in comparison.results:
        new(plot_breakdown, comparison.results[scenario])
    new(plot_break_even, comparison)
    if sweep is not None and not sweep.empty:
        new(plot_buffer_sweep, sweep)
    if curve is not None and answer is not None:
        sizes = {c: v["horizon"] for c, v in answer.break_even_kb.items()}
        new(plot_object_size, curve, sizes, answer.object_kb_now, comparison.inputs.horizon_months)
    return figures


def summary_table(comparison: cm.Comparison) -> pd.DataFrame:
    """The summary, rounded for reading: USD without cents, "never" for no break-even, the reason for
    a scenario that was not computed."""
    summary = comparison.summary()
    out = summary[["total_usd", "saving_vs_baseline_usd", "break_even_month", "unverified_figures", "status"]].copy()
    for col in ("total_usd", "saving_vs_baseline_usd"):
        out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
    out["break_even_month"] = out["break_even_month"].map(lambda v: "never" if pd.isna(v) else int(v))
    return out.rename(columns={"total_usd": f"USD, months 1-{comparison.inputs.horizon_months}",
                               "saving_vs_baseline_usd": "saving vs DynamoDB", "break_even_month": "break-even month",
                               "unverified_figures": "unverified figures"})


def unverified_report(comparison: cm.Comparison) -> str:
    """Plain text: each unverified figure once, with the scenarios that use it; then the skipped ones."""
    used: dict[str, list[str]] = {}
    for name, result in comparison.results.items():
        for line in result.warnings():
            used.setdefault(line, []).append(name)
    lines = []
    if used:
        lines.append("Unverified figures these results depend on:")
        for line, names in used.items():
            lines.append(f"  - {line}\n      used by: {', '.join(names)}")
    else:
        lines.append("Every figure used is verified (confidence H or M, for the region itself).")
    for name, reason in comparison.skipped.items():
        lines.append(f"NOT COMPUTED: {name}: {reason}")
    notes = [f"  - {name}: {n}" for name, r in comparison.results.items() for n in r.notes]
    if notes:
        lines.append("Notes:")
        lines.extend(notes)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# The calculator
# --------------------------------------------------------------------------------------------------

def build_calculator(inputs: cm.CostInputs, lifecycle_after_days: float = 30, on_missing: str = "fallback",
                     sweep_sizes: Sequence[float] = (1, 4, 16, 64, 128)):
    """An ipywidgets calculator: sliders and dropdowns for the main inputs, a "Compute" button, and an
    Output showing :func:`calculator_figures`, the summary table, the answer in words and the unverified figures.
    Sliders never trigger a computation (``continuous_update=False`` and no observers): only the button
    does. Returns the VBox; its ``compute()`` attribute runs the same callback (used once at build time
    for the default result)."""
    import ipywidgets as w

    style = {"description_width": "230px"}
    layout = w.Layout(width="560px")

    def slider(cls, value, lo, hi, step, description, **kw):
        return cls(value=value, min=lo, max=hi, step=step, description=description, continuous_update=False,
                   style=style, layout=layout, **kw)

    controls = {
        "region": w.Dropdown(options=sorted(REGIONS), value=inputs.region, description="region", style=style, layout=layout),
        "horizon_months": slider(w.IntSlider, inputs.horizon_months, 6, 120, 6, "horizon (months)"),
        "table_gb": slider(w.FloatLogSlider, max(inputs.table_gb, 1), 0, 5, 0.1, "table today (GB)", base=10),
        "monthly_growth_gb": slider(w.FloatSlider, inputs.monthly_growth_gb, 0, 1000, 1, "growth (GB/month)"),
        "other_tables_gb": slider(w.FloatSlider, inputs.other_tables_gb, 0, 100, 1, "other tables' storage (GB)"),
        "item_kb": slider(w.FloatSlider, inputs.item_kb, 0.1, 400, 0.1, "mean item size (KB)"),
        "hot_days": slider(w.IntSlider, int(inputs.hot_days), 0, 730, 1, "TTL: days in the table"),
        "retention_days": slider(w.IntSlider, int(inputs.retention_days), 1, 3650, 1, "archive kept (days)"),
        "compression_ratio": slider(w.FloatSlider, inputs.compression_ratio, 1, 20, 0.5, "GZIP compression ratio"),
        "buffer_size_mib": slider(w.IntSlider, int(inputs.buffer_size_mib), 1, 128, 1, "Firehose buffer (MiB)"),
        "buffer_interval_s": slider(w.IntSlider, int(inputs.buffer_interval_s), 0, 900, 30, "Firehose interval (s)"),
        "read_back_share": slider(w.FloatSlider, inputs.read_back_share, 0, 1, 0.01, "share read back a month"),
        "one_item_per_record": w.Checkbox(value=inputs.firehose_record_kb is not None and inputs.firehose_record_kb == inputs.item_kb,
                                          description="one item per Firehose record", indent=False,
                                          layout=w.Layout(width="560px", margin="0 0 0 234px")),
        "lifecycle_after_days": slider(w.IntSlider, int(lifecycle_after_days), 0, 365, 1, "lifecycle after (days)"),
    }
    names = [s.name for s in cm.default_scenarios(lifecycle_after_days)]
    breakdown = w.Dropdown(options=[(n, i) for i, n in enumerate(names)], value=len(names) - 1, description="breakdown of",
                           style=style, layout=layout)
    button = w.Button(description="Compute", button_style="primary", icon="calculator")
    status = w.HTML()
    out = w.Output()

    def compute(_=None):
        values = {k: c.value for k, c in controls.items()}
        one = values.pop("one_item_per_record")
        after = values.pop("lifecycle_after_days")
        status.value = "<i>computing...</i>"
        try:
            x = replace(inputs, **values)
            x = replace(x, firehose_record_kb=x.item_kb if one else None)
            scenarios = cm.default_scenarios(after)
            comparison = cm.compare(x, scenarios, on_missing=on_missing)
            chosen = scenarios[breakdown.value].name
            archive = [s for s in scenarios if s.kind == "archive" and s.name in comparison.results]
            sweep = cm.buffer_sweep(x, archive[:1] + archive[-2:], sweep_sizes, on_missing=on_missing) if archive else None
            book = PriceBook.load(x.region, on_missing=on_missing)
            result = cm.answer(comparison, after, book)
            curve = cm.object_size_curve(book, after, x.retention_days, x.horizon_months)
        except ValueError as err:
            status.value = f"<b style='color:#b00'>{err}</b>"
            return
        _show(out, comparison, chosen, sweep, result, curve)
        status.value = f"computed {len(comparison.results)} scenarios for {x.region}"

    button.on_click(compute)
    box = w.VBox([w.HTML("<b>Archive cost calculator</b>: change the inputs, then press Compute."),
                  *controls.values(), breakdown, w.HBox([button, status]), out])
    box.compute = compute  # type: ignore[attr-defined]
    box.controls = controls  # type: ignore[attr-defined]
    compute()
    return box


def _show(out, comparison, chosen, sweep, result, curve) -> None:
    from IPython.display import Markdown, display

    with out:
        out.clear_output(wait=True)
        display(summary_table(comparison))
        for fig in calculator_figures(comparison, chosen, sweep, result, curve):
            display(fig)
            plt.close(fig)
        display(Markdown(result.text()))
        print(unverified_report(comparison))
