"""The whole walkthrough, as `make demo` runs it: every notebook headless, top to bottom, in order,
on the embedded local AWS, for one fresh stack. A failing cell fails the test with its traceback."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from helpers.notebook_runner import notebooks_in, run_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = notebooks_in(ROOT / "notebooks")


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom_after_the_ones_before(path, walkthrough_stack, tmp_path_factory):
    out = run_notebook(path, output_dir=tmp_path_factory.mktemp("executed"), timeout=300)
    assert out is not None and out.exists()
