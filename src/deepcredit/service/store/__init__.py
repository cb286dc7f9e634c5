"""Storage through SQLAlchemy: the tables (models) and engines/sessions (db)."""

from deepcredit.service.store.db import Database

__all__ = ["Database"]
