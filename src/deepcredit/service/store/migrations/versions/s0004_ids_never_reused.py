"""Row ids are never reused: on SQLite every table with an integer surrogate key is rebuilt AUTOINCREMENT, so
the highest id of a deleted row (an erased person's newest decision, say) is not handed out again.

SQLite cannot add AUTOINCREMENT to a table in place: each is recreated (batch mode), its rows copied with
their ids and its indexes and constraints kept. Copying the rows seeds sqlite_sequence with the table's
highest id, so the next id continues after it (an id deleted before this upgrade and above every row left
cannot be known, and may still be given once). PostgreSQL's sequences never reuse an id: nothing to do.
schema.upgrade turns SQLite's foreign key checks off while tables are rebuilt and checks every key before
it commits (SQLite's documented way to alter a table).
"""

from alembic import op

revision = "s0004"
down_revision = "s0003"
branch_labels = None
depends_on = None

TABLES = ("merchants", "api_keys", "person_tokens", "policies", "threshold_changes", "consents", "decisions",
          "score_history", "service_events", "disputes", "event_corrections", "attribute_corrections", "audit_head",
          "webhooks", "webhook_deliveries")
"""Every table with an integer surrogate key (audit_log numbers its own rows, `seq`; it is never deleted from)."""


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TABLES:
        with op.batch_alter_table(name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
