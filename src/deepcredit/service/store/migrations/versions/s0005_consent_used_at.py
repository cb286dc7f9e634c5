"""A per-order consent's one use is recorded on the consent (consents.used_at), no longer read from the
decisions: two simultaneous decisions under it could both pass a check of the decisions, and deleting old
decisions would make a spent consent active again. A decision now claims the consent with a conditional
UPDATE in its own transaction (service/consent.py: claim).

Existing rows are kept as they are: each per-order consent a decision names is marked used at its first
decision's time. A consent that two or more decisions were already made under (the race this schema closes)
keeps all of them (they are the record of what was disclosed, and the audit log names them); it is marked
used like the others, so no further decision is made under it.
"""

import sqlalchemy as sa
from alembic import op

revision = "s0005"
down_revision = "s0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consents", sa.Column("used_at", sa.DateTime, nullable=True))
    op.execute("UPDATE consents SET used_at = (SELECT min(d.created_at) FROM decisions d "
               "WHERE d.consent_id = consents.id) WHERE mode = 'per_order'")


def downgrade() -> None:
    with op.batch_alter_table("consents", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("used_at")
