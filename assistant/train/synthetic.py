"""Synthetic training questions (InPars / Promptagator style): the configured LLM writes a question a chunk answers.

Each question is written in its chunk's language and kept only if it is new (no duplicate or near duplicate of a
kept question) and answerable (recall brings its source chunk back in the top k). Every outcome is stored,
dropped ones with their reason, so a second run asks only about chunks it has not seen.
"""
from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from assistant.db import trainstore
from assistant.prompts import load_prompt
from assistant.train.data import language_of, normalise_question, question_tokens

PROMPT = "synthetic_question.md"
PROMPT_FIELDS = {"language", "title", "text"}
LANGUAGES = {"en": "English", "zh": "Simplified Chinese (简体中文)"}
KIND = "synthetic"

Progress = Callable[[int, int, str], None]

_PREFIX = re.compile(r"^\s*(?:[-*•]|\d+[.)、]|q\s*[:：]|question\s*[:：]|问题\s*[:：]|问\s*[:：])\s*", re.I)
_QUOTES = "\"'“”‘’「」『』`*"


@dataclass
class GenerationReport:
    requested: int
    model: str = ""
    existing: int = 0
    """Chunks of the sample that already had a question from an earlier run."""
    asked: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        why = ", ".join(f"{n} {r}" for r, n in self.dropped.most_common()) or "none"
        return (f"{self.asked} asked ({self.existing} chunks already done), {self.kept} kept, "
                f"dropped: {why}; {self.seconds:.0f} s")


def parse_question(reply: str) -> str | None:
    """The question in an LLM reply: its first non-empty line without list marks, labels or quotes."""
    for line in reply.strip().splitlines():
        line = _PREFIX.sub("", line.strip()).strip().strip(_QUOTES).strip()
        if line:
            long_enough = len(line) >= (4 if language_of(line) == "zh" else 10)
            return line if long_enough and len(line) <= 300 else None
    return None


def near_duplicate(tokens: set[str], kept: list[set[str]], threshold: float = 0.8) -> bool:
    """True when the token sets overlap (Jaccard) at least threshold with one already kept."""
    for other in kept:
        union = len(tokens | other)
        if union and len(tokens & other) / union >= threshold:
            return True
    return False


def generate_questions(db, completer, recaller, *, n: int, k: int = 20, mode: str = "vector", seed: int = 0,
                       temperature: float = 0.0, max_chunk_chars: int = 2000, prompts_dir=None,
                       on_progress: Progress | None = None) -> GenerationReport:
    """Ask for one question for each of n sampled chunks that have none yet; store every outcome."""
    start = time.perf_counter()
    prompt = load_prompt(PROMPT, PROMPT_FIELDS, prompts_dir)
    report = GenerationReport(requested=n, model=getattr(completer, "model", "unknown"))
    with db.connection() as conn:
        sample = trainstore.sample_chunks(conn, n, seed)
        done = trainstore.done_chunk_shas(conn, [KIND])
        norms = [q for q, _ in trainstore.question_texts(conn)]
    seen_norms = set(norms)
    kept_tokens = [set(q.split()) for q in norms]
    todo, shas = [], set()
    for ch in sample:
        if ch.sha not in done and ch.sha not in shas:
            todo.append(ch)
            shas.add(ch.sha)
    report.existing = len(sample) - len(todo)
    for i, ch in enumerate(todo, start=1):
        lang = language_of(f"{ch.title}\n{ch.heading}\n{ch.text}")
        title = f"{ch.title} — {ch.heading}" if ch.heading and ch.heading != ch.title else ch.title
        messages = [{"role": "user", "content": prompt.render(language=LANGUAGES[lang], title=title,
                                                              text=ch.text[:max_chunk_chars])}]
        completion = completer.complete(messages, temperature=temperature, max_tokens=96, seed=seed,
                                        purpose="synthetic_question")
        report.asked += 1
        question = parse_question(completion.text)
        reason = None
        if question is None:
            reason = "unparsable"
        elif language_of(question) != lang:
            reason = "wrong_language"
        else:
            norm = normalise_question(question)
            tokens = question_tokens(question)
            if norm in seen_norms or near_duplicate(tokens, kept_tokens):
                reason = "duplicate"
            elif ch.sha not in {c.content_sha256 for c in recaller.recall(question, k, mode)}:
                reason = "not_in_recall"
        with db.connection() as conn:
            trainstore.add_question(conn, chunk_id=ch.chunk_id, chunk_sha=ch.sha, question=question or
                                    completion.text.strip()[:500], question_norm=normalise_question(question or ""),
                                    kind=KIND, model=completion.model, kept=reason is None, reason=reason, lang=lang,
                                    prompt_sha=prompt.sha256)
        if reason is None:
            report.kept += 1
            seen_norms.add(normalise_question(question))
            kept_tokens.append(question_tokens(question))
        else:
            report.dropped[reason] += 1
        if on_progress:
            on_progress(i, len(todo), "synthetic questions")
    report.seconds = time.perf_counter() - start
    return report
