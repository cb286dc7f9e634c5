"""What `deepcredit evaluate` prints: every caveat its report and card carry reaches the console too."""

from __future__ import annotations

import io

from rich.console import Console

from deepcredit.cli import eval_cmds


def test_the_summary_says_when_the_fitted_rows_could_not_be_recognised(monkeypatch) -> None:
    """Evaluated on another machine without the fitted-rows key, the numbers may include the rows the model was
    fitted on: the report and the card said so, the console did not."""
    out = io.StringIO()
    monkeypatch.setattr(eval_cmds, "console", Console(file=out, width=200))
    monkeypatch.setattr("deepcredit.evaluation.cutoffs.cutoff_words", lambda cutoff: "")
    metrics = {"auc": 0.8, "gini": 0.6, "ks": 0.5, "brier": 0.1, "ece": 0.02}
    said = "the rows the model was fitted on could not be recognised here: these numbers may be optimistic"
    results = {"evaluation": {"n": 100, "bad_rate": 0.2, "metrics": metrics, "cutoff": {"approval_rate": 0.5},
                              "fitted_rows_unrecognised": said},
               "fairness": None, "stability": None}
    eval_cmds._print_summary(results)
    assert said in " ".join(out.getvalue().split())
