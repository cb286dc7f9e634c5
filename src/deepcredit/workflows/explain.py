"""One person's score explained: the model and its feature definitions, the rows to build, the report card.

Why a workflow: `deepcredit explain` and the records behind its reasons (scoring/record_reasons.py) read the
same model, the same spine and the same bundle; the CLI parses, calls this, prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deepcredit.data.dataset import Dataset
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.spec import FeatureDef
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import CreditModel, load_model
from deepcredit.models.stack import instance_views, model_views
from deepcredit.scoring.scorer import Scorer
from deepcredit.workflows.spine import as_of_spine


@dataclass
class Explained:
    """A person's report card row and reason codes, with what they were computed from (for more questions
    about the same score: which records weigh most)."""

    card: pd.Series
    reasons: pd.DataFrame
    model: CreditModel
    definitions: list[FeatureDef]
    input: ModelInput
    """The bundle built for the score (with a graph: everyone on the person's date, as context rows)."""
    row: int
    """The person's position within `input`'s rows."""


def load_explainable(model_dir: Path) -> tuple[CreditModel, list[FeatureDef]]:
    """The model and the feature definitions it was trained with."""
    model = load_model(model_dir)
    defs = [FeatureDef.from_dict(d) for d in load_artifact(model_dir).manifest["features"]]
    return model, defs


def person_spine(ds: Dataset, model: CreditModel, person: str, as_of: str = "") -> pd.DataFrame:
    """The rows to build for one person: as of `as_of`, else their latest outcome date. A model that reads the
    graph needs its neighbours in the spine to pass messages, so there everyone on that date is built."""
    whole_graph = "structural" in instance_views(model)
    if person not in set(ds.read("people")["person_id"]):  # before any hint about dates: no date helps
        raise ValueError(f"person {person!r} is not in the data set's people table")
    if as_of:
        try:
            date = pd.Timestamp(as_of)
        except ValueError:
            raise ValueError(f"--as-of: {as_of!r} is not a date (use YYYY-MM-DD)") from None
        return as_of_spine(ds, date, None if whole_graph else person)
    outcomes = ds.read("outcomes")
    mine = outcomes[outcomes["person_id"] == person]
    if mine.empty:
        raise ValueError(f"person {person!r} has no outcome rows: give --as-of to score them as of a date")
    date = mine["as_of"].max()
    spine = outcomes[outcomes["as_of"] == date] if whole_graph else mine[mine["as_of"] == date]
    return spine[["person_id", "as_of", "label"]]


def explain_person(model_dir: Path, ds: Dataset, person: str, as_of: str = "", top: int = 4) -> Explained:
    """PD, score, band, sub-scores and reason codes of `person` (Scorer.explain on their one row).

    A data set whose files changed after it was written is refused (checked_fingerprint), as by score and
    train: an explanation of edited rows would not be the score those commands give."""
    ds.checked_fingerprint()
    model, defs = load_explainable(model_dir)
    spine = person_spine(ds, model, person, as_of)
    inp = build_model_input(ds, spine=spine, views=model_views(model), definitions=defs)
    row = int(inp.keys.index[inp.keys["person_id"] == person].to_numpy()[0])
    card, reasons = Scorer(model, top=top).explain(inp.take([row]))
    return Explained(card.iloc[0], reasons, model, defs, inp, row)
