"""A tutor's actions that take something away from students ask first, saying what will
happen, and say afterwards what was done: removing a student or a co-tutor, unpublishing
an assistant, archiving the class. The class page links to the confirm pages (GET, no
script); only their forms POST. And the tutor-side polish around them: an archived class
offers only what can be done to it, a tutor reading a student's conversation has a way
back, and publishing with nothing chosen says what to choose."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.classes.models import Publication
from chat.models import Assistant, Run
from tests.classes.test_gradebook import attempt

pytestmark = pytest.mark.django_db


def _page(client, classroom) -> str:
    return client.get(reverse("classes:detail", args=[classroom.pk])).content.decode()


def test_the_class_page_removes_nobody_in_one_tap(client_of, class_a):
    html = _page(client_of("tess"), class_a)
    sam = class_a.memberships.get(user__username="sam")
    remove = reverse("classes:member_remove", args=[class_a.pk, sam.pk])
    assert f'href="{remove}"' in html and f'action="{remove}"' not in html
    assert f'action="{reverse("classes:unpublish", args=[class_a.pk])}"' not in html
    assert f'href="{reverse("classes:archive", args=[class_a.pk])}"' in html


def test_removing_a_student_asks_first_and_says_what_happens(client_of, people, class_a, sam_thread):
    attempt(sam_thread, people["sam"], ["x = 9", "5"], score=0, max_score=2)
    Run.objects.create(thread=sam_thread, assistant=sam_thread.assistant, model="offline", status="in_progress")
    sam = class_a.memberships.get(user__username="sam")
    tess = client_of("tess")
    page = tess.get(reverse("classes:member_remove", args=[class_a.pk, sam.pk])).content.decode()
    assert "Remove sam from “Algebra 1”?" in page
    assert "lose access to the class's assistants" in page
    assert "Their 1 conversation in this class stays theirs to read, but closes" in page
    assert "The answer being written for them now (or a quiz waiting for their answers) stops." in page
    assert "Their quiz grades (1) stay in the gradebook, marked “(left the class)”." in page
    assert class_a.memberships.filter(pk=sam.pk).exists()  # asking removed nobody
    done = tess.post(reverse("classes:member_remove", args=[class_a.pk, sam.pk]), follow=True)
    assert "sam was removed from Algebra 1." in done.content.decode()
    assert not class_a.memberships.filter(pk=sam.pk).exists()
    assert not Run.objects.filter(thread=sam_thread, status="in_progress").exists()


def test_removing_a_co_tutor_says_their_published_assistants_stay(client_of, people, class_a):

    cole_bot = Assistant.objects.create(owner=people["cole"], name="Cole's Helper", model="offline")
    Publication.objects.create(classroom=class_a, assistant=cole_bot)
    cole = class_a.memberships.get(user__username="cole")
    page = client_of("tess").get(reverse("classes:member_remove", args=[class_a.pk, cole.pk])).content.decode()
    assert "will no longer teach the class" in page and "stays published: Cole&#x27;s Helper" in page


def test_a_tutor_cannot_open_a_removal_of_themselves_or_of_a_stranger(client_of, class_a, class_b):
    tess = client_of("tess")
    own = class_a.memberships.get(user__username="tess")
    response = tess.get(reverse("classes:member_remove", args=[class_a.pk, own.pk]), follow=True)
    assert "You cannot remove yourself" in response.content.decode()
    otto = class_b.memberships.get(user__username="otto")
    response = tess.get(reverse("classes:member_remove", args=[class_a.pk, otto.pk]), follow=True)
    assert response.status_code == 200 and "That person is not in this class." in response.content.decode()


def test_unpublishing_asks_first_and_says_the_conversations_close(client_of, class_a, math, sam_thread):
    tess = client_of("tess")
    url = reverse("classes:unpublish", args=[class_a.pk])
    page = tess.get(url, {"assistant": math.pk}).content.decode()
    assert "Unpublish “Math Tutor” from “Algebra 1”?" in page
    assert (
        "The 1 conversation students have with it stays readable to them and to you, but closes: no new messages."
        in page
    )
    assert Publication.objects.filter(classroom=class_a, assistant=math).exists()
    done = tess.post(url, {"assistant": math.pk}, follow=True).content.decode()
    assert "Math Tutor is no longer published to Algebra 1." in done
    assert not Publication.objects.filter(classroom=class_a, assistant=math).exists()
    missing = tess.get(url, {"assistant": "nope\x00"}, follow=True)
    assert missing.status_code == 200 and "not published to this class" in missing.content.decode()


def test_archiving_asks_first_then_the_page_offers_only_what_an_archived_class_can_do(client_of, class_a):
    tess = client_of("tess")
    url = reverse("classes:archive", args=[class_a.pk])
    page = tess.get(url).content.decode()
    assert "Archive “Algebra 1”?" in page and "the join code and invite link stop working" in page
    class_a.refresh_from_db()
    assert not class_a.archived
    done = tess.post(url, {"archived": "1"}, follow=True).content.decode()
    assert "Algebra 1 is archived" in done
    assert "New code" not in done and "Assistant to publish" not in done and "share the join code" not in done
    assert "Reopen the class" in done
    again = tess.post(url, {"archived": "0"}, follow=True).content.decode()
    assert "Algebra 1 is open again" in again and "New code" in again


def test_a_tutor_reading_a_student_s_conversation_has_a_way_back(client_of, class_a, sam_thread):
    html = client_of("tess").get(reverse("chat:thread", args=[sam_thread.id])).content.decode()
    assert f'href="{reverse("classes:detail", args=[class_a.pk])}">Back to Algebra 1</a>' in html
    assert f'href="{reverse("classes:gradebook", args=[class_a.pk])}">Gradebook</a>' in html
    assert "New conversation</button>" not in html


def test_publishing_with_nothing_chosen_says_what_to_choose(client_of, class_a, people):

    Assistant.objects.create(owner=people["tess"], name="Geometry Coach", model="offline")
    response = client_of("tess").post(reverse("classes:publish", args=[class_a.pk]), {"assistant": ""})
    html = response.content.decode()
    assert response.status_code == 400 and "Choose which of your assistants to publish" in html
    assert "This field is required." not in html and "Choose an assistant…" in html


def test_a_tutor_with_no_assistant_is_told_how_to_make_one(client_of, class_a):
    html = _page(client_of("cole"), class_a)
    assert f'<a href="{reverse("chat:assistant_create")}">make an assistant</a>' in html


def test_publishing_says_so(client_of, class_a, people):

    coach = Assistant.objects.create(owner=people["tess"], name="Geometry Coach", model="offline")
    done = client_of("tess").post(reverse("classes:publish", args=[class_a.pk]), {"assistant": coach.pk}, follow=True)
    assert "Geometry Coach is published to Algebra 1" in done.content.decode()
