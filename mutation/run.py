"""Mutation testing (``make mutation``): mutmut 3 on the modules where a bug loses data or money.

Each module is mutated in a work folder of its own (``build/mutation/<module>/``: a copy of ``helpers/``,
``tests/`` and ``pyproject.toml`` with that module's ``[tool.mutmut]``), with only its own test files as
the runner, one module after the other (the machine is shared: ``--max-children 2``). Mutants that only
change log text or an error message's wording (``mutation/triage.py`` tells them) are not run; survivors
listed in ``mutation/accepted.txt`` (equivalent mutants and the like, each with its reason) are not shown
again, so a run prints only the survivors nobody has looked at yet.

    python mutation/run.py                 # every module, each with its default share of mutants
    python mutation/run.py archiver reader # some
    python mutation/run.py --sample 5 cost_model   # every 5th mutant only (a quick look)
    python mutation/run.py --full          # every mutant (hours on 2 cores)
    python mutation/run.py --list          # the modules, their test files and default shares

Exit code 0 when no unaccepted survivor is left, 1 otherwise.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
WORK = ROOT / "build" / "mutation"
ACCEPTED = ROOT / "mutation" / "accepted.txt"

@dataclass(frozen=True)
class Module:
    """What one module's run mutates and with which tests.

    ``sample``: the default share of its mutants that ``make mutation`` runs (every Nth, in name order,
    so every function keeps its share and the same mutants are drawn again while the code is unchanged);
    ``--full`` runs them all. The modules whose tests drive the embedded local AWS (a second or more per
    test) are sampled so that the whole run stays under 30 minutes on 2 cores (docs/mutation-testing.md
    has the figures). ``skip``: functions left out (glob on the mutant name), with the reason.
    """

    files: list[str]
    tests: list[str]
    sample: int = 1
    skip: dict[str, str] = field(default_factory=dict)


_RENDERING = "renders a report for people (text, markdown): no data, no money"
MODULES: dict[str, Module] = {
    "archiver": Module(["helpers/archiver.py"], ["tests/test_archiver.py", "tests/test_archiver_delivery.py"]),
    "reader": Module(["helpers/archive_reader/*.py"], ["tests/test_archive_reader.py", "tests/test_archive_reader_dataset.py",
                                                      "tests/test_archive_reader_names.py", "tests/test_archive_reader_listing.py"],
                     sample=8, skip={"*._results.xǁArchiveReadResultǁsummary__*": _RENDERING, "*._results.xǁProblemǁ__str____*": _RENDERING,
                                     "*._download.x__lower_priority__*": "CPU priority of the parser threads: speed only"}),
    "cost_model": Module(["helpers/cost_model/*.py"], ["tests/test_cost_model.py", "tests/test_cost_answer.py",
                                                      "tests/test_cost_model_rules.py", "tests/test_cost_answer_edges.py"],
                         skip={"*.compare.xǁComparisonǁsummary__*": _RENDERING}),
    "teardown": Module(["helpers/teardown.py"], ["tests/test_teardown.py", "tests/test_teardown_steps.py"], sample=8,
                       skip={"*.xǁTeardownReportǁ__str____*": _RENDERING, "*.xǁTeardownReportǁ_repr_markdown___*": _RENDERING,
                             "*.xǁTeardownEntryǁ__str____*": _RENDERING}),
    "restore": Module(["helpers/restore.py", "helpers/restore_write.py", "helpers/archived_items.py", "helpers/item_codec.py"],
                      ["tests/test_restore.py", "tests/test_item_codec.py", "tests/test_restore_write.py"], sample=6,
                      skip={"*.xǁRestoreReportǁdescribe__*": _RENDERING, "*.xǁArchivedItemsǁsummary__*": _RENDERING,
                            "*.archived_items.x__bar__*": "a tqdm progress bar"}),
    # The embedded local AWS runs the trigger and sweeper in the server's own process, where mutmut's switch
    # does not reach (see docs/architecture.md): its runner tests alone leave them `no tests`. The mutants are
    # reached by tests/test_local_runtime_inprocess.py, which runs the same code in the test process on moto's
    # in-process backends (mock_aws); only the server's thread loops and discovery stay `no tests`.
    "local_runtime": Module(["helpers/local/runtime/trigger.py", "helpers/local/runtime/trigger_config.py", "helpers/local/runtime/sweeper.py"],
                            ["tests/test_local_runtime_inprocess.py", "tests/test_local_runtime_trigger.py", "tests/test_local_runtime_ttl.py"],
                            sample=4),
}


# pytest_fastest_first (this folder): a mutant's tests fastest first, so most mutants die in the first test.
# Deselected: a test that reads the module's own source text, which mutmut rewrites (it adds an import of
# mutmut), and notebook 08's test, which runs a whole notebook (restore's own tests cover what it calls).
PYTEST_ARGS = ["-p", "no:cacheprovider", "-q", "-p", "pytest_fastest_first",
               "--deselect", "tests/test_archiver.py::test_module_is_self_contained_standard_library_and_boto3_only",
               "--deselect", "tests/test_restore.py::test_notebook_08_restores_the_stacks_archive_and_cleans_up"]


def accepted() -> dict[str, str]:
    """Mutant name -> reason, from ``mutation/accepted.txt`` (``name  # reason`` per line)."""
    out = {}
    if ACCEPTED.exists():
        for line in ACCEPTED.read_text().splitlines():
            name, _, reason = line.partition("#")
            if name.strip():
                out[name.strip()] = reason.strip()
    return out


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def prepare(module: str) -> Path:
    """The module's work folder: fresh copies of the code and tests, its own mutmut configuration."""
    files, tests = MODULES[module].files, MODULES[module].tests
    work = WORK / module
    for name in ("helpers", "tests", "notebooks"):  # notebooks: tests that run a walkthrough notebook
        if (work / name).exists():
            shutil.rmtree(work / name)
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    text = (ROOT / "pyproject.toml").read_text()
    text = re.sub(r"\n\[tool\.mutmut\].*?(?=\n\[|\Z)", "", text, flags=re.S)
    text += (
        "\n[tool.mutmut]\n"
        'source_paths = ["helpers"]\n'
        'also_copy = ["notebooks"]\n'
        f"only_mutate = {_toml_list(files)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        f"pytest_add_cli_args = {_toml_list(PYTEST_ARGS)}\n"
        "use_git_change_detection = false\n"
        # A mutant that loops (a retry that never ends) is stopped after 5x the time of all its tests (plus 1 s)
        # instead of mutmut's 15x: the trigger's delivery loop alone had 60 such mutants.
        "timeout_multiplier = 5.0\n"
    )
    (work / "pyproject.toml").write_text(text)
    return work


def mutmut(work: Path, *args: str, check: bool = True, with_errors: bool = False) -> str:
    exe = Path(sys.executable).parent / "mutmut"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "mutation"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([str(exe), *args], cwd=work, text=True, capture_output=True, env=env)
    if check and done.returncode not in (0, 1):
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"mutmut {' '.join(args)} failed in {work} (exit {done.returncode})")
    return done.stdout + (done.stderr if with_errors else "")


def statuses(work: Path) -> dict[str, str]:
    """Mutant name -> status (killed, survived, no tests, timeout, ...) from ``mutmut results --all``."""
    out = {}
    for line in mutmut(work, "results", "--all", "true").splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            out[name] = status
    return out


def mutant_diffs(work: Path) -> dict[str, tuple[str, str]]:
    """Mutant name -> (original line, mutated line), read from the ``mutants/`` copy, where mutmut 3
    keeps every mutant as a function ``x_<name>__mutmut_<n>`` beside ``x_<name>__mutmut_orig``."""
    out: dict[str, tuple[str, str]] = {}
    for path in (work / "mutants").rglob("*.py"):
        if "tests" in path.relative_to(work / "mutants").parts:
            continue
        text = path.read_text()
        if "__mutmut_orig" not in text:
            continue
        module = ".".join(path.relative_to(work / "mutants").with_suffix("").parts)
        lines = text.splitlines()
        funcs = {}
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "__mutmut_" in node.name:
                funcs[node.name] = "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for name, src in funcs.items():
            base, _, number = name.rpartition("__mutmut_")
            orig = funcs.get(base + "__mutmut_orig")
            if number == "orig" or orig is None:
                continue
            a = [line.strip() for line in orig.splitlines()[1:]]
            b = [line.strip() for line in src.splitlines()[1:]]
            old, new = [], []
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
                if tag != "equal":
                    old += a[i1:i2]
                    new += b[j1:j2]
            out[f"{module}.{name}"] = (" / ".join(old), " / ".join(new))
    return out


def run_module(module: str, sample: int | None, children: int) -> tuple[int, dict[str, str], dict[str, int]]:
    """Run one module's chosen mutants: ``(seconds, status by mutant, counts left out by reason)``.

    Every mutant is generated first; left out before any test runs: the functions of ``skip``, the
    mutants that only change log text or a message's wording (mutation/triage.py's rules, read from
    the mutant's own code, so they are never run), and all but every Nth of the rest (``sample``:
    the module's default when None)."""
    spec = MODULES[module]
    work = prepare(module)
    started = time.monotonic()
    mutmut(work, "run", "--max-children", str(children), "__no_such_mutant__", check=False)  # generates only
    every = statuses(work)
    left_out = {"skipped function": 0, "text only": 0, "not in the sample": 0}
    names = [n for n in sorted(every) if not any(fnmatchcase(n, pattern) for pattern in spec.skip)]
    left_out["skipped function"] = len(every) - len(names)
    text = text_mutants(work, names)
    names = [n for n in names if n not in text]
    left_out["text only"] = len(text)
    step = spec.sample if sample is None else sample
    chosen = names[::max(1, step)]
    left_out["not in the sample"] = len(names) - len(chosen)
    out = mutmut(work, "run", "--max-children", str(children), *chosen, check=False, with_errors=True)
    if "failed to collect stats" in out or "Failed to run clean test" in out:
        sys.stderr.write(out[-3000:])
        raise SystemExit(f"{module}: the unmutated code fails its own tests (above): fix that first, or --deselect the test")
    seconds = time.monotonic() - started
    got = statuses(work)
    return round(seconds), {n: got[n] for n in chosen if n in got}, left_out


def text_mutants(work: Path, names: list[str]) -> dict[str, str]:
    """The survivors that only change log text or an error message's wording (mutation/triage.py's
    rules): accepted without a line in accepted.txt."""
    import triage

    funcs = triage.functions(work)
    out = {}
    for name in names:
        found = triage.kind(funcs.get(name.rpartition("__mutmut_")[0] + "__mutmut_orig", ""), funcs.get(name, ""))
        if found:
            out[name] = found
    return out


def report(module: str, seconds: int, got: dict[str, str], ok: dict[str, str], left_out: dict[str, int]) -> list[str]:
    killed = sum(1 for s in got.values() if s in ("killed", "timeout", "segfault"))
    survivors = sorted(n for n, s in got.items() if s in ("survived", "no tests", "suspicious"))
    new = [n for n in survivors if n not in ok]
    total = len(got)
    judged = total - (len(survivors) - len(new))
    not_run = "; ".join(f"{count} {reason}" for reason, count in left_out.items() if count)
    print(f"{module}: {total} mutants run in {seconds} s ({not_run or 'every mutant'} not run); killed {killed} ({killed / max(total, 1):.0%}); "
          f"survived {len(survivors)}, of them accepted {len(survivors) - len(new)}; "
          f"score without accepted {killed / max(judged, 1):.0%}")
    if new:
        diffs = mutant_diffs(WORK / module)
        print(f"  new survivors (the whole diff: cd {WORK / module} && mutmut show NAME):")
        for name in new:
            old, mutated = diffs.get(name, ("?", "?"))
            print(f"  {name} [{got[name]}]\n      - {old}\n      + {mutated}")
    return new


@contextlib.contextmanager
def local_aws() -> Iterator[None]:
    """One embedded local AWS for all the test sessions of a module's run (each mutant runs its own
    pytest session; tests/conftest.py reuses a server on TTL_ARCHIVE_TEST_PORT and leaves it running)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "TTL_ARCHIVE_LOCAL_PORT": str(port), "TTL_ARCHIVE_TEST_PORT": str(port),
                       "TTL_ARCHIVE_LOCAL_STATE": tempfile.mkdtemp(prefix="ttl-archive-mutation-state-")})
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from helpers.local import server

    server.ensure_running(port)
    try:
        yield
    finally:
        server.stop(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", choices=[[], *MODULES], default=[])
    parser.add_argument("--sample", type=int, default=None, help="run every Nth mutant only (default: the module's own, see MODULES)")
    parser.add_argument("--full", action="store_true", help="every mutant of every module (hours on 2 cores)")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--deselect", action="append", default=[], help="a test node id to leave out (repeatable)")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    for node in args.deselect:
        PYTEST_ARGS.extend(["--deselect", node])
    if args.list:
        for name, spec in MODULES.items():
            share = "every mutant" if spec.sample == 1 else f"every {spec.sample}th mutant"
            print(f"{name}: {' '.join(spec.files)}  <-  {' '.join(spec.tests)}  ({share})")
        return 0
    ok = accepted()
    new: list[str] = []
    for module in args.modules or list(MODULES):
        # A fresh local AWS per module: a module's mutants leave resources behind (a broken teardown
        # deletes nothing), and its quotas (50 Firehose streams) would fail the next module's tests.
        with local_aws():
            seconds, got, left_out = run_module(module, 1 if args.full else args.sample, args.max_children)
        new += report(module, seconds, got, ok, left_out)
    return 1 if new else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
