"""Model output that tries to make the page link somewhere it should not.

Relative links pass the sanitizer only because markdown writes every href itself; these
replay what a hostile answer could write and check nothing but a resolved file path or an
absolute http(s)/mailto link comes out."""

import re

import pytest

from chat.markdown import render_markdown


def resolve_only_known_file(url: str) -> str | None:
    return "/files/file-ok/content/" if url == "sandbox:/mnt/data/ok.csv" else None


@pytest.mark.parametrize(
    "attack",
    [
        "[admin](/admin/)",
        "[elsewhere](//evil.example/x)",
        "[script](javascript:alert(1))",
        "[script](sandbox:javascript:alert(1))",
        "[up](sandbox:/mnt/data/../../etc/passwd)",
        "<a href='/admin/'>raw html</a>",
        "![img](sandbox:/mnt/data/other.png)",
        "<sandbox:/mnt/data/other.csv>",
    ],
)
def test_an_answer_cannot_link_to_a_path_no_resolver_returned(attack):
    html = render_markdown(attack, resolve_link=resolve_only_known_file)
    assert not re.search(r"<a\b", html), html


def test_a_resolved_file_link_is_the_only_relative_link():
    html = render_markdown("[ok](sandbox:/mnt/data/ok.csv) [admin](/admin/)", resolve_link=resolve_only_known_file)
    assert re.findall(r'<a href="([^"]*)"', html) == ["/files/file-ok/content/"]
