"""The remote strategy through litellm.rerank against a tiny Cohere-style /v1/rerank server on loopback."""
from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.rerank.base import RerankerUnavailable
from assistant.rerank.registry import available, build_reranker
from assistant.services import Services
from assistant.types import Candidate

QUERY = "distributed lock without Redis"
TEXTS = ["Redis SET NX lock with a token", "ZooKeeper ephemeral sequential znodes",
         "Redlock across Redis masters", "etcd lease-backed lock"]


def cands() -> list[Candidate]:
    return [Candidate(chunk_id=i, document_id=i, source=f"{i}.md", title=f"Doc {i}", heading="", text=t,
                      content_sha256=hashlib.sha256(t.encode()).hexdigest(), tokens=5, score=1 - i / 10, rank=i)
            for i, t in enumerate(TEXTS, start=1)]


class RerankServer:
    """Speaks Cohere's POST /v1/rerank: non-Redis passages score high. mode 'partial' drops a result."""

    def __init__(self):
        self.requests: list[dict] = []
        self.mode = "ok"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                docs = body["documents"]
                results = [{"index": i, "relevance_score": (0.1 if "redis" in str(d).lower() else 0.9) - i / 100}
                           for i, d in enumerate(docs)]
                results.sort(key=lambda r: -r["relevance_score"])
                if outer.mode == "partial":
                    results = results[:-1]
                payload = json.dumps({"id": "t", "results": results[: body.get("top_n") or None],
                                      "meta": {"billed_units": {"search_units": 1}}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = RerankServer()
    yield s
    s.close()


def _services(settings, db, fake_embedder, **changes):
    return Services(settings.replace(**changes), db=db, embedder=fake_embedder)


def test_remote_ranks_through_the_server_and_caches(settings, db, fake_embedder, server):
    services = _services(settings, db, fake_embedder, rerank_server_url=server.url + "/v1/rerank",
                         rerank_server_model="BAAI/bge-reranker-v2-m3")
    assert "remote" in available(services)
    reranker = build_reranker("remote", services)
    first = reranker.rerank(QUERY, cands())
    assert [r.chunk_id for r in first.ranked] == [2, 4, 1, 3]
    assert [round(r.score, 2) for r in first.ranked] == [0.89, 0.87, 0.1, 0.08]
    assert first.trace.reranker == "remote" and first.trace.model == "BAAI/bge-reranker-v2-m3"
    assert first.trace.scored == 4 and first.trace.fallback is None
    (req,) = server.requests
    assert req["path"] == "/v1/rerank"
    assert req["body"]["query"] == QUERY and req["body"]["model"] == "BAAI/bge-reranker-v2-m3"
    assert req["body"]["documents"][1].endswith(TEXTS[1]) and len(req["body"]["documents"]) == 4
    second = reranker.rerank(QUERY, cands(), top_k=2)
    assert len(server.requests) == 1 and second.trace.cache_hits == 4 and second.trace.scored == 0
    assert [r.chunk_id for r in second.ranked] == [2, 4]


def test_a_base_url_gets_the_cohere_v2_route(settings, db, fake_embedder, server):
    services = _services(settings, db, fake_embedder, rerank_server_url=server.url, rerank_server_model="bge",
                         rerank_cache=False)
    result = build_reranker("remote", services).rerank(QUERY, cands())
    assert [r.chunk_id for r in result.ranked] == [2, 4, 1, 3]
    assert server.requests[0]["path"] == "/v2/rerank"


def test_server_failures_fall_back_to_recall_order(settings, db, fake_embedder, server):
    services = _services(settings, db, fake_embedder, rerank_server_url=server.url, rerank_server_model="bge",
                         rerank_cache=False)
    reranker = build_reranker("remote", services)
    server.mode = "partial"
    result = reranker.rerank(QUERY, cands())
    assert [r.chunk_id for r in result.ranked] == [1, 2, 3, 4]
    assert "scored 3 of 4" in result.trace.fallback
    server.close()
    down = reranker.rerank(QUERY, cands())
    assert [r.chunk_id for r in down.ranked] == [1, 2, 3, 4]
    assert down.trace.fallback.startswith(f"rerank server {server.url} failed")


def test_remote_not_configured(settings, db, fake_embedder):
    services = _services(settings, db, fake_embedder)
    assert "remote" not in available(services)
    with pytest.raises(RerankerUnavailable, match="ASSISTANT_RERANK_SERVER_URL"):
        build_reranker("remote", services)
