"""The rows a run scores: the outcomes' own rows, or every person once as of a date.

Why one module: `score --as-of`, `features --as-of` and `explain --as-of` must read the same persons. Where
a data set declares attribute history (`[profile] valid_from`), its people table holds one row per profile
VERSION; a spine taken from those rows listed a person once per version, so a person whose income changed
was scored twice. Here a person is one row whatever their history, and which version a row reads is left
to the feature engine (features.sources): the latest one valid strictly before the as-of date, none for a
person whose first version starts later (their profile then reads missing, as it does in training).
"""

from __future__ import annotations

import pandas as pd

from deepcredit.data.dataset import Dataset


def spine_sql(as_of: object | None) -> str:
    """The rows to score, in SQL both engines (DuckDB, Spark) run: the outcomes' rows, or every person
    (each once, however many profile versions they have) as of a date."""
    if as_of is None:
        return "SELECT person_id, as_of, CAST(label AS INT) AS label FROM outcomes"
    return (f"SELECT DISTINCT person_id, TIMESTAMP '{pd.Timestamp(as_of)}' AS as_of, CAST(NULL AS INT) AS label "
            "FROM people")


def as_of_spine(dataset: Dataset, as_of: object, person: str | None = None) -> pd.DataFrame:
    """spine_sql(as_of) as a frame (person_id, as_of), sorted by person: every person, or only `person`."""
    con = dataset.connect()
    try:
        where, params = ("WHERE person_id = ?", [person]) if person is not None else ("", [])
        frame = con.execute(f"SELECT person_id, as_of FROM ({spine_sql(as_of)}) s {where} ORDER BY person_id",
                            params).df()
    finally:
        con.close()
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
    return frame
