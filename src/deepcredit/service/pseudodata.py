"""The service's own copy of a data set: person ids replaced by their pseudonyms, protected attributes dropped.

The copy keeps the data set's spec (less the dropped attributes), so a data set its user declared is read
by the service with the same meanings, texts and features as by training.

Why a copy: the service never holds a raw person id, so the data it scores from must be keyed the way its
requests are (HMAC of the id). The copy is also the place to minimise: protected attributes the model does
not read are left out, and every event gets a stable `event_id` ('b1', 'b2', ... in (person, time) order)
so that a person can dispute it. Events are sorted by person, and relations are stored twice (by source,
and as the extra table `relations_by_target` by target), so DuckDB reads one person's rows from a few
Parquet row groups (their min/max statistics) instead of whole tables.

Everything streams through DuckDB into a staging directory that is renamed into place (data.dataset), so
a crash leaves the previous copy intact.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from deepcredit.data.dataset import Dataset, finalize_dataset, staging_dir
from deepcredit.data.schema import PROTECTED_ATTRIBUTES
from deepcredit.service.privacy import Pseudonymiser

ROW_GROUP = 8192


def quoted_path(path: Path) -> str:
    """A file path as a DuckDB string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def pseudonymise_dataset(src: Dataset, out: Path, pseudonym: Pseudonymiser,
                         keep_protected: Iterable[str] = ()) -> Dataset:
    """Write `src` to `out` keyed by pseudonyms; returns the new Dataset."""
    out = Path(out)
    con = src.connect()
    raw = [r[0] for r in con.execute(
        "SELECT person_id FROM people UNION SELECT person_id FROM events UNION SELECT person_id FROM outcomes "
        "UNION SELECT source FROM relations UNION SELECT target FROM relations").fetchall()]
    con.register("_ids", pa.table({"raw": pa.array([str(r) for r in raw], pa.string()),
                                   "pid": pa.array([pseudonym(str(r)) for r in raw], pa.string())}))
    people_cols = [r[0] for r in con.execute("DESCRIBE people").fetchall()]
    protected = {*src.spec.protected, *PROTECTED_ATTRIBUTES}  # what the data set's spec declares protected
    drop = [c for c in people_cols if c in protected and c not in set(keep_protected)]
    exclude = ", ".join(["person_id", *drop])
    event_cols = [r[0] for r in con.execute("DESCRIBE events").fetchall()]
    spec = src.spec.restricted([c for c in people_cols if c not in drop], event_cols)
    staging = staging_dir(out)
    opts = f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP})"
    try:
        con.execute(f"""COPY (SELECT m.pid AS person_id, p.* EXCLUDE ({exclude})
                              FROM people p JOIN _ids m ON m.raw = CAST(p.person_id AS VARCHAR) ORDER BY 1)
                        TO {quoted_path(staging / "people.parquet")} {opts}""")
        con.execute(f"""COPY (SELECT *, 'b' || CAST(row_number() OVER (ORDER BY person_id, ts, kind, status, amount)
                                                   AS VARCHAR) AS event_id
                              FROM (SELECT m.pid AS person_id, e.* EXCLUDE (person_id)
                                    FROM events e JOIN _ids m ON m.raw = CAST(e.person_id AS VARCHAR)) x
                              ORDER BY person_id, ts)
                        TO {quoted_path(staging / "events.parquet")} {opts}""")
        con.execute(f"""COPY (SELECT s.pid AS source, t.pid AS target, r.* EXCLUDE (source, target)
                              FROM relations r JOIN _ids s ON s.raw = CAST(r.source AS VARCHAR)
                              JOIN _ids t ON t.raw = CAST(r.target AS VARCHAR) ORDER BY 1, 2)
                        TO {quoted_path(staging / "relations.parquet")} {opts}""")
        con.execute(f"""COPY (SELECT * FROM read_parquet({quoted_path(staging / "relations.parquet")}) ORDER BY target, source)
                        TO {quoted_path(staging / "relations_by_target.parquet")} {opts}""")
        con.execute(f"""COPY (SELECT m.pid AS person_id, o.* EXCLUDE (person_id)
                              FROM outcomes o JOIN _ids m ON m.raw = CAST(o.person_id AS VARCHAR) ORDER BY 1, 2)
                        TO {quoted_path(staging / "outcomes.parquet")} {opts}""")
        con.close()
        return finalize_dataset(staging, out, name=f"{src.name}-pseudonymised",
                                snapshot_date=src.manifest.snapshot_date,
                                description=f"{src.name} keyed by HMAC-SHA256 pseudonyms for the scoring service; "
                                            f"source fingerprint {src.fingerprint()}",
                                extras=("relations_by_target",), spec=spec, time_zone=src.manifest.time_zone)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
