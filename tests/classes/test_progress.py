"""The tutor's view of the class's work: the roster with counts, and the conversations
filtered by student, assistant and text."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from chat.classes import services
from chat.classes.progress import roster
from chat.engine import states
from chat.models import Assistant, Message, Run, Thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(people, class_a, math, sam_thread):
    """Sam: two class conversations (3 runs, 150 tokens) and a private one; Sue: nothing."""
    second = services.start_class_thread(people["sam"], class_a, math)
    Message.objects.create(thread=second, role="user", content=Message.text_content("What is a parabola?"))
    for thread, tokens in ((sam_thread, 40), (sam_thread, 60), (second, 50)):
        Run.objects.create(thread=thread, assistant=math, model="offline", status=states.COMPLETED, usage={"total_tokens": tokens})
    diary = Assistant.objects.create(owner=people["sam"], name="Diary", model="offline")
    private = Thread.objects.create(owner=people["sam"], assistant=diary, title="Private diary")
    Run.objects.create(thread=private, assistant=diary, model="offline", status=states.COMPLETED, usage={"total_tokens": 999})
    return second


def test_the_roster_counts_each_student_s_class_work_only(class_a, work):
    rows = {row.membership.user.username: row for row in roster(class_a)}
    assert set(rows) == {"sam", "sue"}
    assert (rows["sam"].conversations, rows["sam"].runs, rows["sam"].tokens) == (2, 3, 150)
    assert rows["sam"].last_active is not None
    assert (rows["sue"].conversations, rows["sue"].runs, rows["sue"].tokens, rows["sue"].last_active) == (0, 0, 0, None)


def test_the_tutor_page_shows_the_roster_and_hides_private_work(client_of, class_a, work):
    html = client_of("cole").get(reverse("classes:detail", args=[class_a.pk])).content.decode()
    assert '<td data-label="Tokens">150</td>' in html and '<td data-label="Runs">3</td>' in html
    # The private run's 999 tokens are in no count (a bare "999" can be a timestamp's microseconds).
    assert "Private diary" not in html and not re.search(r">\s*(?:999|1,?149)\s*<", html)


def conversations(client, classroom, **query) -> str:
    return client.get(reverse("classes:detail", args=[classroom.pk]), query).content.decode()


def test_conversations_filter_by_student(client_of, people, class_a, math, work, sam_thread):
    sue_thread = services.start_class_thread(people["sue"], class_a, math)
    sue_url = reverse("chat:thread", args=[sue_thread.id])
    sam_url = reverse("chat:thread", args=[sam_thread.id])
    # opened and left empty: not listed, as in Sue's own list
    assert sue_url not in conversations(client_of("tess"), class_a)
    Message.objects.create(thread=sue_thread, role="user", content=Message.text_content("Hello"))
    everyone = conversations(client_of("tess"), class_a)
    assert sue_url in everyone and sam_url in everyone
    only_sam = conversations(client_of("tess"), class_a, student=people["sam"].pk)
    assert sam_url in only_sam and sue_url not in only_sam


def test_conversations_filter_by_text_in_messages(client_of, class_a, work, sam_thread):
    html = conversations(client_of("tess"), class_a, q="parabola")
    assert reverse("chat:thread", args=[work.id]) in html
    assert reverse("chat:thread", args=[sam_thread.id]) not in html


def test_conversations_filter_by_assistant(client_of, people, class_a, work):
    other = Assistant.objects.create(owner=people["tess"], name="Essay Coach", model="offline")
    html = conversations(client_of("tess"), class_a, assistant=other.pk)
    assert "No conversations match." in html


def test_nonsense_filters_are_ignored_not_errors(client_of, class_a, work):
    response = client_of("tess").get(reverse("classes:detail", args=[class_a.pk]), {"student": "x'; drop", "q": "%" * 500})
    assert response.status_code == 200


def test_a_student_s_class_page_has_no_roster(client_of, class_a, work):
    html = client_of("sue").get(reverse("classes:detail", args=[class_a.pk])).content.decode()
    assert "Students&#x27; conversations" not in html and "Students' conversations" not in html and "150</td>" not in html
