"""The whole walkthrough, as `make demo` runs it: every notebook headless, top to bottom, in order,
on the embedded local AWS, for one fresh stack; then every notebook again without change (each step is
idempotent), and the clean-up twice. A failing cell fails the test with its traceback."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from helpers.notebook_runner import notebooks_in, run_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = notebooks_in(ROOT / "notebooks")
STEPS = [p for p in NOTEBOOKS if p.stem != "99_cleanup"]
CLEANUP = [p for p in NOTEBOOKS if p.stem == "99_cleanup"]
RUNS = [("first", p) for p in STEPS] + [("again", p) for p in STEPS] + [("cleanup", p) for p in CLEANUP] + [("cleanup-again", p) for p in CLEANUP]


@pytest.fixture(scope="module")
def walkthrough_stack(local_aws):
    previous = os.environ.get("TTL_ARCHIVE_STACK")
    os.environ["TTL_ARCHIVE_STACK"] = f"walk{uuid.uuid4().hex[:6]}"
    yield os.environ["TTL_ARCHIVE_STACK"]
    if previous is None:
        os.environ.pop("TTL_ARCHIVE_STACK", None)
    else:
        os.environ["TTL_ARCHIVE_STACK"] = previous


def test_the_walkthrough_has_every_step():
    names = [p.stem for p in NOTEBOOKS]
    assert names[0] == "00_setup" and names[-1] == "99_cleanup"
    assert names == sorted(names)


@pytest.mark.parametrize(("run", "path"), RUNS, ids=[f"{run}-{p.stem}" for run, p in RUNS])
def test_notebook_runs_top_to_bottom_after_the_ones_before(run, path, walkthrough_stack, tmp_path_factory):
    out = run_notebook(path, output_dir=tmp_path_factory.mktemp("executed"), timeout=300)
    assert out is not None and out.exists()
