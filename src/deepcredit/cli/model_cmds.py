"""Model commands: train the stack (or one member), batch-score a data set, explain one person's score.

The workflows, the configuration and pandas are imported inside the commands: the CLI starts without them;
--records' help cites the import-free scoring.record_cap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.progress import TaskID
from rich.table import Table

from deepcredit.cli.common import (
    console,
    engine_option,
    master_option,
    member_progress,
    model_errors,
    print_person,
    print_records,
    progress,
    resolve_dataset,
    run_config,
)
from deepcredit.scoring.record_cap import RECORD_CAP

if TYPE_CHECKING:
    from deepcredit.workflows.train import Trained


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("score")(score)
    app.command("explain")(explain)


CONFIG_HELP = "A run configuration (TOML or JSON); options given on the command line override its values."


def train(
    data: str = typer.Option(None, "--data", help="A data set directory, or a bundled name: uci, otc, german."),
    out: Path = typer.Option(..., "--out", help="Directory to write the model artifact to."),
    config: Path = typer.Option(None, "--config", help=CONFIG_HELP),
    members: str = typer.Option(None, "--members", help="Comma-separated member kinds of the stack "
                                "(default: every implemented one: scorecard, gbdt, sequence, wide_deep, graph, "
                                "and hybrid with --temporal)."),
    model: str = typer.Option(None, "--model", help="'stack' (default), or one member kind to train on its own."),
    folds: int = typer.Option(None, "--folds", help="Out-of-fold folds (time blocks when as-of dates differ); "
                                                    "default 5."),
    calibration: str = typer.Option(None, "--calibration", help="isotonic (default), platt or none."),
    temporal: bool = typer.Option(None, "--temporal/--no-temporal", help="The stack's temporal path: pretraining "
                                  "on every person's events, its embeddings as features, the hybrid member "
                                  "(default off; config: stack.temporal)."),
    seed: int = typer.Option(None, "--seed", help="Seed of folds, members and the hold-out (default 0)."),
    holdout: float = typer.Option(None, "--holdout", help="Hold out this fraction of the people (stratified by "
                                                          "label), report AUC/KS/Gini on them."),
    test_from: str = typer.Option(None, "--test-from", help="Time split: hold out every row with as-of on or "
                                                            "after this date (YYYY-MM-DD)."),
    exclude_members: str = typer.Option(None, "--exclude-members", help="Comma-separated member kinds to leave out."),
    exclude_dimensions: str = typer.Option(None, "--exclude-dimensions",
                                           help="Comma-separated dimensions whose features are left out."),
    exclude_features: str = typer.Option(None, "--exclude-features", help="Comma-separated features to leave out."),
    member_param: list[str] = typer.Option([], "--member-param", help="KIND.PARAM=VALUE, e.g. "
                                           "scorecard.iv_min=0.01 (repeat)."),
    engine: str = engine_option(),
    master: str = master_option(),
    allow_other_data: bool = typer.Option(False, "--allow-other-data", help="With --config ART/config.json: "
                                          "train even where the data's fingerprint is not the recorded one (the "
                                          "artifact records that its data are not its config's)."),
) -> None:
    """Train a model on the labelled (person, as_of) rows of a data set and save it as a hashed artifact."""
    from deepcredit.config import recorded_run
    from deepcredit.workflows.train import recreation_data, train_model

    if holdout is not None and test_from is not None:
        raise typer.BadParameter("give --holdout or --test-from, not both")
    with model_errors():
        split = ({"split.kind": "holdout", "split.fraction": holdout} if holdout is not None else
                 {"split.kind": "time", "split.test_from": test_from} if test_from is not None else {})
        cfg = run_config(config, {"data": data, "members": members, "model": model, "stack.folds": folds,
                                  "stack.calibration": calibration, "stack.temporal": temporal, "seed": seed,
                                  **split,
                                  "exclude_members": exclude_members, "exclude_dimensions": exclude_dimensions,
                                  "exclude_features": exclude_features}, member_param)
        recorded = recorded_run(config) if config else None
        target = recreation_data(cfg, recorded, data)
        if not target:
            raise ValueError("--data: give a data set (or 'data' in the --config file)")
        ds = resolve_dataset(target)
        with progress() as bar:
            trained = train_model(cfg, ds, out, on_progress=member_progress(bar), on_message=console.print,
                                  engine=engine, master=master, recorded=recorded,
                                  allow_other_data=allow_other_data)
    _print_training(trained)


def _print_training(trained: Trained) -> None:
    metrics = trained.metrics
    if "meta_weights" in metrics:
        table = Table(title="out-of-fold results (rows no member was fitted on)")
        for col in ("member", "meta weight", "OOF AUC"):
            table.add_column(col)
        for kind, w in metrics["meta_weights"].items():
            table.add_row(kind, f"{w:.3f}", f"{metrics['oof_auc'][kind]:.4f}")
        table.add_row("stack", "", f"{metrics['oof_auc']['stack']:.4f}")
        console.print(table)
        console.print(f"out-of-fold ECE {metrics['oof_ece_before_calibration']:.4f} before calibration, "
                      f"{metrics['oof_ece_after_calibration']:.4f} after (the calibrator was fitted on these rows, "
                      "so the second is optimistic; `evaluate` measures held-out rows)")
        if "combiner" in metrics:
            console.print(f"combiner: {metrics['combiner']['chosen']} ({escape(metrics['combiner']['why'])})")
        if spread := metrics.get("pd_spread"):
            oof, refit = spread["out_of_fold"], spread["refit_in_sample"]
            console.print(f"PD 99th percentile / max: out-of-fold {oof['p99']:.4f} / {oof['max']:.4f}, the refitted "
                          f"stack on its training rows {refit['p99']:.4f} / {refit['max']:.4f}")
    for note in metrics.get("notes", []):
        console.print(f"[cyan]note[/cyan] {escape(note)}")
    for kind, why in metrics.get("skipped", {}).items():
        console.print(f"[yellow]skipped {kind}[/yellow]: {escape(why)}")
    h = metrics.get("holdout")
    if h:
        console.print(f"held out ({h['split']['kind']}, {h['rows']:,} rows, {h['bads']:,} bads): "
                      f"AUC {h['auc']:.4f}, KS {h['ks']:.4f}, Gini {h['gini']:.4f}")
    console.print(f"wrote {trained.path}")


def score(
    model_dir: Path = typer.Option(..., "--model", help="A model artifact directory (from deepcredit train)."),
    data: str = typer.Option(None, "--data", help="A data set directory, or a bundled name: uci, otc, german."),
    out: Path = typer.Option(..., "--out", help="Directory for the scores: part-NNNNN.parquet files and _job.json "
                                               "(a killed run resumes into it)."),
    config: Path = typer.Option(None, "--config", help=CONFIG_HELP),
    as_of: str = typer.Option(None, "--as-of", help="Score everybody as of this date (default: the outcomes' dates)."),
    top: int = typer.Option(None, "--reasons", help="Reason codes per person (default 4)."),
    explain: bool = typer.Option(None, "--explain/--no-explain",
                                 help="Sub-scores and reason codes (--no-explain: PD, score and band only, "
                                      "several times faster)."),
    chunk_size: int = typer.Option(None, "--chunk-size", help="People per chunk (default 100,000): peak memory "
                                                              "follows it, not the population."),
    strict_input: bool = typer.Option(None, "--strict-input/--warn-input",
                                      help="Refuse data that does not match the model (unseen categories, a "
                                           "changed unit, drift), and a model written under other library "
                                           "versions, instead of warning (the default)."),
    engine: str = engine_option(),
    master: str = master_option(),
) -> None:
    """Batch scoring in chunks: PD, score, band, five sub-scores and reason codes for every (person, as_of)."""
    from deepcredit.features.spark_progress import task_stage
    from deepcredit.workflows.score import read_scores
    from deepcredit.workflows.spark_score import score_job

    with model_errors():
        cfg = run_config(config, {"data": data, "scoring.as_of": _date(as_of, "--as-of"), "scoring.reasons": top,
                                  "scoring.explain": explain, "scoring.chunk_size": chunk_size,
                                  "scoring.strict_input": strict_input})
        if not cfg.data:
            raise ValueError("--data: give a data set (or 'data' in the --config file)")
        ds = resolve_dataset(cfg.data)
        with progress() as bar:
            tasks: dict[str, TaskID] = {}

            def on_chunk(stage: str, done: int, total: int) -> None:
                if stage not in tasks:  # Spark's tasks: a total that grows as Spark plans more stages
                    unit = ": tasks so far" if task_stage(stage) else f" (chunks of {cfg.scoring.chunk_size:,} people)"
                    tasks[stage] = bar.add_task(f"{stage}{unit}", total=total)
                bar.update(tasks[stage], completed=done, total=total)

            job = score_job(model_dir, ds, out, cfg, on_chunk=on_chunk, engine=engine, master=master)
        card = read_scores(out, ["score", "band"])
        if len(card) != job["rows"]:  # never report rows the job does not have
            raise ValueError(f"{out}: holds {len(card):,} score rows where its job records {job['rows']:,}: "
                             "remove it and score again")
    bands = card["band"].value_counts().to_dict()
    parts = len(list(Path(out).glob("part-*.parquet")))  # what is on disk, not what the manifest says
    console.print(f"wrote {out}: {len(card):,} rows in {parts} part(s), median score "
                  f"{card['score'].median():.0f} ({', '.join(f'{k} {v:,}' for k, v in bands.items())})")


def _date(value: str | None, option: str) -> str | None:
    import pandas as pd

    if value is None:
        return None
    try:
        return str(pd.Timestamp(value).date())
    except ValueError:
        raise ValueError(f"{option}: {value!r} is not a date (use YYYY-MM-DD)") from None


def explain(
    model_dir: Path = typer.Option(..., "--model", help="A model artifact directory."),
    data: str = typer.Option(..., "--data", help="A data set directory, or a bundled name: uci, otc, german."),
    person: str = typer.Option(..., "--person", help="The person_id to explain."),
    as_of: str = typer.Option("", "--as-of", help="As of this date (default: the person's latest outcome date)."),
    top: int = typer.Option(4, "--reasons", help="Reason codes to show."),
    records: int = typer.Option(None, "--records", help=f"The person's records that weigh most to show: each of "
                                f"their latest {RECORD_CAP} records before the date left out in turn, through the "
                                "whole model (0: off; default 3 where the data set has events)."),
) -> None:
    """One person's score: PD, band, the five sub-scores, what lowers the score most, and the records that
    weigh most."""
    from deepcredit.scoring.record_reasons import record_weights
    from deepcredit.workflows.explain import explain_person

    with model_errors():
        ds = resolve_dataset(data)
        explained = explain_person(model_dir, ds, person, as_of, top)
        if records is None:
            records = 3 if ds.spec.events is not None else 0
        weights = None
        if records > 0:
            weights = record_weights(explained.model, explained.definitions, ds, person, explained.card["as_of"],
                                     context=(explained.input, explained.row))
    print_person(explained.card, explained.reasons)
    if weights is not None:
        print_records(weights, records, explained.card["as_of"])
