import numpy as np

from deepcredit.models.scorecard import FeatureTable
from deepcredit.scoring.explain import REASON_COLUMNS, reason_codes, top_losses


def table(name: str, points: list[int], dimension: str = "credit_history") -> FeatureTable:
    nb = len(points) - 3
    return FeatureTable(name=name, kind="numeric", dimension=dimension, description=f"about {name}",
                        improve=f"improve {name}", risk_direction=-1, direction=1,
                        splits=[float(i) for i in range(1, nb)], categories=None, special_codes=[],
                        count=[10] * nb + [0, 5, 0], event=[2] * nb + [0, 1, 0], woe=[0.0] * (nb + 3),
                        logit=[0.0] * (nb + 3), points=points)


def test_top_losses_orders_by_loss_then_column():
    loss = np.array([[5, 9, 9, 0, 1],
                     [0, 0, 0, 0, 0],
                     [3, 3, 3, 3, 3]])
    cols, valid = top_losses(loss, 4)
    assert cols[0].tolist() == [1, 2, 0, 4] and valid[0].all()
    assert not valid[1].any()
    assert cols[2].tolist() == [0, 1, 2, 3]  # ties: the card's order


def test_reason_codes_long_table():
    features = [table("a", [0, 10, 20, 0, 5, 0]), table("b", [-30, 0, 0, 0, -10, 0], "fulfilment_capacity"),
                table("c", [0, 0, 0, 0, 0, 0])]
    bins = np.array([[0, 0, 0],   # a loses 20, b loses 30: b first
                     [2, 1, 1],   # at the best everywhere: no reasons
                     [4, 4, 0]])  # missing bins: a loses 15, b loses 10
    out = reason_codes(bins, features, top=4, index=["p1", "p2", "p3"])
    assert list(out.columns) == list(REASON_COLUMNS)
    assert out[["row", "rank", "feature", "points_lost"]].values.tolist() == [
        ["p1", 1, "b", 30], ["p1", 2, "a", 20], ["p3", 1, "a", 15], ["p3", 2, "b", 10]]
    assert out.loc[0, "value"] == "< 1" and out.loc[2, "value"] == "missing"
    assert out.loc[0, "reason"] == "about b" and out.loc[0, "how_to_improve"] == "improve b"
    assert out.loc[0, "dimension"] == "fulfilment_capacity"
    assert "c" not in set(out["feature"])  # a characteristic with no spread is never a reason


def test_reason_codes_top_and_empty_inputs():
    features = [table(n, [0, 10, 0, 0, 0]) for n in "abcdef"]
    bins = np.zeros((3, 6), dtype=np.int64)
    out = reason_codes(bins, features, top=4)
    assert out.groupby("row").size().tolist() == [4, 4, 4]
    assert out["feature"].tolist()[:4] == ["a", "b", "c", "d"]
    assert reason_codes(bins[:0], features).empty
    assert reason_codes(bins, features, top=0).empty
