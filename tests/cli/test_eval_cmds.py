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


def test_an_in_sample_evaluation_says_so_before_the_metrics_table(monkeypatch) -> None:
    """validator study (friction 1): on the rows the model was fitted on (German credit's worked example,
    `split.kind = "none"`) the in-sample caveat came after the table, so the headline AUC read as held out.
    Optimistic: the caveat leads, once; held out: the scope line stays after the table."""
    out = io.StringIO()
    monkeypatch.setattr(eval_cmds, "console", Console(file=out, width=200))
    monkeypatch.setattr("deepcredit.evaluation.cutoffs.cutoff_words", lambda cutoff: "")
    metrics = {"auc": 0.853, "gini": 0.706, "ks": 0.5, "brier": 0.1, "ece": 0.02}
    scope = "measured on the data set the model was fitted on: expect them to be optimistic"
    ev = {"n": 1000, "bad_rate": 0.3, "metrics": metrics, "cutoff": {"approval_rate": 0.386},
          "rows_scope": scope, "optimistic": True}
    eval_cmds._print_summary({"evaluation": ev, "fairness": None, "stability": None})
    said = " ".join(out.getvalue().split())
    assert scope in said and said.index(scope) < said.index("0.853"), said
    assert said.count(scope) == 1
    out.seek(0), out.truncate()
    held_out = "measured on the rows its training held out"
    eval_cmds._print_summary({"evaluation": {**ev, "rows_scope": held_out, "optimistic": False},
                              "fairness": None, "stability": None})
    said = " ".join(out.getvalue().split())
    assert said.index("0.853") < said.index(held_out) and "in-sample" not in said, said
