"""The `deepcredit` Typer application: registers each command group's module."""

from __future__ import annotations

import inspect
import warnings

import typer

from deepcredit.cli import (
    bench_cmds,
    data_cmds,
    demo_cmd,
    eval_cmds,
    features_cmds,
    model_cmds,
    peers_cmd,
    person_cmds,
    serve_cmds,
    spec_cmds,
)
from deepcredit.cli.common import show_warning

app = typer.Typer(help="DeepCredit: open, point-in-time credit scoring.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
for group in (data_cmds, spec_cmds, features_cmds, model_cmds, eval_cmds, peers_cmd, serve_cmds, person_cmds,
              bench_cmds, demo_cmd):
    group.register(app)
for command in app.registered_commands:  # the command list keeps a docstring's line breaks: give it one line
    if command.short_help is None and command.callback is not None:
        summary = inspect.cleandoc(command.callback.__doc__ or "").split("\n\n")[0]
        command.short_help = " ".join(summary.split())


def main() -> None:
    warnings.showwarning = show_warning
    app()
