"""Every text colour in the style sheets meets WCAG AA (4.5:1) against the background it
is drawn on, in the light theme and in the dark one (prefers-color-scheme: dark).

The sheets are read as they are: custom properties resolved per theme, a rule's text
colour checked against its own background, or, where it sets none, against the page and
card backgrounds it can sit on; a rule that sets only a background is checked with the
text colour it inherits. Code tokens are checked against the code block's background."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "static"
SHEETS = [STATIC / "css" / "app.css", STATIC / "css" / "highlight.css", STATIC / "retrieval" / "citations.css"]
AA = 4.5
# Backgrounds a rule without its own can be drawn on.
SURFACES = ("--bg", "--card", "--user")
# Rules whose colours are not text on that background: images, the highlighted-line
# background, pseudo-element glyphs (the cursor), whitespace tokens (no glyphs to read).
NOT_TEXT = re.compile(r"\bimg\b|\.hll\b|::?(?:before|after)|^\.highlight \.w$")
HEX = re.compile(r"#[0-9a-fA-F]{3,6}\b")


def _blocks(css: str):
    """(selector, declarations, dark?) for every rule, inside @media blocks too."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    depth_dark = []
    for match in re.finditer(r"([^{}]*)\{|\}", css):
        if match.group(0) == "}":
            if depth_dark:
                depth_dark.pop()
            continue
        head = match.group(1).strip()
        if head.startswith("@"):
            depth_dark.append("prefers-color-scheme: dark" in head)
            continue
        end = css.index("}", match.end())
        yield head, css[match.end() : end], any(depth_dark)
        depth_dark.append(False)


def _declarations(body: str) -> dict[str, str]:
    found = {}
    for part in body.split(";"):
        if ":" in part:
            name, value = part.split(":", 1)
            found[name.strip()] = value.replace("!important", "").strip()
    return found


def theme(dark: bool) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The custom properties and the rules (selector -> declarations) of one theme."""
    variables: dict[str, str] = {}
    rules: dict[str, dict[str, str]] = {}
    for sheet in SHEETS:
        for selector, body, in_dark in _blocks(sheet.read_text()):
            if in_dark and not dark:
                continue
            declarations = _declarations(body)
            if selector == ":root":
                variables.update({k: v for k, v in declarations.items() if k.startswith("--")})
                continue
            for one in selector.split(","):
                rules.setdefault(" ".join(one.split()), {}).update(declarations)
    return variables, rules


def resolve(value: str | None, variables: dict[str, str]) -> str | None:
    """A hex colour, or None for what is not one (inherit, transparent, color-mix…)."""
    if value is None:
        return None
    var = re.fullmatch(r"var\((--[\w-]+)(?:,\s*([^)]+))?\)", value)
    if var:
        return resolve(variables.get(var.group(1), var.group(2)), variables)
    color = HEX.search(value)
    return color.group(0) if color and (value.startswith("#") or value.split()[0].startswith("#")) else None


def luminance(color: str) -> float:
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_pairs(dark: bool):
    """(selector, text colour, background) for every text a rule colours or backs."""
    variables, rules = theme(dark)
    page_text = resolve("var(--fg)", variables)
    code = rules.get(".highlight", {})
    code_text = resolve(code.get("color"), variables)
    code_background = resolve(code.get("background"), variables)
    for selector, declarations in rules.items():
        if NOT_TEXT.search(selector) or "[class]" in selector:
            continue
        text = resolve(declarations.get("color"), variables)
        background = resolve(declarations.get("background") or declarations.get("background-color"), variables)
        if selector.startswith(".highlight"):
            if text or background:
                yield selector, text or code_text, background or code_background
        elif text and background:
            yield selector, text, background
        elif text:
            for surface in SURFACES:
                yield f"{selector} on {surface}", text, resolve(f"var({surface})", variables)
        elif background:
            yield selector, page_text, background


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_text_colour_meets_wcag_aa(dark):
    failing = [
        f"{selector}: {text} on {background} is {contrast(text, background):.2f}:1"
        for selector, text, background in text_pairs(dark)
        if contrast(text, background) < AA
    ]
    assert not failing, "\n".join(failing)


def test_the_check_sees_the_citation_styles_in_both_themes():
    for dark in (False, True):
        selectors = {selector for selector, _text, _background in text_pairs(dark)}
        assert {".citations on --card", ".cite-marker", ".cite-tip", ".file-chip"} <= selectors


def test_no_text_is_faded_by_opacity_except_disabled_controls():
    """Opacity blends text into its background and lowers its contrast unseen by the check
    above; only disabled controls (exempt from WCAG's contrast rule) and animations may fade."""
    faded = []
    for sheet in SHEETS:
        for selector, body, _dark in _blocks(sheet.read_text()):
            opacity = _declarations(body).get("opacity")
            if opacity is None or re.fullmatch(r"[\d.]+%", selector) or ":disabled" in selector:
                continue
            if 0 < float(opacity) < 1:
                faded.append(f"{sheet.name}: {selector} {{ opacity: {opacity} }}")
    assert not faded, "\n".join(faded)
