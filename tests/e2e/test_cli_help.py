"""`deepcredit --help` as a newcomer reads it: one line per command where the screen is wide enough."""

from __future__ import annotations

import re

import click
import typer.main
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


def test_the_history_commands_help_shows_the_spec_sections_it_names():
    """Rich read [more_events.NAME] as markup and dropped it: the help said "each drafted as  (repeat)"."""
    for command, verb in ((["spec", "draft"], "drafted as"), (["ingest"], "declared as")):
        result = CliRunner().invoke(app, [*command, "--help"], terminal_width=1000, env={"COLUMNS": "1000"})
        assert result.exit_code == 0
        text = " ".join(line.strip("│ ") for line in result.output.splitlines())
        for section in ("more_events", "lookups", "more_profile"):
            assert f"{verb} [{section}.NAME] (repeat)" in text, section


def test_no_help_text_holds_a_bracket_rich_would_read_as_markup():
    """Every command's and option's help: a [word...] that is not escaped (rich.markup.escape) is swallowed."""
    def commands(command: click.Command):
        yield command
        for sub in getattr(command, "commands", {}).values():
            yield from commands(sub)

    texts = [t for c in commands(typer.main.get_command(app))
             for t in (c.help, *(getattr(p, "help", None) for p in c.params)) if t]
    assert [t for t in texts if re.search(r"(?<!\\)\[[a-z#/@]", t)] == []
