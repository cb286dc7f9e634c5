"""Model commands: train the stack (or one member), batch-score a data set, explain one person's score."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from deepcredit.cli.common import (
    clear_errors,
    console,
    member_progress,
    print_person,
    progress,
    resolve_dataset,
)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("score")(score)
    app.command("explain")(explain)


@contextlib.contextmanager
def _model_errors() -> Iterator[None]:
    """Data and artifact errors (clear_errors), plus a model's ValueError (unknown member, missing column,
    bad option), as one red line and exit 2."""
    with clear_errors():
        try:
            yield
        except ValueError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None


def _kinds(members: str) -> list[str] | None:
    names = [m.strip() for m in members.split(",") if m.strip()]
    return names or None


def _spine(ds, as_of: str, person: str | None = None) -> pd.DataFrame | None:
    """None (the outcomes' own rows) unless a date is given: then every person (or one) as of that date."""
    if not as_of:
        return None
    try:
        date = pd.Timestamp(as_of)
    except ValueError:
        raise ValueError(f"--as-of: {as_of!r} is not a date (use YYYY-MM-DD)") from None
    people = ds.read("people")[["person_id"]]
    if person is not None:
        people = people[people["person_id"] == person]
    return people.assign(as_of=date)


def train(
    data: str = typer.Option(..., "--data", help="A data set directory, or a bundled name: uci, otc."),
    out: Path = typer.Option(..., "--out", help="Directory to write the model artifact to."),
    members: str = typer.Option("", "--members", help="Comma-separated member kinds of the stack "
                                "(default: every implemented one: scorecard, gbdt, sequence, wide_deep, graph)."),
    model: str = typer.Option("stack", "--model", help="'stack', or one member kind to train on its own."),
    folds: int = typer.Option(5, "--folds", help="Out-of-fold folds (time blocks when as-of dates differ)."),
    calibration: str = typer.Option("isotonic", "--calibration", help="isotonic, platt or none."),
    seed: int = typer.Option(0, "--seed", help="Seed of folds and members."),
) -> None:
    """Train a model on every labelled (person, as_of) of a data set and save it as a hashed artifact."""
    from deepcredit.features.bundle import build_model_input
    from deepcredit.models.base import save_model
    from deepcredit.models.stack import StackModel, available_kinds, default_members, member_views

    with _model_errors():
        ds = resolve_dataset(data)
        have = available_kinds()
        if model == "stack":
            kinds = _kinds(members) or list(default_members())
            est = StackModel(members=kinds, n_folds=folds, calibration=calibration, seed=seed)
        else:
            if model not in have:
                raise ValueError(f"--model: unknown kind {model!r} (available: stack, {', '.join(sorted(have))})")
            kinds = [model]
            est = have[model]()
        unknown = [k for k in kinds if k not in have]
        if unknown:
            raise ValueError(f"member kind(s) {', '.join(unknown)} not implemented "
                             f"(available: {', '.join(sorted(have))})")
        views = sorted({"tabular", *(v for k in kinds for v in member_views(k))},
                       key=["tabular", "temporal", "structural"].index)
        console.print(f"building the {', '.join(views)} view(s) of {ds.name}")
        inp = build_model_input(ds, views=views)
        with progress() as bar:
            on_progress = member_progress(bar)
            if isinstance(est, StackModel):
                est.fit(inp, on_progress=on_progress)
            else:
                on_progress(model, 0, 1)
                est.fit(inp)
                on_progress(model, 1, 1)
        metrics = dict(getattr(est, "metrics_", {}))
        path = save_model(est, out, inp, metrics=metrics,
                          config={"data": ds.name, "views": views, "rows": len(inp), "kind": est.kind})
    _print_training(est, path)


def _print_training(est, path: Path) -> None:
    metrics = getattr(est, "metrics_", None)
    if metrics:
        table = Table(title="out-of-fold results (rows no member was fitted on)")
        for col in ("member", "meta weight", "OOF AUC"):
            table.add_column(col)
        for kind, w in metrics["meta_weights"].items():
            table.add_row(kind, f"{w:.3f}", f"{metrics['oof_auc'][kind]:.4f}")
        table.add_row("stack", "", f"{metrics['oof_auc']['stack']:.4f}")
        console.print(table)
        console.print(f"ECE {metrics['oof_ece_before_calibration']:.4f} before calibration, "
                      f"{metrics['oof_ece_after_calibration']:.4f} after")
        for kind, why in metrics.get("skipped", {}).items():
            console.print(f"[yellow]skipped {kind}[/yellow]: {escape(why)}")
    console.print(f"wrote {path}")


def _load(model_dir: Path):
    from deepcredit.features.spec import FeatureDef
    from deepcredit.models.base import load_model
    from deepcredit.scoring.artifacts import load_artifact

    model = load_model(model_dir)
    defs = [FeatureDef.from_dict(d) for d in load_artifact(model_dir).manifest["features"]]
    return model, defs


def _input(ds, model, defs, spine: pd.DataFrame | None):
    from deepcredit.features.bundle import build_model_input
    from deepcredit.models.stack import instance_views

    needed = {"tabular", *instance_views(model)}
    views = [v for v in ("tabular", "temporal", "structural") if v in needed]
    return build_model_input(ds, spine=spine, views=views, definitions=defs)


def score(
    model_dir: Path = typer.Option(..., "--model", help="A model artifact directory (from deepcredit train)."),
    data: str = typer.Option(..., "--data", help="A data set directory, or a bundled name: uci, otc."),
    out: Path = typer.Option(..., "--out", help="Parquet file to write the scores to."),
    as_of: str = typer.Option("", "--as-of", help="Score everybody as of this date (default: the outcomes' dates)."),
    top: int = typer.Option(4, "--reasons", help="Reason codes per person."),
    explain: bool = typer.Option(True, "--explain/--no-explain",
                                 help="Sub-scores and reason codes (--no-explain: PD, score and band only, "
                                      "several times faster)."),
) -> None:
    """Batch scoring: PD, score, band, five sub-scores and reason codes for every (person, as_of)."""
    from deepcredit.data.io import atomic_write_parquet
    from deepcredit.scoring.report_card import report_card

    with _model_errors():
        model, defs = _load(model_dir)
        ds = resolve_dataset(data)
        with progress() as bar:
            task = bar.add_task("features", total=2)
            inp = _input(ds, model, defs, _spine(ds, as_of))
            bar.update(task, completed=1, description="scoring")
            card = report_card(model, inp, top=top, explain=explain)
            bar.update(task, completed=2)
        atomic_write_parquet(Path(out), card)
    bands = card["band"].value_counts().to_dict()
    console.print(f"wrote {out}: {len(card):,} rows, median score {card['score'].median():.0f} "
                  f"({', '.join(f'{k} {v:,}' for k, v in bands.items())})")


def explain(
    model_dir: Path = typer.Option(..., "--model", help="A model artifact directory."),
    data: str = typer.Option(..., "--data", help="A data set directory, or a bundled name: uci, otc."),
    person: str = typer.Option(..., "--person", help="The person_id to explain."),
    as_of: str = typer.Option("", "--as-of", help="As of this date (default: the person's latest outcome date)."),
    top: int = typer.Option(4, "--reasons", help="Reason codes to show."),
) -> None:
    """One person's score: PD, band, the five sub-scores and what lowers the score most."""
    from deepcredit.models.stack import instance_views
    from deepcredit.scoring.scorer import Scorer

    with _model_errors():
        model, defs = _load(model_dir)
        ds = resolve_dataset(data)
        whole_graph = "structural" in instance_views(model)  # neighbours must be in the spine to pass messages
        if as_of:
            if person not in set(ds.read("people")["person_id"]):
                raise ValueError(f"person {person!r} is not in the data set's people table")
            spine = _spine(ds, as_of, None if whole_graph else person)
        else:
            outcomes = ds.read("outcomes")
            mine = outcomes[outcomes["person_id"] == person]
            if mine.empty:
                raise ValueError(f"person {person!r} has no outcome rows: give --as-of to score them as of a date")
            date = mine["as_of"].max()
            spine = outcomes[outcomes["as_of"] == date] if whole_graph else mine[mine["as_of"] == date]
            spine = spine[["person_id", "as_of", "label"]]
        inp = _input(ds, model, defs, spine)
        row = inp.keys.index[inp.keys["person_id"] == person].to_numpy()
        card, reasons = Scorer(model, top=top).explain(inp.take(row[:1]))
    print_person(card.iloc[0], reasons)
