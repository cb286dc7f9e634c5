"""Service commands: `serve`, `serve-init`, `serve-upgrade`, `serve-snapshot`, `serve-import-scores`, `serve-backup`,
`audit-verify`, `audit-anchor`, operator helpers (`merchant-add`,
`person-token`, `person-erase`) and the champion/challenger steps (`model-challenger`, `model-compare`, `model-promote`).

Configuration comes from the environment (service/config.py): DEEPCREDIT_PSEUDONYM_KEY (required),
DEEPCREDIT_ADMIN_KEY (operator API), DEEPCREDIT_DATABASE_URL (default: an SQLite file under runs/service).

The service, its store and the data modules are imported inside the commands: the CLI starts without them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import NoReturn

import typer
from rich.markup import escape

from deepcredit.cli.common import clear_errors, console, model_errors, resolve_dataset


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("serve-init")(serve_init)
    app.command("serve-upgrade")(serve_upgrade)
    app.command("serve-snapshot")(serve_snapshot)
    app.command("serve-import-scores")(serve_import_scores)
    app.command("serve-backup")(serve_backup)
    app.command("audit-verify")(audit_verify)
    app.command("audit-anchor")(audit_anchor)
    app.command("merchant-add")(merchant_add)
    app.command("person-token")(person_token)
    app.command("person-erase")(person_erase)
    app.command("model-challenger")(model_challenger)
    app.command("model-compare")(model_compare)
    app.command("model-promote")(model_promote)


def _settings(check_schema: bool = True):
    """The service's settings from the environment; and, unless told otherwise, a database that is empty or
    at this DeepCredit's schema (an older one is upgraded first, by `serve-upgrade`) and set up under the
    pseudonym key in the environment (service/keycheck.py)."""
    from deepcredit.service.config import ConfigError, Settings
    from deepcredit.service.context import checked_key, make_context
    from deepcredit.service.keycheck import KeyMismatch
    from deepcredit.service.store import Database, schema

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if check_schema:
        db = Database(settings.database_url)
        try:
            if not schema.is_empty(db.engine):
                schema.check(db.engine)
                checked_key(make_context(settings, db))  # the key serve-init used, or nothing runs
        except (schema.SchemaMismatch, KeyMismatch) as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None
        finally:
            db.dispose()
    return settings


def serve_upgrade() -> None:
    """Bring the service database to this DeepCredit's schema (back it up first): run its migrations, or
    adopt a database made before schema versions; refuses, changing nothing, what it cannot do safely."""
    from deepcredit.service.bootstrap import upgrade_database
    from deepcredit.service.keycheck import KeyMismatch
    from deepcredit.service.store.schema import SchemaMismatch

    try:
        done = upgrade_database(_settings(check_schema=False))
    except (SchemaMismatch, KeyMismatch) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if done.before == done.after:
        console.print(f"the database is already at schema {done.after}: nothing changed")
        return
    was = done.before or "no schema version"
    console.print(f"database at schema {done.after} (was: {was})" + "".join(f"\n- {c}" for c in done.changes))


def serve_snapshot(
    out: Path = typer.Option(..., "--out", help="Directory for the data set (a previous snapshot there is replaced)."),
) -> None:
    """Write the served data as the service holds it now (reported outcomes, disputes' corrections, retention and
    erasures applied) as a data set, keyed by pseudonyms: what `score` (DuckDB or Spark) and `train` read; audited."""
    from deepcredit.service.snapshot import write_snapshot
    from deepcredit.workflows.common import row_counts

    with model_errors():
        done = write_snapshot(_settings(), out)
    console.print(f"wrote {escape(str(done.data.root))}: the served data as held on {done.as_of:%Y-%m-%d %H:%M}, "
                  f"keyed by pseudonyms ({row_counts(done.data)}); with {done.reported_events:,} reported "
                  f"outcome(s), {done.corrected_events:,} record(s) and {done.corrected_details:,} profile detail(s) "
                  f"corrected by disputes, and without the {done.erased:,} people erased", soft_wrap=True)
    console.print(f"next: deepcredit score --data {escape(str(done.data.root))} --model MODEL --out SCORES --as-of "
                  f"{done.as_of:%Y-%m-%d} [--engine spark], then deepcredit serve-import-scores --scores SCORES; or "
                  "deepcredit train --data ... for a challenger", soft_wrap=True)


def serve_import_scores(
    scores: Path = typer.Option(..., "--scores", help="The output directory of `deepcredit score` run on a snapshot "
                                                      "(serve-snapshot) with the served model."),
) -> None:
    """Load a population re-scored by a batch job (DuckDB or Spark) as the service's scores: checked first (model,
    snapshot, people, dates), then a batch at a time (the service's writes go on); a newer score the service made
    since is kept; a stopped import resumes when run again; audited."""
    from deepcredit.service.score_import import import_scores

    with model_errors():
        done = import_scores(_settings(), scores)
    if done.finished_meanwhile:
        console.print(f"another run of this job finished it meanwhile ({(done.done_before or '')[:16]}): batches this "
                      "run stored are in that run's totals (its audit row scores_imported)", soft_wrap=True)
        return
    if done.done_before is not None:
        console.print(f"this job was imported already (finished {done.done_before[:16]}): nothing imported",
                      soft_wrap=True)
        return
    if done.resumed:
        console.print(f"resumed: {done.resumed:,} batch(es) were stored by an earlier run; the counts include them",
                      soft_wrap=True)
    console.print(f"imported {done.imported:,} scores as of {done.as_of:%Y-%m-%d %H:%M} (model {done.model_id[:12]}); "
                  f"kept {done.kept_newer:,} newer score(s) the service made since; {done.erased:,} erased people "
                  "left out", soft_wrap=True)


def serve_backup(
    out: Path = typer.Option(..., "--out", help="The backup file to write (never overwritten)."),
) -> None:
    """Back the SQLite database up while the service runs (SQLite's online backup: rows still in the WAL file
    included, which a copy of the .db file can miss); audited. PostgreSQL: use pg_dump."""
    from deepcredit.service.backup import backup_database

    with model_errors():
        done = backup_database(_settings(), out)
    console.print(f"backed the database up to {escape(str(done.path))} ({done.bytes:,} bytes) on "
                  f"{done.at:%Y-%m-%d %H:%M}; restore: stop the service, put it in the database's place (no "
                  "-wal/-shm files beside it), same DEEPCREDIT_PSEUDONYM_KEY", soft_wrap=True)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", help="Processes (more than 1 needs PostgreSQL)."),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run the scoring service (FastAPI on uvicorn); OpenAPI docs at /docs, the schema at /openapi.json."""
    import uvicorn

    settings = _settings()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        console.print("[red]error:[/red] several workers need PostgreSQL (DEEPCREDIT_DATABASE_URL); "
                      "SQLite serves one process")
        raise typer.Exit(2)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # uvicorn's access log prints raw paths (which can hold a person id): ours logs route templates
    uvicorn.run("deepcredit.service.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_level=log_level)


def serve_init(
    data: str = typer.Option(..., "--data", help="A data set directory, or a bundled name: uci, otc, german."),
    model: Path = typer.Option(..., "--model", help="Any model artifact from `deepcredit train` "
                                                    "(the stack, one member, a scorecard)."),
    state: Path = typer.Option(Path("runs/service"), "--state", help="Where the service keeps its data copy."),
    as_of: str = typer.Option("", "--as-of", help="Score as of this date and run the service clock from it "
                                                   "(historical data); default: now."),
) -> None:
    """Make a data set and a model servable: pseudonymised copy, everyone scored, stored in the database."""
    import pandas as pd

    from deepcredit.service.bootstrap import initialise

    settings = _settings()
    with clear_errors():
        ds = resolve_dataset(data)
        ds.checked_fingerprint()  # the service's copy is made from these files: refuse ones changed since
        when = pd.Timestamp(as_of).to_pydatetime() if as_of else None
        try:
            summary = initialise(settings, ds, model, state, as_of=when)
        except ValueError as exc:  # e.g. a model whose views this data set cannot build
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    console.print(f"scored {summary.people:,} people as of {summary.as_of:%Y-%m-%d %H:%M} with model "
                  f"{summary.model_id[:12]} in {summary.seconds:.1f} s; data copy at {summary.data_dir}")
    if summary.stale_days:
        empty = ", so its windows of recent behaviour are empty" if summary.histories else ""
        console.print(f"[cyan]note:[/cyan] the data set ends on {summary.snapshot_date:%Y-%m-%d}, "
                      f"{summary.stale_days:,} days before these scores{empty}. For historical data run serve-init "
                      f"again with --as-of {summary.snapshot_date:%Y-%m-%d}: the service clock then runs from that "
                      "date.", soft_wrap=True)
    if summary.refused_outcomes:
        how = ("declare them under \\[events.outcomes]" if summary.events else
               "the data set holds no events, so the service takes no reports of outcomes")
        console.print(f"[yellow]the data set's spec does not say what these reported outcomes are, so the service "
                      f"refuses them:[/yellow] {', '.join(summary.refused_outcomes)} ({how})")


def _parse_anchor(text: str) -> tuple[int, str]:
    seq, _, mac = text.strip().partition(":")
    if not seq.isdigit() or int(seq) < 1 or len(mac) != 64 or any(c not in "0123456789abcdef" for c in mac):
        console.print("[red]error:[/red] an anchor is SEQ:MAC (a row number from 1 and a 64-hex-digit mac), as "
                      "`deepcredit audit-anchor` prints it; an empty anchor would check nothing")
        raise typer.Exit(2)
    return int(seq), mac


def _verified(anchor: tuple[int, str] | None = None):
    from deepcredit.service.context import make_context

    ctx = make_context(_settings())
    if not ctx.db.initialised():
        console.print(f"[red]error:[/red] no service database at {ctx.db.url.render_as_string()}")
        raise typer.Exit(2)
    with ctx.db.read() as s:
        return ctx.audit.verify(s, anchor=anchor)


def _print_failure(result) -> None:
    console.print("[red]audit log verification FAILED[/red]")
    for p in result.problems:
        console.print(f"  {p}")


def audit_verify(
    anchor: str | None = typer.Option(None, "--anchor", help="SEQ:MAC from `audit-anchor`; the chain must still "
                                                             "contain it (catches rows cut from the end)."),
    anchor_file: Path | None = typer.Option(None, "--anchor-file", help="A file `audit-anchor --out` wrote."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Verify the audit log's hash chain; exit 1 and name the first bad row if it was changed."""
    if anchor is not None and anchor_file is not None:
        console.print("[red]error:[/red] give --anchor or --anchor-file, not both")
        raise typer.Exit(2)
    if anchor_file is not None:
        if not anchor_file.is_file():
            console.print(f"[red]error:[/red] no anchor file at {anchor_file}")
            raise typer.Exit(2)
        anchor = anchor_file.read_text(encoding="utf-8")
    pin = None if anchor is None else _parse_anchor(anchor)
    result = _verified(pin)
    if as_json:
        typer.echo(json.dumps({"ok": result.ok, "rows": result.rows, "head_seq": result.head_seq,
                               "head_mac": result.head_mac, "anchor_checked": pin is not None,
                               "problems": result.problems}))
    elif result.ok:
        checked = f"; contains anchor {pin[0]}" if pin else " (no anchor given: rows cut from the end since " \
                                                              "the last anchor would not show)"
        console.print(f"audit log intact: {result.rows:,} rows; head {result.head_seq}:{result.head_mac}{checked}")
    else:
        _print_failure(result)
    raise typer.Exit(0 if result.ok else 1)


def audit_anchor(
    out: Path | None = typer.Option(None, "--out", help="Also write the anchor to this new file (never "
                                                       "overwritten; keep it somewhere the database's "
                                                       "administrators cannot write)."),
) -> None:
    """Verify the chain, then print its head as an anchor SEQ:MAC for `audit-verify --anchor` later.

    An anchor kept outside the database is what catches a determined administrator who removes rows from the
    end and rewrites the head: the chain they leave no longer contains the anchored row.
    """
    from deepcredit.data.io import atomic_write_text

    def refuse_existing() -> NoReturn:
        console.print(f"[red]error:[/red] {escape(str(out))} exists: an anchor never overwrites a file; name a new "
                      "one", soft_wrap=True)
        raise typer.Exit(2)

    if out is not None and (out.exists() or out.is_symlink()):  # an earlier anchor's value is its history
        refuse_existing()
    result = _verified()
    if not result.ok:
        _print_failure(result)
        raise typer.Exit(1)
    if result.head_seq < 1:
        console.print("[red]error:[/red] the audit log is empty: nothing to anchor yet")
        raise typer.Exit(2)
    anchor = f"{result.head_seq}:{result.head_mac}"
    if out is not None:
        try:  # checked again at the write itself: another run may have made the file while this one verified
            atomic_write_text(out, anchor + "\n", exclusive=True)
        except FileExistsError:
            refuse_existing()
    typer.echo(anchor)


def merchant_add(name: str = typer.Argument(..., help="The merchant's name.")) -> None:
    """Register a merchant and print its API key (shown once; only its hash is stored)."""
    from deepcredit.service.context import make_context, sync_clock
    from deepcredit.service.enrolment import create_merchant
    from deepcredit.service.problems import Problem

    ctx = make_context(_settings())
    ctx.db.create_all()
    sync_clock(ctx)
    try:
        out = create_merchant(ctx, name)
    except Problem as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    console.print(f"merchant {out.merchant.id} ({out.merchant.name}); API key:")
    typer.echo(out.api_key)


def person_token(
    person_id: str = typer.Argument(..., help="The person's id (pseudonymised before it is stored)."),
    days: int = typer.Option(30, "--days", min=1, max=366),
) -> None:
    """Issue a person a token to read their report and manage consents and disputes (demos, integrations)."""
    from deepcredit.service.context import make_context, sync_clock
    from deepcredit.service.enrolment import create_person_token, holds_score
    from deepcredit.service.problems import Problem

    ctx = make_context(_settings())
    ctx.db.create_all()
    sync_clock(ctx)
    try:
        out = create_person_token(ctx, person_id, days)
    except Problem as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    if not holds_score(ctx, person_id):
        console.print("[yellow]note:[/yellow] the service knows this person but holds no score for them yet: "
                      "the token works, and its page says it holds no score")
    console.print(f"token valid until {out.expires_at:%Y-%m-%d %H:%M} ({ctx.settings.clock.zone or 'UTC'}, "
                  "on the service's clock):")
    typer.echo(out.token)


def person_erase(
    person_id: str = typer.Argument(..., help="The person's id (pseudonymised before it is looked up)."),
    yes: bool = typer.Option(False, "--yes", help="Erase without asking (scripts)."),
) -> None:
    """Erase a person where a legal ground requires it: every row the service holds about them, their rows
    of its data copy too; their connections are re-scored. The audit log keeps its rows (pseudonym only);
    the source data set and earlier exports are the operator's to delete. Cannot be undone."""
    from deepcredit.service.erasure import erase_person
    from deepcredit.service.problems import Problem

    if not yes and not typer.confirm("Erase this person from the service? This cannot be undone"):
        raise typer.Exit(1)
    with model_errors():
        try:
            done = erase_person(_settings(), person_id)
        except Problem as exc:
            console.print(f"[red]error:[/red] {exc.detail}")
            raise typer.Exit(2) from None
    if not done.deleted["scores"]:  # serve-init scores everyone the data set holds
        console.print("[yellow]note:[/yellow] the service knew this person but held no score for them; they are "
                      "recorded as erased all the same")
    gone = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in done.deleted.items() if v) or "no rows"
    copy = f"their rows of the service's data copy ({done.copy_dir}) are gone" if done.copy_dir else \
        "their data set rows are left out from now on"
    console.print(f"erased on {done.erased_at:%Y-%m-%d %H:%M}: {gone}; {copy}. The service keeps their pseudonym "
                  "in its audit log and its list of erased people. Outside it, delete them yourself from the source "
                  "data set serve-init copied, and from snapshots and scores exported before now. A service running "
                  "now keeps the answers it worked out about them in memory (unreachable) until it restarts: restart "
                  "it, or erase through POST /v1/admin/erasures, which forgets them at once.", soft_wrap=True)


def model_challenger(
    model: Path = typer.Option(..., "--model", help="A model artifact to score everyone with in shadow."),
) -> None:
    """Register a challenger: everyone scored with it in shadow (decisions keep using the champion); audited."""
    from deepcredit.service import challenger

    with clear_errors():
        try:
            out = challenger.register(_settings(), model)
        except ValueError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    console.print(f"challenger {out.model_id[:12]} scored {out.people:,} people in shadow ({out.path})")
    if out.unfinished:
        console.print(f"[yellow]warning:[/yellow] {out.unfinished}", soft_wrap=True)


def model_compare(as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON.")) -> None:
    """Compare the challenger with the champion on the same people: band changes, score changes, approval
    rates at each policy's threshold; audited."""
    from deepcredit.service import challenger

    try:
        result = challenger.compare(_settings())
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result))
        return
    console.print(f"champion {str(result['champion'])[:12]} vs challenger {result['challenger'][:12]} on "
                  f"{result['people']:,} people: {result['band_changed']:,} change band, mean score change "
                  f"{result['mean_score_change']:+.1f} (mean absolute {result['mean_abs_score_change']:.1f})")
    for t, rates in result["approval_rate"].items():
        console.print(f"  approval at {t}: {rates['champion']:.1%} -> {rates['challenger']:.1%}")


def model_promote() -> None:
    """Make the challenger the served model: everyone re-scored with it (history says so); audited.
    A running `deepcredit serve` adopts it within DEEPCREDIT_MODEL_CHECK_SECONDS (5), no restart.
    One that stopped part-way is finished by running this again (it resumes)."""
    from deepcredit.service import challenger

    try:
        out = challenger.promote(_settings())
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except challenger.PromotionStopped as exc:
        console.print(f"[red]the promotion stopped part-way[/red] ({exc}): the new model is already the served one "
                      "and some people still hold the old model's score; run `deepcredit model-promote` again to "
                      "finish it (it resumes)")
        raise typer.Exit(1) from None
    if out.resumed:
        console.print(f"finished the promotion started as of {out.resumed}")
    console.print(f"model {out.model_id[:12]} promoted: {out.people:,} people re-scored; a running server serves "
                  "it within a few seconds, no restart (its audit log says `model_served`, or `model_load_failed` "
                  "if it could not load it)")
