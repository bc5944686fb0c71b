"""``ttl-archive restore`` (helpers/cli/restore.py): flags checked before any AWS call, the report and exit codes.

Needs the command-line framework of the operator-CLI issue (helpers/cli/context.py); until it is merged these
tests are skipped. The restore logic itself is tested in tests/test_restore.py.
"""

from __future__ import annotations

import argparse
import uuid

import pytest

pytest.importorskip("helpers.cli.context")

from helpers.cli import restore as cli  # noqa: E402
from helpers.cli.context import UsageError  # noqa: E402
from tests.test_restore import folder_archive, make_table  # noqa: E402,F401 - the fixture is used by name


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--since", "yesterday-ish"], "--since"),
        (["--since", "2026-11-02T00:00Z", "--until", "2026-11-01T00:00Z"], "after --since"),
        (["--key", "id"], "NAME=VALUE"),
        (["--ttl", "+0"], "remove, keep or"),
        (["--to-table", "a b"], "table"),
        (["--rate", "-5"], "--rate"),
    ],
)
def test_bad_flags_are_usage_errors_before_any_call(argv, message):
    with pytest.raises(UsageError, match=message):
        cli.options(parse(*argv))


class FakeCtx:
    json = True
    progress = False

    def __init__(self, session, settings):
        self._session, self.settings, self.said = session, settings, []

    def session(self):
        return self._session

    def identity(self):  # pragma: no cover - --folder needs no identity
        raise AssertionError("not needed with --folder")

    def say(self, text):
        self.said.append(text)


def test_restore_command_reports_and_exits_by_outcome(session, folder_archive):  # noqa: F811
    from helpers.settings import Settings

    table = make_table(session.client("dynamodb"), f"clirest-{uuid.uuid4().hex[:8]}")
    ctx = FakeCtx(session, Settings(stack="t-cli"))
    result = cli.run(parse("--folder", str(folder_archive), "--to-table", table, "--key", "id=item-1"), ctx)
    assert result.exit_code == 0 and result.data["restored"] == 1 and result.data["failed_items"] == []
    again = cli.run(parse("--folder", str(folder_archive), "--to-table", table, "--key", "id=item-1"), ctx)
    assert again.exit_code == 0 and again.data["skipped_by_reason"] == {"exists": 1}
    nothing = cli.run(parse("--folder", str(folder_archive), "--to-table", table, "--key", "id=none"), ctx)
    assert nothing.exit_code == 1 and "nothing was written" in nothing.text
