"""`deepcredit serve-snapshot`: the served data set as the service holds it now, written as a data set.

What the service has learnt is kept beside its copy of the data set, never written into it. That covers the
outcomes merchants reported, the records that accepted disputes corrected or removed, the corrected profile
details, and the negative records that retention retired. `scoring.ScopedDataset` reads all of it in
whenever the service scores. Batch scoring (`deepcredit score`, on DuckDB or Spark), training and every
other command read a data set directory, so they would see the records as they were before. A population
re-scored on Spark would then bring a corrected record back, and the next model would learn from it.

The snapshot writes the same sources the service scores from (`ScopedDataset.sources` over everyone) as
a new data set: the served copy's spec and columns, its outcomes and extras unchanged, keyed by the same
pseudonyms, without the protected attributes the copy left out, and without the people an operator erased
(service/erasure.py) in any table. It is staged and renamed into place, so
a crash leaves no half-written snapshot. Scoring it gives the service's own scores (tested).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
from sqlalchemy.orm import Session

from deepcredit.data.dataset import Dataset, check_replaceable, finalize_dataset, new_connection, staging_dir
from deepcredit.data.io import writes_out
from deepcredit.service.config import Settings
from deepcredit.service.context import ServiceContext, served_context
from deepcredit.service.events import overlay_source, served_generation
from deepcredit.service.pseudodata import ROW_GROUP, quoted_path, raw_references, without_erased
from deepcredit.service.scoring import Overlay, ScopedDataset
from deepcredit.service.store.models import Meta

ORDER = {"people": "person_id", "events": "person_id, ts", "relations": "source, target",
         "relations_by_target": "target, source"}
"""Row order per table, as the served copy keeps it (pseudodata.py): one person's rows in few row groups."""


@dataclass(frozen=True)
class Snapshot:
    data: Dataset
    as_of: datetime
    reported_events: int
    """Events merchants reported to the service (less those a dispute removed)."""
    corrected_events: int
    """Records of the data set that an accepted dispute corrected or removed."""
    corrected_details: int
    """Profile details corrected by accepted disputes."""
    erased: int
    """People an operator erased (left out of every table)."""


def write_snapshot(settings: Settings, out: Path) -> Snapshot:
    """Write what the service `serve-init` set up holds now to `out`; audited."""
    with served_context(settings) as (ctx, meta):
        return snapshot(ctx, Dataset(meta["data_dir"]), out)


@writes_out  # from the check to the audit row: a second writer of `out` is refused at once
def snapshot(ctx: ServiceContext, served: Dataset, out: Path) -> Snapshot:
    """The served copy `served` with the service's overlay read in, written to `out` as of the clock's now."""
    out = Path(out)
    check_replaceable(out)
    if raw := raw_references(served):  # a snapshot is shipped to batch jobs: no raw id goes with it
        raise ValueError(f"the service's data copy keeps raw ids in {', '.join(raw)} (written by an earlier "
                         "DeepCredit): run `deepcredit serve-init` again to rewrite it, then take the snapshot")
    now = ctx.now()
    with ctx.db.read() as s:  # before the copy is read: a copy written since is of a later generation
        generation = served_generation(s)
    overlay = overlay_source(ctx.db, ctx.now)(None)
    data = write_overlaid(served, overlay, out, now)
    done = Snapshot(data, now, len(overlay.events), len(overlay.corrections), len(overlay.attributes),
                    len(overlay.erased))
    try:
        with ctx.db.write() as s:  # score_import reads it: when, and from what was served (the copy, the model)
            s.merge(Meta(key=snapshot_key(data.fingerprint()),
                         value=json.dumps({"written": now.isoformat(), "generation": generation})))
            ctx.audit.append(s, now, "operator", "data_snapshot_written", None,
                             people=data.persons(), reported_events=done.reported_events,
                             corrected_events=done.corrected_events, corrected_details=done.corrected_details,
                             erased=done.erased)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # personal data written without its audit row does not stay
        raise
    return done


def snapshot_key(fingerprint: str) -> str:
    """The service_meta key recording when the snapshot with this data fingerprint was written."""
    return f"snapshot {fingerprint[:48]}"


@dataclass(frozen=True)
class Written:
    """What the service recorded when it wrote a snapshot (snapshot_key)."""

    at: datetime
    generation: str | None
    """The generation of what was served (events.GENERATION) the snapshot was written from; None for one
    written by a DeepCredit that did not record it."""


def written_snapshot(s: Session, fingerprint: str) -> Written | None:
    """When this service wrote the snapshot with this data fingerprint, and from what; None if it wrote none."""
    row = s.get(Meta, snapshot_key(fingerprint))
    if row is None:
        return None
    if not row.value.startswith("{"):  # an earlier DeepCredit recorded the time alone
        return Written(datetime.fromisoformat(row.value), None)
    value = json.loads(row.value)
    return Written(datetime.fromisoformat(value["written"]), value["generation"])


def write_overlaid(served: Dataset, overlay: Overlay, out: Path, as_of: datetime) -> Dataset:
    """`served` with `overlay` applied, as a data set at `out` dated `as_of` (staged, then renamed)."""
    con = new_connection()
    sources = ScopedDataset(served, None, overlay).sources(con)
    kept = {t: _columns(con, f"SELECT * FROM {served.scan(t)}") for t in sources}  # not the overlay's own
    opts = f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP})"
    staging = staging_dir(out)
    try:
        for name, sql in sources.items():
            columns = ", ".join(f'"{c}"' for c in kept[name])
            con.execute(f"COPY (SELECT {columns} FROM ({sql}) ORDER BY {ORDER[name]}) "
                        f"TO {quoted_path(staging / f'{name}.parquet')} {opts}")
        for name in ["outcomes", *served.manifest.extras]:  # as they are, less the rows of erased people
            relation = f"SELECT * FROM read_parquet({quoted_path(staging / 'relations.parquet')})" \
                if name == "relations_by_target" else f"SELECT * FROM {served.scan(name)}"
            if overlay.erased:
                relation = without_erased(relation, name, _columns(con, relation))
            order = f" ORDER BY {ORDER[name]}" if name in ORDER else ""
            con.execute(f"COPY ({relation}{order}) TO {quoted_path(staging / f'{name}.parquet')} {opts}")
        con.close()
        return finalize_dataset(staging, out, name=f"{served.name}-as-held",
                                snapshot_date=str(as_of.date()),
                                description=f"{served.name} with what the service held on {as_of:%Y-%m-%d %H:%M}: "
                                            "reported outcomes, corrections from disputes, retention and erasures applied",
                                extras=tuple(served.manifest.extras), spec=served.spec,
                                time_zone=served.manifest.time_zone)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()]
