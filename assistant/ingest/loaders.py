"""Format loaders: each turns one file into a title and heading-tagged sections, or raises BadFile with a reason."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

SUPPORTED = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".rst": "text",
             ".html": "html", ".htm": "html", ".pdf": "pdf"}


class BadFile(Exception):
    """A file that cannot be ingested; str() is the reason shown to the user."""


@dataclass
class Section:
    heading: str
    text: str


@dataclass
class LoadedDocument:
    source: str
    title: str
    sha256: str
    sections: list[Section] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def load(path: Path, max_bytes: int) -> LoadedDocument:
    """Read and parse one file. Raises BadFile for anything a person should hear about."""
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise BadFile(f"unsupported file type {path.suffix or '(none)'}: use .md, .txt, .html or .pdf")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BadFile(f"cannot read: {exc.strerror}") from exc
    if size == 0:
        raise BadFile("empty file")
    if size > max_bytes:
        raise BadFile(f"too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:g} MB limit; about {size / 1e6:.0f} min "
                      "to ingest: raise ASSISTANT_MAX_FILE_MB to include it)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadFile(f"cannot read: {exc.strerror}") from exc
    sha = hashlib.sha256(data).hexdigest()
    loader = {"markdown": _markdown, "text": _text, "html": _html, "pdf": _pdf}[kind]
    title, sections = loader(data, path)
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise BadFile("no text found")
    return LoadedDocument(str(path), title or path.stem, sha, sections, {"format": kind, "bytes": size})


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise BadFile("binary content (NUL bytes) in a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile(f"not valid UTF-8 (byte {exc.start}): convert it to UTF-8 first") from exc
    return text


def _text(data: bytes, path: Path) -> tuple[str, list[Section]]:
    text = _decode(data)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return (first[:120] if len(first) <= 120 else path.stem), [Section("", text)]


def _markdown(data: bytes, path: Path) -> tuple[str, list[Section]]:
    from markdown_it import MarkdownIt

    text = _decode(data)
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    lines = text.splitlines()
    title = ""
    trail: list[tuple[int, str]] = []  # heading stack: (level, text)
    sections: list[Section] = []
    current: list[str] = []

    def flush():
        if current:
            sections.append(Section(" > ".join(h for _, h in trail), "\n".join(current).strip()))
            current.clear()

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            flush()
            level = int(tok.tag[1])
            heading = tokens[i + 1].content.strip()
            if level == 1 and not title:
                title = heading
            trail[:] = [(lv, h) for lv, h in trail if lv < level] + [(level, heading)]
            i += 3
            continue
        # Top-level blocks are taken as their source lines, so lists, tables and code keep their shape.
        top_level = tok.level == 0 and tok.map is not None
        if top_level and (tok.type.endswith("_open") or tok.type in {"fence", "code_block", "html_block"}):
            block = "\n".join(lines[tok.map[0]:tok.map[1]]).strip()
            if block:
                current.append(block)
        i += 1
    flush()
    return title, sections


def _html(data: bytes, path: Path) -> tuple[str, list[Section]]:
    from bs4 import BeautifulSoup

    if b"\x00" in data[:8192]:
        raise BadFile("binary content (NUL bytes) in an HTML file")
    soup = BeautifulSoup(data, "html.parser")  # bs4 sniffs the declared/likely encoding itself
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "form", "svg"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    body = soup.body or soup
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    current: list[str] = []
    blocks = body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td", "blockquote", "dd", "dt"])
    for el in blocks:
        if el.find_parent(["p", "li", "pre", "td", "blockquote"]) is not None and el.name not in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            continue  # counted with its parent block
        text = el.get_text(" ", strip=True)
        if not text:
            continue
        if el.name[0] == "h" and el.name[1:].isdigit():
            if current:
                sections.append(Section(" > ".join(h for _, h in trail), "\n".join(current)))
                current = []
            level = int(el.name[1])
            if level == 1 and not title:
                title = text
            trail = [(lv, h) for lv, h in trail if lv < level] + [(level, text)]
        else:
            current.append(text)
    if current:
        sections.append(Section(" > ".join(h for _, h in trail), "\n".join(current)))
    if not sections:
        text = body.get_text("\n", strip=True)
        sections = [Section("", text)]
    return title, sections


def _pdf(data: bytes, path: Path) -> tuple[str, list[Section]]:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if not data.startswith(b"%PDF"):
        raise BadFile("not a PDF (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as exc:
                raise BadFile("encrypted PDF: decrypt it first") from exc
        title = ""
        if reader.metadata and reader.metadata.title:
            title = str(reader.metadata.title)
        sections = []
        for n, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            if text.strip():
                sections.append(Section(f"page {n}", text))
    except BadFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, IndexError) as exc:
        raise BadFile(f"broken PDF ({type(exc).__name__}: {exc})") from exc
    if not sections:
        raise BadFile("PDF has no extractable text (scanned images need OCR first)")
    return title, sections
