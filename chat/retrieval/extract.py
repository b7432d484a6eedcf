"""Turning a file's bytes into pages of plain text, or a clear reason why not.

Each format is recognised by its content, not its name: a file whose extension claims
one format while its bytes are another is refused (renamed files are how broken
uploads and mischief arrive). Every failure is an ``ExtractError`` with a message meant
for the person who uploaded the file.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import unicodedata
import zipfile
from html.parser import HTMLParser
from pathlib import PurePath
from xml.etree import ElementTree

from django.conf import settings


class ExtractError(Exception):
    pass


TEXT_EXTENSIONS = {
    ".txt", ".md", ".markdown", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".xml", ".yaml", ".yml", ".toml",
    ".ini", ".cfg", ".log", ".tex", ".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".c", ".h", ".cc", ".cpp",
    ".hpp", ".cs", ".go", ".rs", ".rb", ".php", ".swift", ".kt", ".scala", ".sh", ".bash", ".sql", ".r",
    ".m", ".pl", ".lua", ".css", ".scss", ".ipynb", ".vue", ".svelte", ".dart", ".hs", ".ml", ".ex", ".exs",
}
HTML_EXTENSIONS = {".html", ".htm", ".xhtml"}
ACCEPTED = sorted({".pdf", ".docx"} | TEXT_EXTENSIONS | HTML_EXTENSIONS)

# One page of text: (page number starting at 1, text).
Page = tuple[int, str]

_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


def normalize(text: str) -> str:
    """NFKC (ligatures such as "ﬁ" become "fi"), joined hyphenated line breaks, tidy spaces."""
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\x00", "")
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = _SPACES.sub(" ", text)
    return _BLANKS.sub("\n\n", text).strip()


def _join_lines(text: str) -> str:
    """PDF text breaks lines where the layout wrapped them: keep paragraph breaks only."""
    return re.sub(r"(?<!\n)\n(?!\n)", " ", text)


def sniff(data: bytes) -> str:
    """What the bytes are: pdf, zip, text or binary."""
    head = data[:1024]
    if head.lstrip()[:5] == b"%PDF-":
        return "pdf"
    if data[:4] == b"PK\x03\x04":
        return "zip"
    if b"\x00" in head:
        return "binary"
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data[:65536]) - 4:  # not just a character cut at the sample's end
            return "binary"
    return "text"


def extract(filename: str, data: bytes) -> tuple[str, list[Page]]:
    """(kind, pages) for a file, or ExtractError."""
    if not data:
        raise ExtractError("The file is empty (0 bytes).")
    ext = PurePath(filename.lower()).suffix
    if ext not in ACCEPTED:
        raise ExtractError(
            f"Files of type “{ext or 'no extension'}” cannot be searched. "
            "Accepted: PDF, DOCX, HTML, Markdown, plain text, CSV/JSON and source code."
        )
    found = sniff(data)
    if ext == ".pdf":
        if found != "pdf":
            raise ExtractError(f"The file is named .pdf but its content is not a PDF (it looks like {found}).")
        return "pdf", extract_pdf(data)
    if ext == ".docx":
        if found != "zip":
            raise ExtractError(f"The file is named .docx but its content is not a Word document (it looks like {found}).")
        return "docx", extract_docx(data)
    if found != "text":
        what = {"pdf": "a PDF", "zip": "a zip archive (for example a Word document)", "binary": "binary data"}[found]
        raise ExtractError(f"The file is named {ext} but its content is {what}, not text.")
    text = data.decode("utf-8", errors="replace")
    if ext in HTML_EXTENSIONS:
        return "html", _one_page(html_to_text(text))
    if ext == ".json":
        try:
            json.loads(text)
        except ValueError as exc:
            raise ExtractError(f"The file is named .json but is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    if ext in {".csv", ".tsv"}:
        text = _table_text(text, "\t" if ext == ".tsv" else ",")
    return "text", _one_page(text)


def _one_page(text: str) -> list[Page]:
    text = normalize(text)
    if not text:
        raise ExtractError("The file contains no text.")
    return [(1, text)]


def _table_text(text: str, delimiter: str) -> str:
    """Rows as 'column: value' lines, so a search for a value finds its column name too."""
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error:
        return text
    if len(rows) < 2:
        return text
    header = rows[0]
    lines = []
    for row in rows[1:]:
        lines.append("; ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False) if v))
    return "\n".join(lines)


# --- PDF ---------------------------------------------------------------------------------


def extract_pdf(data: bytes) -> list[Page]:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported per file instead
    if b"%%EOF" not in data[-2048:]:
        raise ExtractError("The PDF is truncated or damaged: its end is missing. Upload the complete file.")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception:
                opened = 0
            if not opened:
                raise ExtractError("The PDF is password-protected. Remove the password and upload it again.")
        pages = []
        for number, page in enumerate(reader.pages, start=1):
            pages.append((number, _join_lines(normalize(page.extract_text() or ""))))
    except ExtractError:
        raise
    except FileNotDecryptedError:
        raise ExtractError("The PDF is password-protected. Remove the password and upload it again.") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise ExtractError(f"The PDF is damaged and cannot be read ({type(exc).__name__}).") from None
    if not pages:
        raise ExtractError("The PDF has no pages.")
    if not any(text for _, text in pages):
        raise ExtractError(
            "The PDF has no text layer (it is probably scanned images). "
            "Run it through OCR, or upload a version with selectable text."
        )
    return [(n, t) for n, t in pages if t]


# --- DOCX --------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def extract_docx(data: bytes) -> list[Page]:
    limit = settings.RETRIEVAL_MAX_UNPACKED_BYTES
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ExtractError("The Word document is damaged: it is not a readable zip archive.") from None
    declared = sum(info.file_size for info in infos)
    if declared > limit:
        raise ExtractError(
            f"The Word document would unpack to {declared:,} bytes (the limit is {limit:,}); "
            "it looks like a zip bomb and was not opened."
        )
    try:
        info = archive.getinfo("word/document.xml")
    except KeyError:
        raise ExtractError("The file is named .docx but is not a Word document (no word/document.xml inside).") from None
    try:
        with archive.open(info) as handle:
            xml = handle.read(limit + 1)  # never trust the declared size alone
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise ExtractError(f"The Word document is damaged and cannot be read ({type(exc).__name__}).") from None
    if len(xml) > limit:
        raise ExtractError("The Word document unpacks to more than the limit; it looks like a zip bomb.")
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        raise ExtractError("The Word document is damaged: its text cannot be parsed.") from None
    paragraphs = []
    for para in root.iter(f"{_W}p"):
        parts = []
        for node in para.iter():
            if node.tag == f"{_W}t" and node.text:
                parts.append(node.text)
            elif node.tag == f"{_W}tab":
                parts.append("\t")
            elif node.tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
        paragraphs.append("".join(parts))
    text = normalize("\n".join(paragraphs))
    if not text:
        raise ExtractError("The Word document contains no text.")
    return [(1, text)]


# --- HTML --------------------------------------------------------------------------------


class _TextOnly(HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "svg", "head"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_to_text(source: str) -> str:
    parser = _TextOnly()
    parser.feed(source)
    parser.close()
    return html.unescape("".join(parser.parts))
