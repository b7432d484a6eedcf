"""No page read with GET writes to the database: opening, reloading or prefetching a page
(a browser may fetch a link ahead of a click) changes nothing. Every page of the fuzz
table is read with GET, by its owner and by a stranger, with the writes recorded."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chat.api.models import ApiKey
from tests.views.test_fuzz import PAGES, world  # noqa: F401  (world: a fixture)

pytestmark = [pytest.mark.django_db]

# Writes a read may make because it is a request, not because of the page: a session Django
# saves (a log-in's own, a rotated CSRF token) and, on /v1, the API key's last_used_at
# stamp (at most once a minute per key, chat/api/models.py). Any other write is a fault.
ALLOWED = [re.compile(r'^UPDATE "api_apikey" SET "last_used_at" = [^,]+ WHERE "api_apikey"\."id" = \S+$'), re.compile(r'"django_session"')]


def writes(sql_statements: list[str]) -> list[str]:
    """The statements that change a row, less the allowed bookkeeping."""
    return [
        sql for sql in sql_statements
        if re.match(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", sql, re.I) and not any(a.search(sql) for a in ALLOWED)
    ]


def get_pages() -> list[str]:
    """Every path of the fuzz table (which names every page; POST-only ones refuse a GET
    without writing, which is checked too) and the two it leaves out."""
    return list(dict.fromkeys(["/", *(path for _, path, _ in PAGES), "/account/api-keys/{key}/revoke/"]))


@pytest.mark.parametrize("who", ["alice", "bob", "newcomer", "anonymous"])
def test_no_page_read_with_get_writes_to_the_database(world, alice, bob, django_user_model, who):  # noqa: F811
    """alice owns the world, bob is its class's student and a stranger to the rest, the
    newcomer has no assistant at all (a GET used to create one), anonymous is sent to log in."""
    client = Client()
    if who != "anonymous":
        users = {"alice": alice, "bob": bob}
        client.force_login(users.get(who) or django_user_model.objects.create_user("newcomer", password="x-password-1"))
    paths = {**world, "key": ApiKey.objects.get(owner=alice).id}
    written = {}
    for path in get_pages():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path.format(**paths))
        assert response.status_code < 500, path
        found = writes([q["sql"] for q in captured.captured_queries])
        if found:
            written[path] = (response.status_code, found)
    assert written == {}


def test_the_check_sees_a_write():
    assert writes(['INSERT INTO "chat_assistant" ("id") VALUES (1)', 'UPDATE "chat_thread" SET "title" = 1']) == [
        'INSERT INTO "chat_assistant" ("id") VALUES (1)', 'UPDATE "chat_thread" SET "title" = 1',
    ]
    stamp = 'UPDATE "api_apikey" SET "last_used_at" = \'2026-11-30 04:49\' WHERE "api_apikey"."id" = 2'
    more = 'UPDATE "api_apikey" SET "last_used_at" = 1, "revoked_at" = NULL WHERE "api_apikey"."id" = 2'
    assert writes(["SELECT 1", stamp, more]) == [more]


def test_an_account_with_no_assistant_is_offered_to_create_one(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("newcomer", password="x-password-1"))
    page = client.get("/threads/").content.decode()
    assert "You have no assistant to talk to yet." in page and 'href="/assistants/new/"' in page
    assert "New conversation</button>" not in page
