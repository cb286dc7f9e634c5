"""Schema versions of the service database, kept with Alembic, so an upgrade never loses its records.

The database holds what must outlive any release: consents, decisions, disputes and the hash-chained audit
log. A new empty database is created from the tables (models.py) and stamped with the current revision.
An existing one is served only at that revision: one behind (made by an older DeepCredit) is refused until
`deepcredit serve-upgrade` runs the migrations in migrations/versions; one ahead (a newer DeepCredit) is
refused outright. A database made before schema versions existed is adopted by the upgrade: Alembic
compares it with the tables; missing tables and nullable columns are added (an added column whose value
follows from the rows held is filled as its migration fills it: FILLS) and short text columns widened,
and any other difference stops the upgrade with the list, so nothing is changed by guesswork.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Engine, String, inspect, text

from deepcredit.service.store import public_ids
from deepcredit.service.store.models import Base

MIGRATIONS = Path(__file__).with_name("migrations")


Ref = tuple[str, str, str]
"""Where the service stored a row's old id as a reference: table, column, and the text around the id."""


def _draw_public_ids(table: str, new: Callable[[], str], old: str = "%s", refs: tuple[Ref, ...] = ()
                     ) -> Callable[[Connection], None]:
    """A fill: a fresh public id for every row of `table`, and its old id (`old` % row key) rewritten to it in
    each of `refs` (a reference to a row no longer held is left as it was)."""

    def fill(con: Connection) -> None:
        drawn = {i: new() for i in con.execute(text(f"SELECT id FROM {table}")).scalars()}
        if drawn:
            con.execute(text(f"UPDATE {table} SET public_id = :p WHERE id = :i"),
                        [{"p": p, "i": i} for i, p in drawn.items()])
        for where, column, around in refs:
            moved = {around % (old % i): around % p for i, p in drawn.items()}
            held = con.execute(text(f"SELECT id, {column} FROM {where} WHERE {column} LIKE :p"),
                               {"p": around % (old % "%")}).all()
            changed = [{"i": i, "v": moved[v]} for i, v in held if v in moved]
            if changed:
                con.execute(text(f"UPDATE {where} SET {column} = :v WHERE id = :i"), changed)

    return fill


FILLS: dict[tuple[str, str], str | Callable[[Connection], None]] = {
    ("consents", "used_at"): "UPDATE consents SET used_at = (SELECT min(d.created_at) FROM decisions d "
                             "WHERE d.consent_id = consents.id) WHERE mode = 'per_order'",
    ("decisions", "public_id"): _draw_public_ids("decisions", public_ids.new_decision),
    ("service_events", "public_id"): _draw_public_ids(
        "service_events", public_ids.new_event, "s%s", (("disputes", "event_ref", "%s"),
                                                        ("event_corrections", "event_ref", "%s"),
                                                        ("score_history", "cause", "event %s reported"))),
    ("disputes", "public_id"): _draw_public_ids("disputes", public_ids.new_dispute, "%s",
                                                (("score_history", "cause", "dispute %s corrected"),)),
    ("consents", "public_id"): _draw_public_ids("consents", public_ids.new_consent),
    ("policies", "public_id"): _draw_public_ids("policies", public_ids.new_policy),
    ("webhooks", "public_id"): _draw_public_ids("webhooks", public_ids.new_webhook),
    ("webhook_deliveries", "public_id"): _draw_public_ids("webhook_deliveries", public_ids.new_delivery)}
"""(table, column) -> the statement (or function) that fills the column from the rows already held, run when an
adoption adds it (as the migration that added it does: s0005, s0006; a migration keeps its own copy, as
released)."""


class SchemaMismatch(RuntimeError):
    """The database is not at the schema this DeepCredit serves; the message says what to do."""


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade` did: the revision before (None: not versioned) and after, and each change made."""

    before: str | None
    after: str
    changes: tuple[str, ...]


def _alembic(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The revision this DeepCredit's tables are at."""
    rev = ScriptDirectory.from_config(_alembic()).get_current_head()
    assert rev is not None
    return rev


def current(engine: Engine) -> str | None:
    """The database's revision (None when it has none: empty, or made before schema versions)."""
    with engine.connect() as con:
        return MigrationContext.configure(con).get_current_revision()


def is_empty(engine: Engine) -> bool:
    """No table of the service exists yet."""
    return not set(inspect(engine).get_table_names()) & set(Base.metadata.tables)


def create(engine: Engine) -> None:
    """The tables in an empty database, stamped with the current revision, in one transaction."""
    with engine.begin() as con:
        Base.metadata.create_all(con)
        command.stamp(_alembic(con), "head")


def check(engine: Engine) -> None:
    """Raise SchemaMismatch unless the database is at this DeepCredit's revision."""
    rev, want = current(engine), head()
    if rev == want:
        return
    where = engine.url.render_as_string(hide_password=True)
    if rev is None:
        raise SchemaMismatch(f"the database at {where} was made by a DeepCredit before schema versions: back it "
                             "up, then run `deepcredit serve-upgrade`")
    if rev not in {s.revision for s in ScriptDirectory.from_config(_alembic()).walk_revisions()}:
        raise SchemaMismatch(f"the database at {where} is at schema {rev}, made by a newer DeepCredit than this "
                             f"one (schema {want}): serve it with that version")
    raise SchemaMismatch(f"the database at {where} is at schema {rev}; this DeepCredit needs {want}: back it up, "
                         "then run `deepcredit serve-upgrade`")


def _widens(old: object, new: object) -> bool:
    return isinstance(old, String) and isinstance(new, String) and (old.length or 0) <= (new.length or 1 << 30)


def _bare(column: Column) -> Column:
    """A column to add without the index it declares: that comes as a difference of its own (add_index)."""
    copy = column._copy()
    copy.index = copy.unique = None
    return copy


def _adopt(con: Connection) -> list[str]:
    """Bring a database made before schema versions to the tables, or raise with what differs. Every change
    is planned before any is made (SQLite runs DDL outside transactions, so a refusal must come first)."""
    context = MigrationContext.configure(con, opts={"compare_type": True})
    ops = Operations(context)
    diffs = [d[0] if isinstance(d, list) else d for d in compare_metadata(context, Base.metadata)]
    created = {d[1].name for d in diffs if d[0] == "add_table"}
    plan: list[tuple[str, Callable[[], object]]] = []
    fills: list[tuple[str, Callable[[], object]]] = []
    refused = []
    for change in diffs:  # a column's changes come as a list: its first says what it is
        kind = change[0]
        if kind == "add_table":
            plan.append((f"created table {change[1].name}", partial(change[1].create, con)))
        elif kind == "add_index":
            if change[1].table.name not in created:  # a new table brings its own indexes
                plan.append((f"created index {change[1].name}", partial(change[1].create, con)))
        elif kind == "add_column" and change[3].nullable:
            plan.append((f"added column {change[2]}.{change[3].name}",
                         partial(ops.add_column, change[2], _bare(change[3]))))
            fill = FILLS.get((change[2], change[3].name))
            if fill is not None:  # once every table is there
                fills.append((f"filled {change[2]}.{change[3].name} from the rows held",
                              partial(con.exec_driver_sql, fill) if isinstance(fill, str) else partial(fill, con)))
        elif kind == "modify_type" and _widens(change[5], change[6]):
            widen = partial(ops.alter_column, change[2], change[3], type_=change[6], existing_type=change[5])
            plan.append((f"widened {change[2]}.{change[3]} to {change[6]}",
                         widen if con.dialect.name != "sqlite" else lambda: None))  # SQLite: lengths not enforced
        else:
            refused.append(str(change))
    if refused:
        raise SchemaMismatch("the database differs from this DeepCredit's tables in ways an upgrade does not guess "
                             "at; nothing was changed: " + "; ".join(refused))
    plan += fills
    for _, step in plan:
        step()
    return [what for what, _ in plan]


def upgrade(engine: Engine) -> Upgrade:
    """Migrate the database to this DeepCredit's schema in one transaction, adopting one made before schema
    versions (its DDL is transactional on PostgreSQL; SQLite's ALTER TABLE too)."""
    if is_empty(engine):
        raise SchemaMismatch("the database is empty: `deepcredit serve-init` creates it")
    before, want = current(engine), head()
    with engine.connect() as con:
        sqlite = con.dialect.name == "sqlite"
        if sqlite:  # see _keys_checked_at_the_end
            con.exec_driver_sql("PRAGMA foreign_keys=OFF")
            con.commit()
        try:
            with con.begin():
                cfg = _alembic(con)
                if before is None:
                    changes = _adopt(con)
                    command.stamp(cfg, "head")
                else:
                    command.upgrade(cfg, "head")
                    changes = [f"migrated from schema {before}"] if before != want else []
                if sqlite:
                    _keys_checked_at_the_end(con)
        finally:
            if sqlite:
                con.exec_driver_sql("PRAGMA foreign_keys=ON")
                con.commit()
    return Upgrade(before, want, tuple(changes))


def _keys_checked_at_the_end(con: Connection) -> None:
    """SQLite rebuilds a table to alter it (batch mode: copy, drop, rename), and dropping a table other rows
    refer to fails while foreign keys are enforced: so they are off during the upgrade (SQLite's documented
    procedure, which the pragma allows only outside a transaction) and every key is checked before the commit."""
    broken = con.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise SchemaMismatch(f"the upgrade would leave {len(broken)} rows referring to rows that do not exist "
                             f"(in {', '.join(sorted({str(r[0]) for r in broken}))}); nothing was committed")
