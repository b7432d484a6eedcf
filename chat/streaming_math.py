"""Math in a streaming answer: each formula is shown typeset as soon as it is complete.

While an answer streams, the page shows its raw text as it comes (the whole answer is
rendered as Markdown once it is finished). Raw LaTeX would flash there (``\\(x^2\\)``) and
the line reflow when the answer is rendered whole. So the text is shown through
``MathWhileStreaming``: from a formula's opening delimiter on, text is held back until
the formula is complete, then shown as the very element the full render makes of it
(``chat.markdown.formula_html``: same rules, same markup), which static/js/math.js typesets
as it lands. Text that turns out not to be a formula (``costs $5 and $10``) is shown as it
is once that is clear: at a paragraph's end, or a line's end for a single ``$``, or after
a bounded length. Code (fenced blocks and inline spans) is shown as written.
"""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chat.markdown import PUNCTUATION_AFTER_MATH as _PUNCTUATION
from chat.markdown import formula_html

# What may change how the text after it is read: a backslash escape, a formula's opener,
# a run of backticks (code), a tilde fence.
_SPECIAL = re.compile(r"\\[\\$`]|\\[(\[]|\$\$?|`+|~{3,}")
_CLOSERS = {"\\(": "\\)", "\\[": "\\]", "$": "$", "$$": "$$"}
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# How far a formula may run before its opener is taken for plain text: a "$" (prices are
# common in prose) ends at its line, the others at a blank line; a bound either way.
MAX_FORMULA_CHARS = 2000


class MathWhileStreaming:
    """Raw text in, piece by piece; HTML out: escaped text, and each complete formula as
    its math element. ``held()`` is the raw text not shown yet."""

    def __init__(self) -> None:
        self.text = ""  # the raw text so far
        self.pos = 0  # the raw text before this has been shown
        self.fence: str | None = None  # inside a fenced code block: its marker
        self.code: str | None = None  # inside an inline code span: its backtick run

    def __call__(self, piece: str) -> SafeString:
        self.text += piece
        shown = []
        while (html := self._step()) is not None:
            shown.append(html)
        return mark_safe("".join(shown))

    def held(self) -> str:
        return self.text[self.pos :]

    def _show(self, end: int) -> str:
        html = escape(self.text[self.pos : end])
        self.pos = end
        return html

    def _step(self) -> str | None:
        """The next piece that can be shown now, or None until more text arrives."""
        if self.pos >= len(self.text):
            return None
        if self.fence is not None:
            return self._in_fence()
        if self.code is not None:
            return self._in_code()
        text, i = self.text, self.pos
        match = _SPECIAL.search(text, i)
        if match is None:
            end = len(text) - 1 if text.endswith("\\") else len(text)  # "\" may open "\("
            return self._show(end) if end > i else None
        if match.start() > i:
            return self._show(match.start())
        token = match.group()
        if match.end() == len(text) and token[0] in "`~$":
            return None  # the run may grow: "`" into "```", "$" into "$$"
        if token[0] == "\\" and token[1] in "\\$`":
            return self._show(match.end())  # escaped: plain text
        if token[0] in "`~":
            line_start = text.rfind("\n", 0, i) + 1
            if len(token) >= 3 and i - line_start <= 3 and not text[line_start:i].strip(" "):  # a line's start
                self.fence = token
            elif token[0] == "`":
                self.code = token
            return self._show(match.end())
        return self._formula(token)

    def _in_fence(self) -> str | None:
        text, i = self.text, self.pos
        closing = re.compile(r"\n {0,3}" + re.escape(self.fence) + r"[`~]*(?=[ \t]*(\n|$))")
        if (match := closing.search(text, i)) is not None and match.end() < len(text):
            self.fence = None
            return self._show(match.end())
        # Show all but a last line that may still become the closing fence.
        line_start = text.rfind("\n", i)
        if line_start >= 0 and self.fence.startswith(text[line_start + 1 :].lstrip(" ")[: len(self.fence)]):
            return self._show(line_start) if line_start > i else None
        return self._show(len(text))

    def _in_code(self) -> str | None:
        text, i = self.text, self.pos
        closing = re.compile(r"(?<!`)" + re.escape(self.code) + r"(?!`)")
        blank = _BLANK_LINE.search(text, i)
        match = closing.search(text, i)
        if match is not None and match.end() < len(text) and (blank is None or match.start() < blank.start()):
            self.code = None
            return self._show(match.end())
        if blank is not None:  # a span never closed is no span: back to prose
            self.code = None
            return self._show(blank.start())
        end = max(i, len(text.rstrip("`")))  # trailing backticks may close it
        return self._show(end) if end > i else None

    def _formula(self, opener: str) -> str | None:
        """At an opener: the formula once complete, the opener as text once it cannot be
        one, or None (held back) until that is known."""
        text, start = self.text, self.pos
        closer = _CLOSERS[opener]
        limit = re.compile(r"\n") if opener == "$" else _BLANK_LINE
        boundary = limit.search(text, start + len(opener))
        stop = min(boundary.start() if boundary else len(text), start + MAX_FORMULA_CHARS)
        search_from = start + len(opener)
        while (end := text.find(closer, search_from, stop)) >= 0:
            end += len(closer)
            # The characters after it decide: after a closing "$" no digit and no "$", and
            # punctuation right after any formula goes inside it (as the full render does).
            marks = _PUNCTUATION.match(text, end)
            if end == len(text) or (marks is not None and marks.end() == len(text)):
                return None
            shown_to = marks.end() if marks is not None else end
            if (html := formula_html(text[start:shown_to])) is not None:
                self.pos = shown_to
                return html
            if closer[0] != "$":
                break  # "\(" closes at its first "\)", as the full render reads it
            search_from = end - len(closer) + 1
        if boundary is None and stop == len(text):
            return None  # it may still close
        return self._show(start + len(opener))
