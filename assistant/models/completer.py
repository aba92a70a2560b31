"""The Completer interface: every LLM call of the product (answers, listwise reranking, synthetic questions)."""
from __future__ import annotations

import abc
import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, Sequence

Message = dict  # {"role": "system"|"user"|"assistant", "content": str}


class LLMError(RuntimeError):
    """An LLM call failed for good (after retries); the message says what to do."""


class TransientLLMError(LLMError):
    """A failure worth retrying (timeouts, rate limits, 5xx, connection resets)."""


@dataclass
class Completion:
    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    seconds: float = 0.0
    first_token_seconds: float | None = None
    attempts: int = 1
    extra: dict = field(default_factory=dict)


def messages_sha(messages: Sequence[Message]) -> str:
    return hashlib.sha256(json.dumps(list(messages), ensure_ascii=False, sort_keys=True).encode()).hexdigest()


class Completer(abc.ABC):
    """Chat completion with optional streaming through on_token."""

    model: str = "unknown"
    can_rank: bool = True
    """False for models known not to produce useful listwise orders (the small local default)."""

    @abc.abstractmethod
    def complete(self, messages: Sequence[Message], *, temperature: float | None = None,
                 max_tokens: int | None = None, seed: int | None = None,
                 on_token: Callable[[str], None] | None = None, purpose: str = "answer") -> Completion:
        """Run one chat completion; stream pieces of text to on_token when given. Raises LLMError on failure."""
