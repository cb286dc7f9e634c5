"""One self-contained HTML report (opens offline), figures.json, results.json and model_card.md.

The page is for looking at: headline numbers as cards, then the figures with a one-line caption each,
then the model card. Figures are PNGs embedded as data: URIs and the CSS is inline, so the file needs no
network, no JavaScript and no other file; figures.json holds the data behind every figure, so a reader
can re-plot or check any of them.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from markdown_it import MarkdownIt

from deepcredit.data.io import (
    MANIFEST,
    atomic_write_json,
    atomic_write_text,
    check_replaceable,
    output_lock,
    replace_directory,
    staging_dir,
)
from deepcredit.evaluation.coverage import COVERAGE_NOTE, coverage_rows
from deepcredit.evaluation.cutoffs import audit_cutoff_words, cutoff_words
from deepcredit.evaluation.evidence import FLAG, RULE
from deepcredit.evaluation.figures import figure_specs, render_png
from deepcredit.evaluation.limits import LIMIT_NOTE, limit_rows
from deepcredit.evaluation.metrics import (
    ablation_words,
    ci_words,
    confusion_rows,
    pct,
    pd_range_words,
    to_jsonable,
)
from deepcredit.evaluation.model_card import NO_REFERENCE, model_card_markdown
from deepcredit.evaluation.periods import period_use_words
from deepcredit.evaluation.sample import sample_rows

REPORT = "report.html"
FIGURES = "figures.json"
RESULTS = "results.json"
MODEL_CARD = "model_card.md"
A_REPORT = "an earlier report (evaluate or monitor output)"

SECTIONS = (
    ("discrimination", "Discrimination", "Does the score rank bads below goods?"),
    ("calibration", "Calibration and bands", "Does a PD mean what it says, and how are people spread over bands?"),
    ("gains", "Lift and gains", "How much risk sits in the riskiest part of the population?"),
    ("ablation", "Modality ablation", "What each kind of data adds, on the same rows."),
    ("sample", "Sample", "Who the model was trained on and who is measured here."),
    ("periods", "Over time", "Is the model as good on every scoring date as on all of them pooled?"),
    ("reasons", "Reason codes", "How often a person's reasons name a specific figure, and come with advice."),
    ("fairness", "Fairness by group", "Protected attributes are audited here, never used as inputs."),
    ("stability", "Stability", "Has the population moved since development?"),
)

CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f3f5f8;--accent:#2f6fde;--ok:#2e9e5b;--watch:#d99a00;
--act:#c0392b}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:36px 28px 72px}
header h1{font-size:28px;margin:0 0 6px;letter-spacing:-.01em}
header p{margin:0;color:var(--muted);font-size:14px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(158px,1fr));gap:12px;margin:26px 0 8px}
.card{background:#fff;border-radius:10px;padding:14px 16px 12px;box-shadow:0 1px 3px rgba(15,23,42,.08);
border-top:4px solid var(--accent)}
.card .k{font-size:11.5px;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
.card .v{font-size:28px;font-weight:650;margin:2px 0;font-variant-numeric:tabular-nums}
.card .s{font-size:12px;color:var(--muted)}
.card.ok{border-top-color:var(--ok)}.card.watch{border-top-color:var(--watch)}.card.act{border-top-color:var(--act)}
.findings{background:#fff;border-radius:10px;padding:12px 18px;margin:16px 0 0;box-shadow:0 1px 3px rgba(15,23,42,.08)}
.findings h3{margin:4px 0 8px;font-size:15px}
.findings ul{margin:0;padding-left:0;list-style:none}
.findings li{margin:6px 0;font-size:14px}
.badge{display:inline-block;min-width:50px;text-align:center;border-radius:999px;padding:1px 8px;margin-right:8px;
font-size:11px;font-weight:650;color:#fff;text-transform:uppercase;letter-spacing:.04em}
.badge.ok{background:var(--ok)}.badge.watch{background:var(--watch)}.badge.act{background:var(--act)}
section h2{font-size:20px;margin:40px 0 2px}
section .lead{color:var(--muted);margin:0 0 14px;font-size:14px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
figure{margin:0;background:#fff;border-radius:10px;padding:14px 14px 12px;box-shadow:0 1px 3px rgba(15,23,42,.08)}
figure.wide{grid-column:1/-1}
figure h3{margin:0 0 6px;font-size:14.5px}
figure img{display:block;width:100%;height:auto}
figcaption{margin-top:8px;color:var(--muted);font-size:13px}
.tablewrap{background:#fff;border-radius:10px;padding:8px 14px;margin-top:16px;overflow-x:auto;
box-shadow:0 1px 3px rgba(15,23,42,.08)}
table{border-collapse:collapse;font-size:13px;width:100%;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;font-size:14px;padding:6px 0 8px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{color:var(--muted);font-weight:600;font-size:12px}
th:first-child,td:first-child{text-align:left}
tr:last-child td{border-bottom:none}
.modelcard{background:#fff;border-radius:10px;padding:6px 28px 18px;box-shadow:0 1px 3px rgba(15,23,42,.08)}
.modelcard h1{font-size:22px}.modelcard h2{font-size:17px;margin-top:26px}.modelcard h3{font-size:15px}
.modelcard table{width:auto;margin:6px 0 12px}
footer{margin-top:40px;color:var(--muted);font-size:12px}
@media (max-width:820px){.grid{grid-template-columns:1fr}}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _use(row: dict) -> str:
    """What a period's rows were to the model: one word, or the mix with its counts."""
    if row["used_as"] != "mixed":
        return str(row["used_as"])
    return ", ".join(f"{n:,} {k}" for k, n in row["use"].items())


def _card(key: str, value: str, sub: str = "", state: str = "") -> str:
    return (f'<div class="card {state}"><div class="k">{_e(key)}</div><div class="v">{_e(value)}</div>'
            f'<div class="s">{_e(sub)}</div></div>')


def _ece_sub(evaluation: dict) -> str:
    """The ECE card's line: its bins (quantile edges keep tied PDs together, so counts are about equal) and
    what a perfectly calibrated PD shows on the same rows."""
    m, bins = evaluation["metrics"], len((evaluation.get("calibration") or {}).get("count") or []) or 10
    floor = m.get("ece_if_calibrated")
    return f"ECE, {bins} bins of about equal count" + (
        f"; a perfect PD here: {floor['median']:.4f} (95th pct {floor['p95']:.4f})" if floor else "")


def _cards(evaluation: dict | None, fairness: dict | None, stability: dict | None) -> str:
    out = []
    if evaluation:
        m, c = evaluation["metrics"], evaluation["cutoff"]
        out += [_card("AUC", f"{m['auc']:.3f}", ci_words(m)),
                _card("Gini", f"{m['gini']:.3f}", "2 AUC - 1"),
                _card("KS", f"{m['ks']:.3f}", "max gap bads vs goods"),
                _card("Brier", f"{m['brier']:.4f}", "mean squared PD error"),
                _card("Calibration error", f"{m['ece']:.4f}", _ece_sub(evaluation)),
                _card("Bad rate", pct(evaluation["bad_rate"]),
                      f"{evaluation['n_bad']:,} of {evaluation['n']:,}; mean PD {pct(evaluation['mean_pd'])}"),
                _card(f"Approved at {c['cutoff']:.0f}+", pct(c["approval_rate"]),
                      f"the cut-off {c['one_sided']}" if c.get("one_sided") else
                      f"bad rate approved {pct(c['bad_rate_approved'])}", "watch" if c.get("one_sided") else "")]
    if fairness is not None:
        n = len(fairness.get("flags", []))
        attributes = fairness.get("attributes", {})
        flagged = [name.replace("_", " ") for name, a in attributes.items() if a.get("flags")]
        thin = len(fairness.get("too_few_to_judge") or [])
        said = (f"in {', '.join(flagged)}; " if flagged else "") + f"{len(attributes)} attribute(s) screened" + \
            (f"; too few to judge in {thin}" if thin else "")
        if info := fairness.get("at_informative_cutoff"):
            said += f"; {len(info.get('flags') or [])} at the informative cut-off {info['cutoff']:.0f}"
        out.append(_card("Fairness flags", str(n), said, "act" if n else "watch" if thin else "ok"))
    if stability:
        sp = stability["score_psi"]
        out.append(_card("Score PSI", f"{sp['psi']:.3f}", sp["level"] + (f" ({sp['note']})" if sp.get("note") else ""),
                         sp["level"]))
        drifted = sum(r["level"] != "ok" for r in stability.get("csi", []))
        if stability.get("csi"):
            out.append(_card("Drifted features", str(drifted), f"of {len(stability['csi'])} checked",
                             "act" if any(r["level"] == "act" for r in stability["csi"]) else
                             "watch" if drifted else "ok"))
        if "alerts" in stability and not evaluation:
            out.append(_card("Alerts", str(len(stability["alerts"])), f"level: {stability['level']}",
                             stability["level"]))
            out.append(_card("Batch", f"{stability['n_batch']:,}", f"reference {stability['n_reference']:,}"))
    return f'<div class="cards">{"".join(out)}</div>'


def _findings(fairness: dict | None, stability: dict | None) -> str:
    """Fairness flags and stability alerts, one line each, with a coloured badge (state, label)."""
    items = [("act", "flag", f) for f in (fairness or {}).get("flags", [])]
    items += [("watch", "too few", f) for f in (fairness or {}).get("too_few_to_judge") or []]
    if info := (fairness or {}).get("at_informative_cutoff"):
        at = f"at the informative cut-off {info['cutoff']:.0f} (for information): "
        items += [("watch", "info flag", at + f) for f in info.get("flags", [])]
    if stability and "alerts" in stability:
        items += [(a["level"], a["level"], a["message"]) for a in stability["alerts"]]
    elif stability:
        sp = stability["score_psi"]
        if sp["level"] != "ok":
            items.append((sp["level"], sp["level"], f"score PSI {sp['psi']:.3f}"))
        items += [(r["level"], r["level"], f"feature {r['feature']}: CSI {r['csi']:.3f}")
                  for r in stability.get("csi", []) if r["level"] != "ok"]
    if not items:
        if fairness is None and stability is None:
            return ""
        items = [("ok", "ok", "No fairness flag, no fairness screen too few to judge, and no stability alert.")]
    lis = "".join(f'<li><span class="badge {state}">{_e(label)}</span>{_e(msg)}</li>' for state, label, msg in items)
    return f'<div class="findings"><h3>Findings</h3><ul>{lis}</ul></div>'


def _banners(evaluation: dict | None) -> str:
    """Banners above the numbers for what makes them read better than they are: rows the model was fitted
    on among those measured (the caveat at the bottom of the page was the only place it said so), and a
    cut-off that approves or declines (nearly) everyone, at which the decisions and fairness screens say little."""
    ev = evaluation or {}
    items = [("act", "in-sample", ev["rows_scope"])] if ev.get("optimistic") else []
    if words := cutoff_words(ev.get("cutoff") or {}):
        items.append(("watch", "cut-off", words))
    if not items:
        return ""
    lis = "".join(f'<li><span class="badge {state}">{_e(label)}</span>{_e(msg)}</li>' for state, label, msg in items)
    return f'<div class="findings"><ul>{lis}</ul></div>'


def _verdict(a: dict, screen: str, value: str = "") -> str:
    """A screen's cell: its value, verdict and p-values, raw and Holm-adjusted ('0.71 fail (p 0.0001,
    adjusted 0.002)'); the value alone, or 'n/a', where the screen was not run."""
    v = (a.get("screens") or {}).get(screen)
    if v is None:
        return value or "n/a"
    p = "" if v.get("p_value") is None else f" (p {v['p_value']:.2g}" + (
        "" if v.get("p_adjusted") is None else f", adjusted {v['p_adjusted']:.2g}") + ")"
    return f"{value} {'fail' if v['result'] == FLAG else v['result']}{p}".strip()


def _fairness_rows(fairness: dict, calibration: bool) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, a in fairness["attributes"].items():
        di = a.get("disparate_impact")
        rows.append([name.replace("_", " "), len(a["groups"]), "n/a" if di is None else f"{di:.2f}",
                     "not audited" if a.get("not_audited") else _verdict(a, "four_fifths"),
                     _verdict(a, "equal_opportunity", "n/a" if a.get("tpr_gap") is None else f"{a['tpr_gap']:.3f}"),
                     *([_verdict(a, "calibration", _calibration_value(a))] if calibration else []),
                     ", ".join(f"'{g}'" for g in a.get("small_groups", [])) or "-"])
    return rows


def _calibration_value(a: dict) -> str:
    """The worst group's observed over predicted odds (what the screen judges) and its gap between bad rate and
    mean PD ("'male': odds x3.39, gap +0.045"); the largest gap alone for results written before; 'n/a'."""
    if a.get("max_calibration_gap") is None:
        return "n/a"
    if a.get("worst_calibration_odds_ratio") is None:
        return f"{a['max_calibration_gap']:+.3f}"
    return (f"'{a['worst_calibration_group']}': odds x{a['worst_calibration_odds_ratio']:.2f}, "
            f"gap {a['worst_calibration_gap']:+.3f}")


def _fairness_tables(fairness: dict) -> str:
    """The screens per attribute at the cut-off set and, where it is one-sided, at the informative cut-off
    too (approval screens only: calibration does not depend on the cut-off), each table saying which it is."""
    info = fairness.get("at_informative_cutoff")
    header = ["attribute", "groups", "disparate impact", "four-fifths", "TPR gap"]
    title = "Screens per protected attribute"
    if info and fairness.get("cutoff") is not None:
        title += f" at the cut-off set, {fairness['cutoff']:.0f} (the one audited)"
    out = _table([*header, "worst calibration (observed/predicted odds; bad rate - mean PD)",
                        "too small to audit"], _fairness_rows(fairness, True), title)
    if info:
        out += _table([*header, "too small to audit"], _fairness_rows(info, False),
                      f"Approval screens at the informative cut-off {info['cutoff']:.0f}: {info['which']}")
    notes = [audit_cutoff_words(fairness), fairness.get("evidence_rule", RULE)]
    if fairness.get("tests"):
        notes.append(f"The report made {fairness['tests']} tests; each p-value is shown raw and Holm-adjusted over "
                     "all of them, and the adjusted one decides a flag.")
    return out + "".join(f'<p class="lead">{_e(n)}</p>' for n in notes if n)



def _table(header: list[str], rows: list[list[object]], title: str = "") -> str:
    caption = f"<caption>{_e(title)}</caption>" if title else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<div class="tablewrap"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _section_tables(section: str, evaluation: dict | None, fairness: dict | None, stability: dict | None) -> str:
    if section == "discrimination" and evaluation and (conf := confusion_rows(evaluation["cutoff"])):
        cells: list[list[object]] = [list(r) for r in conf[1]]
        out = _table(conf[0], cells, conf[2])  # its caption says when the cut-off is one-sided
        if limits := evaluation.get("limits"):
            out += _table(["measure", "AUC"], [list(r) for r in limit_rows(limits)], "Against the known truth") + \
                f'<p class="lead">{_e(LIMIT_NOTE)}</p>'
        return out
    if section == "sample" and evaluation and evaluation.get("sample"):
        header, rows = sample_rows(evaluation["sample"])
        return _table(header, [list(r) for r in rows], "Training and evaluation samples") + \
            f'<p class="lead">{_e("Training sample: " + evaluation["sample"]["training"]["source"] + ".")}</p>'
    if section == "reasons" and evaluation and evaluation.get("reason_coverage"):
        return _table(["measure", "value"], [list(r) for r in coverage_rows(evaluation["reason_coverage"])],
                      "Reason-code coverage") + f'<p class="lead">{_e(COVERAGE_NOTE)}</p>'
    if section == "stability" and evaluation and stability is None:
        return f'<p class="lead">{_e(NO_REFERENCE)}</p>'
    if section == "calibration" and evaluation:
        return _table(["band", "scores", "PD", "people", "share", "bads", "bad rate", "mean PD"],
                      [[b["band"], f"{b['score_from']}-{b['score_to']}", pd_range_words(b.get("pd_range")),
                        f"{b['n']:,}", pct(b["share"]),
                        f"{b['bads']:,}", pct(b["bad_rate"]), pct(b["mean_pd"])] for b in evaluation["bands"]],
                      "People and bad rate per band") + \
            (f'<p class="lead">{_e(evaluation["metrics"]["ece_note"])}</p>' if evaluation["metrics"].get("ece_note") else "")
    if section == "gains" and evaluation:
        return _table(["decile (riskiest first)", "people", "bad rate", "lift", "cumulative bads captured",
                       "cumulative lift"],
                      [[r["group"], f"{r['n']:,}", pct(r["bad_rate"]), f"{r['lift']:.2f}",
                        pct(r["cum_bads_captured"]), f"{r['cum_lift']:.2f}"] for r in evaluation["gains"]],
                      "Lift and gains by risk decile")
    if section == "ablation" and evaluation and evaluation.get("ablation"):
        return _table(["model", "AUC", "Gini", "KS", "Brier", "ECE"],
                      [[r["model"], f"{r['auc']:.3f}", f"{r['gini']:.3f}", f"{r['ks']:.3f}", f"{r['brier']:.4f}",
                        f"{r['ece']:.4f}"] for r in evaluation["ablation"]], "Model variants on the same rows")
    if section == "periods" and evaluation and evaluation.get("periods"):
        rows = evaluation["periods"]
        told = period_use_words(rows) is not None  # --all-rows: which periods the model was fitted on
        return _table(["period", *(["to the model"] if told else []), "people", "bads", "bad rate", "mean PD", "AUC",
                       "Gini", "KS"],
                      [[r["period"], *([_use(r)] if told else []), f"{r['n']:,}", f"{r['bads']:,}",
                        pct(r["bad_rate"]), pct(r["mean_pd"]),
                        *("n/a" if r[k] is None else f"{r[k]:.3f}" for k in ("auc", "gini", "ks"))]
                       for r in rows], "Metrics per period")
    if section == "fairness" and fairness and fairness.get("attributes"):
        return _fairness_tables(fairness)
    if section == "stability" and stability and stability.get("outcomes_by_band"):
        return _table(["band", "batch people", "outcomes", "bad rate", "reference outcomes", "reference bad rate",
                       "p-value"],
                      [[r["band"], f"{r['n']:,}", f"{r['n_outcomes']:,}", pct(r["bad_rate"]),
                        f"{r.get('reference_outcomes', 0):,}", pct(r["reference_bad_rate"]),
                        r.get("note") or "n/a" if r["p_value"] is None else f"{r['p_value']:.3g}"]
                       for r in stability["outcomes_by_band"]],
                      "Bad rate per band as outcomes arrive (one-sided Fisher test against the reference)") + \
            (f'<p class="lead">{_e(note)}</p>' if (note := stability.get("reference_note")) else "")
    return ""


def _figure(fig_id: str, spec: dict) -> str:
    png = base64.b64encode(render_png(fig_id, spec)).decode("ascii")
    wide = " wide" if spec.get("wide") else ""
    return (f'<figure class="{fig_id}{wide}" id="fig-{fig_id}"><h3>{_e(spec["title"])}</h3>'
            f'<img alt="{_e(spec["title"])}" src="data:image/png;base64,{png}">'
            f"<figcaption>{_e(spec['caption'])}</figcaption></figure>")


def render_html(specs: dict[str, dict], evaluation: dict | None, fairness: dict | None, stability: dict | None,
                card_md: str | None, title: str, subtitle: str) -> str:
    parts = [f"<header><h1>{_e(title)}</h1><p>{_e(subtitle)}</p></header>", _banners(evaluation),
             _cards(evaluation, fairness, stability), _findings(fairness, stability)]
    for key, heading, lead in SECTIONS:
        if key == "ablation" and evaluation:
            heading, lead = ablation_words(evaluation)
        figs = [_figure(i, s) for i, s in specs.items() if s["section"] == key]
        tables = _section_tables(key, evaluation, fairness, stability)
        if not figs and not tables:
            continue
        parts.append(f'<section id="{key}"><h2>{_e(heading)}</h2><p class="lead">{_e(lead)}</p>'
                     f'<div class="grid">{"".join(figs)}</div>{tables}</section>')
    if card_md:
        body = MarkdownIt("commonmark", {"html": False}).enable("table").render(card_md)
        parts.append(f'<section id="model-card"><h2>Model card</h2><div class="modelcard">{body}</div></section>')
    try:
        version = metadata.version("deepcredit")
    except metadata.PackageNotFoundError:
        version = "dev"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<footer>DeepCredit {_e(version)} &middot; generated {stamp} &middot; the data behind every "
                 f"figure is in {FIGURES}; every number in {RESULTS}.</footer>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head>\n<body><main>\n" + "\n".join(p for p in parts if p) +
            "\n</main></body></html>\n")


def is_report(path: Path) -> bool:
    """A directory an earlier report was written to: its results.json and report.html, and no manifest
    (a model artifact or a data set is never taken for one)."""
    path = Path(path)
    return (path / RESULTS).is_file() and (path / REPORT).is_file() and not (path / MANIFEST).exists()


def check_report_out(out: Path) -> None:
    """Refuse an --out that is not absent, empty or an earlier report (a model, a data set, a folder of the
    user's files, a file), before any scoring: a report must not overwrite a model's config.json."""
    check_replaceable(Path(out), is_report, A_REPORT)


@contextlib.contextmanager
def staged_report(out: Path) -> Iterator[Path]:
    """A staging directory beside `out` to write a report into; moved into place (replacing an earlier
    report) when the block ends without an error, removed either way: a failed run leaves `out` as it was."""
    with output_lock(out):  # held from the check to the replace: a second report into `out` is refused
        check_report_out(out)
        staging = staging_dir(out)
        try:
            yield staging
            replace_directory(staging, out, is_report, A_REPORT)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def write_report(out_dir: Path, evaluation: dict | None = None, fairness: dict | None = None,
                 stability: dict | None = None, model_card: dict | None = None, *,
                 title: str = "DeepCredit model report", subtitle: str = "") -> Path:
    """Write report.html, figures.json, results.json (and model_card.md); returns the HTML's path.

    Each section appears only when its results are given (a monitor run passes just `stability`). Every
    file is written atomically, the HTML last: if report.html exists, the files it points to do too.
    """
    out_dir = Path(out_dir)
    if not (evaluation or fairness or stability):
        raise ValueError("write_report needs at least one of evaluation, fairness or stability results")
    evaluation, fairness, stability = (to_jsonable(x) if x else x for x in (evaluation, fairness, stability))
    specs = figure_specs(evaluation, fairness, stability)
    atomic_write_text(out_dir / FIGURES, json.dumps(to_jsonable(specs), indent=1, allow_nan=False) + "\n")
    atomic_write_json(out_dir / RESULTS, {"evaluation": evaluation, "fairness": fairness, "stability": stability,
                                          "model_card": model_card})
    card_md = None
    if model_card:
        card_md = model_card_markdown(model_card, evaluation, fairness, stability)
        atomic_write_text(out_dir / MODEL_CARD, card_md)
    page = render_html(specs, evaluation, fairness, stability, card_md, title, subtitle)
    atomic_write_text(out_dir / REPORT, page)
    return out_dir / REPORT
