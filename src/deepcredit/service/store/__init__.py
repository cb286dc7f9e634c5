"""Storage through SQLAlchemy: the tables (models), the ones about one person (people) and engines/sessions (db)."""

from deepcredit.service.store.db import Database

__all__ = ["Database"]
