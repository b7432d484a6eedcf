"""Math while an answer streams (chat/streaming_math.py): a formula is shown as its math
element once complete, never as raw LaTeX; other text is shown as it comes."""

from __future__ import annotations

import re

import pytest

from chat.content import StreamedText
from chat.markdown import render_markdown
from chat.streaming_math import MathWhileStreaming


def streamed(text: str, size: int = 1) -> tuple[str, list[str]]:
    """Feed ``text`` in pieces of ``size``; the HTML shown in all, and after each piece."""
    stream = MathWhileStreaming()
    pieces = [stream(text[i : i + size]) for i in range(0, len(text), size)]
    return "".join(pieces), pieces


def outside_math(html: str) -> str:
    return re.sub(r'<span class="math-(inline|display)">.*?</span>', "", html)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_a_formula_is_shown_whole_as_the_element_the_final_render_makes(size):
    text = r"Discriminant: \(\Delta = b^2 - 4ac = 1\), so two roots: \[x = 2\] and $x = 3$. Done"
    html, pieces = streamed(text, size)
    assert '<span class="math-inline">\\Delta = b^2 - 4ac = 1\\text{,}</span>' in html  # its comma with it
    assert '<span class="math-display">x = 2</span>' in html
    assert '<span class="math-inline">x = 3\\text{.}</span>' in html
    for piece in pieces:  # no delimiter ever shown as text
        assert not re.search(r"\\[()\[\]]|\$", outside_math(piece))
    final = str(render_markdown(text))
    for element in re.findall(r'<span class="math-[a-z]+">.*?</span>', html):
        assert element in final  # the same markup the finished answer gets


def test_text_before_an_open_formula_shows_at_once_and_the_formula_waits():
    stream = MathWhileStreaming()
    assert stream("The root is \\(x = ") == "The root is "
    assert stream.held() == "\\(x = "
    assert stream("2\\) now") == '<span class="math-inline">x = 2</span> now'


def test_prices_are_not_formulas_and_are_shown_by_the_end_of_their_line():
    html, _ = streamed("It costs $5 and $10 today.\nNext line", 1)
    assert "math" not in html
    assert html == "It costs $5 and $10 today.\nNext line"


def test_an_unclosed_formula_is_given_up_at_a_blank_line():
    html, _ = streamed("A \\(x + 1 never closed\n\nNew paragraph", 1)
    assert html == "A \\(x + 1 never closed\n\nNew paragraph"


def test_code_is_shown_as_written():
    text = "Run `echo $HOME` or\n```python\nprint('\\(x\\)', '$5$')\n```\nthen \\(y\\) ok"
    html, _ = streamed(text, 1)
    assert "print(&#x27;\\(x\\)&#x27;, &#x27;$5$&#x27;)" in html
    assert "`echo $HOME`" in html
    assert html.endswith('then <span class="math-inline">y</span> ok')


def test_html_in_the_text_is_escaped():
    html, _ = streamed("<b>bold</b> \\(a<b\\) ok", 3)
    assert html == '&lt;b&gt;bold&lt;/b&gt; <span class="math-inline">a&lt;b</span> ok'


def test_escaped_delimiters_are_plain_text():
    html, _ = streamed(r"a \$5 and \\(not a formula", 1)
    assert html == r"a \$5 and \\(not a formula"


def test_the_page_stream_passes_citations_and_math_through_together():
    stream = StreamedText()
    shown = stream.feed("See \\(x\\)【0:0†notes.pdf】 here")
    assert shown == 'See <span class="math-inline">x</span>[1] here'


def test_a_formula_waits_for_what_follows_it_and_takes_its_punctuation():
    """As the full render does, so that the mark never starts a line of its own."""
    stream = MathWhileStreaming()
    assert stream("Solve \\(x^3 = 8\\)") == "Solve "
    assert stream(":") == ""
    assert stream(" x = 2") == '<span class="math-inline">x^3 = 8\\text{:}</span> x = 2'
