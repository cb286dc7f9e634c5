"""Alembic's environment for the service database: run on the connection schema.py hands it."""

from alembic import context

from deepcredit.service.store.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
