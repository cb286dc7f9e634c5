"""A cut-off that approves (or declines) everyone is said so, with the cut-off that would decline the observed
bad rate's share shown for information; the cut-off audited is never changed."""

from __future__ import annotations

import numpy as np
import pytest

from deepcredit.evaluation.cutoffs import cutoff_context, cutoff_declining, one_sided
from deepcredit.evaluation.metrics import confusion_rows, evaluate
from deepcredit.evaluation.report import write_report
from deepcredit.models.scale import ScoreScale


@pytest.fixture(scope="module")
def low_bad_rate() -> tuple[np.ndarray, np.ndarray]:
    """audit: a 3% bad rate portfolio whose PDs all sit below 16.7%, so the default 600 approves everyone."""
    rng = np.random.default_rng(5)
    n = 2000
    p = 1 / (1 + np.exp(-(-4.0 + 0.8 * rng.normal(size=n))))
    p = np.minimum(p, 0.15)
    y = (rng.random(n) < p).astype(int)
    return y, p


def test_one_sided_words():
    assert one_sided(1.0, 10) == "approves everyone"
    assert one_sided(0.0, 10) == "declines everyone"
    assert one_sided(0.99, 100) == "approves nearly everyone (99.0%)"
    assert one_sided(0.015, 200) == "declines nearly everyone (98.5%)"
    assert one_sided(0.9, 100) is None and one_sided(None, 0) is None


def test_the_cut_off_declining_a_share():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    score = np.array([500, 520, 540, 560, 580, 600, 620, 640, 660, 680])
    ref = cutoff_declining(y, score, 0.2)
    assert ref == {"share": 0.2, "cutoff": 540.0, "declined_share": 0.2, "bads_declined_share": 1.0}
    assert cutoff_declining(y, score, 0.0)["cutoff"] == 500.0  # declines nobody


def test_evaluate_says_a_cut_off_approves_everyone_and_keeps_it(tmp_path, low_bad_rate):
    y, p = low_bad_rate
    ev = evaluate(y, p, scale=ScoreScale(), cutoff=600, n_boot=0)
    c = ev["cutoff"]
    assert c["cutoff"] == 600 and c["approval_rate"] == 1.0  # the cut-off set is the one audited
    assert c["one_sided"] == "approves everyone"
    ref = c["at_bad_rate"]
    assert ref["share"] == pytest.approx(y.mean()) and abs(ref["declined_share"] - y.mean()) < 0.01
    assert ref["cutoff"] > 600 and ref["bads_declined_share"] > ref["declined_share"]  # it declines riskier people
    caption = confusion_rows(c)[2]
    assert "the cut-off approves everyone" in caption and f"a cut-off of {ref['cutoff']:.0f} declines" in caption
    html = write_report(tmp_path / "rep", ev).read_text()
    assert "The cut-off 600 approves everyone" in html and "stays the one set (--cutoff)" in html
    assert 'class="card watch"><div class="k">Approved at 600+' in html


def test_a_cut_off_that_decides_both_ways_gets_no_warning(tmp_path, low_bad_rate):
    y, p = low_bad_rate
    ev = evaluate(y, p, scale=ScoreScale(), cutoff=680, n_boot=0)
    assert ev["cutoff"]["one_sided"] is None and 0.05 < ev["cutoff"]["approval_rate"] < 0.95
    assert "badge watch\">cut-off" not in write_report(tmp_path / "rep", ev).read_text()


def test_context_of_an_empty_sample():
    assert cutoff_context(np.array([]), np.array([]), None)["one_sided"] is None


def test_the_informative_cutoff_is_given_only_where_the_one_set_is_one_sided():
    from deepcredit.evaluation.cutoffs import informative_cutoff

    ref = {"cutoff": 571.0, "declined_share": 0.1, "share": 0.1, "bads_declined_share": 0.4}
    assert informative_cutoff({"cutoff": 600, "one_sided": "approves everyone", "at_bad_rate": ref}) == 571.0
    assert informative_cutoff({"cutoff": 600, "one_sided": None, "at_bad_rate": ref}) is None
    flat = {**ref, "declined_share": 0.0}  # every score the same: no cut-off decides anything
    assert informative_cutoff({"cutoff": 600, "one_sided": "approves everyone", "at_bad_rate": flat}) is None
