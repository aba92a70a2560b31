"""The litellm completer against a tiny OpenAI-compatible server on 127.0.0.1 (and a flaky custom provider):
retries with backoff, clear errors, streaming, and one llm_calls row per attempt with no API key in it."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.models.completer import LLMError, TransientLLMError, messages_sha
from assistant.models.litellm_completer import LiteLLMCompleter
from tests.test_runs_cli import cli_env  # noqa: F401 - the fixture

SECRET = "sk-test-SECRETVALUE1234567890"
MESSAGES = [{"role": "system", "content": "Answer from the sources."}, {"role": "user", "content": "Which lock? [1]"}]


class FakeOpenAI:
    """Answers POST /v1/chat/completions from a script: an int is an error status, a float a delay in seconds
    before answering, a str the reply. Records each request."""

    def __init__(self, script):
        self.script = list(script)
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                step = owner.script.pop(0) if owner.script else 500
                if isinstance(step, float):
                    time.sleep(step)
                    step = "late"
                if step == "<html>":  # a proxy's error page with a 200 status
                    data = b"<html><body>Bad gateway, try later</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    return self.wfile.write(data)
                if step == "<truncated>" and body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    return self.wfile.write(b'data: {"id": "c1", "object": "chat.completion.chunk", "choi')
                if isinstance(step, int):
                    return owner._json(self, step, {"error": {
                        "message": f"status {step}; Incorrect API key provided: {SECRET}" if step == 401
                        else f"status {step}", "type": "server_error"}})
                if body.get("stream"):
                    return owner._stream(self, step, body)
                return owner._json(self, 200, {
                    "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": step},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 17, "completion_tokens": 5, "total_tokens": 22}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _json(handler, status, payload):
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _stream(handler, text, body):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()

        def send(obj):
            handler.wfile.write(f"data: {json.dumps(obj)}\n\n".encode())
            handler.wfile.flush()

        base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
        for word in text.split(" "):
            send(dict(base, choices=[{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]))
        send(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        if (body.get("stream_options") or {}).get("include_usage"):
            send(dict(base, choices=[], usage={"prompt_tokens": 17, "completion_tokens": 4, "total_tokens": 21}))
        handler.wfile.write(b"data: [DONE]\n\n")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server_factory(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    made = []

    def make(script):
        made.append(FakeOpenAI(script))
        return made[-1]

    yield make
    for s in made:
        s.close()


def completer(server, db=None, retries=3, timeout=10.0):
    return LiteLLMCompleter("openai/test-model", api_base=server.url, retries=retries, timeout=timeout, db=db,
                            backoff=0.01, backoff_max=0.05)


def llm_rows(db):
    with db.connection() as conn:
        cur = conn.execute("SELECT * FROM llm_calls ORDER BY id")
        names = [d.name for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def test_transient_errors_are_retried_then_succeed(server_factory, db):
    server = server_factory([503, 502, "Use ZooKeeper [1]."])
    result = completer(server, db).complete(MESSAGES, temperature=0.0, max_tokens=50, seed=7, purpose="answer")
    assert result.text == "Use ZooKeeper [1]." and result.attempts == 3
    assert result.prompt_tokens == 17 and result.completion_tokens == 5
    assert len(result.extra["errors"]) == 2
    # exactly three requests: no retry layer hidden below ours
    assert len(server.requests) == 3
    body = server.requests[-1]["body"]
    assert body["messages"] == MESSAGES and body["temperature"] == 0.0 and body["max_tokens"] == 50
    assert body["seed"] == 7
    # the key came from the environment, as the provider expects
    assert server.requests[0]["auth"] == f"Bearer {SECRET}"

    rows = llm_rows(db)
    assert [r["options"]["attempt"] for r in rows] == [1, 2, 3]
    assert [r["error"] is not None for r in rows] == [True, True, False]
    assert all(r["model"] == "openai/test-model" and r["purpose"] == "answer" for r in rows)
    assert all(r["messages_sha"] == messages_sha(MESSAGES) for r in rows)
    assert rows[-1]["prompt_tokens"] == 17 and rows[-1]["completion_tokens"] == 5
    assert rows[-1]["latency_ms"] > 0 and rows[-1]["options"]["temperature"] == 0.0
    assert SECRET not in json.dumps(rows, default=str)


def test_persistent_failure_gives_a_clear_error(server_factory, db):
    server = server_factory([503] * 10)
    with pytest.raises(LLMError) as info:
        completer(server, db, retries=3).complete(MESSAGES)
    message = str(info.value)
    assert not isinstance(info.value, TransientLLMError)
    assert "openai/test-model" in message and "gave up after 3 attempt" in message
    assert "127.0.0.1" in message and "ServiceUnavailable" in message
    assert len(server.requests) == 3
    assert [r["error"] is not None for r in llm_rows(db)] == [True, True, True]


def test_authentication_error_is_not_retried_and_hides_the_key(server_factory, db):
    server = server_factory([401, "never reached"])
    with pytest.raises(LLMError) as info:
        completer(server, db).complete(MESSAGES)
    assert "API key" in str(info.value) and SECRET not in str(info.value)
    assert len(server.requests) == 1
    assert SECRET not in json.dumps(llm_rows(db), default=str)


def test_timeout_counts_as_transient(server_factory):
    server = server_factory([1.5, 1.5, "late"])
    with pytest.raises(LLMError, match="gave up after 2 attempt"):
        completer(server, retries=2, timeout=0.3).complete(MESSAGES)
    assert len(server.requests) == 2


def test_streaming_sends_pieces_as_they_come(server_factory, db):
    server = server_factory(["etcd leases work [2]."])
    pieces = []
    result = completer(server, db).complete(MESSAGES, on_token=pieces.append)
    assert len(pieces) == 4 and "".join(pieces) == result.text
    assert result.first_token_seconds is not None and result.first_token_seconds <= result.seconds
    assert server.requests[0]["body"]["stream"] is True
    assert result.completion_tokens == 4
    assert llm_rows(db)[0]["options"]["stream"] is True


def test_an_error_in_on_token_is_the_callers_and_not_retried(server_factory):
    server = server_factory(["a b c", "a b c"])

    def boom(piece):
        raise KeyError("display closed")

    with pytest.raises(KeyError):
        completer(server).complete(MESSAGES, on_token=boom)
    assert len(server.requests) == 1


class _Flaky:
    """A litellm custom provider that fails `failures` times with 503, then answers (or breaks mid-stream)."""

    def __new__(cls, failures: int, break_stream: bool = False):
        from litellm import CustomLLM
        from litellm.llms.custom_llm import CustomLLMError

        class Flaky(CustomLLM):
            calls = 0

            def completion(self, model, messages, api_base, custom_prompt_dict, model_response, *a, **kw):
                Flaky.calls += 1
                if Flaky.calls <= failures:
                    raise CustomLLMError(503, "warming up")
                model_response.choices[0].message.content = "ok [1]"
                return model_response

            def streaming(self, *a, **kw):
                Flaky.calls += 1
                yield {"text": "partial ", "is_finished": False, "finish_reason": "", "usage": None, "index": 0}
                if break_stream:
                    raise CustomLLMError(503, "connection reset")
                yield {"text": "", "is_finished": True, "finish_reason": "stop", "usage": None, "index": 0}

        return Flaky()


@pytest.fixture
def flaky_provider():
    import litellm

    saved = list(litellm.custom_provider_map)

    def register(handler):
        litellm.custom_provider_map = saved + [{"provider": "flaky-test", "custom_handler": handler}]
        return handler

    yield register
    litellm.custom_provider_map = saved


def test_custom_provider_transient_then_success(flaky_provider):
    handler = flaky_provider(_Flaky(failures=2))
    result = LiteLLMCompleter("flaky-test/m", retries=3, backoff=0.01).complete(MESSAGES)
    assert result.text == "ok [1]" and result.attempts == 3 and type(handler).calls == 3


def test_stream_broken_after_output_is_not_retried(flaky_provider):
    handler = flaky_provider(_Flaky(failures=0, break_stream=True))
    pieces = []
    with pytest.raises(LLMError, match="stream broke"):
        LiteLLMCompleter("flaky-test/m", retries=3, backoff=0.01).complete(MESSAGES, on_token=pieces.append)
    # a retry would have printed the partial answer twice
    assert pieces == ["partial "] and type(handler).calls == 1


def test_unknown_provider_is_a_clear_error():
    with pytest.raises(LLMError, match="unknown model string|model"):
        LiteLLMCompleter("no-such-provider-xyz/model", retries=1).complete(MESSAGES)


def test_llm_calls_made_during_a_run_point_at_the_run(server_factory, db, settings, fake_embedder, tmp_path):
    from assistant.pipeline import AskOptions, ask
    from assistant.services import Services
    from tests.kb import ingest_texts

    ingest_texts(db, fake_embedder, settings, tmp_path,
                 {"zk.md": "# ZooKeeper lock\n\nEphemeral sequential znodes, no Redis."})
    server = server_factory(["Use ZooKeeper [1].", "outside any run"])
    services = Services(settings, db=db, embedder=fake_embedder, completer=completer(server, db=db))
    run = ask("lock without Redis", AskOptions(strategy="none", context_k=1), services, lambda e: None)
    completer(server, db=db).complete(MESSAGES)
    rows = llm_rows(db)
    assert [(r["purpose"], r["run_id"]) for r in rows] == [("answer", run.id), ("answer", None)]


@pytest.mark.parametrize("bad, stream", [("<html>", False), ("", False), ("<truncated>", True), ("", True)])
def test_an_empty_or_unparseable_reply_is_retried_then_an_error(bad, stream, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server = FakeOpenAI([bad, bad])
    try:
        comp = LiteLLMCompleter("openai/fake", api_base=server.url, retries=2, backoff=0.01, timeout=10)
        with pytest.raises(LLMError, match="empty or unparseable|gave up"):
            comp.complete(MESSAGES, on_token=(lambda t: None) if stream else None)
        assert len(server.requests) == 2
    finally:
        server.close()


def test_an_empty_reply_then_a_good_one_is_the_good_one(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server = FakeOpenAI(["", "The lease lock [1]."])
    try:
        comp = LiteLLMCompleter("openai/fake", api_base=server.url, retries=3, backoff=0.01, timeout=10)
        got = comp.complete(MESSAGES)
        assert got.text == "The lease lock [1]." and got.attempts == 2
    finally:
        server.close()


@pytest.mark.parametrize("stream", [False, True])
def test_a_server_that_never_answers_fails_fast_and_is_tried_twice(stream, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server = FakeOpenAI([3.0, 3.0, 3.0])  # accepts, then sends nothing for 3 s
    try:
        comp = LiteLLMCompleter("openai/fake", api_base=server.url, retries=3, backoff=0.01, timeout=0.6 if not stream
                                else 120, first_token_timeout=0.6, connect_timeout=0.5)
        # Without the first-byte timeout the server's late reply (after 3 s) would be the answer.
        with pytest.raises(LLMError, match="no reply within 0.6 s"):
            comp.complete(MESSAGES, on_token=(lambda p: None) if stream else None)
        assert len(server.requests) == 2  # two timeouts end it, not llm_retries (3)
    finally:
        server.close()


def test_verbose_errors_and_logs_never_show_the_key(cli_env, db, use_embedder, tmp_path, capsys, monkeypatch):  # noqa: F811
    from assistant.cli import main
    from tests.kb import ingest_texts

    ingest_texts(db, use_embedder, cli_env, tmp_path / "docs", {"zk.md": "# ZooKeeper lock\n\nEphemeral znodes."})
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server = FakeOpenAI([401])
    try:
        monkeypatch.setenv("ASSISTANT_LLM_MODEL", "openai/fake")
        monkeypatch.setenv("ASSISTANT_LLM_API_BASE", server.url.replace("http://", f"http://bob:{SECRET[:12]}pw@"))
        assert main(["-v", "ask", "which lock?", "--rerank", "none"]) == 2
    finally:
        server.close()
    out = capsys.readouterr()
    both = out.out + out.err
    assert "Traceback" in both and "credentials" in both  # verbose did print the traceback
    assert SECRET not in both and SECRET[:12] not in both
