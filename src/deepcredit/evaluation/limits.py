"""The ceiling a model is measured against where the data set knows each person's true PD (a simulated
world stores it in its `truth` table).

Why: on simulated data an AUC of 0.78 reads as mediocre or as near-perfect depending on how much the labels'
own noise allows. The Bayes limit, the AUC the true PD itself reaches on the very rows evaluated, is that
allowance; the gap to it is what a better model could still win at most. The limit uses a latent truth no
model can see, so part of the gap is beyond any model (docs/benchmarks.md: the observable limit measures that
part for the simulator's worlds, at a cost fit for a benchmark rather than every report).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from deepcredit.models.discrimination import auc

if TYPE_CHECKING:
    from deepcredit.data.dataset import Dataset

LIMIT_NOTE = ("Bayes limit: the AUC of each person's true PD (stored with the simulated world) on the same rows. "
              "No model can be expected to reach it: the true PD rests on latent risk that data reveal only in "
              "part.")


def bayes_auc(truth: pd.DataFrame, person_ids: pd.Series | np.ndarray, y: np.ndarray) -> float | None:
    """The Bayes limit on these rows: the AUC of each row's true PD (truth: person_id, true_pd); None where the
    truth does not cover every row or the rows hold one class only. The one place it is computed: the report,
    the demo and the model benchmark read it."""
    if "true_pd" not in truth.columns or len(np.unique(y)) < 2:
        return None
    true_pd = pd.to_numeric(pd.Series(person_ids).map(truth.drop_duplicates("person_id")
                                                        .set_index("person_id")["true_pd"]), errors="coerce")
    if true_pd.isna().any():
        return None
    return auc(y, true_pd.to_numpy())


def world_bayes_auc(dataset: Dataset) -> float:
    """The Bayes limit over a simulated world's every labelled row: the best any model could reach on it."""
    outcomes = dataset.read("outcomes")
    limit = bayes_auc(dataset.read("truth"), outcomes["person_id"], outcomes["label"].to_numpy())
    if limit is None:
        raise ValueError(f"{dataset.name}: its truth table does not give every labelled person a true PD")
    return limit


def bayes_limit(truth: pd.DataFrame, person_ids: pd.Series, y: np.ndarray, pd_: np.ndarray) -> dict | None:
    """{'bayes_auc', 'model_auc', 'gap', 'rows'} on the rows evaluated (truth: person_id, true_pd), or None
    where the truth does not cover every row or the rows hold one class only."""
    if (bayes := bayes_auc(truth, person_ids, y)) is None:
        return None
    model = auc(y, pd_)
    return {"bayes_auc": round(bayes, 4), "model_auc": round(model, 4), "gap": round(bayes - model, 4),
            "rows": int(len(y))}


def limit_rows(limits: dict) -> list[list[str]]:
    """The report's table rows: this model's AUC, the Bayes limit and the gap between them."""
    return [["this model", f"{limits['model_auc']:.4f}"], ["Bayes limit (true PD)", f"{limits['bayes_auc']:.4f}"],
            ["gap to the limit", f"{limits['gap']:+.4f}"]]
