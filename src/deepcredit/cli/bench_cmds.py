"""`deepcredit benchmark`: models, peers and speed in one run -> DIR/results.json and docs/benchmarks.md.

The benchmark suite (every model, the peers, the service's load test) is imported when the command runs, not
when the CLI starts: every other command, an operator's no-op included, would otherwise wait seconds for it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer

from deepcredit.cli.common import clear_errors, console, progress, step_by_step


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark)


def benchmark(
    out: Path = typer.Option(..., "--out", help="Directory for results.json, benchmark.log and the work files."),
    quick: bool = typer.Option(False, "--quick", help="Smoke run for CI (a few minutes); not for the record."),
    docs: Path = typer.Option(None, "--docs", help="Markdown file whose generated block is rewritten "
                                                    "(default: docs/benchmarks.md with --record, else "
                                                    "DIR/benchmarks.md, so a run not recorded never "
                                                    "overwrites the recorded numbers)."),
    record: bool = typer.Option(False, "--record", help="Also copy results.json to docs/results/benchmark.json."),
    workdir: Path = typer.Option(None, "--workdir", help="Data sets, worlds and models (default: DIR/work)."),
    peers_python: str = typer.Option("", "--peers-python", help="Interpreter that can import toad and "
                                                                "scorecardpy, when this one cannot."),
    datasets: str = typer.Option("", "--datasets",
                                 help="Comma-separated data sets to measure (a partial run; with --record it "
                                      "replaces only those in the record); default: every one the benchmark "
                                      "knows (an unknown name is refused with the list)."),
    speed: bool = typer.Option(True, "--speed/--no-speed", help="Run the speed stages."),
) -> None:
    """Every model and the peers on the same folds of every data set, plus speed and peak memory, in one run.

    Our scorecard, every stack member, the stack and the peers on UCI, OTC (a time split and rolling origin)
    and simulated worlds (with the Bayes and observable limits; one with temporal structure); plus
    simulation, feature building, training and batch-scoring speed with peak memory."""
    from deepcredit.data.io import atomic_write_json
    from deepcredit.workflows.benchmark import (
        DATASETS,
        check_datasets,
        count_steps,
        markdown_path,
        merge_into_record,
        missing_keys,
        plan_for,
        render_markdown,
        run_benchmark,
        update_doc,
    )

    datasets = datasets or ",".join(DATASETS)
    plan = plan_for(quick)
    if peers_python:
        plan = dataclasses.replace(plan, peers_python=peers_python)
    try:
        names = check_datasets(tuple(n.strip() for n in datasets.split(",") if n.strip()))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--datasets") from exc
    plan = dataclasses.replace(plan, datasets=names, speed=speed)
    partial = names != tuple(DATASETS) or not speed
    with clear_errors(), progress() as bar:
        task = bar.add_task("benchmark", total=count_steps(plan))
        step = step_by_step(bar, task)

        results = run_benchmark(out, plan, workdir=workdir, step=step)
        bar.update(task, completed=count_steps(plan), description="benchmark done")
    doc = docs or markdown_path(out, record and not quick)  # a smoke run never writes the project's page
    shown = results
    if record:
        target = Path("docs/results/benchmark.json")
        if partial and target.exists():
            shown = merge_into_record(json.loads(target.read_text()), results, plan)
        atomic_write_json(target, shown)
        console.print(f"recorded: {target}" + (" (merged: this run's data sets replace the recorded ones)"
                                               if shown is not results else ""))
    update_doc(doc, render_markdown(shown))
    console.print(f"results: {(out / 'results.json').resolve()} ({results['seconds']:,.0f} s)")
    console.print(f"markdown: {doc.resolve()}")
    problems = missing_keys(results) + [f"speed.{stage}.{size}: {r['error']}"
                                        for stage, sizes in results["speed"].items()
                                        for size, r in sizes.items() if "error" in r]
    if problems:  # so that a pipeline running the benchmark (CI's smoke run) fails loudly
        console.print("[red]incomplete:[/red] " + "; ".join(problems), soft_wrap=True)
        raise typer.Exit(1)
