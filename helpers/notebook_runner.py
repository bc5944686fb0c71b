"""Run notebooks headless, top to bottom, and write the executed copies (``make demo``).

``python -m helpers.notebook_runner --output-dir build notebooks`` runs every ``notebooks/*.ipynb`` in
name order (00, 01, ... 99) on the target chosen by ``TTL_ARCHIVE_TARGET`` (default: the embedded local
AWS) and stops at the first failure with the failing cell's error.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_TIMEOUT = 600  # seconds per cell


def notebooks_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def run_notebook(path: Path, output_dir: Path | None = None, timeout: int = DEFAULT_TIMEOUT) -> Path | None:
    """Execute ``path`` in a fresh kernel whose working directory is the notebook's folder.

    Writes the executed copy to ``output_dir`` (when given) even if a cell fails, then re-raises
    the failure (``nbclient.exceptions.CellExecutionError``). Returns the written path, or None
    without ``output_dir``.
    """
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # IPC sockets in a private folder: TCP ports picked at random can collide with other processes
    # (other kernels, a local AWS of another run) between the pick and the bind.
    with tempfile.TemporaryDirectory(prefix="nbkernel-") as sockets:
        km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        client = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        finally:
            # nbclient shuts down only kernels it started itself: shut ours down, or it outlives this
            # process and prints "Parent appears to have exited, shutting down."
            # Not km.shutdown_kernel(): jupyter_client interrupts the kernel first, and a kernel that is still
            # tidying up (a process pool, say) logs "KeyboardInterrupt caught in kernel". Ask it to shut down,
            # give it time, and kill it only if it has not exited by then.
            if km.has_kernel:
                km.request_shutdown()
                km.finish_shutdown(waittime=15)
                km.cleanup_resources()
            if output_dir is not None:
                output_dir.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, output_dir / path.name)
    return output_dir / path.name if output_dir is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.notebook_runner", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="notebooks, or folders of notebooks")
    parser.add_argument("--output-dir", type=Path, default=Path("build"))
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds per cell")
    args = parser.parse_args(argv)
    paths: list[Path] = []
    for p in args.paths:
        paths.extend(notebooks_in(p) if p.is_dir() else [p])
    for p in paths:
        started = time.monotonic()
        print(f"running {p} ...", flush=True)
        try:
            run_notebook(p, args.output_dir, args.timeout)
        except Exception as err:  # noqa: BLE001 - report which notebook failed, then exit non-zero
            print(f"FAILED {p} after {time.monotonic() - started:.1f} s: {err}", file=sys.stderr)
            return 1
        print(f"ok      {p} in {time.monotonic() - started:.1f} s -> {args.output_dir / p.name}", flush=True)
    print(f"{len(paths)} notebooks ran top to bottom; executed copies in {args.output_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
