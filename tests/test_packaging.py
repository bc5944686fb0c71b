"""The repository's promises about itself: one source of dependencies, clean notebooks, a CI entry."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# pyproject names whose conda-forge package is spelled differently.
CONDA_NAME = {"moto[server]": "moto"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)\s*(.*)$", requirement)
    assert match, requirement
    name, spec = match.groups()
    return name.lower(), spec.replace(" ", "")


def _pyproject_runtime() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {CONDA_NAME.get(n, n): s for n, s in map(_split, deps)}


def _environment_yml() -> tuple[dict[str, str], list[str]]:
    conda: dict[str, str] = {}
    pip: list[str] = []
    in_pip = False
    section = ""
    for raw in (ROOT / "environment.yml").read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not raw.startswith(" "):
            section = line.rstrip(":")
            continue
        if section != "dependencies":
            continue
        item = line.strip()
        if item == "- pip:":
            in_pip = True
            continue
        if item.startswith("- "):
            if in_pip and len(raw) - len(raw.lstrip()) >= 6:
                pip.append(item[2:].strip())
                continue
            in_pip = False
            name, spec = _split(item[2:])
            conda[name] = spec
    return conda, pip


def test_environment_yml_lists_the_same_runtime_packages_and_ranges_as_pyproject():
    conda, pip = _environment_yml()
    runtime = _pyproject_runtime()
    listed = {k: v for k, v in conda.items() if k not in {"python", "pip"}}
    assert listed == runtime, "environment.yml and pyproject.toml drifted apart"
    assert "-e ." in pip, "environment.yml must install this package through its pip section"


def test_drift_check_notices_a_missing_package(tmp_path, monkeypatch):
    # Guard against a drift test that cannot fail: drop one package and compare again.
    runtime = _pyproject_runtime()
    conda, _ = _environment_yml()
    conda.pop("tqdm")
    assert {k: v for k, v in conda.items() if k not in {"python", "pip"}} != runtime


def test_moto_is_a_pinned_runtime_dependency():
    runtime = _pyproject_runtime()
    assert "moto" in runtime and "<" in runtime["moto"] and ">=" in runtime["moto"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebooks_carry_no_outputs_or_execution_counts(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: a code cell has outputs"
            assert cell.get("execution_count") is None, f"{path.name}: a code cell has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebooks_follow_the_template(path):
    nb = json.loads(path.read_text())
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert markdown.lstrip().startswith("# "), f"{path.name}: starts with a title"
    for heading in ("Overview", "Prerequisites", "Get started", "Cleaning up", "Next"):
        assert re.search(rf"^##+ .*{heading}", markdown, re.M | re.I), f"{path.name}: missing section {heading!r}"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one configuration cell tagged 'parameters'"
    assert not any("sys.path" in "".join(c["source"]) for c in nb["cells"]), f"{path.name}: imports helpers through sys.path hacks"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_public_name_of_the_package_resolves():
    import helpers

    for name in helpers.__all__:
        assert getattr(helpers, name) is not None, name


def test_importing_the_package_does_not_pull_in_pandas_or_matplotlib():
    import subprocess
    import sys

    code = "import sys, helpers, helpers.local; print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_the_notebook_runner_shuts_its_kernels_down_so_they_print_no_warning(tmp_path):
    """`make demo` runs notebooks through this runner; a kernel left running outlives it and warns
    "Parent appears to have exited, shutting down." on the user's terminal."""
    import subprocess
    import sys

    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nbformat.write(nb, tmp_path / "tiny.ipynb")
    done = subprocess.run([sys.executable, "-m", "helpers.notebook_runner", "--output-dir", str(tmp_path / "out"), str(tmp_path / "tiny.ipynb")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "42" in (tmp_path / "out" / "tiny.ipynb").read_text()
    assert "WARNING" not in done.stdout + done.stderr and "Parent appears" not in done.stdout + done.stderr
