"""No GET of /v1 writes to the database (the key's last-used stamp aside): every GET
endpoint of the fuzz table is read with the world's key, with the writes recorded."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chat.api.models import ApiKey
from tests.api.test_fuzz import ENDPOINTS, world  # noqa: F401  (world: a fixture)
from tests.views.test_get_writes_nothing import writes

pytestmark = [pytest.mark.django_db]


def test_no_v1_get_writes_to_the_database(world):  # noqa: F811
    ApiKey.objects.update(last_used_at=None)  # the first request stamps it: the stamp is allowed
    client = Client()
    written, stamps = {}, 0
    for method, path, _ in ENDPOINTS:
        if method != "GET":
            continue
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path.format(**world), HTTP_AUTHORIZATION=f"Bearer {world['key']}")
        assert response.status_code == 200, (path, response.content[:300])
        statements = [q["sql"] for q in captured.captured_queries]
        stamps += sum('UPDATE "api_apikey"' in sql for sql in statements)
        if found := writes(statements):
            written[path] = found
    assert written == {} and stamps == 1
