"""An operator may erase a person: erased_subjects records the pseudonyms whose rows of the served data set
are left out from then on (the data set itself is never edited)."""

import sqlalchemy as sa
from alembic import op

revision = "s0003"
down_revision = "s0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erased_subjects",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erased_subjects")
