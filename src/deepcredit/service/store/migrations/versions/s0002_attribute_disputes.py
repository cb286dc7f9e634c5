"""A person may dispute a profile attribute, not only an event: disputes name one or the other, and an
upheld one stores the corrected value beside the data (attribute_corrections), never by editing it."""

import sqlalchemy as sa
from alembic import op

revision = "s0002"
down_revision = "s0001"
branch_labels = None
depends_on = None

SUBJECT = sa.String(64)
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.alter_column("event_ref", existing_type=sa.String(40), nullable=True)
        batch.add_column(sa.Column("attribute", sa.String(64), nullable=True))
    op.create_table(
        "attribute_corrections",
        sa.Column("id", ID, primary_key=True),
        sa.Column("subject", SUBJECT, nullable=False),
        sa.Column("attribute", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("dispute_id", ID, sa.ForeignKey("disputes.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("subject", "attribute"),
    )
    op.create_index("ix_attribute_corrections_subject", "attribute_corrections", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_attribute_corrections_subject", "attribute_corrections")
    op.drop_table("attribute_corrections")
    op.execute("DELETE FROM disputes WHERE event_ref IS NULL")
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("attribute")
        batch.alter_column("event_ref", existing_type=sa.String(40), nullable=False)
