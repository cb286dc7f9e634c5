"""A person whose own record changed (a reported event, a corrected dispute) is listed in pending_rescores in
the transaction that stores the change, with the cause of their re-score (pending_rescores.cause), so a crash
between that commit and the re-score no longer loses it (service/neighbours.py). The rows held are connections
waiting for theirs: they get none (NULL) and are re-scored as before."""

import sqlalchemy as sa
from alembic import op

revision = "s0009"
down_revision = "s0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pending_rescores", sa.Column("cause", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pending_rescores") as batch:
        batch.drop_column("cause")
