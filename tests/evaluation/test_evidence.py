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


def test_holm_adjusts_step_down_in_the_order_given():
    from deepcredit.evaluation.evidence import holm

    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0]) and holm([]) == []


def test_a_family_judges_each_test_on_its_adjusted_p_value():
    """A gap a single Fisher test finds (p 0.012) is chance among twenty tests: Holm's adjusted p decides."""
    from deepcredit.evaluation.evidence import Family

    def tests(family: Family) -> list:
        found = family.judge(compare_rates(60, 200, 85, 200, past_threshold=True))
        rest = [family.judge(compare_rates(30, 60, 31, 60, past_threshold=False)) for _ in range(19)]
        return [found, *rest]

    alone = compare_rates(60, 200, 85, 200, past_threshold=True)
    assert alone.result == FLAG and alone.p_adjusted is None
    first = Family()
    raw = tests(first)
    assert raw[0].result == FLAG and first.size == 20  # the first pass only collects
    judged = tests(first.adjusted())
    assert judged[0].result == TOO_FEW and "could be chance" in judged[0].why and "Holm-adjusted over 20" in judged[0].why
    assert judged[0].p_value == pytest.approx(alone.p_value) and judged[0].p_adjusted == pytest.approx(20 * alone.p_value)
    assert judged[1].result == PASS and judged[1].p_adjusted == pytest.approx(1.0)
    assert set(judged[0].to_dict()) == {"result", "p_value", "p_adjusted", "why"}
