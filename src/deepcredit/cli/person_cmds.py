"""The person's side, run by an operator: `recourse` (what would raise a person to the next band),
`recourse-measure` (how often plans keep their promise), `retention` (retire old negative records, re-score).

Configuration comes from the environment like every service command (service/config.py). Output goes to
the terminal of whoever runs the command; nothing about the person is logged.
"""

from __future__ import annotations

from pathlib import Path

import typer

from deepcredit.cli.common import clear_errors, console, resolve_dataset
from deepcredit.cli.serve_cmds import _settings


def register(app: typer.Typer) -> None:
    app.command("recourse")(recourse)
    app.command("recourse-measure")(recourse_measure)
    app.command("retention")(retention)


def _context():
    from deepcredit.service.app import serving_context

    return serving_context(_settings())


def recourse(
    person_id: str = typer.Argument(..., help="The person's id (pseudonymised before anything is looked up)."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
) -> None:
    """What would raise a person to the next band: the smallest plan of future behaviour (events after now,
    never an edit of the past), re-scored by the served model; audited."""
    from deepcredit.service import recourse as rc

    ctx = _context()
    if ctx.scorer is None:
        console.print("[red]error:[/red] no model is served here: run `deepcredit serve-init` first")
        raise typer.Exit(2)
    subject = ctx.pseudonym(person_id)
    out = rc.person_recourse(ctx, subject)
    with ctx.db.write() as s:
        ctx.audit.append(s, ctx.now(), "operator", "recourse_viewed", subject)
    if as_json:
        typer.echo(out.model_dump_json(indent=2))
        return
    if out.score is None:
        console.print(out.summary)
        return
    console.print(f"score {out.score} ({out.band}); next band: {out.target_band or '-'}"
                  + (f" from {out.target_score}" if out.target_score else ""))
    console.print(out.summary)
    if out.score_after is not None:
        console.print(f"the model scores that plan at {out.score_after} ({out.band_after})"
                      + ("" if out.reached else ": not enough"))
    for note in out.notes:
        console.print(note)


def recourse_measure(
    data: str = typer.Option(..., "--data", help="A data set directory (or a bundled name)."),
    model: Path = typer.Option(..., "--model", help="A model artifact (any kind; the stack for the target)."),
    sample: int = typer.Option(1000, "--sample", min=1, help="People drawn from those below the top band."),
    seed: int = typer.Option(0, "--seed"),
    out: Path = typer.Option(Path("docs/results/recourse.json"), "--out", help="Where to write the figures."),
    max_seconds: float | None = typer.Option(None, "--max-seconds", help="Stop drawing people after this long."),
) -> None:
    """Measure recourse: the share of plans that, applied as future events and re-scored, reach the promised
    band (reach_rate), and the latency of a what-if (p99_ms)."""
    from deepcredit.workflows.benchmarks.recourse import measure_recourse, write_recourse

    with clear_errors():
        result = measure_recourse(resolve_dataset(data), model, sample=sample, seed=seed,
                                  max_seconds=max_seconds)
    write_recourse(result, out)
    console.print(f"{result['people']} people: reach_rate {result['reach_rate']}, what-if p99 {result['p99_ms']} ms "
                  f"(search p99 {result['search_p99_ms']} ms) -> {out}")


def retention(
    years: int | None = typer.Option(None, "--years", min=1, help="Retention period of negative records "
                                     "(default DEEPCREDIT_RETENTION_YEARS, 5)."),
    recalculate: bool = typer.Option(True, "--recalculate/--no-recalculate",
                                     help="Also recalculate scores older than DEEPCREDIT_RECALCULATION_DAYS."),
) -> None:
    """Retire negative records older than the retention period from everyone's features and re-score the
    people concerned (and, by default, every score due for its regular recalculation); audited."""
    from deepcredit.service import retention as job
    from deepcredit.service.app import serving_context

    ctx = serving_context(_settings(), load_scorer_from_meta=False)  # the job loads the model if it re-scores
    try:
        out = job.run(ctx, years=years, recalculate=recalculate)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"negative records before {out.cutoff:%Y-%m-%d} retired: {out.retired_people:,} people "
                  f"re-scored; {out.recalculated:,} scores recalculated")
