"""Completers by model string: 'local/<name>' is a bundled GGUF run in-process, anything else goes to litellm."""
from __future__ import annotations

import importlib.util

from assistant.models.completer import Completer
from assistant.models.embedder import ModelUnavailable

LOCAL_PREFIX = "local/"


def load_completer(settings, db=None) -> Completer:
    """The completer for settings.llm_model; calls are logged in db's llm_calls table when db is given."""
    from assistant.models.litellm_completer import LiteLLMCompleter

    model = settings.llm_model
    if model.startswith(LOCAL_PREFIX):
        prepare_local(model[len(LOCAL_PREFIX):], settings)
        # The small local models answer with citations but produce no useful listwise order (MODELS.md).
        return LiteLLMCompleter(model, timeout=settings.llm_timeout, retries=settings.llm_retries, db=db,
                                can_rank=False)
    return LiteLLMCompleter(model, api_base=settings.llm_api_base, timeout=settings.llm_timeout,
                            retries=settings.llm_retries, db=db, connect_timeout=settings.llm_connect_timeout,
                            first_token_timeout=settings.llm_first_token_timeout)


def prepare_local(name: str, settings) -> None:
    """Find (or join) the GGUF for a local model and register it with the in-process litellm provider."""
    from assistant.models.local_models import LOCAL_MODELS, model_path

    spec = LOCAL_MODELS.get(name)
    if importlib.util.find_spec("llama_cpp") is None:
        hint = spec.install if spec else "pip install -e '.[local]'"
        raise ModelUnavailable(f"the local model needs llama-cpp-python: {hint}; or pick another model with "
                               "--model (e.g. openai/gpt-4o-mini, ollama/qwen2.5)")
    path = model_path(name, settings.models_dir)
    from assistant.models.local_llm import provider

    provider().add_model(name, path, n_ctx=settings.local_ctx, n_threads=settings.local_threads)


def preload(completer: Completer) -> None:
    """Load a local model now (a few seconds) rather than inside the first answer; no-op for remote models."""
    model = getattr(completer, "model", "")
    if model.startswith(LOCAL_PREFIX):
        from assistant.models.local_llm import provider
        provider().loaded(model[len(LOCAL_PREFIX):])
