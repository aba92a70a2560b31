"""A connection pool bound to one schema, with pgvector types registered and migrations applied."""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg_pool import ConnectionPool

from assistant.db.server import DatabaseError, embedded_server

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class Database:
    """A pool of connections whose search_path is `schema, public` (pgvector lives in public)."""

    def __init__(self, url: str, schema: str = "public", *, server=None, label: str | None = None,
                 min_size: int = 1, max_size: int = 4):
        if not _SCHEMA_RE.match(schema):
            raise DatabaseError(f"invalid schema name {schema!r}: use lower-case letters, digits and _")
        self.url = url
        self.schema = schema
        self.label = label or _redact(url)
        self._server = server  # keeps the embedded server alive while this object lives
        self._prepare()
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, configure=self._configure,
                                   open=False, kwargs={"autocommit": False})
        self.pool.open(wait=True, timeout=30)

    def _prepare(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                try:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except psycopg.errors.UniqueViolation:
                    pass  # two processes created it at the same moment
                except psycopg.Error as exc:
                    raise DatabaseError(
                        f"the database at {self.label} has no usable pgvector extension ({exc.diag.message_primary}). "
                        "Install pgvector on that server (https://github.com/pgvector/pgvector#installation) and "
                        "run `CREATE EXTENSION vector` as a superuser, or unset DATABASE_URL to use the embedded server."
                    ) from exc
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        except psycopg.OperationalError as exc:
            raise DatabaseError(
                f"cannot reach the database at {self.label}: {str(exc).strip().splitlines()[0]}. "
                "Check that the server is running and DATABASE_URL is right, or unset DATABASE_URL to use the "
                "embedded server."
            ) from exc

    def _configure(self, conn: psycopg.Connection) -> None:
        register_vector(conn)
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self.schema)))
        conn.commit()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; the block is one transaction (committed on success, rolled back on error)."""
        with self.pool.connection() as conn:
            yield conn

    def with_schema(self, schema: str) -> "Database":
        """Another pool on the same server bound to a different schema (eval datasets, tests)."""
        return Database(self.url, schema, server=self._server, label=self.label)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def database_url(settings) -> tuple[str, object | None, str]:
    """(url, server handle or None, label for people) for these settings."""
    if settings.database_url:
        return settings.database_url, None, _redact(settings.database_url)
    server = embedded_server(settings.pgdata)
    return server.get_uri(), server, f"embedded ({settings.pgdata})"


def open_database(settings, *, migrate: bool = True, schema: str | None = None) -> Database:
    """Connect as the settings say and bring the schema up to date."""
    url, server, label = database_url(settings)
    db = Database(url, schema or settings.schema, server=server, label=label)
    if migrate:
        from assistant.db.migrate import migrate as run_migrations
        run_migrations(db)
    return db
