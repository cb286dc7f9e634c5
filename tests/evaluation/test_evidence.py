"""The minimum-evidence rule: a screen judges a gap only on enough decisions, and flags it only when an exact
test finds it; otherwise it reads 'too few to judge', neither a pass nor a flag."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest, fisher_exact

from deepcredit.evaluation.evidence import FLAG, PASS, TOO_FEW, compare_rates, compare_to_prediction


def test_a_handful_of_approvals_is_too_few_to_judge():
    """audit: 0 of 207 approved against 2 of 193 was flagged as a disparate-impact ratio of 0.00."""
    v = compare_rates(0, 207, 2, 193, past_threshold=True)
    assert v.result == TOO_FEW and v.p_value is None
    assert v.why == "only 2 approved among the 400 people compared, under 5 expected per group"


def test_no_declines_is_too_few_to_judge_even_within_the_threshold():
    """A cut-off that approves everyone gives every group 100%: within the threshold, and not a pass."""
    v = compare_rates(200, 200, 300, 300, past_threshold=False)
    assert v.result == TOO_FEW and "only 0 declined" in v.why


def test_a_gap_past_the_threshold_is_flagged_only_when_the_exact_test_finds_it():
    clear = compare_rates(0, 100, 50, 100, past_threshold=True)
    assert clear.result == FLAG
    assert clear.p_value == pytest.approx(fisher_exact([[0, 100], [50, 50]]).pvalue)
    chance = compare_rates(8, 40, 12, 40, past_threshold=True)  # a ratio of 0.67 on 20 approvals
    assert chance.result == TOO_FEW and chance.p_value > 0.05 and "could be chance" in chance.why
    assert compare_rates(38, 40, 40, 40, past_threshold=False).result == TOO_FEW  # 2 declines: too few
    assert compare_rates(30, 40, 32, 40, past_threshold=False).result == PASS


def test_observed_against_predicted():
    assert compare_to_prediction(4, 40, 0.05, past_threshold=True).result == TOO_FEW  # 2 bads expected
    v = compare_to_prediction(4, 40, 0.2, past_threshold=True)  # 8 expected, 4 seen: chance
    assert v.result == TOO_FEW and v.p_value == pytest.approx(binomtest(4, 40, 0.2).pvalue)
    assert compare_to_prediction(40, 200, 0.05, past_threshold=True).result == FLAG
    assert compare_to_prediction(21, 200, 0.1, past_threshold=False).result == PASS
