"""Mutation testing (``make mutation``): mutmut 3 on the modules where a bug loses data or money.

Each module is mutated in a work folder of its own (``build/mutation/<module>/``: a copy of ``helpers/``,
``tests/`` and ``pyproject.toml`` with that module's ``[tool.mutmut]``), with only its own test files as
the runner, one module after the other (the machine is shared: ``--max-children 2``). Survivors that only
change log text or an error message's wording (``mutation/triage.py`` tells them) and those listed in
``mutation/accepted.txt`` (equivalent mutants and the like, each with its reason) are not shown again, so
a run prints only the survivors nobody has looked at yet.

    python mutation/run.py                 # every module
    python mutation/run.py archiver reader # some
    python mutation/run.py --sample 5 cost_model   # every 5th mutant only (a quick look)
    python mutation/run.py --list          # the modules and their test files

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
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
WORK = ROOT / "build" / "mutation"
ACCEPTED = ROOT / "mutation" / "accepted.txt"

# module -> (files mutated, the test files that are its runner)
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "archiver": (["helpers/archiver.py"], ["tests/test_archiver.py", "tests/test_archiver_delivery.py"]),
    "reader": (["helpers/archive_reader/*.py"], ["tests/test_archive_reader.py", "tests/test_archive_reader_dataset.py", "tests/test_archive_reader_names.py"]),
    "cost_model": (["helpers/cost_model/*.py"], ["tests/test_cost_model.py", "tests/test_cost_answer.py"]),
    "teardown": (["helpers/teardown.py"], ["tests/test_teardown.py"]),
    "restore": (["helpers/restore.py", "helpers/restore_write.py", "helpers/archived_items.py", "helpers/item_codec.py"],
                ["tests/test_restore.py", "tests/test_item_codec.py"]),
    # In-process tests only reach these: the trigger and sweeper that the embedded local AWS runs live in
    # the server's own process, where mutmut's switch does not reach (see docs/architecture.md).
    "local_runtime": (["helpers/local/runtime/trigger.py", "helpers/local/runtime/trigger_config.py", "helpers/local/runtime/sweeper.py"],
                      ["tests/test_local_runtime_trigger.py", "tests/test_local_runtime_ttl.py"]),
}


# Tests that read the module's own source text, which mutmut rewrites (it adds an import of mutmut).
PYTEST_ARGS = ["-p", "no:cacheprovider", "-q",
               "--deselect", "tests/test_archiver.py::test_module_is_self_contained_standard_library_and_boto3_only"]


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
    files, tests = MODULES[module]
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
    )
    (work / "pyproject.toml").write_text(text)
    return work


def mutmut(work: Path, *args: str, check: bool = True, with_errors: bool = False) -> str:
    exe = Path(sys.executable).parent / "mutmut"
    done = subprocess.run([str(exe), *args], cwd=work, text=True, capture_output=True, env=os.environ.copy())
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


def run_module(module: str, sample: int, children: int) -> tuple[int, dict[str, str]]:
    work = prepare(module)
    started = time.monotonic()
    names: list[str] = []
    if sample > 1:
        mutmut(work, "run", "--max-children", str(children), "__no_such_mutant__", check=False)  # generates only
        names = sorted(statuses(work))[::sample]
    out = mutmut(work, "run", "--max-children", str(children), *names, check=False, with_errors=True)
    if "failed to collect stats" in out:
        sys.stderr.write(out[-3000:])
        raise SystemExit(f"{module}: the unmutated code fails its own tests (above): fix that first, or --deselect the test")
    seconds = time.monotonic() - started
    got = statuses(work)
    if names:
        got = {n: got[n] for n in names if n in got}
    return round(seconds), got


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


def report(module: str, seconds: int, got: dict[str, str], ok: dict[str, str]) -> list[str]:
    killed = sum(1 for s in got.values() if s in ("killed", "timeout", "segfault"))
    survivors = sorted(n for n, s in got.items() if s in ("survived", "no tests", "suspicious"))
    text = text_mutants(WORK / module, [n for n in survivors if n not in ok])
    ok = {**ok, **text}
    new = [n for n in survivors if n not in ok]
    total = len(got)
    judged = total - (len(survivors) - len(new))
    print(f"{module}: {total} mutants in {seconds} s; killed {killed} ({killed / max(total, 1):.0%}); "
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
    parser.add_argument("--sample", type=int, default=1, help="run every Nth mutant only")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--deselect", action="append", default=[], help="a test node id to leave out (repeatable)")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    for node in args.deselect:
        PYTEST_ARGS.extend(["--deselect", node])
    if args.list:
        for name, (files, tests) in MODULES.items():
            print(f"{name}: {' '.join(files)}  <-  {' '.join(tests)}")
        return 0
    ok = accepted()
    new: list[str] = []
    for module in args.modules or list(MODULES):
        # A fresh local AWS per module: a module's mutants leave resources behind (a broken teardown
        # deletes nothing), and its quotas (50 Firehose streams) would fail the next module's tests.
        with local_aws():
            seconds, got = run_module(module, args.sample, args.max_children)
        new += report(module, seconds, got, ok)
    return 1 if new else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
