"""The `deepcredit` Typer application: registers each command group's module."""

from __future__ import annotations

import typer

from deepcredit.cli import data_cmds, demo_cmd, features_cmds

app = typer.Typer(help="DeepCredit: open, point-in-time credit scoring.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
data_cmds.register(app)
features_cmds.register(app)
demo_cmd.register(app)


def main() -> None:
    app()
