"""Headers and files (issue 9): a Content-Security-Policy on every page that needs no
'unsafe-inline'; downloads of active content only as sandboxed attachments; passwords
checked by all of Django's validators on sign-up and on change."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils.http import parse_header_parameters

from chat.api.models import ApiKey
from chat.files import store_file
from chat.models import File, Message
from tests.admin_pages import admin_url
from tests.functions.conftest import WEATHER
from tests.functions.test_answering import QUIZ, waiting_run

pytestmark = [pytest.mark.django_db]

FILE_CSP = "sandbox; default-src 'none'"


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


class InlineCode(HTMLParser):
    """Everything in a page that a nonce-based CSP would refuse or that needs its nonce."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []
        self.nonces: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in attrs:
            if name == "style" or name.startswith("on"):
                self.refused.append(f"<{tag} {name}=…>")
        if tag in ("script", "style") and not (tag == "script" and attrs.get("src")):
            if attrs.get("nonce"):
                self.nonces.append(attrs["nonce"])
            else:
                self.refused.append(f"inline <{tag}> without a nonce")
        if tag == "a" and (attrs.get("href") or "").lower().startswith("javascript:"):
            self.refused.append("javascript: link")


def assert_page_keeps_to_the_policy(response) -> None:
    policy = directives(response)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    nonce = next(v for v in policy["script-src"] if v.startswith("'nonce-"))
    assert nonce in policy["style-src"]
    parser = InlineCode()
    parser.feed(response.content.decode())
    assert parser.refused == []
    assert all(f"'nonce-{n}'" == nonce for n in parser.nonces)


# --- the policy ----------------------------------------------------------------------------


def test_every_page_has_the_policy(client):
    response = client.get(reverse("login"))
    assert directives(response) == {
        "default-src": ["'self'"],
        "script-src": ["'self'", directives(response)["script-src"][1]],
        "style-src": ["'self'", directives(response)["style-src"][1]],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    assert directives(response)["script-src"][1].startswith("'nonce-")


def test_the_nonce_is_new_on_every_request(client):
    first, second = (directives(client.get(reverse("login")))["script-src"][1] for _ in range(2))
    assert first != second


def test_the_pages_anyone_can_see_need_no_inline_code(client):
    for url in (reverse("login"), reverse("chat:signup"), reverse("admin:login")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_page_keeps_to_the_policy(response)


def test_error_pages_have_the_policy_too(client, alice_client):
    not_found = alice_client.get("/threads/thread_nope/")
    assert not_found.status_code == 404 and "frame-ancestors 'none'" in not_found["Content-Security-Policy"]
    assert "default-src 'self'" in client.get("/no/such/page/")["Content-Security-Policy"]
    assert "default-src 'self'" in client.post(reverse("login"), {"username": "x"})["Content-Security-Policy"]


def test_the_csrf_failure_page_styles_itself_with_the_nonce():
    response = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert_page_keeps_to_the_policy(response)


@pytest.fixture
def admin_client(django_user_model, client):
    client.force_login(django_user_model.objects.create_superuser("root", password="root-password-1"))
    return client


def test_the_admin_needs_no_inline_code(admin_client, thread):
    change_page = admin_url("admin:chat_thread_change", thread.pk)
    for url in ("/admin/", "/admin/chat/thread/", change_page, "/admin/auth/user/add/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_page_keeps_to_the_policy(response)


def test_the_signed_in_pages_need_no_inline_code(alice, alice_client, tutor, thread):
    tutor.tools = [{"type": "function", "function": WEATHER}, {"type": "code_interpreter"}, {"type": "file_search"}]
    tutor.save(update_fields=["tools"])
    answer = "Solve $x^2 = 4$:\n\n$$x = \\pm 2$$\n\n```python\nprint(2)\n```\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n"
    Message.objects.create(thread=thread, role="assistant", content=Message.text_content(answer))
    waiting_run(thread, ("c_w", "get_weather", '{"city": "Paris"}'), ("c_q", "display_quiz", json.dumps(QUIZ)))
    notes = store_file(alice, "notes.txt", b"The quoted passage is here.")
    pages = [
        reverse("chat:threads"),
        reverse("chat:thread", args=[thread.id]),
        reverse("chat:assistants"),
        reverse("chat:assistant_create"),
        reverse("chat:assistant_edit", args=[tutor.id]),
        reverse("functions:function_list", args=[tutor.id]),
        reverse("functions:function_edit", args=[tutor.id, "get_weather"]),
        reverse("retrieval:assistant_files", args=[tutor.id]),
        reverse("retrieval:passage", args=[notes.id]) + "?q=quoted+passage",
        reverse("apikeys:list"),
    ]
    for url in pages:
        response = alice_client.get(url)
        assert response.status_code == 200, url
        assert_page_keeps_to_the_policy(response)


def test_htmx_may_not_inject_styles_or_eval(client):
    page = client.get(reverse("login")).content.decode()
    config = page.split('<meta name="htmx-config" content=\'', 1)[1].split("'", 1)[0]
    assert json.loads(config) == {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
        "attributesToSettle": ["class", "width", "height"],  # not "style": a style attribute set by htmx is refused
    }


# --- downloads -----------------------------------------------------------------------------

ACTIVE_FILES = {
    "page.html": b"<script>alert(document.cookie)</script>",
    "image.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "page.xhtml": b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
    "data.xml": b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>',
    "notes.txt.htm": b"<script>alert(1)</script>",
    "image.png.svg": b"<svg/>",
}


@pytest.fixture
def alice_key(alice) -> str:
    return ApiKey.issue(alice, "tests")[1]


def download_urls(record: File) -> list[str]:
    browser = reverse("chat:file_content", args=[record.id])
    return [browser, browser + "?inline=1", f"/v1/files/{record.id}/content"]


def assert_sandboxed_attachment(response, name: str) -> None:
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == FILE_CSP
    assert parse_header_parameters(response["Content-Disposition"])[1]["filename"] == name


@pytest.mark.parametrize("name", sorted(ACTIVE_FILES))
def test_active_content_is_only_ever_a_sandboxed_attachment(alice, alice_client, alice_key, name):
    record = store_file(alice, name, ACTIVE_FILES[name])
    for url in download_urls(record):
        response = alice_client.get(url, HTTP_AUTHORIZATION=f"Bearer {alice_key}")
        assert_sandboxed_attachment(response, name)
        assert b"".join(response.streaming_content) == ACTIVE_FILES[name]


def test_passive_images_and_text_may_be_inline_but_sandboxed(alice, alice_client, alice_key):
    png = store_file(alice, "plot.png", b"\x89PNG\r\n\x1a\n")
    for url in download_urls(png)[1:]:
        response = alice_client.get(url, HTTP_AUTHORIZATION=f"Bearer {alice_key}")
        assert response["Content-Type"] == "image/png" and response["Content-Disposition"].startswith("inline")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == FILE_CSP
    # Without ?inline=1 the browser route downloads it.
    assert_sandboxed_attachment(alice_client.get(download_urls(png)[0]), "plot.png")


def test_an_inline_pdf_is_sandboxed_too(alice, alice_client):
    pdf = store_file(alice, "book.pdf", b"%PDF-1.4\n%%EOF\n")
    response = alice_client.get(reverse("chat:file_content", args=[pdf.id]) + "?inline=1")
    assert response["Content-Type"] == "application/pdf" and response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff" and response["Content-Security-Policy"] == FILE_CSP


@pytest.mark.parametrize(
    "hostile, shown",
    [
        ('say "hi".html', 'say "hi".html'),
        ("two\nlines\r\n.svg", "twolines.svg"),
        ("naïve – 数学 😀.html", "naïve – 数学 😀.html"),
        ('a\\";\nfilename=evil.exe', '";filename=evil.exe'),  # a backslash is a path separator
        ("\u2028sep\x85.xml", "sep.xml"),
    ],
)
def test_untrusted_file_names_are_encoded_safely(alice, alice_client, alice_key, hostile, shown):
    record = store_file(alice, "placeholder.html", b"<b>x</b>")
    # The name as a tool or an older row might hold it, not cleaned on the way in.
    File.objects.filter(pk=record.pk).update(filename=hostile)
    record.refresh_from_db()
    for url in download_urls(record):
        response = alice_client.get(url, HTTP_AUTHORIZATION=f"Bearer {alice_key}")
        header = response["Content-Disposition"]
        assert "\n" not in header and "\r" not in header
        assert_sandboxed_attachment(response, shown)


# --- passwords -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password, error",
    [
        ("carolina-1", "too similar to the username"),
        ("carolina-2011-12", "too similar to the username"),
        ("Xy7-k!", "too short"),
        ("password123", "too common"),
        ("4815162342424242", "entirely numeric"),
    ],
)
def test_sign_up_refuses_weak_passwords(client, password, error):
    response = client.post(
        reverse("chat:signup"), {"username": "carolina", "password1": password, "password2": password}
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not User.objects.filter(username="carolina").exists()


def test_sign_up_accepts_a_strong_password(client):
    password = "tangerine-violin-47-orbit"
    response = client.post(reverse("chat:signup"), {"username": "carolina", "password1": password, "password2": password})
    assert response.status_code == 302 and User.objects.filter(username="carolina").exists()


@pytest.mark.parametrize(
    "password, error",
    [
        ("alice12345", "too similar to the username"),
        ("Xy7-k!", "too short"),
        ("qwertyuiop", "too common"),
        ("90210902109021", "entirely numeric"),
    ],
)
def test_changing_a_password_refuses_weak_ones(alice, alice_client, password, error):
    response = alice_client.post(
        reverse("password_change"),
        {"old_password": "alice-password-1", "new_password1": password, "new_password2": password},
    )
    assert response.status_code == 200 and error in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password("alice-password-1")


def test_the_four_validators_are_all_configured(settings):
    names = {v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert names == {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }
