"""Postgres + pgvector: the only store. All SQL of the program lives in this package."""
from assistant.db.connection import Database, DatabaseError, open_database

__all__ = ["Database", "DatabaseError", "open_database"]
