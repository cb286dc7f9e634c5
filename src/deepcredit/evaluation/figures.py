"""The report's figures: each is drawn from the JSON data of an evaluation, never from a model.

`figure_specs` picks the figures the results support and gives each a title, a one-line caption and the
exact data it plots (what figures.json holds); `render_png` draws one spec with matplotlib's object API
(no pyplot: no global state, no display needed) and returns PNG bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from deepcredit.evaluation.evidence import FLAG
from deepcredit.evaluation.metrics import ablation_words, ci_words, ece_words, pct

INK = "#1f2933"
MUTED = "#7b8794"
ACCENT = "#2f6fde"
GOOD = "#8fb8ed"
BAD = "#c0392b"
WARN = "#e59a3a"
"""Below the four-fifths line without a finding: a gap the evidence rule did not flag (evaluation/evidence.py)."""
LEVEL_COLOURS = {"ok": "#2e9e5b", "watch": "#e0a000", "act": "#c0392b"}
BAND_COLOURS = ("#d64933", "#f08c3a", "#f2c94c", "#7cc36e", "#2e9e5b")

STYLE: dict[str, Any] = {
    "font.size": 9.5, "axes.titlesize": 10.5, "axes.labelsize": 9.5, "axes.edgecolor": "#9aa5b1",
    "axes.labelcolor": INK, "xtick.color": INK, "ytick.color": INK, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.color": "#e4e7eb", "grid.linewidth": 0.8,
    "legend.frameon": False, "figure.facecolor": "white", "axes.facecolor": "white", "axes.axisbelow": True,
}


def band_colours(n: int) -> list[str]:
    """Worst to best band: red to green (interpolated when the scale has other than five bands)."""
    if n == len(BAND_COLOURS):
        return list(BAND_COLOURS)
    idx = np.linspace(0, len(BAND_COLOURS) - 1, n).round().astype(int)
    return [BAND_COLOURS[i] for i in idx]


# -- figure specs -------------------------------------------------------------------------------------

def figure_specs(evaluation: dict | None, fairness: dict | None, stability: dict | None) -> dict[str, dict]:
    """{figure id: {"title", "caption", "section", "data"}} for every figure the results support."""
    specs: dict[str, dict] = {}
    if evaluation:
        m = evaluation["metrics"]
        ci = m.get("auc_ci")
        ci_txt = f" ({ci_words(m)})" if ci else ""
        specs["roc"] = {"section": "discrimination", "title": "ROC curve",
                        "caption": f"AUC {m['auc']:.3f}{ci_txt}, Gini {m['gini']:.3f}: how well the PD "
                                   "ranks bads above goods.",
                        "data": {**evaluation["roc"], "auc": m["auc"]}}
        k = evaluation["ks_curve"]
        specs["ks"] = {"section": "discrimination", "title": "KS curve",
                       "caption": f"KS {m['ks']:.3f}: widest gap between bads and goods at or below a score "
                                  f"(at {k['ks_score']:.0f} on the score axis).",
                       "data": k}
        cal = evaluation["calibration"]
        specs["calibration"] = {"section": "calibration", "title": "Reliability curve",
                                "caption": f"Expected calibration error {m['ece']:.3f}, Brier {m['brier']:.3f}: "
                                           f"predicted PD against observed bad rate in {len(cal['count'])} "
                                           "bins of about equal count (tied PDs share a bin)"
                                           + (f"; {ece_words(m)}." if ece_words(m) else "."),
                                "data": cal}
        bands = evaluation["bands"]
        used = [b for b in bands if b["n"]]
        caption = "No scored rows."
        if used:
            worst, best = used[0], used[-1]
            caption = (f"Observed bad rate falls from {pct(worst['bad_rate'])} ({worst['band']}) to "
                       f"{pct(best['bad_rate'])} ({best['band']}); dots show the mean predicted PD.")
        specs["bad_rate_by_band"] = {
            "section": "calibration", "title": "Bad rate per band",
            "caption": caption,
            "data": {"bands": bands}}
        specs["score_histogram"] = {
            "section": "calibration", "title": "Score distribution by band", "wide": True,
            "caption": f"Goods and bads per 10-point score bin, bands shaded; approval cutoff at "
                       f"{evaluation['cutoff']['cutoff']:.0f} approves {pct(evaluation['cutoff']['approval_rate'])}.",
            "data": {**evaluation["score_histogram"], "cutoff": evaluation["cutoff"]["cutoff"]}}
        g = evaluation["gains"]
        specs["gains"] = {"section": "gains", "title": "Cumulative gains",
                          "caption": f"The riskiest {g[0]['cum_population']:.0%} hold "
                                     f"{g[0]['cum_bads_captured']:.0%} of all bads (lift {g[0]['lift']:.1f}).",
                          "data": {"gains": g}}
        specs["lift"] = {"section": "gains", "title": "Lift by decile",
                         "caption": f"Bad rate of each risk decile over the overall rate: from {g[0]['lift']:.1f}x "
                                    f"in the riskiest to {g[-1]['lift']:.2f}x in the safest.",
                         "data": {"gains": g}}
        if evaluation.get("ablation"):
            best_row = max(evaluation["ablation"], key=lambda r: r["auc"] or 0)
            specs["ablation"] = {"section": "ablation", "title": ablation_words(evaluation)[0], "wide": True,
                                 "height": max(2.0, 1.0 + 0.45 * len(evaluation["ablation"])),
                                 "caption": f"Each model variant on the same rows; best AUC: {best_row['model']} "
                                            f"({best_row['auc']:.3f}); the AUC axis starts at 0.5 (chance).",
                                 "data": {"rows": evaluation["ablation"]}}
    if fairness and fairness.get("attributes"):
        attrs = fairness["attributes"]
        di = {a: v.get("disparate_impact") for a, v in attrs.items()}
        worst_attr = min((a for a in di if di[a] is not None), key=lambda a: di[a], default=None)
        verdict = ((attrs[worst_attr].get("screens") or {}).get("four_fifths") or {}).get("result") \
            if worst_attr else None
        screen = (f"lowest disparate-impact ratio {di[worst_attr]:.2f} ({worst_attr.replace('_', ' ')}"
                  + (f", {'flagged' if verdict == FLAG else verdict}" if verdict else "") + ")"
                  if worst_attr
                  else "too few groups to compare")
        specs["fairness_approval"] = {
            "section": "fairness", "title": "Approval rate by group", "wide": True,
            "caption": f"Approval at score >= {fairness['cutoff']:.0f}, all applicants (solid) and good payers "
                       f"(hatched); dashed line = four-fifths of the best group; {screen}."
            if fairness.get("cutoff") is not None else f"Approval rate per group; {screen}.",
            "data": {"attributes": {a: v["groups"] for a, v in attrs.items()},
                     "four_fifths": fairness["four_fifths"],
                     "results": {a: (v.get("screens") or {}).get("four_fifths", {}).get("result")
                                 for a, v in attrs.items()},
                     "flagged_group": {a: v.get("least_approved") for a, v in attrs.items()}}}
        if any("mean_pd" in (v["groups"][0] if v["groups"] else {}) for v in attrs.values()):
            specs["fairness_calibration"] = {
                "section": "fairness", "title": "Calibration by group", "wide": True,
                "caption": "Observed bad rate (bars) against mean predicted PD (dots) per group: the same PD "
                           "should mean the same risk in every group.",
                "data": {"attributes": {a: v["groups"] for a, v in attrs.items()}}}
    if stability:
        sp = stability["score_psi"]
        specs["psi"] = {"section": "stability", "title": "Score stability (PSI)",
                        "caption": f"Score PSI {sp['psi']:.3f} ({sp['level']}): share of the reference and of "
                                   "the new sample in each reference score decile.",
                        "data": sp}
        if stability.get("csi"):
            top = stability["csi"][0]
            specs["csi"] = {"section": "stability", "title": "Feature drift (CSI)",
                            "caption": f"Most drifted input: {top['feature']} (CSI {top['csi']:.3f}); lines at "
                                       f"{stability['thresholds']['watch']:g} (watch) and "
                                       f"{stability['thresholds']['act']:g} (act).",
                            "data": {"rows": stability["csi"][:15], "thresholds": stability["thresholds"]}}
    return specs


# -- drawing ------------------------------------------------------------------------------------------

def _percent(ax, which: str = "y") -> None:
    """Percent tick labels with just enough decimals for the ticks (10%, not 10.0%; 12.5%, not 12%)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    ticks = ax.get_yticks() if which == "y" else ax.get_xticks()
    axis.set_major_formatter(PercentFormatter(1.0, decimals=percent_decimals(ticks)))


def percent_decimals(ticks: np.ndarray) -> int:
    """The fewest decimals (0-3) that write every tick, as a percentage, exactly: ticks 2.5% apart need one."""
    values = np.asarray(ticks, dtype=float) * 100
    return next((d for d in range(3) if np.allclose(values, np.round(values, d), atol=1e-9)), 3)


def _group_label(g: dict, width: int = 1000) -> str:
    return f"{wrap_label(str(g['group']), width)}\nn={g['n']:,}"


def wrap_label(text: str, width: int) -> str:
    """`text` on lines of at most `width` characters, broken at spaces and after '/' (a word longer than
    `width` keeps its own line): 'female : divorced/separated/married' fits under its own bar."""
    pieces = re.findall(r"[^\s/]+/?|/", text)
    lines: list[str] = []
    for piece in pieces:
        glue = "" if not lines or lines[-1].endswith("/") else " "
        if lines and len(lines[-1]) + len(glue) + len(piece) <= width:
            lines[-1] += glue + piece
        else:
            lines.append(piece)
    return "\n".join(lines) or text

def _roc(fig: Figure, d: dict) -> None:
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=MUTED, lw=1, ls="--", label="random")
    ax.plot(d["fpr"], d["tpr"], color=ACCENT, lw=2, label=f"model (AUC {d['auc']:.3f})")
    ax.fill_between(d["fpr"], d["tpr"], d["fpr"], color=ACCENT, alpha=0.08)
    ax.set(xlabel="false positive rate (goods flagged)", ylabel="true positive rate (bads caught)",
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")


def _ks(fig: Figure, d: dict) -> None:
    ax = fig.add_subplot()
    ax.plot(d["score"], d["cum_bad"], color=BAD, lw=2, label="bads")
    ax.plot(d["score"], d["cum_good"], color=ACCENT, lw=2, label="goods")
    s = d["ks_score"]
    i = int(np.argmin(np.abs(np.asarray(d["score"]) - s)))
    ax.vlines(s, d["cum_good"][i], d["cum_bad"][i], color=INK, lw=1.5, ls=":")
    ax.annotate(f"gap {d['ks']:.3f} at {s:.0f}", (s, (d["cum_good"][i] + d["cum_bad"][i]) / 2), xytext=(6, 0),
                textcoords="offset points", va="center", color=INK)
    ax.set(xlabel="score", ylabel="cumulative share at or below score", ylim=(0, 1.01))
    ax.legend(loc="lower right")


def _calibration(fig: Figure, d: dict) -> None:
    ax = fig.add_subplot()
    x, y, n = np.asarray(d["mean_pd"]), np.asarray(d["bad_rate"]), np.asarray(d["count"], dtype=float)
    top = max(float(x.max()), float(y.max())) * 1.08 if x.size else 1.0
    ax.plot([0, top], [0, top], color=MUTED, lw=1, ls="--", label="perfect calibration")
    ax.plot(x, y, color=ACCENT, lw=1.5)
    ax.scatter(x, y, s=20 + 80 * n / max(n.max(), 1), color=ACCENT, zorder=3, label="bins (size = people)")
    ax.set(xlabel="mean predicted PD", ylabel="observed bad rate", xlim=(0, top), ylim=(0, top))
    ax.legend(loc="upper left")


def _bad_rate_by_band(fig: Figure, d: dict) -> None:
    ax = fig.add_subplot()
    bands = d["bands"]
    rate = [b["bad_rate"] if b["bad_rate"] is not None else 0 for b in bands]
    x = np.arange(len(bands))
    ax.bar(x, rate, color=band_colours(len(bands)), width=0.65)
    ax.scatter(x, [b["mean_pd"] if b["mean_pd"] is not None else np.nan for b in bands], color=INK, zorder=3,
               s=28, label="mean predicted PD")
    ax.set_xticks(x, [f"{b['band']}\n{b['share']:.0%} of people" for b in bands])
    ax.tick_params(axis="x", labelsize=8.5)
    ax.grid(axis="x", visible=False)
    pds = [b["mean_pd"] for b in bands if b["mean_pd"] is not None]
    ax.set(ylabel="observed bad rate", ylim=(0, max([*rate, *pds, 0.01]) * 1.2))
    _percent(ax, "y")
    ax.legend(loc="upper right")


def _score_histogram(fig: Figure, d: dict) -> None:
    ax = fig.add_subplot()
    edges = np.asarray(d["edges"], dtype=float)
    good, bad = np.asarray(d["good"]), np.asarray(d["bad"])
    width = np.diff(edges)
    bands = d["bands"]
    hi = edges[-1]
    for (name, lo), nxt, colour in zip(bands, [*[b for _, b in bands[1:]], hi], band_colours(len(bands)),
                                       strict=True):
        ax.axvspan(lo, nxt, color=colour, alpha=0.12, lw=0)
        ax.text((lo + nxt) / 2, 1.0, name, transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                color=INK, fontsize=8.5)
    ax.bar(edges[:-1], good, width=width, align="edge", color=GOOD, label="goods", edgecolor="white", lw=0.3)
    ax.bar(edges[:-1], bad, width=width, bottom=good, align="edge", color=BAD, label="bads", edgecolor="white",
           lw=0.3)
    ax.axvline(d["cutoff"], color=INK, lw=1.2, ls="--")
    ax.annotate(f"cutoff {d['cutoff']:.0f}", (d["cutoff"], 0.93), xycoords=("data", "axes fraction"),
                xytext=(4, 0), textcoords="offset points", fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85})
    ax.set(xlabel="score", ylabel="people", xlim=(edges[0], edges[-1]))
    ax.legend(loc="upper right", bbox_to_anchor=(1, 0.9))


def _gains(fig: Figure, d: dict) -> None:
    ax = fig.add_subplot()
    g = d["gains"]
    x = [0, *[r["cum_population"] for r in g]]
    y = [0, *[r["cum_bads_captured"] for r in g]]
    ax.plot([0, 1], [0, 1], color=MUTED, lw=1, ls="--", label="random")
    ax.plot(x, y, color=ACCENT, lw=2, marker="o", ms=4, label="model")
    ax.fill_between(x, y, x, color=ACCENT, alpha=0.08)
    for r in g[:3]:
        ax.annotate(f"lift {r['cum_lift']:.1f}", (r["cum_population"], r["cum_bads_captured"]), xytext=(6, -10),
                    textcoords="offset points", fontsize=8, color=MUTED)
    ax.set(xlabel="share of people, riskiest first", ylabel="share of all bads captured", xlim=(0, 1),
           ylim=(0, 1.01))
    _percent(ax, "x")
    _percent(ax, "y")
    ax.legend(loc="lower right")


def _ablation(fig: Figure, d: dict) -> None:
    rows = d["rows"]
    y = np.arange(len(rows))[::-1]
    axes = fig.subplots(1, 3, sharey=True)
    for ax, (key, label, higher_better) in zip(axes, (("auc", "AUC", True), ("ks", "KS", True),
                                                     ("ece", "calibration error (ECE)", False)), strict=True):
        v = np.array([r[key] if r[key] is not None else np.nan for r in rows], dtype=float)
        best = np.nanmax(v) if higher_better else np.nanmin(v)
        ax.barh(y, v, color=[ACCENT if x == best else GOOD for x in v], height=0.6)
        for yi, x in zip(y, v, strict=True):
            ax.text(x, yi, f" {x:.3f}", va="center", fontsize=8.5)
        lo = 0.5 if key == "auc" else 0  # AUC from chance: a cut axis made small differences look large
        ax.set(xlabel=f"{label} ({'higher' if higher_better else 'lower'} is better)",
               xlim=(lo, np.nanmax(v) + (np.nanmax(v) - lo) * 0.25 + 1e-6))
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_locator(MaxNLocator(4))
    axes[0].set_yticks(y, [r["model"] for r in rows])


def _lift(fig: Figure, d: dict) -> None:
    ax = fig.add_subplot()
    g = d["gains"]
    x = np.arange(1, len(g) + 1)
    lift = [r["lift"] for r in g]
    ax.bar(x, lift, color=[BAD if v >= 1 else GOOD for v in lift], width=0.7)
    ax.axhline(1, color=MUTED, lw=1, ls="--")
    ax.set_xticks(x)
    ax.set(xlabel="risk decile (1 = riskiest 10%)", ylabel="lift (decile bad rate / overall)")
    ax.grid(axis="x", visible=False)


def _group_panels(fig: Figure, attrs: dict, draw: Callable) -> None:
    """One panel per attribute, one bar slot per group; each group's name wrapped to the width of its slot
    (long names side by side overlapped), the figure taller by the extra lines."""
    names = [a for a, groups in attrs.items() if groups]
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
    most_lines = 2
    for ax, name in zip(axes, names, strict=False):
        slot = fig.get_figwidth() * 0.85 / max(len(names), 1) / max(len(attrs[name]), 1)  # inches per group
        width = max(6, int(slot / 0.068))  # characters of 8-point text in a slot, with a gap between labels
        labels = [_group_label(g, width) for g in attrs[name]]
        draw(ax, name, attrs[name])
        ax.set_xticks(np.arange(len(labels)), labels)
        most_lines = max(most_lines, *(lab.count("\n") + 1 for lab in labels))
        ax.set_title(name.replace("_", " "), color=INK)
        ax.tick_params(axis="x", labelsize=8)
        _percent(ax, "y")
        ax.grid(axis="x", visible=False)
    fig.set_figheight(fig.get_figheight() + 0.13 * (most_lines - 2))


def _fairness_approval(fig: Figure, d: dict) -> None:
    ff = d["four_fifths"]

    def draw(ax, name: str, groups: list[dict]) -> None:
        x = np.arange(len(groups))
        rate = np.array([g["approval_rate"] for g in groups], dtype=float)
        tpr = np.array([g["tpr"] if g["tpr"] is not None else np.nan for g in groups], dtype=float)
        audited = np.array([g["audited"] for g in groups])
        best = np.nanmax(rate[audited]) if audited.any() else np.nanmax(rate)
        # red only for the group the screen flags (the least approved, its gap judged by the evidence rule);
        # another group below the line, or one whose gap could be chance, is amber: not a finding
        below = (rate < ff * best) & audited
        flagged = d.get("results", {}).get(name, FLAG) == FLAG
        named = d.get("flagged_group", {}).get(name)
        colours = [BAD if b and flagged and (named is None or g.get("group") == named) else WARN if b
                   else ACCENT if a else MUTED for a, b, g in zip(audited, below, groups, strict=True)]
        ax.bar(x - 0.18, rate, width=0.36, color=colours)
        ax.bar(x + 0.18, tpr, width=0.36, color="white", edgecolor=colours, hatch="///", lw=1)
        ax.axhline(ff * best, color=INK, lw=1, ls="--")
        ax.set_ylim(0, 1.05)

    _group_panels(fig, d["attributes"], draw)
    fig.axes[0].set_ylabel("approval rate")
    handles = [Patch(color=ACCENT, label="all applicants"),
               Patch(facecolor="white", edgecolor=ACCENT, hatch="///", label="good payers (equal opportunity)"),
               Patch(color=BAD, label="below four-fifths of the best, flagged"),
               Patch(color=WARN, label="below four-fifths, not flagged"),
               Patch(color=MUTED, label="too small to audit"),
               Line2D([], [], color=INK, ls="--", lw=1, label="four-fifths line")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8.5)


def _fairness_calibration(fig: Figure, d: dict) -> None:
    def draw(ax, name: str, groups: list[dict]) -> None:
        x = np.arange(len(groups))
        ax.bar(x, [g["bad_rate"] for g in groups], width=0.55,
               color=[GOOD if g["audited"] else "#cbd2d9" for g in groups])
        ax.scatter(x, [g.get("mean_pd") for g in groups], color=INK, zorder=3, s=28)

    _group_panels(fig, d["attributes"], draw)
    fig.axes[0].set_ylabel("bad rate")
    handles = [Patch(color=GOOD, label="observed bad rate"),
               Line2D([], [], color=INK, marker="o", ls="", label="mean predicted PD"),
               Patch(color="#cbd2d9", label="group too small to audit")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8.5)


def _psi(fig: Figure, d: dict) -> None:
    ax = fig.add_subplot()
    bins = d["bins"]
    x = np.arange(len(bins))
    ax.bar(x - 0.2, [b["expected_share"] for b in bins], width=0.4, color=GOOD, label="reference")
    ax.bar(x + 0.2, [b["actual_share"] for b in bins], width=0.4, color=LEVEL_COLOURS[d["level"]],
           label="new sample")
    ax.set_xticks(x, [b["bin"] for b in bins], rotation=35, ha="right", fontsize=8)
    top = max(max(b["expected_share"] for b in bins), max(b["actual_share"] for b in bins))
    ax.set(ylabel="share of people", ylim=(0, top * 1.3))
    _percent(ax, "y")
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper center", ncol=2)


def _csi(fig: Figure, d: dict) -> None:
    ax = fig.add_subplot()
    rows = d["rows"]
    y = np.arange(len(rows))[::-1]
    v = [r["csi"] for r in rows]
    ax.barh(y, v, color=[LEVEL_COLOURS[r["level"]] for r in rows], height=0.65)
    t = d["thresholds"]
    ax.axvline(t["watch"], color=LEVEL_COLOURS["watch"], lw=1, ls="--")
    ax.axvline(t["act"], color=LEVEL_COLOURS["act"], lw=1, ls="--")
    ax.set_yticks(y, [r["feature"] for r in rows], fontsize=8)
    ax.set(xlabel="CSI", xlim=(0, max([*v, t["act"]]) * 1.1))
    ax.grid(axis="y", visible=False)


DRAW: dict[str, Callable[[Figure, dict], None]] = {
    "roc": _roc, "ks": _ks, "calibration": _calibration, "bad_rate_by_band": _bad_rate_by_band,
    "score_histogram": _score_histogram, "gains": _gains, "lift": _lift, "ablation": _ablation,
    "fairness_approval": _fairness_approval, "fairness_calibration": _fairness_calibration,
    "psi": _psi, "csi": _csi,
}


def render_png(fig_id: str, spec: dict, dpi: int = 144) -> bytes:
    """One figure as PNG bytes (no timestamp metadata, so the same data gives the same bytes)."""
    wide = spec.get("wide", False)
    with rc_context(cast(Any, STYLE)):
        fig = Figure(figsize=(11.0 if wide else 5.4, spec.get("height", 3.6)), layout="constrained")
        DRAW[fig_id](fig, spec["data"])
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()
