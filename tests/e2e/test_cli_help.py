"""`deepcredit --help` as a newcomer reads it: one line per command where the screen is wide enough."""

from __future__ import annotations

from typer.testing import CliRunner

from deepcredit.cli.app import app


def test_the_command_list_reflows_each_summary_instead_of_keeping_the_docstrings_line_breaks():
    result = CliRunner().invoke(app, ["--help"], terminal_width=1000, env={"COLUMNS": "1000"})
    assert result.exit_code == 0
    names = [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands if c.callback]
    rows = [line for line in result.output.splitlines() if line.startswith("│ ") and "Commands" not in line]
    listed = [row.split()[1] for row in rows if len(row.split()) > 1 and not row.startswith("│  ")]
    assert set(names) <= set(listed)
    assert all(not row.startswith("│   ") for row in rows if row.strip("│ ")), "a summary wrapped onto a second line"
