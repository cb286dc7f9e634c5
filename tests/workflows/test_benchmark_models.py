"""The benchmark's stack helpers: the plain (temporal-off) stack is fitted beside fit_stack, evaluation only evaluates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepcredit.workflows.benchmarks.models import fit_plain_stack, stack_pds


class _Stub:
    """A fitted stack's prediction surface: fixed member logits and stack PDs."""

    def __init__(self, pd_: list[float], members=("gbdt", "hybrid")) -> None:
        self.pd_, self.members = np.asarray(pd_), members
        self.dropped: list[str] | None = None

    def member_logits(self, held) -> pd.DataFrame:
        return pd.DataFrame({k: np.zeros(len(self.pd_)) for k in self.members})

    def predict_proba(self, held) -> np.ndarray:
        return np.column_stack([1 - self.pd_, self.pd_])

    def without(self, kinds):
        self.dropped = list(kinds)
        return _Stub([0.3, 0.3])


def test_a_stack_without_an_encoder_has_no_plain_twin_to_fit():
    assert fit_plain_stack(_Stub([0.1, 0.9]), train=None) is None


def test_the_plain_stack_given_is_what_stack_without_temporal_reports():
    stack = _Stub([0.1, 0.9])
    out = stack_pds(stack, held=None, plain=_Stub([0.2, 0.8]))
    assert np.allclose(out["stack"], [0.1, 0.9]) and np.allclose(out["stack_without_temporal"], [0.2, 0.8])
    assert stack.dropped is None and np.allclose(out["gbdt"], 0.5)


def test_without_a_plain_stack_the_temporal_members_are_dropped_instead():
    stack = _Stub([0.1, 0.9])
    assert np.allclose(stack_pds(stack, held=None)["stack_without_temporal"], 0.3)
    assert stack.dropped == ["hybrid"]
    assert "stack_without_temporal" not in stack_pds(_Stub([0.1, 0.9], members=("gbdt",)), held=None)


def test_a_pretrained_stack_without_a_plain_twin_reports_no_stack_without_temporal():
    """Its other members read the embeddings: dropping the temporal members would ask them for missing columns."""
    stack = _Stub([0.1, 0.9])
    stack.encoder_ = object()
    out = stack_pds(stack, held=None)
    assert "stack_without_temporal" not in out and stack.dropped is None and np.allclose(out["stack"], [0.1, 0.9])


def test_the_last_quarters_split_trains_only_on_outcomes_known_by_its_first_test_date():
    """Audit P6: the time split held out the last quarters and trained on every earlier row, which is right
    only where the windows end when the next quarter starts; rows still maturing must train nothing."""
    from types import SimpleNamespace

    from deepcredit.workflows.benchmarks.models import last_quarters_split

    as_of = pd.to_datetime(["2014-01-01", "2014-04-01", "2014-07-01", "2014-10-01"] * 2)

    def split(window_days: int):
        keys = pd.DataFrame({"person_id": [str(i) for i in range(8)], "as_of": as_of})
        inp = SimpleNamespace(keys=keys, label_keys=keys.assign(known_at=as_of + pd.Timedelta(days=window_days)))
        return last_quarters_split(inp, 1)

    dates, train, test = split(90)  # each window ends as the next quarter starts
    assert len(dates) == 4 and sorted(test) == [3, 7] and sorted(train) == [0, 1, 2, 4, 5, 6]
    _, train, test = split(200)  # April's and July's rows are still maturing on 1 October
    assert sorted(test) == [3, 7] and sorted(train) == [0, 4]


def test_work_data_built_by_other_code_is_rebuilt_and_what_built_it_is_recorded(tmp_path, capsys):
    """Audit R2: an OTC figure moved and could not be traced because the benchmark reused work data built by
    older code; a work data set is reused only when this code built it, else rebuilt."""
    import json

    from deepcredit.data.datasets import load_bundled
    from deepcredit.workflows.benchmarks import models as bm

    root = tmp_path / "german"
    load_bundled("german", root)  # as code before this change left it: no record of what built it
    (root / "old-marker").write_text("")
    bm.bundled("german", tmp_path)
    assert not (root / "old-marker").exists() and "no record of the code" in capsys.readouterr().out
    from deepcredit.workflows.benchmarks import code_provenance

    stamp_path = tmp_path / "german.built_by.json"
    stamp = json.loads(stamp_path.read_text())
    assert stamp["code"] == code_provenance() and stamp["what"] == {"bundled": "german"}

    (root / "marker").write_text("")  # built by this code: reused as it is, and the read says so
    with bm.data_read() as read:
        ds = bm.bundled("german", tmp_path)
    assert (root / "marker").exists()
    assert read["german"]["reused"] and read["german"]["fingerprint"] == ds.fingerprint() == stamp["fingerprint"]

    stamp_path.write_text(json.dumps({**stamp, "code": {**stamp["code"], "fingerprint": "0" * 64,
                                                        "commit": "abc1234"}}))
    with bm.data_read() as read:
        bm.bundled("german", tmp_path)  # built by other code: rebuilt
    assert not (root / "marker").exists() and "built by other code (commit abc1234" in capsys.readouterr().out
    assert not read["german"]["reused"] and read["german"]["built_by"] == code_provenance()


def test_work_data_built_as_something_else_is_rebuilt_where_that_matters(tmp_path):
    from deepcredit.workflows.benchmarks import models as bm

    root = tmp_path / "w"
    calls = []

    def build(people):
        from deepcredit.data.simulate import simulate_world

        calls.append(people)
        return simulate_world(root, people=people, seed=1)

    bm.reuse_or_build(root, {"people": 40}, lambda: build(40))
    bm.reuse_or_build(root, {"people": 40}, lambda: build(40))
    bm.reuse_or_build(root, {"people": 30}, lambda: build(30), same_what=False)  # any build by this code does
    assert calls == [40]
    bm.reuse_or_build(root, {"people": 30}, lambda: build(30))
    assert calls == [40, 30]
