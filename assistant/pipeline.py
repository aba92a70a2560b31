"""ask(): the one path through the program. question -> policy -> recall -> rerank -> context -> answer -> log.

The CLI, the TUI, consistency experiments and the evaluator all call this; nothing else knows the stage order.
Progress and streamed tokens go to on_event; the returned Run holds everything that was logged.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from assistant.db import runlog
from assistant.rerank.base import Ranked, RerankResult, Trace, keep_order
from assistant.types import Candidate

STRATEGIES = ("none", "cross-encoder", "remote", "llm", "auto")


@dataclass(frozen=True)
class AskOptions:
    """Per-question choices; None means 'use the settings'."""

    strategy: str | None = None
    recall_mode: str | None = None
    recall_k: int | None = None
    context_k: int | None = None
    temperature: float | None = None
    seed: int | None = None
    model: str | None = None
    """litellm model string for the answer (None: settings.llm_model)."""
    answer: bool = True
    """False: retrieval only (recall + rerank), no LLM call."""
    experiment: str | None = None
    """Tag grouping runs of one consistency experiment."""
    log: bool = True


@dataclass(frozen=True)
class Event:
    """A step of a run as it happens: policy, recall, rerank, context, token, answer, done, error."""

    kind: str
    data: Any = None


@dataclass
class Run:
    question: str
    strategy: str
    """The strategy that actually ran (auto resolved)."""
    requested: str
    id: int | None = None
    decision: dict | None = None
    candidates: list[Candidate] = field(default_factory=list)
    ranked: list[Ranked] = field(default_factory=list)
    rerank_trace: Trace | None = None
    context: list = field(default_factory=list)
    context_filter: Any = None
    """assistant.answer.relevance.ContextFilter: which reranked chunks were kept from the answer prompt, and why."""
    answer: Any = None
    """assistant.answer.answerer.Answer, when an answer was asked for and produced."""
    timings: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def _decide(question: str, requested: str, services, n_candidates: int) -> tuple[str, dict | None]:
    if requested != "auto":
        return requested, None
    from assistant.rerank.policy import decide
    from assistant.rerank.registry import available

    avail = available(services)
    # The cross-encoder's card says, per question language, whether it helps every question, only constrained
    # ones, or none: auto follows it.
    serves = services.reranker("cross-encoder").serves(question) if "cross-encoder" in avail else "all"
    if serves == "none":
        avail = [n for n in avail if n != "cross-encoder"]
    limited = ["cross-encoder"] if serves == "constrained" else []
    decision = decide(question, available=avail, n_candidates=n_candidates, constrained_only=limited)
    return decision.strategy, asdict(decision)


def question_problem(question: str, settings) -> str | None:
    """Why a question cannot be asked (empty, too long), or None."""
    if not question.strip():
        return "empty question"
    if len(question) > settings.max_question_chars:
        return (f"the question is {len(question):,} characters; the limit is {settings.max_question_chars:,} "
                "(ASSISTANT_MAX_QUESTION_CHARS): ask about one thing, and ingest long text as a document instead")
    return None


def ask(question: str, options: AskOptions | None, services,
        on_event: Callable[[Event], None] | None = None) -> Run:
    """Answer one question through all stages, logging the run. Raises the stage's error after logging it."""
    options = options or AskOptions()
    settings = services.settings
    emit = on_event or (lambda e: None)
    requested = options.strategy or settings.rerank
    if requested not in STRATEGIES:
        raise ValueError(f"unknown strategy {requested!r}: use one of {', '.join(STRATEGIES)}")
    problem = question_problem(question, settings)
    if problem:
        raise ValueError(problem)
    mode = options.recall_mode or settings.recall_mode
    k = options.recall_k or settings.recall_k
    model = options.model or settings.llm_model
    run = Run(question=question, strategy=requested, requested=requested)
    log_options = {k_: v for k_, v in asdict(options).items() if v is not None}
    log_options.update(recall_k=k, recall_mode=mode, context_k=options.context_k or settings.context_k,
                       temperature=settings.temperature if options.temperature is None else options.temperature,
                       seed=settings.seed if options.seed is None else options.seed,
                       context_tokens=settings.context_tokens)
    total = time.perf_counter()

    if options.log:
        with services.db.connection() as conn:
            run.id = runlog.start_run(conn, question=question, strategy=requested, options=log_options,
                                      experiment=options.experiment, recall_mode=mode,
                                      embed_model=services.embedder.model_id, model=model if options.answer else None)
    stage = "recall"
    attached = runlog.current_run.set(run.id)
    try:
        t = time.perf_counter()
        run.candidates = services.recaller.recall(question, k, mode)
        run.timings["recall_ms"] = _ms(t)
        emit(Event("recall", run.candidates))

        stage = "policy"
        run.strategy, run.decision = _decide(question, requested, services, len(run.candidates))
        if run.decision is not None:
            emit(Event("policy", run.decision))

        stage = "rerank"
        t = time.perf_counter()
        if run.strategy == "none":
            result = RerankResult(keep_order(run.candidates), Trace("none"))
        else:
            result = services.reranker(run.strategy).rerank(question, run.candidates)
        run.ranked, run.rerank_trace = result.ranked, result.trace
        run.timings["rerank_ms"] = _ms(t)
        if options.log and run.id is not None:
            # Written now as well as at the end: a process killed during a long answer still leaves its candidates.
            with services.db.connection() as conn:
                runlog.record_candidates(conn, run.id, candidate_rows(run))
        emit(Event("rerank", result))

        if options.answer:
            stage = "answer"
            from assistant.answer.answerer import answer_question
            from assistant.answer.context import pack_context
            from assistant.answer.relevance import filter_context, judge_for
            from assistant.answer.support import check_answer

            completer = services.completer_for(model)
            context_k = options.context_k or settings.context_k
            t = time.perf_counter()
            judge = judge_for(run.strategy, requested, services)
            shown, run.context_filter = filter_context(question, [r.candidate for r in run.ranked], judge, settings,
                                                       context_k)
            run.context = pack_context(shown, settings.context_tokens, context_k, services.embedder.count_tokens)
            run.timings["context_ms"] = _ms(t)
            emit(Event("context", run.context))
            t = time.perf_counter()
            run.answer = answer_question(
                question, run.context, completer, settings,
                on_token=lambda piece: emit(Event("token", piece)),
                temperature=options.temperature, seed=options.seed)
            run.timings["answer_ms"] = _ms(t)
            if run.answer.completion.first_token_seconds is not None:
                run.timings["first_token_ms"] = round(run.answer.completion.first_token_seconds * 1000, 1)
            if settings.support_check:
                stage = "support"
                t = time.perf_counter()
                run.answer.support = check_answer(run.answer, services)
                run.timings["support_ms"] = _ms(t)
            emit(Event("answer", run.answer))
    except BaseException as exc:
        run.error = f"{stage}: {exc}" if str(exc) else f"{stage}: {type(exc).__name__}"
        run.timings["total_ms"] = _ms(total)
        if options.log and run.id is not None:
            _log(services, run, status="interrupted" if isinstance(exc, KeyboardInterrupt) else "error")
        emit(Event("error", run.error))
        raise
    finally:
        runlog.current_run.reset(attached)
    run.timings["total_ms"] = _ms(total)
    if options.log and run.id is not None:
        _log(services, run, status="ok")
    emit(Event("done", run))
    return run


def candidate_rows(run: Run) -> list[dict]:
    """One row per recalled candidate: recall rank/score, rerank rank/score, context position, cited."""
    reranked = {r.chunk_id: r for r in run.ranked}
    in_context = {item.candidate.chunk_id: item.index for item in run.context}
    cited = set(run.answer.cited_chunk_ids) if run.answer is not None else set()
    rows = []
    for c in run.candidates:
        r = reranked.get(c.chunk_id)
        rows.append({"chunk_id": c.chunk_id, "chunk_sha": c.content_sha256, "source": c.source,
                     "recall_rank": c.rank, "recall_score": c.score,
                     "rerank_rank": r.rank if r else None, "rerank_score": r.score if r else None,
                     "in_context": c.chunk_id in in_context, "context_index": in_context.get(c.chunk_id),
                     "cited": c.chunk_id in cited})
    return rows


def _log(services, run: Run, status: str) -> None:
    answer = run.answer
    trace = {"rerank": run.rerank_trace.to_dict() if run.rerank_trace else None,
             "context_filter": run.context_filter.to_dict() if run.context_filter is not None else None}
    tokens, citations, prompt_sha, model = {}, None, None, None
    if answer is not None:
        comp = answer.completion
        tokens = {"prompt": comp.prompt_tokens, "completion": comp.completion_tokens}
        citations = answer.citations_dict()
        prompt_sha, model = answer.prompt_sha, comp.model
        trace["answer"] = {"attempts": comp.attempts, "seconds": comp.seconds, "abstained": answer.abstained}
    with services.db.connection() as conn:
        runlog.record_candidates(conn, run.id, candidate_rows(run))
        runlog.finish_run(conn, run.id, status=status, strategy=run.strategy, policy_decision=run.decision,
                          answer=answer.text if answer is not None else None, citations=citations,
                          prompt_sha=prompt_sha, model=model, timings=run.timings, tokens=tokens, trace=trace,
                          error=run.error)
