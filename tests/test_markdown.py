import html
import re
import time

import pytest
from django.template import Context, Template
from django.utils.safestring import SafeString

from chat.markdown import render_markdown
from chat.models import Message


def math_texts(output: str, tag: str, cls: str) -> list[str]:
    """The (unescaped) LaTeX inside every <tag class="cls"> of the output."""
    pattern = rf'<{tag} class="{cls}">(.*?)</{tag}>'
    return [html.unescape(inner) for inner in re.findall(pattern, output, re.DOTALL)]


def test_the_result_is_a_safe_string():
    assert isinstance(render_markdown("hi"), SafeString)
    assert render_markdown("") == ""


def test_bold_lists_and_tables_render():
    out = render_markdown(
        "**bold** and *em* and ~~gone~~\n\n- one\n- two\n\n1. first\n2. second\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n"
    )
    assert "<strong>bold</strong>" in out
    assert "<em>em</em>" in out
    assert "<del>gone</del>" in out
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in out
    assert "<ol>\n<li>first</li>" in out
    assert "<table>" in out and "<th" in out and "<td" in out
    assert '<th class="align-right">b</th>' in out and '<td class="align-left">1</td>' in out
    assert "style=" not in out  # the page's CSP would refuse it


def test_raw_script_tags_are_escaped_not_passed_through():
    out = render_markdown("<script>alert(1)</script>\n\nhello <b>world</b>")
    assert "<script" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<b>" not in out


def test_a_javascript_link_never_becomes_an_href():
    for src in [
        "[x](javascript:alert(1))",
        "[x](JavaScript:alert(1))",
        "[x](java&#x73;cript:alert(1))",
        "<javascript:alert(1)>",
        "[x]\n\n[x]: javascript:alert(1)",
        "[x](data:text/html,<script>alert(1)</script>)",
    ]:
        out = render_markdown(src)
        assert "href" not in out, src
        assert "<a" not in out, src


def test_http_links_get_rel_nofollow_and_no_target():
    out = render_markdown("[site](https://example.com/a?b=1&c=2) <mailto:me@example.com>")
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">site</a>' in out
    assert 'href="mailto:me@example.com"' in out
    assert "target" not in out


def test_relative_links_are_not_linked():
    assert "<a" not in render_markdown("[admin](/admin/)")


def test_image_syntax_produces_no_img_tag_but_a_link_with_the_alt_text():
    out = render_markdown("![img](http://evil/x.png)")
    assert "<img" not in out
    assert '<a href="http://evil/x.png" rel="noopener noreferrer nofollow">img</a>' in out


def test_an_image_inside_a_link_becomes_its_alt_text():
    out = render_markdown("[![logo](http://evil/x.png)](https://example.com)")
    assert "<img" not in out
    assert out.count("<a ") == 1
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">logo</a>' in out


def test_a_raw_img_tag_with_onerror_is_escaped():
    out = render_markdown("<img src=x onerror=alert(1)>")
    assert "<img" not in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out


def test_paren_delimiters_give_inline_math_with_the_exact_latex():
    out = render_markdown(r"Let \(x^2 + y_1 * z_2\) be.")
    assert math_texts(out, "span", "math-inline") == [r"x^2 + y_1 * z_2"]
    assert "<em>" not in out


def test_bracket_delimiters_give_display_math_with_the_exact_latex():
    out = render_markdown(r"\[\frac{a}{b}\]")
    assert math_texts(out, "div", "math-display") == [r"\frac{a}{b}"]


def test_double_dollars_give_display_math_and_markdown_does_not_eat_underscores_or_stars():
    out = render_markdown("$$a_1 * b_2$$")
    assert math_texts(out, "div", "math-display") == ["a_1 * b_2"]


def test_single_dollars_give_inline_math():
    out = render_markdown(r"so $\alpha_i * \beta_j$ holds")
    assert math_texts(out, "span", "math-inline") == [r"\alpha_i * \beta_j"]


def test_multiline_display_math_interrupting_a_paragraph_survives_untouched():
    latex = "x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}\n- b_1\n= c \\\\\n\\{ d \\}"
    out = render_markdown(f"The formula is:\n\\[\n{latex}\n\\]\nwhere *a* is \\(a_1\\).")
    assert math_texts(out, "div", "math-display") == [latex]
    assert math_texts(out, "span", "math-inline") == ["a_1\\text{.}"]  # the full stop goes with it
    assert "<p>The formula is:</p>" in out
    assert "<em>a</em>" in out
    assert "<li>" not in out and "<h1>" not in out


def test_math_mixed_with_normal_markdown():
    out = render_markdown(
        "# Result $E=mc^2$\n\n"
        "- **bold** and \\(a_{ij}\\)\n"
        "- cost $5 and $10 stays text\n\n"
        "$$\n\\sum_{i=1}^n i\n$$\n\n"
        "Inline display \\[x_1\\] in text and `\\(code\\)`."
    )
    assert "<h1>Result <span class=\"math-inline\">E=mc^2</span></h1>" in out
    assert "<strong>bold</strong>" in out
    assert math_texts(out, "span", "math-inline") == ["E=mc^2", "a_{ij}"]
    assert "cost $5 and $10 stays text" in out
    assert math_texts(out, "div", "math-display") == [r"\sum_{i=1}^n i"]
    assert math_texts(out, "span", "math-display") == ["x_1"]
    assert r"<code>\(code\)</code>" in out


def test_html_inside_math_is_escaped():
    out = render_markdown(r"\(</span><script>alert(1)</script>\) and $<img src=x>$")
    assert "<script" not in out and "<img" not in out
    assert math_texts(out, "span", "math-inline") == [
        "</span><script>alert(1)</script>",
        "<img src=x>",
    ]


def test_escaped_delimiters_are_not_math():
    out = render_markdown(r"\$5 and \\(x\\)")
    assert "math-" not in out
    assert "$5" in out


def test_code_fences_are_highlighted_with_escaped_angle_brackets():
    out = render_markdown("```python\nif a < b:\n    print('<tag>')\n```")
    assert out.startswith('<div class="highlight"><pre><code>')
    assert '<span class="k">if</span>' in out
    assert "&lt;" in out
    assert "<tag>" not in out


def test_unknown_or_missing_languages_fall_back_to_escaped_plain_text():
    for src in ["```nosuchlanguage\n<b>x</b>\n```", "```\n<b>x</b>\n```", "    <b>x</b>"]:
        out = render_markdown(src)
        assert out == '<div class="highlight"><pre><code>&lt;b&gt;x&lt;/b&gt;\n</code></pre></div>\n', src


def test_inline_code_is_escaped():
    out = render_markdown("use `<div onclick=x>` here")
    assert "<code>&lt;div onclick=x&gt;</code>" in out


def test_the_template_filter_renders_a_message_as_markdown():
    message = Message(role="assistant", content=Message.text_content("**hi** <script>x</script>"))
    out = Template("{% load chat_markdown %}{{ message|message_content }}").render(Context({"message": message}))
    assert out == "<p><strong>hi</strong> &lt;script&gt;x&lt;/script&gt;</p>\n"


def test_a_32000_character_message_renders_completely():
    block = (
        "Some **bold** text, a [link](https://example.com), `code`, \\(a_i^2\\) and $x_1$.\n\n"
        "```python\nfor i in range(10):\n    print(i < 5)\n```\n\n"
        "\\[\n\\sum_{i=1}^n i = \\frac{n(n+1)}{2}\n\\]\n\n"
        "| a | b |\n|---|---|\n| 1 | $y$ |\n\n- item\n- item\n\n"
    )
    text = (block * (32_000 // len(block) + 1))[:32_000]
    render_markdown(text)  # warm caches
    # Speed belongs to benchmarks; this bound only catches a hang on a loaded machine.
    start = time.perf_counter()
    out = render_markdown(text)
    assert time.perf_counter() - start < 10
    assert out.count('class="highlight"') > 50


def test_unclosed_math_openers_do_not_hang_and_stay_text():
    for text in ["\\( a " * 5000, "\\[ a\n" * 6000, "$$ a\n" * 6000, "$a " * 10000]:
        start = time.perf_counter()
        out = render_markdown(text)
        assert time.perf_counter() - start < 10  # a hang guard (quadratic scans took minutes), not a timing test
        assert out.startswith("<p>") and "a" in out


def test_display_math_cut_short_at_the_end_is_math_up_to_where_it_stopped():
    # A stopped answer ends inside "\\[ ...": its LaTeX keeps its backslashes.
    out = render_markdown("Expand:\n\\[\n\\frac{x^{5}}{2} + 3 x^{4} =\n")
    assert math_texts(out, "div", "math-display") == ["\\frac{x^{5}}{2} + 3 x^{4} ="]
    assert "<p>Expand:</p>" in out
    out = render_markdown("Then:\n$$\n\\sqrt{2} +")
    assert math_texts(out, "div", "math-display") == ["\\sqrt{2} +"]


def test_an_unclosed_display_opener_with_text_after_a_blank_line_stays_text():
    out = render_markdown("\\[\nx + 1\n\nMore prose.")
    assert "math-" not in out and "More prose." in out


def _site_file(url: str) -> str | None:
    return "/files/file-1/content/" if url == "sandbox:/mnt/data/a.csv" else None


def test_a_sandbox_link_written_in_prose_becomes_a_link_to_the_file():
    html = render_markdown("[Download a.csv](sandbox:/mnt/data/a.csv)", resolve_link=_site_file)
    assert '<a href="/files/file-1/content/" rel="noopener noreferrer nofollow">Download a.csv</a>' in html


def test_sandbox_paths_inside_code_stay_as_written():
    text = "`sandbox:/mnt/data/a.csv`\n\n```python\nopen('sandbox:/mnt/data/a.csv')\n```"
    html = render_markdown(text, resolve_link=_site_file)
    assert "href" not in html and html.count("sandbox:/mnt/data/a.csv") == 2


def test_a_link_nothing_resolves_shows_its_label_as_text():
    html = render_markdown("[Download b.csv](sandbox:/mnt/data/b.csv) [home](/etc/passwd)", resolve_link=_site_file)
    assert "<a" not in html and "Download b.csv" in html and "sandbox:" not in html


def test_a_star_between_operands_is_multiplication_not_emphasis():
    # What a model writes for a derivative, and Python's power: no <em> or <strong> may eat
    # the stars (that would show a wrong formula).
    out = render_markdown("**Answer:** -x^2*sin(x) + 2x*cos(x), and x**2 + (a+b)*(a-b)")
    assert "<strong>Answer:</strong> -x^2*sin(x) + 2x*cos(x), and x**2 + (a+b)*(a-b)" in out
    assert "<em>" not in out


def test_emphasis_next_to_spaces_or_non_ascii_letters_still_works():
    assert "<em>em</em> and <strong>bold</strong>" in render_markdown("*em* and **bold**")
    assert "这是<strong>重要</strong>的" in render_markdown("这是**重要**的")


def test_the_full_stop_after_a_display_formula_goes_inside_it_not_onto_a_line_of_its_own():
    in_a_list = render_markdown("1. Apply the product rule:\n   $$x^2\\cos(x) + 2x\\sin(x)$$.\n2. Done.")
    assert '<span class="math-display">x^2\\cos(x) + 2x\\sin(x)\\text{.}</span></li>' in in_a_list
    in_text = render_markdown("So $$y = x$$, and $$z$$ ok.")
    assert '<span class="math-display">y = x\\text{,}</span> and <span class="math-display">z</span> ok.' in in_text


def test_a_line_of_punctuation_after_a_block_formula_joins_it():
    html = render_markdown("1. Block form:\n   \\[ x^2 + 1 \\]\n   .\n2. Done.")
    assert '<div class="math-display">x^2 + 1\\text{.}</div>\n</li>' in html
    assert "<li>Done.</li>" in html  # other text keeps its punctuation


def test_punctuation_right_after_an_inline_formula_goes_inside_it_so_it_never_wraps_alone():
    html = render_markdown("To solve $x^3 - 6x^2 + 11x - 6 = 0$: factor it. Take $x$. Then stop.")
    assert '<span class="math-inline">x^3 - 6x^2 + 11x - 6 = 0\\text{:}</span> factor it.' in html
    assert '<span class="math-inline">x\\text{.}</span> Then stop.</p>' in html


def test_punctuation_not_right_after_a_formula_stays_text():
    assert render_markdown("Take $x$ . Then stop.") == '<p>Take <span class="math-inline">x</span> . Then stop.</p>\n'


@pytest.mark.parametrize(
    ("text", "formula"),
    [("To solve \\(x^{3} - 6x^{2} +", "x^{3} - 6x^{2} +"),  # stopped inside \( ... \)
     ("Then \\(a = 2\\) and \\(\\frac{b}{", "\\frac{b}{"),  # an earlier formula closed, the last cut
     ("So $x^{2} -", "x^{2} -"),
     ("- a step: \\(y \\cdot", "y \\cdot")],  # inside a list item, still the end of the text
)
def test_inline_math_cut_short_at_the_end_is_math_up_to_where_it_stopped(text, formula):
    out = render_markdown(text)
    assert math_texts(out, "span", "math-inline")[-1] == formula
    assert "\\(" not in out and "(x^{3}" not in out


@pytest.mark.parametrize(
    ("text", "formulas"),
    [("It costs $5", []),  # a "$" with no LaTeX after it is a dollar
     ("a \\(x\n\nMore prose after a blank line.", []),  # not the end of the text
     ("Cut \\(x\n\n```\ncode\n```", []),
     ("one \\(x and \\(y", ["y"])],  # only the last opener runs to the end
)
def test_an_unclosed_inline_opener_is_math_only_where_the_text_ends_inside_it(text, formulas):
    assert math_texts(render_markdown(text), "span", "math-inline") == formulas
