"""A reported outcome may say what was paid of what was owed (service_events.amount_paid: a rental fee of 50 of
which 20 was paid before the write-off, a late instalment paid 80 of 100), so the service stores the payment
ingest would store for the same ledger row (its paid_amount; ledger.with_payments), not only in full or
nothing. Existing rows are kept as they are, with none (NULL): what they said before, read as before."""

import sqlalchemy as sa
from alembic import op

revision = "s0008"
down_revision = "s0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("service_events", sa.Column("amount_paid", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service_events", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("amount_paid")
