"""Render untrusted chat text (model output, user messages) to safe HTML.

Pipeline: markdown-it-py ("commonmark" + tables + strikethrough, raw HTML
disabled) -> our own renderers for math, code and images -> nh3 sanitizer
with an allow-list that matches exactly what those renderers emit.

Math is not typeset here.  The LaTeX source is kept verbatim (markdown never
sees it) and HTML-escaped into

    <span class="math-inline">...</span>    for  $...$   and  \\( ... \\)
    <div class="math-display">...</div>     for  $$...$$ and  \\[ ... \\]  on their own lines
    <span class="math-display">...</span>   for  $$...$$ and  \\[ ... \\]  inside running text

(a <div> is not allowed inside <p>), which static/js/math.js hands to KaTeX.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml, unescapeAll
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

__all__ = ["formula_html", "render_markdown"]

# Pygments manages roughly 250-400 KB/s, so highlighting is budgeted per message:
# once this many characters of code have been highlighted, further code blocks
# are rendered as plain escaped text (same markup, no token spans).
HIGHLIGHT_BUDGET_CHARS = 16_000

_ALLOWED_LINK = re.compile(r"(?:https?|mailto):", re.IGNORECASE)
_LANG_NAME = re.compile(r"[\w+#.-]{1,40}")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# ``sandbox:/mnt/data/<name>``: how the Assistants API's models name files their code wrote.
_RESOLVABLE_LINK = re.compile(r"sandbox:", re.IGNORECASE)
_LINK_DEPTH = "_chat_markdown_link_depth"
_LINK_STACK = "_chat_markdown_link_stack"
_RESOLVE_LINK = "_chat_markdown_resolve_link"
_SEARCH_CACHE = "_chat_markdown_search_cache"
_HIGHLIGHT_BUDGET = "_chat_markdown_highlight_budget"
_LAST_INLINE = "_chat_markdown_last_inline"

# ---------------------------------------------------------------------------
# Math
# ---------------------------------------------------------------------------


def _search(env: dict[str, Any], src: str, needle: str | re.Pattern[str], start: int) -> int:
    """Position of the first ``needle`` at or after ``start`` in ``src``, or -1.

    Remembers the last answer per needle: a later query that starts between the
    previous start and the previous hit has the same answer.  Parsing moves
    forward through the text, so this keeps many unclosed openers (``\\(`` or
    ``$$`` a thousand times, no closer) linear instead of quadratic.
    """
    cache = env.setdefault(_SEARCH_CACHE, {})
    hit = cache.get(needle)
    if hit is not None:
        c_src, c_start, c_found = hit
        if c_src is src and c_start <= start and (c_found < 0 or start <= c_found):
            return c_found
    if isinstance(needle, str):
        found = src.find(needle, start)
    else:
        m = needle.search(src, start)
        found = m.start() if m else -1
    cache[needle] = (src, start, found)
    return found


def _math_inline_rule(opener: str, closer: str, token_type: str) -> Callable[[StateInline, bool], bool]:
    """Inline math between two fixed delimiters, e.g. ``\\( ... \\)``.

    Registered before markdown's "escape" rule, so ``\\(`` is not turned into
    ``(`` and nothing between the delimiters is parsed as markdown.
    """

    def rule(state: StateInline, silent: bool) -> bool:
        src, pos = state.src, state.pos
        if not src.startswith(opener, pos):
            return False
        start = pos + len(opener)
        end = _search(state.env, src, closer, start)
        if end < 0:
            return _cut_short_inline(state, start, opener, token_type, silent)
        if end + len(closer) > state.posMax or not src[start:end].strip():
            return False
        if not silent:
            token = state.push(token_type, "math", 0)
            token.content = src[start:end]
            token.markup = opener
        state.pos = end + len(closer)
        return True

    return rule


def _mark_last_inline(state: Any) -> None:
    """Core rule: remember the inline text that ends the whole text (nothing but closing
    tags after it), where an answer cut short stops."""
    tokens = state.tokens
    last = next((i for i in range(len(tokens) - 1, -1, -1) if tokens[i].type == "inline"), None)
    if last is not None and all(token.nesting == -1 for token in tokens[last + 1 :]):
        state.env[_LAST_INLINE] = tokens[last].content


def _cut_short_inline(state: StateInline, start: int, opener: str, token_type: str, silent: bool) -> bool:
    """An inline opener never closed, whose formula runs to the very end of the text: an
    answer cut short (stopped, or out of tokens) inside a formula. It is math up to where it
    stopped, as a display block cut short is, when nothing but its body follows: no second
    opener after it."""
    src = state.src
    if src is not state.env.get(_LAST_INLINE) or state.posMax != len(src):
        return False
    if not src[start:].strip() or src.find(opener, start) >= 0:
        return False
    if not silent:
        token = state.push(token_type, "math", 0)
        token.content = src[start:]
        token.markup = opener
    state.pos = state.posMax
    return True


# LaTeX's own marks: a "$" cut short is a formula only when what follows it has one ("$x^{3} -"),
# so "It costs $5" at the end of an answer stays text.
_LATEX_MARK = re.compile(r"[\\^_{}]")


def _cut_short_dollar(state: StateInline, silent: bool) -> bool:
    """``$``/``$$`` never closed at the end of the text (the dollar plugin's rule, tried
    first, found no closer): math up to where the answer stopped, by the rule above."""
    src, pos = state.src, state.pos
    if src[pos] != "$":
        return False
    opener = "$$" if src.startswith("$$", pos) else "$"
    start = pos + len(opener)
    body = src[start:]
    if not body or body[0].isspace() or "$" in body or not _LATEX_MARK.search(body):
        return False
    return _cut_short_inline(state, start, opener, "math_inline" if opener == "$" else "math_inline_double", silent)


def _math_block_rule(opener: str, closer: str) -> Callable[[StateBlock, int, int, bool], bool]:
    """Display math starting a line with ``opener`` and ending a line with ``closer``.

    May interrupt a paragraph (models write "is:\\n\\[\\n...\\n\\]"), so lines of
    LaTeX such as ``- b`` or ``= c`` are not taken for lists or headings.  The
    body may not contain a blank line; otherwise it is not a block and the
    paragraph/inline rules get their turn.  A block never closed whose body runs
    to the end of the text is an answer cut short (stopped, or out of tokens): it
    is math up to where it stopped, not text that loses its backslashes.
    """

    def rule(state: StateBlock, startLine: int, endLine: int, silent: bool) -> bool:
        if state.sCount[startLine] - state.blkIndent >= 4:
            return False  # indented code
        src = state.src
        pos = state.bMarks[startLine] + state.tShift[startLine]
        if not src.startswith(opener, pos):
            return False
        start = pos + len(opener)
        end = _search(state.env, src, closer, start)
        if end < 0:
            return _cut_short_block(state, startLine, endLine, start, opener, silent)
        # the line holding the closer, which must be inside this container ...
        last = bisect_left(state.eMarks, end + len(closer), startLine, endLine)
        if last >= endLine or end < state.bMarks[last]:
            return False
        # ... and must end the line
        if src[end + len(closer) : state.eMarks[last]].strip():
            return False
        if not src[start:end].strip():
            return False
        blank = _search(state.env, src, _BLANK_LINE, start)
        if 0 <= blank < end:
            return False
        if silent:
            return True
        _push_math_block(state, startLine, last, start, end, opener)
        return True

    return rule


def _cut_short_block(state: StateBlock, startLine: int, endLine: int, start: int, opener: str, silent: bool) -> bool:
    """An opener with no closer after it: a block to the end of the text, when nothing
    but its body follows it: no blank line, no second opener (display math never nests)."""
    src = state.src
    if endLine != state.lineMax or src.find(opener, start) >= 0 or not src[start:].strip():
        return False
    blank = _search(state.env, src, _BLANK_LINE, start)
    if blank >= 0 and src[blank:].strip():
        return False
    last = endLine - 1
    while last > startLine and state.bMarks[last] + state.tShift[last] >= state.eMarks[last]:
        last -= 1  # trailing empty lines
    if silent:
        return True
    _push_math_block(state, startLine, last, start, state.eMarks[last], opener)
    return True


def _push_math_block(state: StateBlock, startLine: int, last: int, start: int, end: int, opener: str) -> None:
    """The block from ``start`` (after its opener) to ``end`` (its closer, or where the
    text stops), which ends on line ``last``."""
    src = state.src
    if last == startLine:
        content = src[start:end]
    else:
        parts = [src[start : state.eMarks[startLine]]]
        for line in range(startLine + 1, last):
            parts.append(_line_text(state, line, state.eMarks[line]))
        parts.append(_line_text(state, last, end))
        content = "\n".join(parts)
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = content
    token.markup = opener
    token.map = [startLine, last + 1]
    state.line = last + 1


def _line_text(state: StateBlock, line: int, stop: int) -> str:
    """A line of the source without its container's indentation."""
    begin = state.bMarks[line]
    indent = min(state.tShift[line], max(state.blkIndent, 0))
    return state.src[begin + indent : stop]


def _math_plugin(md: MarkdownIt) -> None:
    # $...$ (and $$...$$ inside a paragraph) from mdit_py_plugins, Pandoc rules:
    # no space just inside the dollars and no digit just outside them, so
    # "costs $5 and $10" stays text.
    dollarmath_plugin(
        md,
        allow_labels=False,
        allow_space=False,
        allow_digits=False,
        allow_blank_lines=False,
        double_inline=True,
    )
    alt = {"alt": ["paragraph", "reference", "blockquote", "list"]}
    # Replace the plugin's $$ block rule: ours may interrupt a paragraph and
    # stays linear on unclosed "$$" lines.
    md.block.ruler.at("math_block", _math_block_rule("$$", "$$"), alt)
    md.block.ruler.after("math_block", "math_block_brackets", _math_block_rule("\\[", "\\]"), alt)
    md.inline.ruler.before(
        "escape", "math_inline_paren", _math_inline_rule("\\(", "\\)", "math_inline")
    )
    md.inline.ruler.before(
        "escape", "math_inline_bracket", _math_inline_rule("\\[", "\\]", "math_inline_double")
    )

    md.inline.ruler.after("math_inline", "math_inline_dollar_cut_short", _cut_short_dollar)
    md.core.ruler.before("inline", "mark_last_inline", _mark_last_inline)

    md.add_render_rule("math_inline", _render_math_inline)
    md.add_render_rule("math_inline_double", _render_math_display_inline)
    md.add_render_rule("math_block", _render_math_block)


def _render_math_inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return f'<span class="math-inline">{escapeHtml(tokens[idx].content.strip())}</span>'


def _render_math_display_inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return f'<span class="math-display">{escapeHtml(tokens[idx].content.strip())}</span>'


def _render_math_block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return f'<div class="math-display">{escapeHtml(tokens[idx].content.strip())}</div>\n'


# ---------------------------------------------------------------------------
# Asterisks between operands
# ---------------------------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_OPERAND_END = frozenset(_ALNUM + ")")
_OPERAND_START = frozenset(_ALNUM + "(")


def _operand_asterisks(state: StateInline, silent: bool) -> bool:
    """A run of ``*`` between operands (an ASCII letter, digit or bracket right on both
    sides: ``2x*cos(x)``, ``(a+b)*(a-b)``) is text.

    CommonMark lets such a run open or close emphasis inside a word, so ``2x*cos(x) +
    x*sin(x)`` would lose both stars to an <em>, a wrong formula, and ``x**2 + y**2`` a
    <strong>. In a tutoring chat a star between operands is multiplication (or Python's
    power) far more often than emphasis inside a word, so we give up the latter. Letters
    outside ASCII keep CommonMark's rule: Chinese or Japanese text puts ``**bold**`` right
    against its neighbours."""
    src, pos = state.src, state.pos
    if src[pos] != "*" or pos == 0 or src[pos - 1] not in _OPERAND_END:
        return False
    end = pos
    while end < state.posMax and src[end] == "*":
        end += 1
    if end >= state.posMax or src[end] not in _OPERAND_START:
        return False
    if not silent:
        state.pending += src[pos:end]
    state.pos = end
    return True


# ---------------------------------------------------------------------------
# Code
# ---------------------------------------------------------------------------

_FORMATTER = HtmlFormatter(nowrap=True)


@functools.lru_cache(maxsize=256)
def _lexer(name: str) -> Lexer | None:
    if not _LANG_NAME.fullmatch(name):
        return None
    try:
        return get_lexer_by_name(name.lower(), stripnl=False, ensurenl=True)
    except ClassNotFound:
        return None


def _code_html(code: str, lang: str, env: dict[str, Any]) -> str:
    lexer = _lexer(lang) if lang else None
    budget = env.get(_HIGHLIGHT_BUDGET, HIGHLIGHT_BUDGET_CHARS)
    if lexer is None or len(code) > budget:
        body = escapeHtml(code)
    else:
        env[_HIGHLIGHT_BUDGET] = budget - len(code)
        body = highlight(code, lexer, _FORMATTER)
    return f'<div class="highlight"><pre><code>{body}</code></pre></div>\n'


def _render_fence(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    info = unescapeAll(token.info).strip() if token.info else ""
    lang = info.split(maxsplit=1)[0] if info else ""
    return _code_html(token.content, lang, env)


def _render_code_block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _code_html(tokens[idx].content, "", env)


# ---------------------------------------------------------------------------
# Links and images
# ---------------------------------------------------------------------------


def _validate_link(url: str) -> bool:
    """Absolute http(s) and mailto links, and ``sandbox:`` links (which only the caller's
    ``resolve_link`` can turn into a real address); anything else stays literal text."""
    return bool(_ALLOWED_LINK.match(url.strip()) or _RESOLVABLE_LINK.match(url.strip()))


def _href(url: str, env: dict[str, Any]) -> str | None:
    """The address a link may point to, or None when it must stay text."""
    if _ALLOWED_LINK.match(url.strip()):
        return url
    resolve = env.get(_RESOLVE_LINK)
    return resolve(url) if resolve is not None else None


def _render_link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    href = _href(str(tokens[idx].attrGet("href") or ""), env)
    env.setdefault(_LINK_STACK, []).append(href is not None)
    if href is None:
        return ""  # the label is shown as text
    env[_LINK_DEPTH] = env.get(_LINK_DEPTH, 0) + 1
    tokens[idx].attrSet("href", href)
    return self.renderToken(tokens, idx, options, env)


def _render_link_close(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    if not env.get(_LINK_STACK, [True]).pop():
        return ""
    env[_LINK_DEPTH] = env.get(_LINK_DEPTH, 0) - 1
    return self.renderToken(tokens, idx, options, env)


def _render_image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """No <img>: model output must not make the browser fetch anything.

    ``![alt](url)`` becomes a link to the image labelled with the alt text
    (or just the alt text when it already sits inside a link).
    """
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    href = None if env.get(_LINK_DEPTH, 0) > 0 else _href(src, env)
    if href is None:
        return escapeHtml(alt)
    return f'<a href="{escapeHtml(href)}">{escapeHtml(alt)}</a>'


# ---------------------------------------------------------------------------
# Parser and sanitizer (module level, built once)
# ---------------------------------------------------------------------------


def _build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    md.validateLink = _validate_link  # type: ignore[method-assign]
    _math_plugin(md)
    md.inline.ruler.before("emphasis", "operand_asterisks", _operand_asterisks)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_code_block)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("link_close", _render_link_close)
    md.add_render_rule("s_open", lambda self, tokens, idx, options, env: "<del>")
    md.add_render_rule("s_close", lambda self, tokens, idx, options, env: "</del>")
    md.core.ruler.push("table_align_classes", _table_align_classes)
    md.core.ruler.push("display_math_punctuation", _display_math_keeps_its_punctuation)
    return md


# Marks that go inside the formula they follow, so they never start a line alone.
PUNCTUATION_AFTER_MATH = _PUNCTUATION = re.compile(r"[.,;:!?]+")


def _display_math_keeps_its_punctuation(state: Any) -> None:
    """The full stop or comma that ends a sentence on a display formula goes inside it,
    as in print: after the formula's box (a block, KaTeX's .katex-display) it would sit
    alone on a line of its own. Covers ``$$…$$.`` in running text and a block formula
    followed by a line of nothing but punctuation. An inline formula's too (``$x = 1$:``):
    after its box (an inline-block) the line may break, leaving the mark alone at the
    start of the next line."""
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "inline" or not token.children:
            continue
        children = token.children
        for at, child in enumerate(children[:-1]):
            after = children[at + 1]
            if child.type in ("math_inline", "math_inline_double") and after.type == "text":
                found = _PUNCTUATION.match(after.content)
                if found:
                    child.content = _with_punctuation(child.content, found.group())
                    after.content = after.content[found.end() :]
        # The block formula's own line, then a "." line: in a list the paragraph is hidden.
        before = tokens[i - 2] if i >= 2 and tokens[i - 1].type == "paragraph_open" else None
        if before is not None and before.type == "math_block" and _PUNCTUATION.fullmatch(token.content.strip()):
            before.content = _with_punctuation(before.content, token.content.strip())
            token.children = []
            token.content = ""
            tokens[i - 1].hidden = tokens[i + 1].hidden = True


def _with_punctuation(latex: str, marks: str) -> str:
    return latex.rstrip() + r"\text{" + marks + "}"


_TABLE_ALIGN = re.compile(r"text-align:(left|center|right)")


def _table_align_classes(state: Any) -> None:
    """Column alignment as a class, not a style attribute: the page's Content-Security-Policy
    refuses style attributes in markup (static/css/app.css has the .align-* rules)."""
    for token in state.tokens:
        if token.type not in ("th_open", "td_open") or "style" not in token.attrs:
            continue
        match = _TABLE_ALIGN.fullmatch(str(token.attrs.pop("style")))
        if match:
            token.attrSet("class", f"align-{match.group(1)}")


_MD = _build_markdown()

_PYGMENTS_CLASSES = {cls for cls in STANDARD_TYPES.values() if cls}
_ALIGN_CLASSES = {"align-left", "align-center", "align-right"}

_CLEANER = nh3.Cleaner(
    tags={
        "p", "br", "hr", "strong", "em", "del", "code", "pre", "span", "div",
        "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td", "a",
    },  # fmt: skip
    clean_content_tags={"script", "style"},
    # "*": set() drops ammonia's default generic attributes (lang, title)
    attributes={"*": set(), "a": {"href"}, "ol": {"start"}},
    allowed_classes={
        "span": _PYGMENTS_CLASSES | {"math-inline", "math-display"},
        "div": {"highlight", "math-display"},
        "th": _ALIGN_CLASSES,
        "td": _ALIGN_CLASSES,
    },
    url_schemes={"http", "https", "mailto"},
    # Markdown writes every href itself, each checked by _href: absolute http(s)/mailto, or
    # a path returned by resolve_link. Raw HTML is off, so no other relative URL gets here.
    url_relative="pass_through",
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def render_markdown(text: str, *, resolve_link: Callable[[str], str | None] | None = None) -> SafeString:
    """Render untrusted markdown (with LaTeX math) to sanitized, safe HTML.

    ``resolve_link`` turns a ``sandbox:`` link written in prose into a path on this site
    (or None: the link's label stays plain text). Code is never rewritten."""
    if not text:
        return mark_safe("")
    html = _MD.render(str(text), {_RESOLVE_LINK: resolve_link})
    return mark_safe(_CLEANER.clean(html))


_FORMULA_TOKENS = frozenset({"math_inline", "math_inline_double"})


def formula_html(source: str) -> str | None:
    """The HTML the full render gives ``source`` when it is exactly one formula
    (``\\(x\\)``, ``\\[x\\]``, ``$x$``, ``$$x$$``, by the same rules), perhaps with the
    punctuation right after it (which the full render puts inside it), else None.

    A streaming answer shows each formula with this as soon as it is complete
    (chat/streaming_math.py), so it is typeset while the text streams, and looks
    the same once the answer is rendered whole."""
    tokens = _MD.parseInline(source, {})
    # Punctuation right after it went inside it (_display_math_keeps_its_punctuation).
    children = [child for child in (tokens[0].children or []) if child.type != "text" or child.content] if tokens else []
    if len(children) != 1 or children[0].type not in _FORMULA_TOKENS:
        return None
    return _CLEANER.clean(_MD.renderer.render(children, _MD.options, {}))
