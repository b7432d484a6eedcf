"""Turning a file's bytes into pages of plain text, or a clear reason why not.

Each format is recognised by its content, not its name: a file whose extension claims
one format while its bytes are another is refused (renamed files are how broken
uploads and mischief arrive). Every failure is an ``ExtractError`` with a message meant
for the person who uploaded the file.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import PurePath
from typing import NamedTuple
from xml.parsers import expat

import charset_normalizer
from django.conf import settings

logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported per file instead


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


class Sniffed(NamedTuple):
    kind: str  # pdf, zip, text or binary
    encoding: str | None = None  # of text


def sniff(data: bytes) -> Sniffed:
    """What the bytes are, by their content."""
    if data[:1024].lstrip()[:5] == b"%PDF-":
        return Sniffed("pdf")
    if data[:4] == b"PK\x03\x04":
        return Sniffed("zip")
    encoding = text_encoding(data)
    return Sniffed("binary") if encoding is None else Sniffed("text", encoding)


_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16: same first bytes
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
]
_SAMPLE = 65536
_DECODE_PIECE = 2**20  # big enough that HTMLParser does not rescan an open tag too often


def text_encoding(data: bytes) -> str | None:
    """The encoding text is written in (a byte-order mark, UTF-8, or a guess among the
    legacy 8-bit and multi-byte encodings), or None when the bytes are not text."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    sample = data[:_SAMPLE]
    try:
        sample.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError as exc:
        utf8 = exc.start >= len(sample) - 4 and len(data) > _SAMPLE  # only a character cut at the sample's end
    if utf8:
        return None if b"\x00" in sample[:1024] else "utf-8"
    if b"\x00" not in sample[:1024]:
        # On short text charset-normalizer reads Western 8-bit text as Chinese or Baltic;
        # windows-1252 (what browsers read "latin-1" as) is asked about first, and only
        # wins when its reading looks like ordinary text.
        western = charset_normalizer.from_bytes(sample, cp_isolation=["cp1252"]).best()
        if western is not None and western.chaos <= 0.1:
            return "cp1252"
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        return None
    if b"\x00" in sample[:1024] and not best.encoding.startswith(("utf_16", "utf_32")):
        return None  # NUL bytes are binary, unless the text is UTF-16/32 without a mark
    return best.encoding


class Budget:
    """The work one file may cost: characters of text kept and elements (XML, HTML) parsed.

    Both are capped by settings so that a small file built to unpack into a huge one
    fails with its own clear error instead of exhausting the server's memory.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.max_chars = settings.RETRIEVAL_MAX_TEXT_CHARS
        self.max_elements = settings.RETRIEVAL_MAX_ELEMENTS
        self.chars = 0
        self.elements = 0

    def spend_text(self, count: int) -> None:
        self.chars += count
        if self.chars > self.max_chars:
            raise ExtractError(
                f"{self.what} holds more than {self.max_chars:,} characters of text, the limit for one file. "
                "Split it into smaller files and upload those."
            )

    def spend_element(self) -> None:
        self.elements += 1
        if self.elements > self.max_elements:
            raise ExtractError(
                f"{self.what} has more than {self.max_elements:,} elements (the limit for one file); "
                "it looks like a file built to exhaust the server and was not processed."
            )


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
    found, encoding = sniff(data)
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
    budget = Budget("The file")
    if ext in HTML_EXTENSIONS:
        return "html", _one_page(html_to_text(_decoded(data, encoding, budget, count=False), budget))
    text = "".join(_decoded(data, encoding, budget))
    if ext == ".json":
        try:
            json.loads(text)
        except ValueError as exc:
            raise ExtractError(f"The file is named .json but is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
        except RecursionError:
            raise ExtractError("The file is named .json but nests deeper than any JSON document should.") from None
    if ext in {".csv", ".tsv"}:
        text = _table_text(text, "\t" if ext == ".tsv" else ",", budget)
    return "text", _one_page(text)


def _decoded(data: bytes, encoding: str, budget: Budget, *, count: bool = True) -> Iterator[str]:
    """The text in pieces, decoded as it goes, so its characters are counted (and capped)
    before a huge file is ever held as one string. (Markup is not counted here but by
    ``html_to_text``, which keeps only the text.)"""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for start in range(0, len(data) + 1, _DECODE_PIECE):
        piece = decoder.decode(data[start : start + _DECODE_PIECE], final=start + _DECODE_PIECE > len(data))
        if count:
            budget.spend_text(len(piece))
        yield piece


def _one_page(text: str) -> list[Page]:
    text = normalize(text)
    if not text:
        raise ExtractError("The file contains no text.")
    return [(1, text)]


def _table_text(text: str, delimiter: str, budget: Budget) -> str:
    """Rows as 'column: value' lines, so a search for a value finds its column name too.
    The column names repeat on every row, so the result is counted again: a wide header
    over many short rows must not multiply into gigabytes."""
    try:
        rows = csv.reader(io.StringIO(text), delimiter=delimiter)
        header = next(rows, None)
        lines = []
        output = Budget(budget.what)
        for row in rows:
            line = "; ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False) if v)
            output.spend_text(len(line) + 1)
            lines.append(line)
    except csv.Error:
        return text
    return "\n".join(lines) if lines else text


# --- PDF ---------------------------------------------------------------------------------


def extract_pdf(data: bytes) -> list[Page]:
    # Imported here: pypdf (and the cryptography it loads) is most of the start-up
    # time of the child process that extracts each file, and only PDFs need it.
    import pypdf
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError

    if b"%%EOF" not in data[-2048:]:
        raise ExtractError("The PDF is truncated or damaged: its end is missing. Upload the complete file.")
    budget = Budget("The PDF")
    max_pages = settings.RETRIEVAL_MAX_PDF_PAGES
    pages = []
    try:
        with pypdf.apply_configuration(**_PDF_LIMITS):
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except Exception:
                    opened = 0
                if not opened:
                    raise ExtractError("The PDF is password-protected. Remove the password and upload it again.")
            count = len(reader.pages)
            if count > max_pages:
                raise ExtractError(f"The PDF has {count:,} pages; the limit is {max_pages:,}. Split it and upload the parts.")
            for number, page in enumerate(reader.pages, start=1):
                text = _join_lines(normalize(page.extract_text() or ""))
                budget.spend_text(len(text))
                pages.append((number, text))
    except ExtractError:
        raise
    except FileNotDecryptedError:
        raise ExtractError("The PDF is password-protected. Remove the password and upload it again.") from None
    except LimitReachedError:
        raise ExtractError(
            "The PDF has a part too large to read within the server's limits "
            "(it may be built to exhaust the server); it was not processed."
        ) from None
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


# pypdf's own limits are sized for any use of a PDF (75 MB per stream); text extraction
# needs far less, and each byte of a content stream becomes many bytes of parsed operators.
_PDF_STREAM_BYTES = 16 * 2**20
_PDF_LIMITS = {
    "zlib_maximum_output_length": _PDF_STREAM_BYTES,
    "lzw_maximum_output_length": _PDF_STREAM_BYTES,
    "run_length_maximum_output_length": _PDF_STREAM_BYTES,
    "brotli_maximum_output_length": _PDF_STREAM_BYTES,
    "array_based_stream_maximum_output_length": _PDF_STREAM_BYTES,
    "stream_parsing_work_maximum_count": 500_000,  # operators and operands of one content stream
}


# --- DOCX --------------------------------------------------------------------------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main "  # expat's "uri name" form
_PARAGRAPH, _TEXT, _TAB, _BREAKS = f"{_W}p", f"{_W}t", f"{_W}tab", {f"{_W}br", f"{_W}cr"}


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
    reader = _DocxReader(Budget("The Word document"))
    unpacked = 0
    try:
        with archive.open(info) as handle:
            while block := handle.read(_SAMPLE):
                unpacked += len(block)
                if unpacked > limit:  # never trust the declared size alone
                    raise ExtractError("The Word document unpacks to more than the limit; it looks like a zip bomb.")
                reader.feed(block)
        reader.feed(b"", final=True)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise ExtractError(f"The Word document is damaged and cannot be read ({type(exc).__name__}).") from None
    except expat.ExpatError:
        raise ExtractError("The Word document is damaged: its text cannot be parsed.") from None
    text = normalize(reader.text())
    if not text:
        raise ExtractError("The Word document contains no text.")
    return [(1, text)]


class _DocxReader:
    """word/document.xml read as a stream of parser events: only the text is kept, never
    the tree, so memory stays flat however many elements the document has."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.out = io.StringIO()
        self.paragraphs: list[io.StringIO] = []  # open paragraphs (text boxes nest them)
        self.in_text = False
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = True
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._characters
        # A Word document has no DTD; entity declarations are how XML bombs are built.
        parser.StartDoctypeDeclHandler = self._refuse_dtd
        parser.EntityDeclHandler = self._refuse_dtd
        self.parser = parser

    def feed(self, block: bytes, final: bool = False) -> None:
        self.parser.Parse(block, final)

    def text(self) -> str:
        return self.out.getvalue()

    def _start(self, tag: str, attributes) -> None:
        self.budget.spend_element()
        if tag == _PARAGRAPH:
            self.paragraphs.append(io.StringIO())
        elif tag == _TEXT:
            self.in_text = True
        elif self.paragraphs and tag == _TAB:
            self._keep("\t")
        elif self.paragraphs and tag in _BREAKS:
            self._keep("\n")

    def _end(self, tag: str) -> None:
        if tag == _TEXT:
            self.in_text = False
        elif tag == _PARAGRAPH and self.paragraphs:
            self.out.write(self.paragraphs.pop().getvalue())
            self.out.write("\n")

    def _characters(self, data: str) -> None:
        if self.in_text and self.paragraphs:
            self._keep(data)

    def _keep(self, text: str) -> None:
        self.budget.spend_text(len(text))
        self.paragraphs[-1].write(text)

    def _refuse_dtd(self, *args) -> None:
        raise ExtractError("The Word document declares a DTD or entities, which Word never writes; it was not opened.")


# --- HTML --------------------------------------------------------------------------------


class _TextOnly(HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "svg", "head"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre", "table"}

    def __init__(self, budget: Budget) -> None:
        super().__init__(convert_charrefs=True)
        self.budget = budget
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        self.budget.spend_element()
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self._keep("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self._keep("\n")

    def handle_data(self, data):
        if not self.skipping:
            self._keep(data)

    def _keep(self, text: str) -> None:
        self.budget.spend_text(len(text))
        self.parts.append(text)


def html_to_text(source: str | Iterable[str], budget: Budget | None = None) -> str:
    """The visible text of an HTML page, fed to the parser piece by piece."""
    parser = _TextOnly(budget or Budget("The page"))
    for piece in [source] if isinstance(source, str) else source:
        parser.feed(piece)
    parser.close()
    return html.unescape("".join(parser.parts))
