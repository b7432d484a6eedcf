"""The class pages, walked by everyone: each person gets what the rules allow, else 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.classes import services
from chat.classes.models import Classroom, ClassThread, Membership, Publication
from chat.models import Assistant, Message, Thread
from chat.services.messages import add_message

pytestmark = pytest.mark.django_db

Role = Membership.Role


def detail(classroom) -> str:
    return reverse("classes:detail", args=[classroom.pk])


def test_the_header_links_to_classes(client_of):
    page = client_of("olga").get(reverse("chat:threads")).content.decode()
    assert f'href="{reverse("classes:list")}">Classes<' in page


def test_anonymous_visitors_are_sent_to_log_in(client_of, class_a):
    anonymous = client_of(None)
    for url in (reverse("classes:list"), detail(class_a)):
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_invite_link_names_the_class_to_an_anonymous_visitor_and_comes_back_after_logging_in(client_of, class_a):
    link = reverse("classes:join_link", args=[class_a.join_code])
    response = client_of(None).get(link)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Join Algebra 1" in page
    assert f'href="{reverse("login")}?next={link.replace("/", "%2F")}"' in page and "Log in to join the class" in page
    assert "Equations and graphs." not in page  # the description is for those who log in
    joining = client_of(None).post(link)  # joining itself still needs an account
    assert joining.status_code == 302 and joining["Location"].startswith(reverse("login"))


def test_the_invite_link_offers_a_new_student_to_sign_up_and_come_back(client_of, class_a):
    link = reverse("classes:join_link", args=[class_a.join_code])
    page = client_of(None).get(link).content.decode()
    signup = f"{reverse('chat:signup')}?next={link.replace('/', '%2F')}"
    assert f'href="{signup}">Sign up</a>' in page
    newcomer = client_of(None)
    form = newcomer.get(signup).content.decode()
    assert f'name="next" value="{link}"' in form
    passphrase = "a long enough passphrase 42"
    response = newcomer.post(
        signup, {"username": "nina", "password1": passphrase, "password2": passphrase, "next": link}
    )
    assert response.status_code == 302 and response["Location"] == link
    assert "Join as a student" in newcomer.get(link).content.decode()


def test_a_wrong_invite_link_names_no_class_to_an_anonymous_visitor(client_of, class_a):
    for code in ("ZZZZZZZZ", class_a.join_code + "X", "x" * 500):
        response = client_of(None).get(reverse("classes:join_link", args=[code]))
        assert response.status_code == 404
        page = response.content.decode()
        assert "No such class" in page and "Algebra 1" not in page and "Log in to join" not in page


def test_the_class_list_shows_classes_taught_and_taken(client_of, class_a, class_b):
    tess = client_of("tess").get(reverse("classes:list")).content.decode()
    assert "Algebra 1" in tess and "Geometry" not in tess
    sam = client_of("sam").get(reverse("classes:list")).content.decode()
    assert "Algebra 1" in sam and "Geometry" not in sam
    olga = client_of("olga").get(reverse("classes:list")).content.decode()
    assert "Algebra 1" not in olga and "Create a class" in olga and "Join a class" in olga


def test_anyone_signed_in_creates_a_class_and_is_its_tutor(client_of, people):
    response = client_of("olga").post(reverse("classes:create"), {"name": "Chemistry", "description": "Moles."})
    classroom = Classroom.objects.get(name="Chemistry")
    assert response["Location"] == detail(classroom)
    assert Membership.objects.get(classroom=classroom).user == people["olga"]
    assert Membership.objects.get(classroom=classroom).role == Role.TUTOR


def test_a_class_without_a_name_is_a_form_error_not_a_class(client_of):
    response = client_of("olga").post(reverse("classes:create"), {"name": "  ", "description": "kept"})
    assert response.status_code == 400
    assert "Give the class a name." in response.content.decode() and "kept" in response.content.decode()
    assert not Classroom.objects.exists()


def test_a_student_joins_by_code_typed_in_lower_case_with_spaces(client_of, people, class_a):
    code = class_a.join_code.lower()
    response = client_of("olga").post(reverse("classes:join"), {"code": f" {code[:4]} {code[4:]} "})
    assert response["Location"] == detail(class_a)
    assert Membership.objects.get(classroom=class_a, user=people["olga"]).role == Role.STUDENT


def test_a_wrong_code_is_a_form_error(client_of, people, class_a):
    response = client_of("olga").post(reverse("classes:join"), {"code": "NOPE1234"})
    assert response.status_code == 400 and "No open class has that code" in response.content.decode()
    assert not Membership.objects.filter(user=people["olga"]).exists()


def test_the_join_address_opened_again_is_the_join_form_and_enrols_nobody(client_of, people, class_a):
    response = client_of("olga").get(reverse("classes:join"), {"code": class_a.join_code})
    assert response.status_code == 302 and response["Location"] == reverse("classes:list") + "#join"
    assert 'id="join"' in client_of("olga").get(response["Location"]).content.decode()
    assert not Membership.objects.filter(user=people["olga"]).exists()


def test_the_invite_link_asks_before_enrolling(client_of, people, class_a):
    olga = client_of("olga")
    link = reverse("classes:join_link", args=[class_a.join_code])
    page = olga.get(link)
    assert page.status_code == 200 and "Join Algebra 1" in page.content.decode()
    assert not Membership.objects.filter(user=people["olga"]).exists()
    response = olga.post(link)
    assert response["Location"] == detail(class_a)
    assert Membership.objects.get(classroom=class_a, user=people["olga"]).role == Role.STUDENT


def test_a_tutor_opening_their_own_invite_link_stays_a_tutor(client_of, people, class_a):
    client_of("tess").post(reverse("classes:join_link", args=[class_a.join_code]))
    assert Membership.objects.get(classroom=class_a, user=people["tess"]).role == Role.TUTOR


def test_a_regenerated_code_retires_the_old_link(client_of, people, class_a):
    old = class_a.join_code
    client_of("cole").post(reverse("classes:regenerate_code", args=[class_a.pk]))
    class_a.refresh_from_db()
    assert class_a.join_code != old
    assert client_of("olga").get(reverse("classes:join_link", args=[old])).status_code == 404
    assert client_of("olga").post(reverse("classes:join"), {"code": old}).status_code == 400


def test_an_archived_class_cannot_be_joined(client_of, class_a):
    client_of("tess").post(reverse("classes:archive", args=[class_a.pk]), {"archived": "1"})
    class_a.refresh_from_db()
    assert class_a.archived
    assert client_of("olga").get(reverse("classes:join_link", args=[class_a.join_code])).status_code == 404


def test_the_tutor_view_shows_code_roster_and_publications(client_of, class_a):
    page = client_of("cole").get(detail(class_a)).content.decode()
    assert class_a.join_code in page and f"/join/{class_a.join_code}/" in page
    assert "sam" in page and "sue" in page and "Math Tutor" in page and "Unpublish" in page


def test_the_student_view_shows_name_and_description_only(client_of, class_a, math):
    page = client_of("sam").get(detail(class_a)).content.decode()
    assert "Math Tutor" in page and "Helps with algebra." in page and "Start a conversation" in page
    assert "Your tutors can read the conversations you have here." in page
    for secret in (class_a.join_code, "SECRET-INSTRUCTIONS", "sue", "Unpublish", math.id + "/edit"):
        assert secret not in page


@pytest.mark.parametrize("who", ["otto", "bea", "olga"])
def test_everyone_outside_the_class_gets_404_for_its_page(client_of, class_a, class_b, who):
    assert client_of(who).get(detail(class_a)).status_code == 404


TUTOR_POSTS = [
    ("classes:edit", {"name": "Hacked"}),
    ("classes:regenerate_code", {}),
    ("classes:tutor_add", {"username": "olga"}),
    ("classes:publish", {}),
    ("classes:unpublish", {}),
    ("classes:archive", {"archived": "1"}),
]


@pytest.mark.parametrize("who", ["sam", "otto", "bea", "olga"])
@pytest.mark.parametrize("name,data", TUTOR_POSTS)
def test_tutor_actions_are_404_for_everyone_but_tutors(client_of, people, class_a, class_b, math, who, name, data):
    data = {**data, "assistant": math.pk} if "publish" in name else data
    before = (Classroom.objects.get(pk=class_a.pk).join_code, Membership.objects.count(), Publication.objects.count())
    assert client_of(who).post(reverse(name, args=[class_a.pk]), data).status_code == 404
    class_a.refresh_from_db()
    assert (class_a.join_code, Membership.objects.count(), Publication.objects.count()) == before
    assert class_a.name == "Algebra 1" and not class_a.archived


@pytest.mark.parametrize("who", ["sam", "otto", "bea", "olga"])
def test_removing_a_member_is_404_for_everyone_but_tutors(client_of, people, class_a, class_b, who):
    sue = Membership.objects.get(classroom=class_a, user=people["sue"])
    assert client_of(who).post(reverse("classes:member_remove", args=[class_a.pk, sue.pk])).status_code == 404
    assert Membership.objects.filter(pk=sue.pk).exists()


def test_a_tutor_removes_a_student(client_of, people, class_a):
    sue = Membership.objects.get(classroom=class_a, user=people["sue"])
    client_of("cole").post(reverse("classes:member_remove", args=[class_a.pk, sue.pk]))
    assert not Membership.objects.filter(pk=sue.pk).exists()


def test_a_tutor_cannot_remove_a_member_of_another_class_through_their_own(client_of, people, class_a, class_b):
    otto = Membership.objects.get(classroom=class_b, user=people["otto"])
    client_of("tess").post(reverse("classes:member_remove", args=[class_a.pk, otto.pk]))
    assert Membership.objects.filter(pk=otto.pk).exists()


def test_a_co_tutor_is_added_by_username(client_of, people, class_a):
    response = client_of("tess").post(reverse("classes:tutor_add", args=[class_a.pk]), {"username": "olga"})
    assert response.status_code == 302
    assert Membership.objects.get(classroom=class_a, user=people["olga"]).role == Role.TUTOR


def test_an_unknown_co_tutor_is_a_form_error(client_of, class_a):
    response = client_of("tess").post(reverse("classes:tutor_add", args=[class_a.pk]), {"username": "nobody"})
    assert response.status_code == 400 and "No user is called" in response.content.decode()


def test_a_tutor_publishes_only_their_own_assistants(client_of, people, class_a, class_b):
    beas = Assistant.objects.get(owner=people["bea"])
    response = client_of("tess").post(reverse("classes:publish", args=[class_a.pk]), {"assistant": beas.pk})
    assert response.status_code == 400 and "not available here" in response.content.decode()
    assert not Publication.objects.filter(classroom=class_a, assistant=beas).exists()
    own = Assistant.objects.create(owner=people["tess"], name="Essay Coach", model="offline")
    client_of("tess").post(reverse("classes:publish", args=[class_a.pk]), {"assistant": own.pk})
    assert Publication.objects.filter(classroom=class_a, assistant=own).exists()


def test_a_student_starts_a_conversation_linked_to_the_class(client_of, people, class_a, math):
    response = client_of("sam").post(reverse("classes:start", args=[class_a.pk]), {"assistant": math.pk})
    thread = Thread.objects.get(owner=people["sam"])
    assert response["Location"] == reverse("chat:thread", args=[thread.id])
    assert thread.assistant == math and ClassThread.objects.get(thread=thread).classroom == class_a


def test_a_student_cannot_start_a_conversation_with_an_unpublished_assistant(client_of, people, class_a, class_b, math):
    beas = Assistant.objects.get(owner=people["bea"])
    client_of("sam").post(reverse("classes:start", args=[class_a.pk]), {"assistant": beas.pk})
    services_unpublish = client_of("tess").post(reverse("classes:unpublish", args=[class_a.pk]), {"assistant": math.pk})
    assert services_unpublish.status_code == 302
    client_of("sam").post(reverse("classes:start", args=[class_a.pk]), {"assistant": math.pk})
    assert not Thread.objects.filter(owner=people["sam"]).exists()


def test_the_conversation_picker_offers_published_assistants_labelled_with_their_class(client_of, people, class_a, math):
    page = client_of("sam").get(reverse("chat:threads")).content.decode()
    assert "Math Tutor · Algebra 1" in page
    client_of("sam").post(reverse("chat:thread_create"), {"assistant": math.pk})
    thread = Thread.objects.get(owner=people["sam"], assistant=math)
    assert ClassThread.objects.get(thread=thread).classroom == class_a


def test_an_assistant_published_to_two_of_a_student_s_classes_is_offered_once_per_class(client_of, people, class_a, math):
    """The conversation goes to the class the student picks, so that class's tutors see it."""
    evening = services.create_classroom(people["tess"], "Algebra 1 (evening)", "")
    Membership.objects.create(classroom=evening, user=people["sam"], role=Membership.Role.STUDENT)
    services.publish(evening, math)
    page = client_of("sam").get(reverse("chat:threads")).content.decode()
    assert f'value="{math.pk}@{class_a.pk}">Math Tutor · Algebra 1<' in page
    assert f'value="{math.pk}@{evening.pk}">Math Tutor · Algebra 1 (evening)<' in page
    client_of("sam").post(reverse("chat:thread_create"), {"assistant": f"{math.pk}@{evening.pk}"})
    thread = Thread.objects.get(owner=people["sam"], assistant=math)
    assert ClassThread.objects.get(thread=thread).classroom == evening
    # the sidebar names the class too, so the two classes' conversations are told apart
    Message.objects.create(thread=thread, role="user", content=Message.text_content("Hello"))
    sidebar = client_of("sam").get(reverse("chat:threads")).content.decode()
    assert '<span class="muted">Math Tutor · Algebra 1 (evening)</span>' in sidebar


def test_new_conversation_from_a_class_conversation_stays_in_that_class(client_of, people, class_a, math):
    """The sidebar's button on a class conversation: not the first class by name."""
    aaa = services.create_classroom(people["tess"], "AAA first by name", "")
    Membership.objects.create(classroom=aaa, user=people["sam"], role=Membership.Role.STUDENT)
    services.publish(aaa, math)
    first = services.start_thread_with(people["sam"], math, class_a)
    add_message(first, content=Message.text_content("3x + 11 = 14"))  # not blank: a new one is started
    page = client_of("sam").get(reverse("chat:thread", args=[first.id])).content.decode()
    assert f'name="assistant" value="{math.pk}@{class_a.pk}"' in page
    client_of("sam").post(reverse("chat:thread_create"), {"assistant": f"{math.pk}@{class_a.pk}"})
    second = Thread.objects.filter(owner=people["sam"]).exclude(pk=first.pk).get()
    assert ClassThread.objects.get(thread=second).classroom == class_a
    # a tutor reading it starts a conversation of their own, as before
    tutor_page = client_of("tess").get(reverse("chat:thread", args=[first.id])).content.decode()
    assert f'name="assistant" value="{math.pk}@' not in tutor_page


def test_a_tutor_reading_an_empty_class_conversation_is_not_asked_to_write(client_of, people, class_a, math):
    thread = services.start_class_thread(people["sam"], class_a, math)
    tutor_page = client_of("tess").get(reverse("chat:thread", args=[thread.id])).content.decode()
    assert "Nothing has been asked in this conversation yet." in tutor_page and "Ask anything to start" not in tutor_page
    assert "Ask anything to start" in client_of("sam").get(reverse("chat:thread", args=[thread.id])).content.decode()


def test_the_picker_refuses_a_class_the_student_is_not_in(client_of, people, class_a, class_b, math):
    response = client_of("sam").post(reverse("chat:thread_create"), {"assistant": f"{math.pk}@{class_b.pk}"}, follow=True)
    assert "That assistant is not available to you." in response.content.decode()
    assert not Thread.objects.filter(owner=people["sam"]).exists()


def test_a_class_unpublished_after_the_picker_was_shown_is_refused_clearly(people, class_a, math):
    from chat.forms import NewThreadForm

    form = NewThreadForm({"assistant": f"{math.pk}@{class_a.pk}"}, user=people["sam"])
    assert form.is_valid()
    services.unpublish(class_a, math)
    with pytest.raises(services.ClassError):
        services.start_thread_with(people["sam"], *form.cleaned_data["assistant"])
    assert not Thread.objects.filter(owner=people["sam"]).exists()


def test_the_picker_does_not_offer_another_class_s_assistant(client_of, people, class_a, class_b):
    beas = Assistant.objects.get(owner=people["bea"])
    client_of("sam").post(reverse("chat:thread_create"), {"assistant": beas.pk})
    assert not Thread.objects.filter(assistant=beas).exists()


def test_a_student_leaves_the_class(client_of, people, class_a):
    response = client_of("sue").post(reverse("classes:leave", args=[class_a.pk]))
    assert response["Location"] == reverse("classes:list")
    assert not Membership.objects.filter(classroom=class_a, user=people["sue"]).exists()
    assert client_of("sue").get(detail(class_a)).status_code == 404


def test_the_only_tutor_cannot_leave(client_of, people, class_b):
    client_of("bea").post(reverse("classes:leave", args=[class_b.pk]))
    assert Membership.objects.filter(classroom=class_b, user=people["bea"], role=Role.TUTOR).exists()


def test_a_class_id_that_is_not_a_number_is_404(client_of):
    assert client_of("tess").get("/classes/abc/").status_code == 404


def test_a_student_of_the_class_is_not_made_its_tutor(client_of, people, class_a):
    """Promoting a student would take them off the roster and their conversations out of
    the gradebook: the form refuses and nothing changes."""
    response = client_of("tess").post(reverse("classes:tutor_add", args=[class_a.pk]), {"username": "sam"})
    assert response.status_code == 400 and "sam is a student of this class" in response.content.decode()
    assert Membership.objects.get(classroom=class_a, user=people["sam"]).role == Role.STUDENT
    with pytest.raises(services.ClassError, match="is a student of this class"):
        services.add_tutor(class_a, "sue")
    assert Membership.objects.get(classroom=class_a, user=people["sue"]).role == Role.STUDENT
