"""`deepcredit scorecard train|score|explain`: the interpretable card on any stored data set."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer

from deepcredit.cli.common import clear_errors, console, print_person, progress

app = typer.Typer(help="The interpretable WoE scorecard: train, score, explain.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scorecard")


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Data, artifact and modelling problems end as one red line (exit 2), never a traceback."""
    with clear_errors():
        try:
            yield
        except (ValueError, KeyError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None


def _features(ds, definitions=None, spine=None):
    from deepcredit.features.engine import build_features

    with progress() as bar:
        task = bar.add_task("features", total=None)
        ff = build_features(ds, definitions=definitions, spine=spine,
                            on_step=lambda name, i, n: bar.update(task, completed=i, total=n, description=name))
    return ff


def _spine(ds, as_of: str | None, person: str | None = None):
    """Whom to score: everyone as of a date, else the outcomes' (person, as_of) rows, else the snapshot."""
    import pandas as pd

    con = ds.connect()
    where = "WHERE person_id = ?" if person else ""
    params = [person] if person else []
    if person and not con.execute("SELECT COUNT(*) FROM people WHERE person_id = ?", params).fetchone()[0]:
        raise ValueError(f"{ds.root}: no person {person!r} in the people table")
    if as_of is None:
        if person:
            latest = con.execute(f"SELECT MAX(as_of) FROM outcomes {where}", params).fetchone()[0]
            return pd.DataFrame({"person_id": [person], "as_of": [latest or ds.snapshot_date]})
        if con.execute("SELECT COUNT(*) FROM outcomes").fetchone()[0]:
            return None  # the engine's default spine: the outcomes table
        as_of = str(ds.snapshot_date.date())
    people = con.execute(f"SELECT person_id FROM people {where}", params).df()
    return people.assign(as_of=pd.Timestamp(as_of))


def train(
    data: Path = typer.Option(..., "--data", help="A stored data set directory (with outcomes)."),
    out: Path = typer.Option(..., "--out", help="Artifact directory to write."),
    holdout: float = typer.Option(0.3, "--holdout", min=0.0, max=0.9,
                                  help="Share of labelled rows held out (stratified, seeded) to measure AUC/KS; "
                                       "0 trains on all rows and reports in-sample numbers."),
    seed: int = typer.Option(42, "--seed", help="Seed of the hold-out split."),
    fit_points: str = typer.Option("bins", "--fit-points", help="bins (joint per-bin points) or woe (classic)."),
    allow_protected: bool = typer.Option(False, "--allow-protected",
                                         help="Let protected attributes be inputs (off: never)."),
) -> None:
    """Train a scorecard on a data set's outcomes and write it as a hashed artifact (JSON, CSV, HTML)."""
    import numpy as np

    from deepcredit.data.dataset import Dataset
    from deepcredit.models.scorecard import WoEScorecard

    with _errors():
        ds = Dataset(data)
        ff = _features(ds)
        frame = ff.frame[ff.frame["label"].notna()].reset_index(drop=True)
        if frame.empty:
            raise ValueError(f"{data}: the outcomes table has no labelled rows to train on")
        y = frame["label"].astype(int).to_numpy()
        train_idx = test_idx = np.arange(len(frame))
        if holdout > 0:
            from sklearn.model_selection import train_test_split

            train_idx, test_idx = train_test_split(train_idx, test_size=holdout, stratify=y, random_state=seed)
        card = WoEScorecard(fit_points=fit_points, allow_protected=allow_protected, random_state=seed)
        with progress() as bar:
            task = bar.add_task("binning", total=len(ff.definitions))
            card.fit(frame.iloc[train_idx], y[train_idx], definitions=ff.definitions,
                     on_progress=lambda i, n, name: bar.update(task, completed=i, total=n))
        metrics = _metrics(card, frame.iloc[test_idx], y[test_idx])
        metrics.update({"evaluated_on": "holdout" if holdout > 0 else "training rows (in-sample)",
                        "holdout": holdout, "seed": seed, "train_rows": int(len(train_idx)),
                        "eval_rows": int(len(test_idx)), "bad_rate": float(y.mean())})
        card.save(out, data_fingerprint=ds.fingerprint(), metrics=metrics, definitions=ff.definitions)
    console.print(f"wrote {out}: {len(card.features_)} characteristics, AUC {metrics['auc']:.4f}, "
                  f"KS {metrics['ks']:.4f} ({metrics['evaluated_on']})")


def _metrics(card, X, y) -> dict:
    import numpy as np
    from sklearn.metrics import roc_auc_score, roc_curve

    p = card.predict_proba(X)[:, 1]
    if len(np.unique(y)) < 2:
        return {"auc": float("nan"), "ks": float("nan")}
    fpr, tpr, _ = roc_curve(y, p)
    return {"auc": float(roc_auc_score(y, p)), "ks": float(np.max(tpr - fpr))}


def score(
    model: Path = typer.Option(..., "--model", help="A scorecard artifact directory."),
    data: Path = typer.Option(..., "--data", help="A stored data set directory."),
    out: Path = typer.Option(..., "--out", help="Output file: .csv or .parquet."),
    as_of: str = typer.Option(None, "--as-of", help="Score everyone as of this date (default: the outcomes' "
                                                   "dates, or the snapshot date when there are none)."),
) -> None:
    """Score every person: score, band, PD and the five dimension sub-scores."""
    from deepcredit.data.dataset import Dataset
    from deepcredit.data.io import atomic_write_parquet, atomic_write_text
    from deepcredit.models.scorecard import WoEScorecard

    with _errors():
        if out.suffix not in (".csv", ".parquet"):
            raise ValueError(f"{out}: the output must end in .csv or .parquet")
        card = WoEScorecard.load(model)
        ds = Dataset(data)
        ff = _features(ds, definitions=card.definitions_ or None, spine=_spine(ds, as_of))
        frame = ff.frame
        result = frame[["person_id", "as_of"]].copy()
        sub = card.subscores(frame)
        result["score"] = sub.pop("score").to_numpy()
        result["band"] = card.card_.scale.band(result["score"].to_numpy())
        result["pd"] = card.predict_proba(frame)[:, 1]
        for col in sub.columns:
            result[f"sub_{col}"] = sub[col].to_numpy()
        if out.suffix == ".csv":
            atomic_write_text(out, result.to_csv(index=False))
        else:
            atomic_write_parquet(out, result)
    console.print(f"wrote {out}: {len(result):,} scores (model sha256 {card.artifact_.sha256[:12]})")


def explain(
    model: Path = typer.Option(..., "--model", help="A scorecard artifact directory."),
    data: Path = typer.Option(..., "--data", help="A stored data set directory."),
    person: str = typer.Option(..., "--person", help="The person_id to explain."),
    as_of: str = typer.Option(None, "--as-of", help="Date to explain the score at (default: the person's "
                                                   "latest outcome date, else the snapshot date)."),
    top: int = typer.Option(4, "--top", min=1, max=10, help="How many reasons to show."),
) -> None:
    """One person's score, band, five sub-scores and the reasons that lower the score most (points below the
    best attainable for each characteristic)."""
    from deepcredit.data.dataset import Dataset
    from deepcredit.models.scorecard import WoEScorecard

    with _errors():
        card = WoEScorecard.load(model)
        ds = Dataset(data)
        ff = _features(ds, definitions=card.definitions_ or None, spine=_spine(ds, as_of, person))
        row = ff.frame
        sub = card.subscores(row).iloc[0]
        reasons = card.explain(row, top=top)
    total = int(sub["score"])
    summary = {"person_id": person, "as_of": row["as_of"].iloc[0], "score": total,
               "band": card.card_.scale.band(total), "pd": float(card.predict_proba(row)[0, 1]),
               **{d: int(sub[d]) for d in card.card_.dimensions}}
    print_person(summary, reasons)


app.command("train")(train)
app.command("score")(score)
app.command("explain")(explain)
