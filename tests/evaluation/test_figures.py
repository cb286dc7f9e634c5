"""Figure details a reader relies on."""

from __future__ import annotations

import numpy as np

from deepcredit.evaluation.figures import percent_decimals


def test_percent_ticks_get_the_decimals_they_need():
    """audit: ticks 2.5% apart were labelled 0, 2, 5, 8, 10, 12%: the 12% line was 12.5%."""
    assert percent_decimals(np.arange(0, 0.201, 0.025)) == 1
    assert percent_decimals(np.arange(0, 1.01, 0.1)) == 0
    assert percent_decimals(np.array([0.0, 0.001, 0.0025])) == 2


def _group(name: str, n: int, rate: float) -> dict:
    return {"group": name, "n": n, "approval_rate": rate, "tpr": rate + 0.1, "bad_rate": 0.3, "mean_pd": 0.3,
            "audited": n >= 30}


def test_long_group_names_do_not_overlap_under_their_bars():
    """audit (German): 'female : divorced/separated/married' ran into its neighbours' names."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from deepcredit.evaluation.figures import DRAW, wrap_label

    assert wrap_label("female : divorced/separated/married", 10) == "female :\ndivorced/\nseparated/\nmarried"
    assert wrap_label("<25", 10) == "<25" and wrap_label("unbreakable_name", 6) == "unbreakable_name"
    groups = [_group("female : divorced/separated/married", 98, 0.3), _group("male : divorced/separated", 14, 0.29),
              _group("male : married/widowed", 25, 0.36), _group("male : single", 163, 0.39)]
    attrs = {"personal_status_and_sex": groups, "age_band": [_group(a, 50, 0.4) for a in ("<25", "25-34", "35+")],
             "foreign_worker": [_group("no", 8, 0.6), _group("yes", 292, 0.35)]}
    for fig_id, data in (("fairness_approval", {"attributes": attrs, "four_fifths": 0.8}),
                         ("fairness_calibration", {"attributes": attrs})):
        fig = Figure(figsize=(11.0, 3.6), layout="constrained")
        FigureCanvasAgg(fig)
        DRAW[fig_id](fig, data)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        for ax in fig.axes[:3]:
            boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
            assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False)), fig_id  # left to right, no overlap
        assert fig.get_figheight() > 3.6  # taller by the extra lines


def test_the_variants_table_is_named_by_what_it_compares_and_its_auc_axis_starts_at_chance():
    from matplotlib.figure import Figure

    from deepcredit.evaluation.figures import DRAW, figure_specs
    from deepcredit.evaluation.metrics import ablation_words

    def row(model: str, auc: float, views: list[str] | None) -> dict:
        return {"model": model, "auc": auc, "gini": 2 * auc - 1, "ks": 0.4, "brier": 0.18, "ece": 0.05,
                "n": 300, "views": views}

    members = [row("member: scorecard", 0.759, ["tabular"]), row("member: gbdt", 0.76, ["tabular"]),
               row("stack (this model)", 0.766, ["tabular"])]
    assert ablation_words({"ablation": members})[0] == "Stack members compared"
    assert "same data" in ablation_words({"ablation": members})[1]
    modal = [row("tabular only", 0.74, ["tabular"]), row("stack (this model)", 0.78, ["tabular", "temporal"])]
    assert ablation_words({"ablation": modal})[0] == "Modality ablation"
    assert ablation_words({"ablation": [row("a", 0.7, None), row("b", 0.8, None)]})[0] == "Model comparison"
    ev_members = {"ablation": members}
    fig = Figure(figsize=(11.0, 3.0))
    DRAW["ablation"](fig, {"rows": members})
    assert fig.axes[0].get_xlim()[0] == 0.5
    assert "Modality" not in str(figure_specs({**_minimal_evaluation(), **ev_members}, None, None)["ablation"])


def _minimal_evaluation() -> dict:
    from deepcredit.evaluation.metrics import evaluate

    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.9, 300)
    return evaluate((rng.random(300) < p).astype(int), p, n_boot=0)


def test_only_the_flagged_group_is_red_and_another_below_the_line_is_amber():
    """German: 'under 26' was flagged and '26 to under 30' (below four-fifths, its gap not a finding) was red
    too, under a legend that says red means flagged."""
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure

    from deepcredit.evaluation.evidence import FLAG
    from deepcredit.evaluation.figures import BAD, DRAW, WARN

    groups = [_group("under 26", 190, 0.26), _group("26 to under 30", 181, 0.36), _group("45 and over", 201, 0.46)]
    fig = Figure(figsize=(11.0, 3.6), layout="constrained")
    DRAW["fairness_approval"](fig, {"attributes": {"age": groups}, "four_fifths": 0.8, "results": {"age": FLAG},
                                    "flagged_group": {"age": "under 26"}})
    solid = [to_hex(p.get_facecolor()) for p in fig.axes[0].patches[:3]]
    assert solid[0] == BAD and solid[1] == WARN and solid[2] not in (BAD, WARN)
