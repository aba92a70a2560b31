"""Rerankers by strategy name, each module imported only when its strategy is asked for."""
from __future__ import annotations

import importlib

from assistant.rerank.base import Reranker, RerankerUnavailable

# Each module has build(services) -> Reranker and unavailable_reason(services) -> str | None.
MODULES = {
    "none": "assistant.rerank.none",
    "cross-encoder": "assistant.rerank.cross_encoder",
    "remote": "assistant.rerank.remote",
    "llm": "assistant.rerank.listwise",
}


def names() -> list[str]:
    """Every strategy name a reranker can be built for (auto is a policy over these, not a reranker)."""
    return list(MODULES)


def _module(name: str):
    if name == "auto":
        raise RerankerUnavailable("'auto' is a policy, not a reranker: resolve it with assistant.rerank.policy.decide")
    if name not in MODULES:
        raise RerankerUnavailable(f"unknown reranker {name!r}: use one of {', '.join(MODULES)} or auto")
    return importlib.import_module(MODULES[name])


def build_reranker(name: str, services) -> Reranker:
    """Build a reranker by name; RerankerUnavailable (with what to do) when it cannot run here."""
    return _module(name).build(services)


def status(services) -> dict[str, str | None]:
    """For each strategy: None when auto may use it, else the reason it may not (never loads a model)."""
    out: dict[str, str | None] = {}
    for name in MODULES:
        try:
            out[name] = _module(name).unavailable_reason(services)
        except ImportError as exc:
            out[name] = f"missing dependency: {exc}"
    return out


def available(services) -> list[str]:
    """Strategies auto may pick now, always including 'none'. 'llm' only with a completer that can rank."""
    out = []
    for name, reason in status(services).items():
        if reason is None and name == "cross-encoder":
            # A model directory that resolves can still fail to load; auto must route around it rather than
            # fail the question. Services keeps the loaded reranker, so this costs one load per process.
            try:
                services.reranker(name)
            except RerankerUnavailable:
                continue
        if reason is None:
            out.append(name)
    return out
