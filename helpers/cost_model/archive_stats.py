"""Inputs from an existing archive: object and item sizes -> mean item size and compression ratio."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .rules import GIB, KIB

ITEM_SIZE_COLUMNS = ("record_bytes", "item_size", "line_bytes", "size_bytes", "item_bytes", "size")
TIME_COLUMNS = ("last_modified", "stored_at")


@dataclass(frozen=True)
class ArchiveStats:
    """What an archive tells the model. Sizes in KiB; ``compression_ratio`` is None without item sizes."""

    objects: int
    days: float
    objects_per_day: float
    mean_object_kb: float
    stored_gb: float
    mean_item_kb: float | None
    items: int | None
    compression_ratio: float | None

    def overrides(self) -> dict[str, float]:
        """Fields of CostInputs this archive can set: ``item_kb`` and ``compression_ratio`` (when known)."""
        out: dict[str, float] = {}
        if self.mean_item_kb:
            out["item_kb"] = min(self.mean_item_kb, 400.0)
        if self.compression_ratio:
            out["compression_ratio"] = self.compression_ratio
        return out


def archive_stats(objects: pd.DataFrame, items: pd.DataFrame | None = None, item_size_column: str | None = None) -> ArchiveStats:
    """Summarise an archive for the model.

    ``objects``: one row per S3 object with ``key``, ``size`` (stored bytes, i.e. compressed) and
    ``last_modified`` or ``stored_at`` (datetime or ISO string), as in ``archive_reader``'s ``objects``.
    ``items``: one row per archived item with its uncompressed size in bytes, in ``item_size_column``
    (default: the first of ITEM_SIZE_COLUMNS present, e.g. ``record_bytes`` of ``archive_reader``'s
    ``frame``). ``compression_ratio`` = sum of item sizes / sum of object sizes, so ``items`` must cover
    the same objects. ``days`` spans the first to the last ``last_modified`` (at least one day).
    Raises ValueError on missing columns, negative sizes or an empty frame.
    """
    time_col = next((c for c in TIME_COLUMNS if c in objects.columns), "last_modified")
    missing = {"key", "size", time_col} - set(objects.columns)
    if missing:
        raise ValueError(f"objects needs columns key, size, last_modified (or stored_at); missing {sorted(missing)}")
    if objects.empty:
        raise ValueError("objects is empty: nothing archived yet")
    sizes = pd.to_numeric(objects["size"], errors="raise")
    if (sizes < 0).any():
        raise ValueError("objects.size has negative values")
    times = pd.to_datetime(objects[time_col], utc=True)
    days = max((times.max() - times.min()).total_seconds() / 86_400, 1.0)
    stored_bytes = float(sizes.sum())
    mean_item_kb = n_items = ratio = None
    if items is not None and not items.empty:
        col = item_size_column or next((c for c in ITEM_SIZE_COLUMNS if c in items.columns), None)
        if col is None or col not in items.columns:
            raise ValueError(f"items needs an item size column (one of {', '.join(ITEM_SIZE_COLUMNS)} or item_size_column=)")
        item_sizes = pd.to_numeric(items[col], errors="raise")
        if (item_sizes < 0).any():
            raise ValueError(f"items.{col} has negative values")
        n_items = int(len(item_sizes))
        mean_item_kb = float(item_sizes.mean()) / KIB
        ratio = float(item_sizes.sum()) / stored_bytes if stored_bytes > 0 else None
    return ArchiveStats(
        objects=int(len(objects)), days=days, objects_per_day=len(objects) / days,
        mean_object_kb=stored_bytes / len(objects) / KIB, stored_gb=stored_bytes / GIB,
        mean_item_kb=mean_item_kb, items=n_items, compression_ratio=ratio,
    )
