"""`deepcredit evaluate` (report on held-out data) and `deepcredit monitor` (drift gate for a pipeline).

The evaluation modules (scikit-learn, SciPy, matplotlib) are imported inside the commands: the CLI starts
without them; option defaults come from the import-free evaluation.thresholds.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from deepcredit.cli.common import clear_errors, console, model_errors, resolve_dataset, run_config
from deepcredit.data.period_words import PERIODS
from deepcredit.evaluation.thresholds import ACT, DEFAULT_CUTOFF, EXIT_CODES, LEVELS, WATCH


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
    app.command("monitor")(monitor)


def _compare(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep or not label.strip() or not path.strip():
            raise typer.BadParameter(f"--compare expects LABEL=ARTIFACT, got {item!r}")
        out[label.strip()] = Path(path.strip())
    return out


def evaluate(
    model: Path = typer.Option(..., "--model", help="A model artifact directory."),
    data: str = typer.Option(None, "--data", help="Held-out data: a data set directory, or a bundled name: uci, otc, german."),
    out: Path = typer.Option(..., "--out", help="Directory for report.html, figures.json, model_card.md, ..."),
    config: Path = typer.Option(None, "--config", help="A run configuration (TOML or JSON): its data is the default "
                                                       "--data; written beside the results."),
    reference: str = typer.Option("", "--reference", help="Development data set, for PSI of the score and CSI."),
    cutoff: float = typer.Option(DEFAULT_CUTOFF, "--cutoff", help="Approval rule audited: score >= cutoff (600: "
                                                                 "the scale's 5:1 odds; the report says when it "
                                                                 "approves or declines nearly everyone)."),
    compare: list[str] = typer.Option([], "--compare", help="LABEL=ARTIFACT of another model scored on the "
                                                              "same rows (repeat: the modality ablation table)."),
    n_boot: int = typer.Option(200, "--bootstrap", help="Bootstrap resamples for the AUC interval (0: none)."),
    threads: int = typer.Option(0, "--threads", help="DuckDB threads (0: all cores)."),
    period: str = typer.Option("as_of", "--period", help="Metrics per period when the rows span several: "
                                                         "as_of, month, quarter or year."),
    all_rows: bool = typer.Option(False, "--all-rows", help="On the data set the model was trained on, evaluate "
                                                            "every row, not only the rows its training held out."),
    protected: list[str] = typer.Option([], "--protected", help="An attribute of the people table to audit for "
                                        "fairness beside those the spec declares protected (repeatable)."),
) -> None:
    """Evaluate a model on held-out data: metrics (per period too), fairness audit, stability, one HTML report
    and a model card."""
    from deepcredit.workflows.evaluate import evaluate_model

    if period not in PERIODS:
        raise typer.BadParameter(f"--period must be one of {', '.join(PERIODS)}")
    with model_errors():
        cfg = run_config(config, {"data": data})
        if not cfg.data:
            raise typer.BadParameter("give --data (or 'data' in the --config file)")
        ds = resolve_dataset(cfg.data)
        ref = resolve_dataset(reference) if reference else None
        with console.status("evaluating") as status:
            results = evaluate_model(model, ds, out, reference=ref, cutoff=cutoff, compare=_compare(compare),
                                     n_boot=n_boot, threads=threads or None, period=period, cfg=cfg,
                                     on_step=lambda s: status.update(s), all_rows=all_rows,
                                     protected=tuple(protected))
    _print_summary(results)
    console.print(f"report: {Path(results['report']).resolve()}")


def _print_summary(results: dict) -> None:
    from deepcredit.evaluation.cutoffs import cutoff_words
    from deepcredit.scoring.input_check import finding_text

    ev, fair, st = results["evaluation"], results["fairness"], results["stability"]
    m = ev["metrics"]
    table = Table(title="evaluation")
    for col in ("rows", "bad rate", "AUC", "Gini", "KS", "Brier", "ECE", "approved"):
        table.add_column(col)
    table.add_row(f"{ev['n']:,}", f"{ev['bad_rate']:.1%}", f"{m['auc']:.3f}", f"{m['gini']:.3f}", f"{m['ks']:.3f}",
                  f"{m['brier']:.4f}", f"{m['ece']:.4f}", f"{ev['cutoff']['approval_rate']:.1%}")
    leads = bool(ev.get("optimistic") and ev.get("rows_scope"))
    if leads:  # in-sample numbers: a reader of the headline AUC must not take it as held out (validator study)
        console.print(f"[yellow]in-sample: {ev['rows_scope']}[/yellow]")
    console.print(table)
    if floor := m.get("ece_if_calibrated"):
        console.print(f"ECE of a perfectly calibrated PD on these rows: {floor['median']:.4f} (95th percentile "
                      f"{floor['p95']:.4f}); an ECE below that is as good as chance allows")
    if ev.get("rows_scope") and not leads:
        console.print(f"[yellow]{ev['rows_scope']}[/yellow]")
    if ev.get("fitted_rows_unrecognised"):  # the report and the card say it too
        console.print(f"[yellow]{ev['fitted_rows_unrecognised']}[/yellow]")
    if lim := ev.get("limits"):
        console.print(f"Bayes limit on these rows (AUC of the true PD): {lim['bayes_auc']:.3f}; "
                      f"gap to it {lim['gap']:+.3f}")
    if ev.get("periods"):
        per = Table(title="per period")
        for col in ("period", "rows", "bad rate", "AUC", "Gini", "KS"):
            per.add_column(col)
        for r in ev["periods"]:
            per.add_row(r["period"], f"{r['n']:,}", f"{r['bad_rate']:.1%}",
                        *("n/a" if r[k] is None else f"{r[k]:.3f}" for k in ("auc", "gini", "ks")))
        console.print(per)
    if words := cutoff_words(ev["cutoff"]):
        console.print(f"[yellow]{words}[/yellow]")
    for flag in (fair or {}).get("flags", []):
        console.print(f"[red]fairness flag:[/red] {flag}")
    for thin in (fair or {}).get("too_few_to_judge") or []:
        console.print(f"[yellow]fairness, too few to judge:[/yellow] {thin}")
    for finding in (ev.get("input_check") or {}).get("findings", []):
        console.print(f"[yellow]input check:[/yellow] {finding_text(finding)}")
    if st:
        console.print(f"score PSI against the reference: {st['score_psi']['psi']:.3f} ({_graded(st['score_psi'])})")
        if st.get("reference_note"):
            console.print(f"[yellow]{st['reference_note']}[/yellow]")
        for alert in st.get("alerts", []):
            if alert["what"] != "score":
                console.print(f"[{'red' if alert['level'] == 'act' else 'yellow'}]{alert['level']}:[/] "
                              f"{alert['message']}")


def _graded(row: dict) -> str:
    """'ok (too few rows to tell)' where a PSI past its threshold is within chance at these counts."""
    return f"{row['level']} ({row['note']})" if row.get("note") else row["level"]


def monitor(
    reference: Path = typer.Option(..., "--reference", help="Reference scores (Parquet: score[, band, label])."),
    batch: Path = typer.Option(..., "--batch", help="New batch of scores (Parquet: score[, band, label])."),
    features_reference: Path = typer.Option(None, "--features-reference", help="Reference features (Parquet)."),
    features_batch: Path = typer.Option(None, "--features-batch", help="The batch's features (Parquet)."),
    out: Path = typer.Option(None, "--out", help="Directory for report.html, results.json and figures.json (optional)."),
    watch: float = typer.Option(WATCH, "--watch", help="PSI / CSI at or above this: watch."),
    act: float = typer.Option(ACT, "--act", help="PSI / CSI at or above this: act."),
    fail_on: str = typer.Option("watch", "--fail-on", help="Lowest level that exits non-zero: watch, act or never."),
) -> None:
    """Compare a scoring batch with the reference; exit 0 ok, 3 watch, 4 act (2: bad input)."""
    from deepcredit.evaluation.stability import check_thresholds
    from deepcredit.workflows.evaluate import monitor_batch

    if fail_on not in ("watch", "act", "never"):
        raise typer.BadParameter("--fail-on must be watch, act or never")
    if (features_reference is None) != (features_batch is None):
        raise typer.BadParameter("give both --features-reference and --features-batch, or neither")
    try:
        check_thresholds(watch, act)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with clear_errors():
        result = monitor_batch(reference, batch, features_reference=features_reference,
                               features_batch=features_batch, out=out, watch=watch, act=act)
    table = Table(title=f"monitor: {result['level']}")
    for col in ("check", "value", "level"):
        table.add_column(col)
    sp = result["score_psi"]
    table.add_row("score PSI", f"{sp['psi']:.3f}", _graded(sp))
    if er := result.get("expected_bad_rate"):
        table.add_row("mean PD", f"{er['reference']:.1%} -> {er['batch']:.1%} (x{er['ratio']:.2f})", _graded(er))
    for row in result["csi"][:10]:
        table.add_row(f"CSI {row['feature']}", f"{row['csi']:.3f}", _graded(row))
    for row in result["outcomes_by_band"]:
        if row["bad_rate"] is not None:
            ref_rate = "n/a" if row["reference_bad_rate"] is None else f"{row['reference_bad_rate']:.1%}"
            table.add_row(f"bad rate {row['band']}", f"{row['bad_rate']:.1%} (ref {ref_rate}, {row['n_outcomes']:,})",
                          "watch" if row["flag"] else f"ok ({row['note']})" if row.get("note") else "ok")
    console.print(table)
    for alert in result["alerts"]:
        console.print(f"[{'red' if alert['level'] == 'act' else 'yellow'}]{alert['level']}:[/] {alert['message']}")
    if features_reference is None:  # an input shift the scores do not show would pass unseen
        console.print("[cyan]note[/cyan] inputs not compared: give --features-reference and --features-batch "
                      "(`deepcredit features --data DIR --out F.parquet` for each) to check every feature's drift")
    if out is not None:
        console.print(f"report: {(out / 'report.html').resolve()}")
    level = result["level"]
    if fail_on != "never" and LEVELS.index(level) >= LEVELS.index(fail_on):
        raise typer.Exit(EXIT_CODES[level])
