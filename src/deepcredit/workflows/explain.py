"""One person's score explained: the model and its feature definitions, the rows to build, the report card.

Why a workflow: `deepcredit explain` and the records behind its reasons (scoring/record_reasons.py) read the
same model, the same spine and the same bundle; the CLI parses, calls this, prints.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deepcredit.data.dataset import Dataset
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.spec import FeatureDef
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import CreditModel, load_model
from deepcredit.models.stack import instance_views, model_views
from deepcredit.scoring.input_check import InputMismatchWarning
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
    before_joining(ds, person, pd.Timestamp(card["as_of"].iloc[0]))
    return Explained(card.iloc[0], reasons, model, defs, inp, row)


def before_joining(ds: Dataset, person: str, as_of: pd.Timestamp) -> None:
    """Warns where `person` is explained as of a date before they joined (the profile's joined_at, their
    earliest): the score reads a history not yet begun, as if they had none (as `score`'s input check says)."""
    joined = ds.spec.role("joined_at")
    if joined is None:
        return
    people = ds.read("people")
    since = pd.to_datetime(people.loc[people["person_id"] == person, joined.name]).min()
    if pd.notna(since) and as_of < since:
        warnings.warn(InputMismatchWarning(f"explained as of {as_of:%Y-%m-%d}, before the person joined ({joined.name} "
                                           f"{since:%Y-%m-%d}): the score reads no history, as if they had none"),
                      stacklevel=3)
