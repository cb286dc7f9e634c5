"""`deepcredit peers`: your data set, DeepCredit's models against optbinning and LightGBM on the same folds.

The peers workflow and the configuration are imported inside the command: the CLI starts without them; the
help names the results file from the import-free workflows.outputs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from deepcredit.cli.common import console, model_errors, progress, resolve_dataset, run_config, step_by_step
from deepcredit.workflows.outputs import PEERS_RESULTS as RESULTS


def register(app: typer.Typer) -> None:
    app.command("peers")(peers)


def peers(
    data: str = typer.Option(..., "--data", help="A data set directory (ingested with its spec), or a bundled "
                                                 "name: german, uci."),
    out: Path = typer.Option(..., "--out", help=f"Directory for {RESULTS} and config.json."),
    cv: bool = typer.Option(False, "--cv", help="Also 5-times-repeated stratified 5-fold CV (25 fits per model)."),
    test_from: datetime = typer.Option(None, "--test-from", formats=["%Y-%m-%d"],
                                       help="Dated data: a time split instead. Train on the rows dated before "
                                            "this day whose outcome is known by then; test on the rows from it."),
    rolling: int = typer.Option(0, "--rolling", help="Dated data: rolling origin instead. Each of the last N "
                                                     "periods tested on models fitted on the rows before it whose "
                                                     "outcome is known by then; AUC over the pooled test rows."),
    period: str = typer.Option("quarter", "--period", help="The periods of --rolling: as_of, month, quarter, year."),
    config: Path = typer.Option(None, "--config", help="A run configuration (TOML or JSON): the stack's members, "
                                                       "their parameters and folds; written beside the results."),
    exclude_members: str = typer.Option(None, "--exclude-members", help="Comma-separated member kinds to leave out."),
    member_param: list[str] = typer.Option([], "--member-param", help="KIND.PARAM=VALUE, e.g. "
                                           "scorecard.iv_min=0.01 (repeat)."),
) -> None:
    """DeepCredit's scorecard, stack members and stack against optbinning and LightGBM defaults on your data.

    A stratified 70/30 split (random_state=42), and with --cv repeated CV. The peers read your declared
    attributes raw (protected ones left out); one labelled row per person, unless --test-from (a time
    split) or --rolling (rolling origin) compares over time."""
    from deepcredit.workflows.peers import compare_with_peers

    with model_errors():
        ds = resolve_dataset(data)
        cfg = run_config(config, {"data": str(ds.root), "exclude_members": exclude_members}, member_param)
        with progress() as bar:
            task = bar.add_task("peers", total=1 + cv)
            result = compare_with_peers(ds, out, cv=cv, cfg=cfg, on_step=step_by_step(bar, task),
                                        test_from=test_from.date() if test_from else None, rolling=rolling,
                                        period=period)
            bar.update(task, completed=1 + cv, description="peers done")
    periods = result.get("test_periods", [])
    caption = (f"AUC and KS on the rows from {test_from:%Y-%m-%d}" if test_from else
               f"AUC and KS over {len(periods)} test periods, pooled" if periods else
               "AUC and KS on the held-out 30 %" + ("; CV: 5 x 5 folds" if cv else ""))
    table = Table(title=f"{ds.name}: {result['rows']:,} rows, bad rate {result['bad_rate']:.1%}", caption=caption)
    table.add_column("model", no_wrap=True)
    table.add_column("AUC", justify="right")
    table.add_column("KS", justify="right")
    if cv:
        table.add_column("CV AUC (mean ± sd)", justify="right")
    for name, m in result["models"].items():
        row = [name, f"{m['auc']:.4f}", f"{m['ks']:.4f}"]
        if cv:
            c = result["cv"][name]
            row.append(f"{c['auc_mean']:.4f} ± {c['auc_std']:.4f}")
        table.add_row(*row)
    console.print(table)
    if periods:
        by_period = Table(title="AUC in each test period")
        by_period.add_column("model", no_wrap=True)
        for p in periods:
            by_period.add_column(p, justify="right")
        for name, m in result["models"].items():
            by_period.add_row(name, *("-" if m["auc_by_period"][p] is None else f"{m['auc_by_period'][p]:.4f}"
                                      for p in periods))
        console.print(by_period)
        chose = result.get("stack_chose_by_period", {})
        console.print("the stack's combiner in each period: " + ", ".join(f"{p} {c}" for p, c in chose.items()))
        if len(set(chose.values())) > 1:
            console.print("it changed between periods: PDs of different members then rank against each other "
                          "in the pooled AUC")
    if result.get("stack_skipped"):
        for member, why in result["stack_skipped"].items():
            console.print(f"left out of the stack: {member} ({why})")
    if test_from or periods:
        console.print(f"tested on {result['test_rows']:,} rows ({result['test_bads']:,} bad)"
                      + (f" dated from {test_from:%Y-%m-%d}, trained on {result['train_rows']:,} earlier rows"
                         if test_from else f" of {', '.join(periods)}, each by models fitted on earlier rows only"))
    console.print(f"inputs: {result['inputs']}")
    if result.get("unmatured_rows"):
        console.print(f"{result['unmatured_rows']:,} earlier rows trained nothing: their outcomes are known only "
                      f"after {test_from:%Y-%m-%d}")
    console.print(f"wrote {out / RESULTS}")
