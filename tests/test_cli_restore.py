"""``ttl-archive restore`` (helpers/cli/restore.py): flags checked before any AWS call, the report and exit codes.

The restore logic itself is tested in tests/test_restore.py; here the command's flags, confirmation and exit codes.
"""

from __future__ import annotations

import argparse
import uuid

import pytest

from helpers.cli import restore as cli
from helpers.cli.context import UsageError
from tests.test_restore import folder_archive, make_table  # noqa: F401 - the fixture is used by name


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
    """The framework's Context, reduced to what restore uses; ``answer`` is the operator's reply to a question."""

    json = True
    progress = False

    def __init__(self, session, settings, target="local", tty=False, answer=False):
        self._session, self.settings, self.said, self.asked = session, settings, [], []
        self.target, self.answer = target, answer
        self.stdin = type("Stdin", (), {"isatty": staticmethod(lambda: tty)})()

    def session(self):
        return self._session

    def identity(self):
        from helpers import target

        return target.identity(self._session)

    def where(self):
        return "the test's local AWS"

    def say(self, text):
        self.said.append(text)

    def confirm(self, question):
        self.asked.append(question)
        return self.answer


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


def test_on_aws_restore_asks_first_and_needs_yes_without_a_terminal(session, folder_archive):  # noqa: F811
    from helpers.settings import Settings

    client = session.client("dynamodb")
    table = make_table(client, f"cliaws-{uuid.uuid4().hex[:8]}")
    argv = ("--folder", str(folder_archive), "--to-table", table, "--key", "id=item-1")
    no_tty = cli.run(parse(*argv), FakeCtx(session, Settings(stack="t-cli"), target="aws"))
    assert no_tty.exit_code == 2 and "--yes" in no_tty.text
    ctx = FakeCtx(session, Settings(stack="t-cli"), target="aws", tty=True, answer=False)
    declined = cli.run(parse(*argv), ctx)
    assert declined.exit_code == 1 and "Declined" in declined.text and "Write 1 items into" in ctx.asked[0]
    assert client.scan(TableName=table, Select="COUNT")["Count"] == 0
    dry = cli.run(parse(*argv, "--dry-run"), FakeCtx(session, Settings(stack="t-cli"), target="aws"))
    assert dry.exit_code == 0 and len(dry.data["would_write"]) == 1
    done = cli.run(parse(*argv, "--yes"), FakeCtx(session, Settings(stack="t-cli"), target="aws"))
    assert done.exit_code == 0 and done.data["restored"] == 1
