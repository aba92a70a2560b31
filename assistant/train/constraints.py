"""Constraint questions from near-miss chunk pairs: "X without Y" / 「不使用 Y 的 X」.

Two chunks of different documents that embed close together (same topic) but where one names a thing Y the other
never mentions give a question recall cannot answer: embeddings ignore "without". The chunk lacking Y is the
positive and the chunk with Y its hard negative. The mirror question ("X with Y" / 「使用 Y 的 X」) swaps the roles,
so the model learns the constraint rather than "prefer chunks without rare words". Built from templates, no LLM.
"""
from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from assistant.db import trainstore
from assistant.db.trainstore import ChunkRow
from assistant.train.data import language_of, normalise_question

KINDS = ("constraint", "constraint_with")
MODEL = "template"
TEMPLATES = {"en": ("{x} without {y}", "{x} with {y}"), "zh": ("不使用{s}{y}{s}的{x}", "使用{s}{y}{s}的{x}")}

Progress = Callable[[int, int, str], None]

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#\-]*[A-Za-z0-9+#]|[A-Za-z]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_STOP_EN = frozenset("""a about above after again against all also an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having he
her here hers him his how i if in into is it its itself just more most no nor not now of off on once only or other
our out over own same she should so some such than that the their them then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you your yours use
used using uses one two new may might must also however thus e g i e et al vs via per""".split())
_STOP_ZH = frozenset("的 了 和 是 在 与 及 或 等 也 都 而 并 对 把 被 让 从 向 以 为 于 上 下 中 这 那 其 之 一个 一种 可以 使用 "
                     "不 没有 如果 因为 所以 但是 通过 进行 我们 你 他 它 就 还 会 要 能 很 更 最".split())


@dataclass
class ConstraintReport:
    requested: int
    existing: int = 0
    made: int = 0
    duplicates: int = 0
    no_pair: int = 0
    """Anchor chunks with no usable near miss (no close chunk, or nothing that only the other one names)."""
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.made} pairs made ({self.existing} already stored), {self.duplicates} duplicates, "
                f"{self.no_pair} chunks without a usable near miss; {self.seconds:.1f} s")


@dataclass(frozen=True)
class Terms:
    counts: Counter
    """Lower-cased term -> occurrences in the chunk."""
    surface: dict
    """Lower-cased term -> the form first seen (keeps 'Redis', 'ZooKeeper')."""
    first: dict
    """Lower-cased term -> position of first occurrence in the body (for word order)."""
    heading: frozenset
    """Terms of the title and heading: what the chunk is about."""
    entity: frozenset
    """Terms that look like names: capitals or digits inside (Redis, etcd v3, IL-6), or in the title/heading."""
    text_lower: str


def _terms_of(text: str) -> list[str]:
    out: list[str] = []
    for m in re.finditer(r"[A-Za-z][A-Za-z0-9+#\-]*|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+", text):
        piece = m.group(0)
        if _CJK_RUN.fullmatch(piece):
            import jieba
            out.extend(w for w in jieba.lcut(piece) if w.strip())
        else:
            out.extend(_LATIN_WORD.findall(piece))
    return out


def terms(chunk: ChunkRow) -> Terms:
    """Terms of a chunk with what is needed to pick a topic and an excluded thing."""
    head = _terms_of(f"{chunk.title} {chunk.heading}")
    body = _terms_of(chunk.text)
    counts: Counter = Counter()
    surface: dict = {}
    first: dict = {}
    entity: set = set()
    for i, t in enumerate(head + body):
        key = t.lower()
        if key in _STOP_EN or t in _STOP_ZH or (len(t) < 2 and not _CJK_RUN.fullmatch(t)):
            continue
        counts[key] += 1
        surface.setdefault(key, t)
        # Word order of the body ("distributed lock"), heading positions only for words the body lacks.
        pos = i - len(head) if i >= len(head) else 10_000 + i
        first[key] = min(first.get(key, pos), pos)
        if _looks_like_name(t, chunk.text, in_heading=i < len(head)):
            entity.add(key)
    heading = frozenset(t.lower() for t in head) & set(counts)
    # A title word the body uses again is what the document is about ("etcd" in "etcd lock"). Headings alone are no
    # evidence of a name: Title Case makes "Guide" or "Applies" look like one.
    entity |= {t.lower() for t in _terms_of(chunk.title)} & {t.lower() for t in body} & set(counts)
    text_lower = f"{chunk.title} {chunk.heading} {chunk.text}".lower()
    return Terms(counts, surface, first, heading, frozenset(entity), text_lower)


def _looks_like_name(term: str, text: str, in_heading: bool) -> bool:
    if any(ch.isupper() for ch in term[1:]) or any(ch.isdigit() for ch in term):
        return True
    return term[:1].isupper() and not in_heading and not _sentence_start(text, term)


def _sentence_start(text: str, word: str) -> bool:
    # A capitalised word only at sentence starts is an ordinary word, not a name.
    return all(re.search(r"(^|[.!?]\s+)$", text[: m.start()]) for m in re.finditer(rf"\b{re.escape(word)}\b", text))


def excluded_term(pos: Terms, neg: Terms) -> str | None:
    """The thing Y the negative names and the positive never mentions: a name, preferably from its title."""
    best, best_key = None, None
    for key, n in neg.counts.items():
        # Anything the positive mentions, singular included ("Locks" where it says "lock"), is no exclusion.
        if key not in neg.entity or key.rstrip("s") in pos.text_lower:
            continue
        # Excluded things are products and techniques, written in Latin script in Chinese text too (Redis,
        # ZooKeeper, etcd); a Chinese word here is nearly always a generic one (方案, 实现, 基于).
        if not re.search(r"[A-Za-z]", key):
            continue
        word = neg.surface[key]
        # A capitalised ordinary word ("Applies", "Named") passes for a name once; a real one recurs or is titled.
        if word[:1].isupper() and word[1:].islower() and n < 2 and key not in neg.heading:
            continue
        # All capitals is a command or keyword (SET, NX, SELECT) more often than a thing one can do without.
        score = (not word.isupper(), key in neg.heading, n, -neg.first[key])
        if best is None or score > best:
            best, best_key = score, key
    return neg.surface[best_key] if best_key else None


def shared_topic(pos: Terms, neg: Terms, lang: str, width: int = 2) -> str | None:
    """X: the terms both chunks are about (title/heading terms first), written as the positive writes them."""
    shared = [k for k in pos.counts if k in neg.counts]
    # The topic must be something a title or heading names; a word both bodies happen to use ("whose") is not.
    if not any(k in pos.heading or k in neg.heading for k in shared):
        return None
    ranked = sorted(shared, key=lambda k: (-(k in pos.heading and k in neg.heading),
                                           -(k in pos.heading or k in neg.heading),
                                           -min(pos.counts[k], neg.counts[k]), pos.first[k]))
    sep = "" if lang == "zh" else " "
    text = pos.text_lower
    # Two terms make a topic only when the positive writes them together, in either order ("分布式锁", not
    # "锁分布式"); otherwise the single best term stands alone.
    for a in ranked[:width + 1]:
        for b in ranked[:width + 1]:
            if a != b and (a in pos.heading or b in pos.heading) and f"{a}{sep}{b}" in text \
                    and f"{a}{sep}{b}" in neg.text_lower:
                return f"{pos.surface[a]}{sep}{pos.surface[b]}"
    return pos.surface[ranked[0]]


def make_questions(pos: ChunkRow, neg: ChunkRow) -> tuple[str, str] | None:
    """("X without Y" with pos as answer, "X with Y" with neg as answer), or None when no pair can be phrased."""
    lang = language_of(f"{pos.title} {pos.text}")
    if language_of(f"{neg.title} {neg.text}") != lang:
        return None
    tp, tn = terms(pos), terms(neg)
    y = excluded_term(tp, tn)
    x = shared_topic(tp, tn, lang)
    if not y or not x:
        return None
    space = " " if lang == "zh" and re.match(r"[A-Za-z0-9]", y) else ""
    without, with_ = TEMPLATES[lang]
    return without.format(x=x, y=y, s=space), with_.format(x=x, y=y, s=space)


def build_constraint_questions(db, *, n: int, min_similarity: float = 0.5, neighbours: int = 5, seed: int = 0,
                               ef_search: int = 100, on_progress: Progress | None = None) -> ConstraintReport:
    """Store up to n constraint pairs (each a question and its mirror); anchors already used are skipped."""
    start = time.perf_counter()
    report = ConstraintReport(requested=n)
    with db.connection() as conn:
        anchors = trainstore.sample_chunks(conn, max(4 * n, 50), seed)
        done = trainstore.done_chunk_shas(conn, [KINDS[0]])
        seen = {q for q, _ in trainstore.question_texts(conn)}
    report.existing = sum(1 for a in anchors if a.sha in done)
    target = max(0, n - report.existing)
    used: set[str] = set(done)
    for anchor in anchors:
        if report.made >= target:
            break
        if anchor.sha in used:
            continue
        with db.connection() as conn:
            near = trainstore.neighbours(conn, anchor.chunk_id, neighbours, ef_search)
        made = False
        for other, sim in near:
            if sim < min_similarity or other.sha == anchor.sha:
                continue
            pair = make_questions(anchor, other)
            if pair is None:
                continue
            norms = [normalise_question(q) for q in pair]
            kept = not any(q in seen for q in norms)
            with db.connection() as conn:
                for (q, norm), kind, p, ng in zip(zip(pair, norms), KINDS, (anchor, other), (other, anchor)):
                    trainstore.add_question(conn, chunk_id=p.chunk_id, chunk_sha=p.sha, question=q, question_norm=norm,
                                            kind=kind, model=MODEL, kept=kept, reason=None if kept else "duplicate",
                                            lang=language_of(q), negative_chunk_id=ng.chunk_id,
                                            negative_chunk_sha=ng.sha)
            used.add(anchor.sha)
            if kept:
                seen.update(norms)
                report.made += 1
                if len(report.examples) < 5:
                    report.examples.append(pair[0])
            else:
                report.duplicates += 1
            made = True
            break
        if not made:
            report.no_pair += 1
        if on_progress:
            on_progress(report.made, target, "constraint pairs")
    report.seconds = time.perf_counter() - start
    return report
