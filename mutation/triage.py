"""Sort surviving mutants into the kinds that need no test, for ``mutation/accepted.txt``.

``python mutation/triage.py MODULE`` reads ``build/mutation/MODULE/`` (after ``mutation/run.py MODULE``)
and prints, for every survivor not yet in the list, a line ``name  # reason`` when the mutant only
changes text that nobody reads as data:

* ``log text``: any change inside a ``LOGGER.*(...)`` / ``LOG.*(...)`` call (message, ``extra`` fields,
  ``exc_info``): what is logged, not what is archived or returned;
* ``message wording``: a string inside a ``raise`` statement's message, or the ``why`` text given to the
  archiver's ``_int_env`` (the tests check what a message names, e.g. the variable, not every word);

and ``# REVIEW`` for the rest, which a person reads (``mutmut show NAME``): add a test, or add it to the
list with the reason it is equivalent (e.g. a cache bound: only speed changes).
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402


def _tokens(text: str) -> list[tuple[int, str]]:
    try:
        return [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []


def only_strings_differ(old: str, new: str) -> bool:
    """True when the two texts have the same tokens apart from string literals (and f-string parts)."""
    a, b = _tokens(old), _tokens(new)
    if not a or len(a) != len(b):
        return False
    text_types = {tokenize.STRING} | {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)}
    return all(x == y or (x[0] == y[0] and x[0] in text_types) for x, y in zip(a, b)) and a != b


def _is_log_call(node: ast.AST) -> bool:
    if isinstance(node, ast.Expr):
        node = node.value
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    owner = node.func.value
    return isinstance(owner, ast.Name) and owner.id in ("LOGGER", "LOG", "log", "logger") and node.func.attr in (
        "debug", "info", "warning", "error", "exception", "critical")


def kind(orig: str, mutant: str) -> str | None:
    """'log text' / 'message wording' when the mutant changes only a string in such a statement."""
    a, b = orig.splitlines(), mutant.splitlines()
    changed = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(a) != len(b) or not changed:
        return None
    try:
        tree = ast.parse("\n".join(a).lstrip()) if a[0].startswith(" ") else ast.parse("\n".join(a))
    except SyntaxError:
        return None
    first, last = changed[0] + 1, changed[-1] + 1
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno <= first and (node.end_lineno or 0) >= last:
            if best is None or node.lineno >= best.lineno and (node.end_lineno or 0) <= (best.end_lineno or 0):
                best = node
    if best is None:
        return None
    if _is_log_call(best):
        # Any change inside a log call: what is logged, never what is archived or returned (a change
        # that made the call itself raise would fail the tests, so it is not among the survivors).
        return "log text"
    segment_old = "\n".join(a[best.lineno - 1 : best.end_lineno])
    segment_new = "\n".join(b[best.lineno - 1 : best.end_lineno])
    if not only_strings_differ(segment_old.strip(), segment_new.strip()):
        return None
    if isinstance(best, ast.Raise):
        return "message wording"
    if any(x.strip().startswith('"') and x != y for x, y in zip(a[first - 1 : last], b[first - 1 : last])) and "_int_env(" in segment_old:
        return "message wording"  # the ``why`` text of _int_env: only in its error message
    return None


def functions(work: Path) -> dict[str, str]:
    out = {}
    for path in (work / "mutants").rglob("*.py"):
        rel = path.relative_to(work / "mutants")
        if "tests" in rel.parts:
            continue
        text = path.read_text()
        if "__mutmut_orig" not in text:
            continue
        module = ".".join(rel.with_suffix("").parts)
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "__mutmut_" in node.name:
                body = lines[node.body[0].lineno - 1 : node.end_lineno]
                indent = min(len(x) - len(x.lstrip()) for x in body if x.strip())
                out[f"{module}.{node.name}"] = "\n".join(x[indent:] for x in body)
    return out


def main(module: str) -> None:
    work = run.WORK / module
    got = run.statuses(work)
    ok = run.accepted()
    funcs = functions(work)
    for name in sorted(n for n, s in got.items() if s in ("survived", "no tests") and n not in ok):
        base = name.rpartition("__mutmut_")[0]
        found = kind(funcs.get(base + "__mutmut_orig", ""), funcs.get(name, ""))
        print(f"{name}  # {found}" if found else f"{name}  # REVIEW")


if __name__ == "__main__":
    main(sys.argv[1])
