"""The model card: what the model is for, what it is not for, the data, the numbers, by group, and caveats.

`default_model_card` holds DeepCredit's standing statements (intended use, out-of-scope uses, caveats);
callers add the model's and data's facts. `model_card_markdown` writes the card with the measured numbers
filled in from the evaluation, fairness and stability results, so the card cannot drift from the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepcredit.evaluation.cutoffs import audit_cutoff_words
from deepcredit.evaluation.evidence import FLAG
from deepcredit.evaluation.metrics import ablation_words, ci_words, confusion_rows, ece_words, pct

INTENDED_USE = (
    "Estimate the probability that a person fails a commitment (a bill, instalment, rental or order) "
    "within the performance window after the scoring date, and express it on the 350-950 DeepCredit scale "
    "with five dimension sub-scores and reason codes. Intended to support a merchant's or lender's decision "
    "on a credit line, deferred payment or deposit waiver, with the reasons shown to the person and a route "
    "to human review."
)

OUT_OF_SCOPE = (
    "Employment, housing, insurance, education or any decision other than the credit decision it was "
    "validated for.",
    "Populations unlike the development data (another country, product or channel) without re-validation.",
    "Fully automated adverse decisions without reason codes and a route to human review.",
    "Using the protected attributes as inputs, or proxying them deliberately; they are audited only.",
    "Ranking people on anything but repayment risk (marketing, pricing by willingness to pay).",
)

CAVEATS = (
    "The fairness audit is a screen (four-fifths rule, equal-opportunity and calibration gaps), not a legal "
    "finding; flagged gaps need investigation of their cause.",
    "Bad rates are observed only for people who were scored and whose outcome window has closed; approved-only "
    "data hides how declined people would have repaid (reject inference is not applied).",
)
SIMULATED = "Metrics on simulated data show what the method recovers from a known truth, not real-world performance."
"""A caveat for a card whose data were simulated (the caller adds it: extra_caveats)."""


def _split_words(split: Mapping, seed: object, holdout: Mapping | None) -> str:
    kind = split.get("kind", "none")
    if kind == "none":
        return "none: fitted on every labelled row"
    if kind == "time":
        what = f"time split: rows from {split.get('test_from')} held out (out of time)"
    else:
        what = f"hold-out of {float(split.get('fraction') or 0):.0%} of the people (seed {split.get('seed') or seed})"
    if holdout:
        what += (f"; {holdout.get('rows', 0):,} rows held out, AUC {_num(holdout.get('auc'))}"
                 + (f", {holdout['unmatured_rows']:,} unmatured rows used for neither" if holdout.get("unmatured_rows")
                    else ""))
    return what


def development_facts(manifest: Mapping) -> dict[str, str]:
    """What the model was developed on and how it was configured, from its artifact's manifest (audit I, F10):
    a reader can then check the card's "held-out" rows against the development data it names."""
    config = manifest.get("config") or {}
    run = config.get("run") or {}
    metrics = manifest.get("metrics") or {}
    fitted = manifest.get("fitted_rows") or {}
    rows, bads = fitted.get("rows", config.get("rows")), fitted.get("bads")
    fp = manifest.get("data_fingerprint") or ""
    data = f"{run.get('data') or config.get('data') or 'not recorded'}"
    if run.get("data") and config.get("data") and config["data"] != run["data"]:  # the path given, the set's name
        data += f" (data set {config['data']})"
    data += f", data fingerprint {fp[:12]}" if fp else ", no data fingerprint recorded"
    if rows is not None:
        data += f"; fitted on {int(rows):,} rows" + (f", bad rate {bads / rows:.1%}" if bads is not None and rows else "")
    out = {"development data": data,
           "split": _split_words(run.get("split") or {}, run.get("seed"), metrics.get("holdout"))}
    weights = metrics.get("meta_weights") or {}
    if weights:
        out["members and meta weights"] = ", ".join(f"{k} {float(w):.3f}" for k, w in weights.items())
    if skipped := metrics.get("skipped"):
        out["members left out"] = "; ".join(f"{k} ({why})" for k, why in skipped.items())
    combiner = metrics.get("combiner") or {}
    stack = run.get("stack") or {}
    if combiner or weights:
        out["combiner"] = (f"{combiner.get('chosen', 'blend')}" + (f"; {metrics['folds']} folds" if metrics.get("folds")
                                                                    else "")
                           + (f"; calibration {stack['calibration']}" if stack.get("calibration") else ""))
    if oof := metrics.get("oof_auc"):
        out["out-of-fold AUC"] = ", ".join(f"{k} {_num(v)}" for k, v in oof.items())
    code = manifest.get("code") or {}
    out["code"] = (f"fingerprint {code['fingerprint'][:12]} (sha256 of the package's source files), Python "
                   f"{code.get('python', 'n/a')}" if code.get("fingerprint")
                   else "not recorded (an artifact written before 2026-12-06)")
    return out


def default_model_card(**facts: Any) -> dict:
    """DeepCredit's standing statements, overridden or extended by `facts` (name, kind, data, ...)."""
    card: dict = {"name": "DeepCredit model", "intended_use": INTENDED_USE, "out_of_scope": list(OUT_OF_SCOPE),
                  "caveats": list(CAVEATS), "data": {}, "details": {}}
    extra_caveats = facts.pop("extra_caveats", None) or []
    card.update(facts)
    card["caveats"] = [*card["caveats"], *extra_caveats]
    return card


def _label(key: str) -> str:
    text = key.replace("_", " ")
    return text[:1].upper() + text[1:]


def _num(v: object, fmt: str = ".3f") -> str:
    return "n/a" if v is None else format(v, fmt)


NO_REFERENCE = (  # the report says it too
    "Stability was not measured: no reference was given. Run evaluate again with --reference "
    "DEVELOPMENT_DATA (the data the model was developed on) for the score's PSI and each feature's CSI, "
    "or compare scoring batches with deepcredit monitor.")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in rows]
    return out + [""]


def _said(screens: dict, screen: str) -> str:
    """' (fails the screen; p 0.0001, adjusted 0.002)', ' (pass; ...)', ' (too few to judge)', or '' where the
    screen was not run."""
    v = screens.get(screen)
    if v is None:
        return ""
    p = "" if v.get("p_value") is None else f"; p {v['p_value']:.2g}" + (
        "" if v.get("p_adjusted") is None else f", adjusted {v['p_adjusted']:.2g}")
    return f" ({'fails the screen' if v['result'] == FLAG else v['result']}{p})"


def _screens_line(a: dict) -> str:
    """An attribute's screens in one sentence."""
    if a.get("not_audited"):
        return f"Not audited: {a['not_audited']}."
    screens = a.get("screens") or {}
    return (f"Disparate-impact ratio {_num(a.get('disparate_impact'), '.2f')}{_said(screens, 'four_fifths')}; "
            f"equal-opportunity gap {_num(a.get('tpr_gap'), '.3f')}{_said(screens, 'equal_opportunity')}"
            + (f"; calibration{_said(screens, 'calibration')}" if "calibration" in screens else "") + ".")


def model_card_markdown(card: dict, evaluation: dict | None = None, fairness: dict | None = None,
                        stability: dict | None = None) -> str:
    lines = [f"# Model card: {card.get('name', 'DeepCredit model')}", ""]
    details = card.get("details") or {}
    if details:
        lines += ["## Model details", ""]
        lines += [f"- **{_label(k)}**: {v}" for k, v in details.items()] + [""]
    if development := card.get("development"):
        lines += ["## Development", ""]
        lines += [f"- **{_label(k)}**: {v}" for k, v in development.items()] + [""]
    lines += ["## Intended use", "", str(card.get("intended_use", INTENDED_USE)), ""]
    lines += ["## Out-of-scope use", ""] + [f"- {x}" for x in card.get("out_of_scope", OUT_OF_SCOPE)] + [""]
    data = card.get("data") or {}
    lines += ["## Data", ""]
    lines += [f"- **{_label(k)}**: {v}" for k, v in data.items()]
    protected = card.get("protected")
    if protected is None or protected:
        named = f" ({', '.join(a.replace('_', ' ') for a in protected)})" if protected else ""
        lines += [f"- **Protected attributes**{named} are not model inputs; they are joined after scoring, for "
                  "the audit only.", ""]
    else:
        lines += ["- **Protected attributes**: the data set declares none, so none is audited.", ""]
    if evaluation:
        m, c = evaluation["metrics"], evaluation["cutoff"]
        ci = m.get("auc_ci")
        measured = "Evaluated rows, the rows the model was fitted on among them (optimistic)" \
            if evaluation.get("optimistic") else "Held-out rows"
        lines += ["## Metrics", "", f"{measured}: {evaluation['n']:,}, of which bad: {evaluation['n_bad']:,} "
                  f"({evaluation['bad_rate']:.1%}); mean predicted PD {evaluation['mean_pd']:.1%}.", ""]
        lines += _table(["metric", "value"], [
            ["AUC", _num(m["auc"]) + (f" ({ci_words(m)})" if ci else "")],
            ["Gini", _num(m["gini"])], ["KS", _num(m["ks"])], ["Brier score", _num(m["brier"], ".4f")],
            ["Expected calibration error", _num(m["ece"], ".4f") + (f" ({floor})" if (floor := ece_words(m)) else "")],
            [f"Approval rate at score >= {c['cutoff']:.0f}", pct(c["approval_rate"])],
            ["Bad rate among approved", pct(c["bad_rate_approved"])],
            ["Bad rate among declined", pct(c["bad_rate_declined"])]])
        if m.get("ece_note"):
            lines += [m["ece_note"], ""]
        if conf := confusion_rows(c):
            lines += [f"{conf[2]}:", ""] + _table(conf[0], conf[1])
        lines += ["Bad rate per band:", ""]
        lines += _table(["band", "scores", "share", "bad rate", "mean PD"],
                        [[b["band"], f"{b['score_from']}-{b['score_to']}", pct(b["share"]), pct(b["bad_rate"]),
                          pct(b["mean_pd"])] for b in evaluation["bands"]])
        if evaluation.get("ablation"):
            heading, lead = ablation_words(evaluation)
            lines += [f"### {heading}", "", lead, ""]
            lines += _table(["model", "AUC", "Gini", "KS", "Brier", "ECE"],
                            [[r["model"], _num(r["auc"]), _num(r["gini"]), _num(r["ks"]), _num(r["brier"], ".4f"),
                              _num(r["ece"], ".4f")] for r in evaluation["ablation"]])
    if fairness:
        lines += ["## Disaggregated results", ""]
        if not fairness.get("attributes"):
            lines += ["The data set records no protected attributes: no audit was possible.", ""]
        if fairness.get("evidence_rule") and fairness.get("attributes"):
            lines += [fairness["evidence_rule"], ""]
        if words := audit_cutoff_words(fairness):
            lines += [words, ""]
        for name, a in fairness.get("attributes", {}).items():
            lines += [f"### {name.replace('_', ' ')}", "", _screens_line(a), ""]
            has_pd = bool(a["groups"]) and "mean_pd" in a["groups"][0]
            header = ["group", "people", "approval rate", "approval of good payers", "bad rate"] + \
                (["mean PD"] if has_pd else [])
            rows = [[f"{g['group']}{'' if g['audited'] else ' (too small)'}", f"{g['n']:,}", pct(g["approval_rate"]),
                     pct(g["tpr"]), pct(g["bad_rate"])] + ([pct(g.get("mean_pd"))] if has_pd else [])
                    for g in a["groups"]]
            lines += _table(header, rows)
        if fairness.get("flags"):
            lines += ["Flags:", ""] + [f"- {f}" for f in fairness["flags"]] + [""]
        if fairness.get("too_few_to_judge"):
            lines += ["Too few to judge (neither a pass nor a flag):", ""] + \
                [f"- {f}" for f in fairness["too_few_to_judge"]] + [""]
        elif fairness.get("attributes") and not fairness.get("flags"):
            lines += ["No group fails the screens.", ""]
        if info := fairness.get("at_informative_cutoff"):
            lines += [f"### At the informative cut-off {info['cutoff']:.0f}", "", f"{info['which'][:1].upper()}"
                      f"{info['which'][1:]}; approval rate {pct(info.get('approval_rate'))}.", ""]
            lines += [f"- {name.replace('_', ' ')}: {_screens_line(a)}" for name, a in info["attributes"].items()]
            lines += [""] + ([f"Flags at {info['cutoff']:.0f} (for information):", ""]
                             + [f"- {f}" for f in info["flags"]] + [""] if info.get("flags") else [])
    if stability:
        sp = stability["score_psi"]
        lines += ["## Stability", "", f"Score PSI against the development sample: {sp['psi']:.3f} "
                                      f"({sp['level']}{': ' + sp['note'] if sp.get('note') else ''})."]
        drifted = [r for r in stability.get("csi", []) if r["level"] != "ok"]
        if drifted:
            lines += ["Drifted inputs: " + ", ".join(f"{r['feature']} ({r['csi']:.2f})" for r in drifted[:10]) + "."]
        if note := stability.get("reference_note"):
            lines += [note[:1].upper() + note[1:]]
        lines += [""]
    elif evaluation:
        lines += ["## Stability", "", NO_REFERENCE, ""]
    lines += ["## Caveats", ""] + [f"- {x}" for x in card.get("caveats", CAVEATS)] + [""]
    return "\n".join(lines)
