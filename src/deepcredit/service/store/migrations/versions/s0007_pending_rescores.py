"""The connections waiting for a re-score after a person's record changed are kept in pending_rescores, not
only in the serving process's memory, so a restart or a crash no longer loses them (service/neighbours.py).
A database upgraded to it starts with none pending."""

import sqlalchemy as sa
from alembic import op

revision = "s0007"
down_revision = "s0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_rescores",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("queued_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pending_rescores")
