"""The schema of the first release with schema versions: the tables of models.py as of 2026-12-03.

A database made before it is adopted by schema.upgrade (compared with the tables, then stamped), not by
this script, so it has nothing to run. Later revisions add their changes below it
(`alembic revision -m "..."` with script_location set to this folder, or by hand).
"""

revision = "s0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
