"""The one place the product calls an LLM: litellm, with a timeout, retries on transient errors and a log row per
attempt. Any litellm model string works (openai/..., ollama/..., hosted_vllm/..., local/<bundled GGUF>); API keys
are read by litellm from the environment and never pass through or out of this module."""
from __future__ import annotations

import logging
import os
import time
from typing import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from assistant.models.completer import Completer, Completion, LLMError, Message, TransientLLMError, messages_sha
from assistant.redact import redact

log = logging.getLogger(__name__)

_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def import_litellm():
    """litellm, imported without touching the network and without its console chatter."""
    # Without this, importing litellm fetches a model price list from the network.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # it otherwise prints "Give Feedback / Get Help" on every error
    return litellm


def scrub(text: str) -> str:
    """Remove anything that looks like an API key, an Authorization header or a password in a URL."""
    return redact(text)


def _safe_url(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class _ConsumerError(Exception):
    """An exception raised by on_token: the caller's problem, never retried or blamed on the model."""


class LiteLLMCompleter(Completer):
    """Chat completions through litellm for one model string."""

    def __init__(self, model: str, *, api_base: str | None = None, timeout: float = 300.0, retries: int = 3,
                 db=None, can_rank: bool = True, backoff: float = 1.0, backoff_max: float = 20.0,
                 connect_timeout: float = 5.0, first_token_timeout: float = 60.0):
        self.model = model
        self.api_base = api_base
        self.timeout = timeout
        """Total seconds one streamed answer may take."""
        self.connect_timeout = connect_timeout
        self.first_token_timeout = first_token_timeout
        """Seconds to wait for the first byte (and between bytes) of a streamed reply."""
        self.retries = max(1, int(retries))
        self.db = db
        self.can_rank = can_rank
        self.backoff = backoff
        self.backoff_max = backoff_max

    def complete(self, messages: Sequence[Message], *, temperature: float | None = None,
                 max_tokens: int | None = None, seed: int | None = None,
                 on_token: Callable[[str], None] | None = None, purpose: str = "answer") -> Completion:
        """One chat completion, streamed to on_token when given; retried on transient errors, then LLMError."""
        litellm = import_litellm()
        messages = [dict(m) for m in messages]
        sha = messages_sha(messages)
        options = {k: v for k, v in {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}.items()
                   if v is not None}
        start = time.perf_counter()
        state = {"attempt": 0, "streamed": 0, "errors": []}
        retrying = Retrying(stop=stop_after_attempt(self.retries) | _timed_out_twice, reraise=True,
                            wait=wait_exponential(multiplier=self.backoff, max=self.backoff_max),
                            retry=retry_if_exception_type(TransientLLMError))
        try:
            for attempt in retrying:
                with attempt:
                    result = self._attempt(litellm, messages, options, on_token, purpose, sha, start, state)
        except _ConsumerError as exc:
            raise exc.__cause__ from None
        except TransientLLMError as exc:
            raise LLMError(f"{exc} (gave up after {state['attempt']} attempt(s))") from exc
        text, usage, first, finish = result
        return Completion(text=text, model=self.model, prompt_tokens=usage.get("prompt_tokens"),
                          completion_tokens=usage.get("completion_tokens"), seconds=time.perf_counter() - start,
                          first_token_seconds=first, attempts=state["attempt"],
                          extra={"finish_reason": finish, "errors": state["errors"]})

    def _attempt(self, litellm, messages, options, on_token, purpose, sha, start, state):
        state["attempt"] += 1
        t0 = time.perf_counter()
        try:
            result = self._call(litellm, messages, options, on_token, start, state)
        except _ConsumerError:
            raise
        except Exception as exc:
            error = self._classify(litellm, exc, state)
            state["errors"].append(str(error))
            self._log(purpose, sha, options, state, on_token is not None, {}, t0, str(error))
            raise error from exc
        self._log(purpose, sha, options, state, on_token is not None, result[1], t0, None)
        return result

    def _call(self, litellm, messages, options, on_token, start, state):
        kwargs = dict(model=self.model, messages=messages, timeout=self._http_timeout(on_token is not None),
                      drop_params=True, max_retries=0, **options)  # max_retries=0: tenacity is the only retry layer
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if on_token is None:
            resp = litellm.completion(**kwargs)
            choices = getattr(resp, "choices", None) or []
            text = (choices[0].message.content or "") if choices else ""
            if not text.strip():
                raise TransientLLMError(f"{self.model}{self._where()}: empty or unparseable reply (no text in a "
                                        "successful response)")
            return text, _usage(resp), None, choices[0].finish_reason
        parts, usage, first, finish = [], {}, None, None
        stream = litellm.completion(**kwargs, stream=True, stream_options={"include_usage": True})
        try:
            for chunk in stream:
                if chunk.choices:
                    piece = chunk.choices[0].delta.content
                    finish = chunk.choices[0].finish_reason or finish
                    if piece:
                        if first is None:
                            first = time.perf_counter() - start
                        parts.append(piece)
                        state["streamed"] += 1
                        # The in-process model is bounded by max_tokens and cannot hang like a server can; on a
                        # busy machine its first token alone may take minutes.
                        if not self.model.startswith("local/") and time.perf_counter() - start > self.timeout:
                            raise LLMError(f"{self.model}{self._where()}: the answer took longer than llm_timeout "
                                           f"({self.timeout:g} s); stopped after {state['streamed']} pieces")
                        try:
                            on_token(piece)
                        except Exception as exc:
                            raise _ConsumerError() from exc
                usage = _usage(chunk) or usage
        finally:
            # An abandoned stream (Ctrl-C, a failing on_token) must end now, not when the traceback that holds it
            # is collected: the local provider keeps its model locked until its generator finishes.
            inner = getattr(stream, "completion_stream", None)
            if hasattr(inner, "close"):
                inner.close()
        if not "".join(parts).strip():
            raise TransientLLMError(f"{self.model}{self._where()}: empty or unparseable streamed reply (no text "
                                    "before the stream ended)")
        return "".join(parts), usage, first, finish

    def _http_timeout(self, stream: bool):
        """Connect, first byte and total kept apart: a server that accepts and never answers fails in about a
        minute, not after llm_timeout x retries. The in-process local model takes one number."""
        if self.model.startswith("local/"):
            return self.timeout
        import httpx

        read = self.first_token_timeout if stream else self.timeout
        return httpx.Timeout(read, connect=self.connect_timeout, write=self.connect_timeout * 6,
                             pool=self.connect_timeout)

    def _where(self) -> str:
        return f" at {_safe_url(self.api_base)}" if self.api_base else ""

    def _classify(self, litellm, exc: Exception, state) -> LLMError:
        """Turn a litellm/provider exception into TransientLLMError (retry) or LLMError, with advice."""
        if isinstance(exc, LLMError):
            return exc
        where = self._where()
        detail = scrub(" ".join(str(exc).split()))[:300]
        status = getattr(exc, "status_code", None)
        if state["streamed"]:
            # Tokens already reached the user: a retry would print the answer twice.
            return LLMError(f"{self.model}: the stream broke after {state['streamed']} pieces: {detail}")
        if isinstance(exc, litellm.AuthenticationError):
            return LLMError(f"{self.model}: the provider refused the credentials; set its API key in the "
                            f"environment (e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY): {detail}")
        if isinstance(exc, litellm.NotFoundError):
            return LLMError(f"{self.model}: model not found{where}; check the model string: {detail}")
        if isinstance(exc, litellm.ContextWindowExceededError):
            return LLMError(f"{self.model}: the prompt is too long for the model; lower context_tokens: {detail}")
        if isinstance(exc, litellm.Timeout):
            err = TransientLLMError(f"{self.model}{where}: no reply within {self.first_token_timeout:g} s "
                                    f"(llm_first_token_timeout) or no connection within {self.connect_timeout:g} s "
                                    f"(llm_connect_timeout): {detail}")
            err.timed_out = True
            return err
        if isinstance(exc, (litellm.Timeout, litellm.RateLimitError, litellm.ServiceUnavailableError,
                            litellm.InternalServerError, litellm.APIConnectionError)) or status in _TRANSIENT_STATUS:
            return TransientLLMError(f"{self.model}{where}: {type(exc).__name__}: {detail}")
        if isinstance(exc, litellm.BadRequestError) and "LLM Provider NOT provided" in str(exc):
            return LLMError(f"unknown model string {self.model!r}: use provider/model, e.g. openai/gpt-4o-mini, "
                            "ollama/qwen2.5 or local/qwen2.5-coder-1.5b")
        return LLMError(f"{self.model}{where}: {type(exc).__name__}: {detail}")

    def _log(self, purpose, sha, options, state, stream, usage, t0, error) -> None:
        if self.db is None:
            return
        from assistant.db import runlog

        logged = dict(options, stream=stream, attempt=state["attempt"], timeout=self.timeout)
        if self.api_base:
            logged["api_base"] = _safe_url(self.api_base)
        try:
            with self.db.connection() as conn:
                runlog.log_llm_call(conn, purpose=purpose, model=self.model, messages_sha=sha, options=logged,
                                    prompt_tokens=usage.get("prompt_tokens"),
                                    completion_tokens=usage.get("completion_tokens"),
                                    latency_ms=round((time.perf_counter() - t0) * 1000, 1), error=error)
        except Exception as exc:  # the answer matters more than its log row
            log.warning("could not log the LLM call: %s", exc)


def _timed_out_twice(retry_state) -> bool:
    """Stop after two timeouts: a server that hangs once and again is not worth a third wait."""
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None and outcome.failed else None
    return getattr(exc, "timed_out", False) and retry_state.attempt_number >= 2


def _usage(resp) -> dict:
    usage = getattr(resp, "usage", None)
    if not usage:
        return {}
    get = usage.get if isinstance(usage, dict) else lambda k: getattr(usage, k, None)
    return {"prompt_tokens": get("prompt_tokens"), "completion_tokens": get("completion_tokens")}
