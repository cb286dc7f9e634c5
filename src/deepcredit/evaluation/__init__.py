"""Evaluation: metrics, fairness audit, population stability, the HTML report and the model card.

    metrics.evaluate(y, pd, score, ...)            every number and figure's data for one model
    fairness.fairness_audit(y, approved, groups)   approval, disparate impact, equal opportunity, calibration
    evidence.compare_rates / compare_to_prediction when a screen's gap is judged: pass, flag or too few to judge
    evidence.Family / holm                         every test of a report adjusted together (Holm-Bonferroni)
    cutoffs.cutoff_context(y, score, rate)         a cut-off that approves or declines (nearly) everyone
    sample.describe_samples(...)                   the training and evaluation rows: people, bads, dates, data
    coverage.reason_coverage(reasons, ...)          how often reasons name a specific figure and give advice
    stability.psi / csi / monitor                  drift of the score and the inputs, with alert levels
    report.write_report(out, evaluation, ...)      report.html, figures.json, results.json, model_card.md
    pipeline.evaluate_artifact(model, data, out)   all of it for a stored model on a stored data set

Each module works on arrays and frames only (pipeline is the exception that loads models and data), so
scores made anywhere can be evaluated the same way. Import the submodules directly: fairlearn and
matplotlib load only when they are needed.
"""
