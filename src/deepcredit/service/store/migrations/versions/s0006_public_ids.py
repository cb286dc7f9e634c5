"""Decisions, reported events, disputes, consents, policies, webhooks and webhook deliveries are known outside
the service by an opaque public id (`dec_…`, `evt_…`, `dsp_…`, `cns_…`, `pol_…`, `whk_…`, `dlv_…`), no longer
by their integer row keys: the keys count every merchant's (every person's) rows, so a merchant that was
handed them could count the other merchants' decisions, reports and policies, a person every consent and
webhook, a webhook receiver every delivery (store/public_ids.py says why the token is as long as it is).

Every existing row gets a fresh token, then the column's unique index. A reported event's old id ('s' and
its key) is rewritten to its new id wherever the service stored it as a reference: a dispute's event_ref, a
correction's event_ref (the scorer matches corrections to events by it) and the cause of a re-score it
triggered ("event s12 reported"); a dispute's in the cause of the re-score its correction triggered
("dispute 3 corrected"). A reference to an event no longer held (retired, erased) is left as it
was. A queued delivery's payload is left as it was: the webhook's and the delivery's ids are set in the body
when it is sent. The audit log is never rewritten (its rows are hash-chained): its old rows keep the old ids.
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "s0006"
down_revision = "s0005"
branch_labels = None
depends_on = None

TABLES = {"decisions": "dec_", "service_events": "evt_", "disputes": "dsp_", "consents": "cns_", "policies": "pol_",
          "webhooks": "whk_", "webhook_deliveries": "dlv_"}


def _token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(16)


def _rewrite(con, table: str, column: str, pattern: str, moves: dict[str, str], template: str) -> None:
    """Each `column` value of `table` that is template % an old id, as template % its new id (by row key, so
    one pass over the few rows that name an event)."""
    rows = con.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} LIKE :p"), {"p": pattern}).all()
    new = {template % ref: template % moves[ref] for ref in moves}
    changed = [{"i": i, "v": new[v]} for i, v in rows if v in new]
    if changed:
        con.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :i"), changed)


def _refs(con, events: dict[str, str], disputes: dict[str, str]) -> None:
    for table in ("disputes", "event_corrections"):
        _rewrite(con, table, "event_ref", "%", events, "%s")
    _rewrite(con, "score_history", "cause", "event % reported", events, "event %s reported")  # few: one per report
    _rewrite(con, "score_history", "cause", "dispute % corrected", disputes, "dispute %s corrected")


def _held(con, table: str) -> list[tuple[int, str]]:
    return [(i, p) for i, p in con.execute(sa.text(f"SELECT id, public_id FROM {table}"))]


def upgrade() -> None:
    con = op.get_bind()
    for table, prefix in TABLES.items():
        op.add_column(table, sa.Column("public_id", sa.String(40), nullable=True))
        ids = con.execute(sa.text(f"SELECT id FROM {table}")).scalars().all()
        if ids:
            con.execute(sa.text(f"UPDATE {table} SET public_id = :p WHERE id = :i"),
                        [{"p": _token(prefix), "i": i} for i in ids])
        op.create_index(f"ix_{table}_public_id", table, ["public_id"], unique=True)
    _refs(con, {f"s{i}": p for i, p in _held(con, "service_events")}, {str(i): p for i, p in _held(con, "disputes")})


def downgrade() -> None:
    con = op.get_bind()
    _refs(con, {p: f"s{i}" for i, p in _held(con, "service_events")}, {p: str(i) for i, p in _held(con, "disputes")})
    for table in TABLES:
        op.drop_index(f"ix_{table}_public_id", table)
        with op.batch_alter_table(table, table_kwargs={"sqlite_autoincrement": True}) as batch:
            batch.drop_column("public_id")
