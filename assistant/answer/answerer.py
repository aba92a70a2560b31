"""The answer stage: fill prompts/answer.md with the packed sources, stream the model's reply, check citations."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from assistant.answer.citations import CitationCheck, check_citations
from assistant.answer.support import SupportCheck
from assistant.answer.context import ContextItem, short_source, source_title
from assistant.models.completer import Completer, Completion
from assistant.prompts import Prompt, load_prompt

PROMPT_NAME = "answer.md"
PROMPT_FIELDS = {"sources", "question", "count", "language", "index", "title", "path", "text"}
LANGUAGES = ("en", "zh")

_SECTION = re.compile(r"^<!-- ([a-z:]+) -->[ \t]*\n", re.MULTILINE)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# Said when the sources do not answer. Matched near the start only: an answer that explains a missing detail at
# its end still answered.
_ABSTAIN = re.compile(
    r"(sources?|documents?|context)\s+(do(es)?\s*n[o']t|did\s*n[o']t)\s+(say|mention|contain|cover|answer|provide|"
    r"include|address|describe|specify)|no (relevant )?information|not (mentioned|covered|stated) in the (sources|"
    r"documents)|cannot (be )?answer|"
    r"资料中?(没有|未|并未|不)(说明|提到|提及|包含|涉及|回答|覆盖)|(来源|文档|资料)中?没有|没有(相关|提供|找到)(的)?(信息|资料|内容)|"
    r"无法(根据|从).{0,12}(回答|得出)|未(提及|说明)", re.IGNORECASE)
_ABSTAIN_WINDOW = 160


@dataclass
class Answer:
    text: str
    completion: Completion
    prompt_sha: str
    language: str
    context: list[ContextItem] = field(default_factory=list)
    citations: CitationCheck = field(default_factory=lambda: CitationCheck(0))
    abstained: bool = False
    support: SupportCheck | None = None
    """Whether each cited sentence is backed by the chunk it cites (set after the answer; None: not checked)."""

    @property
    def marked_text(self) -> str:
        """The answer with unsupported citations written [n?] (the plain text when unchecked)."""
        return self.support.marked_text if self.support is not None else self.text

    @property
    def cited_chunk_ids(self) -> list[int]:
        return list(self.citations.chunk_ids)

    @property
    def cited(self) -> list[ContextItem]:
        """Context items the answer cites, in order of first citation."""
        by_index = {item.index: item for item in self.context}
        return [by_index[n] for n in self.citations.valid]

    @property
    def uncited(self) -> list[ContextItem]:
        """Context items the model was given but did not cite."""
        used = set(self.citations.valid)
        return [item for item in self.context if item.index not in used]

    def citations_dict(self) -> dict:
        """JSON-able summary for the run log."""
        return dict(self.citations.to_dict(), abstained=self.abstained, language=self.language,
                    context=[{"index": i.index, "chunk_id": i.chunk_id, "tokens": i.tokens, "truncated": i.truncated}
                             for i in self.context],
                    support=self.support.to_dict() if self.support is not None else None)


def question_language(question: str) -> str:
    """'zh' when the question is mostly Chinese, else 'en' (the answer is asked for in this language)."""
    han = len(_HAN.findall(question))
    words = len(_LATIN_WORD.findall(question))
    return "zh" if han and han >= 1.5 * words else "en"


def is_abstention(text: str) -> bool:
    """True when the answer opens by saying the sources do not answer the question."""
    return bool(_ABSTAIN.search(text.strip()[:_ABSTAIN_WINDOW]))


def _sections(text: str) -> dict[str, str]:
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def load_answer_prompt(settings) -> Prompt:
    """prompts/answer.md (or the override directory's), checked for its placeholders and sections."""
    prompt = load_prompt(PROMPT_NAME, PROMPT_FIELDS, getattr(settings, "prompts_dir", None))
    needed = {"system", "user", "source"} | {f"{kind}:{lang}" for kind in ("language", "empty") for lang in LANGUAGES}
    missing = needed - set(_sections(prompt.text))
    if missing:
        from assistant.prompts import PromptError
        raise PromptError(f"prompt {PROMPT_NAME}: sections missing: {sorted(missing)}")
    return prompt


def format_sources(context: Sequence[ContextItem], template: str) -> str:
    """Numbered sources as the model sees them, each through the prompt's source template."""
    return "\n\n".join(template.format(index=item.index, title=source_title(item.candidate),
                                         path=short_source(item.candidate.source), text=item.text.strip())
                         for item in context)


def build_messages(prompt: Prompt, question: str, context: Sequence[ContextItem], language: str) -> list[dict]:
    """System and user messages for a question and its packed sources."""
    # Sections are cut from the template before filling, so a source containing a marker line cannot split it.
    sections = _sections(prompt.text)

    def user_turn(sources: str, q: str, count: int) -> dict:
        values = {"sources": sources, "question": q, "count": count}
        values["language"] = sections[f"language:{language}"].format(**values)
        return {"role": "user", "content": sections["user"].format(**values)}

    messages = [{"role": "system", "content": sections["system"].format(count=len(context))}]
    parts = [sections.get(f"example:{language}:{k}") for k in ("sources", "question", "answer")]
    if all(parts):
        # An optional worked exchange before the real question, shown as earlier turns of the chat.
        sources, q, answer = (p.format() for p in parts)
        messages += [user_turn(sources, q, len(re.findall(r"^\[\d+\] ", sources, re.MULTILINE))),
                     {"role": "assistant", "content": answer}]
    return messages + [user_turn(format_sources(context, sections["source"]), question.strip(), len(context))]


def answer_question(question: str, context: Sequence[ContextItem], completer: Completer, settings,
                    on_token: Callable[[str], None] | None = None, temperature: float | None = None,
                    seed: int | None = None) -> Answer:
    """Ask the model to answer from the numbered context; parse and check what it cites."""
    prompt = load_answer_prompt(settings)
    language = question_language(question)
    context = list(context)
    if not context:
        # Nothing recalled: saying so beats asking a model to answer from nothing.
        text = _sections(prompt.text)[f"empty:{language}"].format(sources="", question="", count=0, language="")
        if on_token:
            on_token(text)
        completion = Completion(text=text, model=completer.model, attempts=0, extra={"skipped": "no sources"})
        return Answer(text, completion, prompt.sha256, language, [], check_citations(text, []), True)
    messages = build_messages(prompt, question, context, language)
    completion = completer.complete(
        messages, temperature=settings.temperature if temperature is None else temperature,
        max_tokens=settings.max_answer_tokens, seed=settings.seed if seed is None else seed,
        on_token=on_token, purpose="answer")
    text = completion.text.strip()
    citations = check_citations(text, context)
    return Answer(text, completion, prompt.sha256, language, context, citations, is_abstention(text))
