"""Fakes that subclass the real interfaces: queued replies, recorded calls. Never patch the thing under test."""
from __future__ import annotations

import hashlib
import re
import time
from typing import Callable, Sequence

import numpy as np

from assistant.models.completer import Completer, Completion, LLMError
from assistant.models.embedder import Embedder, normalise

_TOKEN = re.compile(r"[a-z0-9]+|[\u4e00-\u9fff]", re.I)


class FakeEmbedder(Embedder):
    """Deterministic bag-of-words hashing embedder: texts sharing words have positive cosine."""

    def __init__(self, dim: int = 64, model_id: str = "fake/hash-bow"):
        self.dim = dim
        self.model_id = model_id
        self.max_tokens = 512
        self.calls: list[list[str]] = []

    def tokenize(self, text: str) -> list[str]:
        return _TOKEN.findall(text.lower())

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for tok in self.tokenize(t) or ["<empty>"]:
                h = int(hashlib.md5(tok.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0 if (h >> 64) % 2 else -1.0
        out[np.all(out == 0, axis=1), 0] = 1.0
        return normalise(out)


class FakeCompleter(Completer):
    """Replies from a queue (a str is a reply, an Exception is raised); every call is recorded."""

    def __init__(self, replies: Sequence[str | BaseException] = (), model: str = "fake/llm", default: str | None = None,
                 can_rank: bool = True, delay: float = 0.0):
        self.replies = list(replies)
        self.model = model
        self.default = default
        self.can_rank = can_rank
        self.delay = delay
        self.calls: list[dict] = []

    def complete(self, messages, *, temperature=None, max_tokens=None, seed=None,
                 on_token: Callable[[str], None] | None = None, purpose: str = "answer") -> Completion:
        self.calls.append({"messages": list(messages), "temperature": temperature, "max_tokens": max_tokens,
                           "seed": seed, "purpose": purpose})
        if self.replies:
            reply = self.replies.pop(0)
        elif self.default is not None:
            reply = self.default
        else:
            raise LLMError("FakeCompleter: no reply queued")
        if isinstance(reply, BaseException):
            raise reply
        start = time.perf_counter()
        if on_token:
            for piece in re.findall(r"\S+\s*|\s+", reply):
                if self.delay:
                    time.sleep(self.delay)
                on_token(piece)
        return Completion(text=reply, model=self.model, prompt_tokens=sum(len(m["content"]) // 4 for m in messages),
                          completion_tokens=max(1, len(reply) // 4), seconds=time.perf_counter() - start,
                          first_token_seconds=0.0)
