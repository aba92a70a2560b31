"""The in-process local model as a litellm provider: model strings 'local/<name>' run llama.cpp in this process.

Going through litellm (rather than calling llama.cpp directly) keeps one call path for every model: the completer
that talks to OpenAI or vLLM talks to the bundled GGUF the same way, with the same retries and logging.
"""
from __future__ import annotations

import atexit
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from assistant.models.litellm_completer import import_litellm

import_litellm()
from litellm import CustomLLM  # noqa: E402
from litellm.llms.custom_llm import CustomLLMError  # noqa: E402

PROVIDER = "local"
_PASSED_OPTIONS = ("temperature", "max_tokens", "seed", "stop", "top_p")


@dataclass
class _Slot:
    path: Path
    n_ctx: int
    n_threads: int
    llama: object | None = None
    lock: threading.Lock | None = None
    load_seconds: float | None = None


class LocalLlamaProvider(CustomLLM):
    """Serves registered GGUF models through llama_cpp.Llama; one loaded instance per model, calls serialised."""

    def __init__(self) -> None:
        super().__init__()
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        # Freed by hand before interpreter teardown: llama.cpp's own __del__ fails once module globals are gone.
        atexit.register(self.close)

    def close(self) -> None:
        """Free every loaded model."""
        with self._lock:
            for slot in self._slots.values():
                if slot.llama is not None:
                    slot.llama.close()
                    slot.llama = None

    def add_model(self, name: str, path: Path, *, n_ctx: int, n_threads: int | None) -> None:
        """Make local/<name> answerable from the GGUF at path (loaded on first use)."""
        with self._lock:
            slot = self._slots.get(name)
            if slot is None or slot.path != Path(path) or slot.n_ctx != n_ctx:
                self._slots[name] = _Slot(Path(path), n_ctx, n_threads or os.cpu_count() or 1)

    def loaded(self, name: str):
        """The llama_cpp.Llama for a registered name, loading it the first time."""
        return self._slot(name).llama

    def _slot(self, name: str) -> _Slot:
        with self._lock:
            slot = self._slots.get(name)
            if slot is None:
                raise CustomLLMError(404, f"local model {name!r} is not registered: load it through "
                                          "assistant.models.registry.load_completer")
            if slot.llama is None:
                try:
                    from llama_cpp import Llama
                except ImportError as exc:
                    raise CustomLLMError(400, "the local model needs llama-cpp-python: pip install -e '.[local]'") \
                        from exc
                start = time.perf_counter()
                slot.llama = Llama(model_path=str(slot.path), n_ctx=slot.n_ctx, n_threads=slot.n_threads,
                                   verbose=False)
                slot.load_seconds = time.perf_counter() - start
                slot.lock = threading.Lock()
            return slot

    def _run(self, slot: _Slot, model: str, messages: list, optional_params: dict, stream: bool):
        kwargs = {k: optional_params[k] for k in _PASSED_OPTIONS if optional_params.get(k) is not None}
        try:
            return slot.llama.create_chat_completion(messages=messages, stream=stream, **kwargs)
        except ValueError as exc:  # prompt longer than the context window, bad options: retrying cannot help
            raise CustomLLMError(400, f"local model {model}: {exc}") from exc

    def _usage(self, slot: _Slot, text: str) -> dict:
        # llama.cpp reports no usage when streaming: count the reply's tokens, and take the prompt as the rest of
        # what the context now holds.
        completion = len(slot.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0
        prompt = max(0, slot.llama.n_tokens - completion)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def completion(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                   api_key, logging_obj, optional_params, *args, **kwargs):
        """Whole reply at once (litellm.completion without stream)."""
        import litellm

        slot = self._slot(model)
        with slot.lock:
            result = self._run(slot, model, messages, optional_params, stream=False)
        choice = result["choices"][0]
        model_response.choices[0].message.content = choice["message"]["content"] or ""
        model_response.choices[0].finish_reason = choice.get("finish_reason") or "stop"
        usage = result.get("usage") or {}
        model_response.usage = litellm.Usage(prompt_tokens=usage.get("prompt_tokens", 0),
                                             completion_tokens=usage.get("completion_tokens", 0),
                                             total_tokens=usage.get("total_tokens", 0))
        model_response.model = f"{PROVIDER}/{model}"
        return model_response

    def streaming(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                  api_key, logging_obj, optional_params, *args, **kwargs) -> Iterator[dict]:
        """Reply piece by piece (litellm.completion(stream=True)); the last chunk carries usage."""
        slot = self._slot(model)
        with slot.lock:
            chunks = self._run(slot, model, messages, optional_params, stream=True)
            text, finish = [], "stop"
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content") or ""
                    finish = choice.get("finish_reason") or finish
                    if piece:
                        text.append(piece)
                        yield {"text": piece, "is_finished": False, "finish_reason": "", "usage": None, "index": 0,
                               "tool_use": None}
            except ValueError as exc:  # a streamed call checks the prompt length only once iterated
                raise CustomLLMError(400, f"local model {model}: {exc}") from exc
            usage = self._usage(slot, "".join(text))
        yield {"text": "", "is_finished": True, "finish_reason": finish, "usage": usage, "index": 0,
               "tool_use": None}

    async def acompletion(self, *args, **kwargs):
        import asyncio
        return await asyncio.to_thread(self.completion, *args, **kwargs)


_provider_lock = threading.Lock()


def provider() -> LocalLlamaProvider:
    """The process's local provider, registered in litellm.custom_provider_map (litellm's map is process-wide)."""
    import litellm

    with _provider_lock:
        for entry in litellm.custom_provider_map:
            if entry.get("provider") == PROVIDER and isinstance(entry.get("custom_handler"), LocalLlamaProvider):
                return entry["custom_handler"]
        handler = LocalLlamaProvider()
        litellm.custom_provider_map = [e for e in litellm.custom_provider_map if e.get("provider") != PROVIDER] + [
            {"provider": PROVIDER, "custom_handler": handler}]
        return handler
