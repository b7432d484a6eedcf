import re
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from chat.classes import services as classes
from chat.classes.models import Classroom, ClassThread, Membership
from chat.models import Assistant, Message, Run, Thread
from chat.services.messages import title_from

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def no_dispatch(monkeypatch):
    """View tests check what is saved; the engine has its own tests."""
    started = []
    monkeypatch.setattr("chat.engine.dispatch.dispatch", started.append)
    return started


def post_message(client, thread, text, **extra):
    url = reverse("chat:message_create", args=[thread.id])
    return client.post(url, {"text": text, "assistant": thread.assistant_id}, **extra)


def test_it_redirects_anonymous_visitors_to_log_in(client, thread):
    response = client.get(reverse("chat:thread", args=[thread.id]))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_the_owner_sees_the_thread_page_with_composer_and_status(alice_client, thread):
    response = alice_client.get(reverse("chat:thread", args=[thread.id]))
    assertContains(response, 'ws-connect="/ws/threads/%s/?after=0"' % thread.id)
    assertContains(response, 'role="status"')
    assertContains(response, '<label for="id_text" class="visually-hidden">Message</label>', html=False)
    assertContains(response, ">Send</button>")


def test_an_empty_thread_suggests_a_first_question_without_raw_markdown(alice_client, thread):
    html = alice_client.get(reverse("chat:thread", args=[thread.id])).content.decode()
    hint = html.split('id="empty-thread">', 1)[1].split("</p>", 1)[0]
    assert "<code>3x + 11 = 14</code>" in hint and "`" not in hint


def test_posting_a_message_saves_it_and_queues_a_run(
    alice_client, thread, no_dispatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_message(alice_client, thread, "  Solve 3x + 11 = 14  ", **HTMX)
    assert response.status_code == 200
    message = Message.objects.get(thread=thread)
    run = Run.objects.get(thread=thread)
    assert message.text == "Solve 3x + 11 = 14" and message.role == "user"
    assert run.status == "queued" and no_dispatch == [run.id]
    assertContains(response, 'id="composer"')  # a fresh composer
    assertContains(response, f'id="message-{message.id}"')
    assertContains(response, "Queued")
    thread.refresh_from_db()
    assert thread.title == "Algebra"  # an explicit title is kept


def test_the_first_message_names_an_untitled_thread(alice_client, alice, tutor):
    thread = Thread.objects.create(owner=alice, assistant=tutor)
    post_message(alice_client, thread, "What is 2 + 2?")
    thread.refresh_from_db()
    assert thread.title == "What is 2 + 2?"


@pytest.mark.parametrize("text", ["", "   \n  ", "\u200b\u200b\u2060"])  # zero-width only is blank too
def test_an_empty_message_gets_a_form_error_and_saves_nothing(alice_client, thread, text):
    response = post_message(alice_client, thread, text, **HTMX)
    assertContains(response, "Write a message before sending.")
    assert not Message.objects.exists() and not Run.objects.exists()


def test_a_message_over_the_limit_gets_a_form_error_and_saves_nothing(alice_client, thread, settings):
    settings.MAX_MESSAGE_CHARS = 32_000
    response = post_message(alice_client, thread, "x" * 32_001, **HTMX)
    assertContains(response, "at most 32000 characters; this one has 32001")
    assertContains(response, 'data-max-chars="32000"')  # the counter reads the same setting
    assertContains(response, "x" * 100)  # the text is kept in the form, not lost
    assert not Message.objects.exists() and not Run.objects.exists()


def test_a_message_of_exactly_the_limit_is_accepted(alice_client, thread, settings):
    assert settings.MAX_MESSAGE_CHARS == 256_000  # the hosted API's limit, the default
    post_message(alice_client, thread, "x" * 256_000)
    assert Message.objects.get().text == "x" * 256_000


def test_a_second_message_while_a_run_is_active_is_refused_clearly(alice_client, thread):
    post_message(alice_client, thread, "first")
    response = post_message(alice_client, thread, "second", **HTMX)
    assertContains(response, "already has an active run")
    assert Message.objects.count() == 1 and Run.objects.count() == 1


def test_without_htmx_an_invalid_post_renders_the_page_with_a_400(alice_client, thread):
    response = post_message(alice_client, thread, "")
    assert response.status_code == 400
    assertContains(response, "Write a message before sending.", status_code=400)


def test_the_owner_can_cancel_an_active_run(alice_client, thread):
    post_message(alice_client, thread, "hello")
    run = Run.objects.get()
    response = alice_client.post(reverse("chat:run_cancel", args=[thread.id, run.id]), **HTMX)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assertContains(response, "Cancelled")


def test_every_button_that_stops_a_run_says_stop(alice_client, thread):
    """The run panel and the composer act alike: one word for one action."""
    post_message(alice_client, thread, "hello")
    run = Run.objects.get()
    html = alice_client.get(reverse("chat:thread", args=[thread.id])).content.decode()
    cancel_url = reverse("chat:run_cancel", args=[thread.id, run.id])
    buttons = re.findall(r'<button[^>]*hx-post="' + re.escape(cancel_url) + r'"[^>]*>([^<]*)</button>', html)
    buttons += re.findall(r'action="' + re.escape(cancel_url) + r'"[^<]*>.*?<button[^>]*>([^<]*)</button>', html, re.S)
    assert len(buttons) == 2 and set(buttons) == {"Stop"}, buttons


def test_long_threads_paginate_from_the_newest(alice_client, thread, settings):
    settings.MESSAGES_PER_PAGE = 5
    for i in range(12):
        Message.objects.create(thread=thread, role="user", content=Message.text_content(f"note {i:02d}"))
    page = alice_client.get(reverse("chat:thread", args=[thread.id])).content.decode()
    assert "note 11" in page and "note 07" in page and "note 06" not in page
    assert "Show earlier messages" in page
    cursor = Message.objects.get(content__0__text__value="note 07").seq
    older = alice_client.get(reverse("chat:thread", args=[thread.id]) + f"?before={cursor}", **HTMX).content.decode()
    assert "note 06" in older and "note 02" in older and "note 07" not in older and "note 01" not in older
    assert older.index("note 02") < older.index("note 06")  # chronological
    assert "Show earlier messages" in older


def test_messages_render_markdown_escaped(alice_client, thread):
    Message.objects.create(
        thread=thread, role="assistant", content=Message.text_content("**bold** <script>x()</script>")
    )
    response = alice_client.get(reverse("chat:thread", args=[thread.id]))
    assertContains(response, "<strong>bold</strong>")
    assert b"<script>x()" not in response.content


def test_threads_can_be_renamed_and_deleted(alice_client, thread):
    alice_client.post(reverse("chat:thread_rename", args=[thread.id]), {"title": "Geometry"})
    thread.refresh_from_db()
    assert thread.title == "Geometry"
    response = alice_client.post(reverse("chat:thread_delete", args=[thread.id]))
    assertRedirects(response, reverse("chat:threads"))
    assert not Thread.objects.exists()


def say(thread, text, role=Message.USER):
    return Message.objects.create(thread=thread, role=role, content=Message.text_content(text))


def test_a_new_conversations_sidebar_does_not_say_there_are_none(alice_client, thread):
    """The conversation just opened has no message, so it is not listed yet: the sidebar says
    so, instead of "No conversations yet" beside the conversation open on the page."""
    page = alice_client.get(reverse("chat:thread", args=[thread.id]))
    assertNotContains(page, "No conversations yet")
    assertContains(page, "This new conversation is listed here once you send its first message.")
    listed = alice_client.get(reverse("chat:threads"))  # no conversation open: none to list
    assertContains(listed, "No conversations yet")


def test_a_tutor_reading_a_students_conversation_is_told_their_own_list_is_empty(alice, bob, bob_client, thread):
    """bob tutors alice's class and has no conversation of his own: his sidebar lists his
    own, and says so, not "Start one with your tutor" beside a student's conversation."""
    classroom = classes.create_classroom(bob, "Algebra 1")
    Membership.objects.create(classroom=classroom, user=alice, role=Membership.Role.STUDENT)
    ClassThread.objects.create(thread=thread, classroom=classroom)
    say(thread, "Solve 2x = 14")
    page = bob_client.get(reverse("chat:thread", args=[thread.id]))
    assertContains(page, "You have no conversations of your own yet; this list shows only yours.")
    assertNotContains(page, "No conversations yet")


def test_the_thread_list_shows_only_my_threads(alice_client, bob, thread):
    say(thread, "Hello")
    say(Thread.objects.create(owner=bob, title="Bob's secret"), "psst")
    response = alice_client.get(reverse("chat:threads"))
    assertContains(response, "Algebra")
    assert b"Bob&#x27;s secret" not in response.content and b"Bob's secret" not in response.content


def test_a_new_thread_can_only_use_my_own_assistant(bob_client, tutor):
    response = bob_client.post(reverse("chat:thread_create"), {"assistant": tutor.id})
    assertRedirects(response, reverse("chat:threads"), fetch_redirect_response=False)
    assert not Thread.objects.filter(assistant=tutor).exists()


def test_a_404_is_the_site_s_page_and_names_nothing(bob_client, thread, client):
    """A thread that is not yours reads exactly like one that does not exist, in the site's
    own layout (it was Django's bare "Not Found")."""
    theirs = bob_client.get(reverse("chat:thread", args=[thread.id]))
    missing = bob_client.get(reverse("chat:thread", args=["thread_nosuchthing"]))
    assert theirs.status_code == missing.status_code == 404
    for response in (theirs, missing):
        assertContains(response, "There is no such page, or it is not shared with you.", status_code=404)
    assertContains(theirs, 'href="/threads/"', status_code=404)
    assert thread.title not in theirs.content.decode()
    assertContains(client.get("/no/such/page/"), "Not found", status_code=404)


@pytest.mark.parametrize(
    ("method", "name", "extra"),
    [
        ("get", "chat:thread", ()),
        ("post", "chat:message_create", ()),
        ("post", "chat:thread_rename", ()),
        ("post", "chat:thread_delete", ()),
        ("get", "chat:thread_delete", ()),
        ("post", "chat:message_edit", ()),
        ("post", "chat:answer_again", ()),
    ],
)
def test_a_stranger_gets_404_for_someone_elses_thread(bob_client, thread, method, name, extra):
    response = getattr(bob_client, method)(reverse(name, args=[thread.id]), {"text": "hi", "title": "x"})
    assert response.status_code == 404
    assert Thread.objects.filter(pk=thread.pk, title="Algebra").exists()
    assert not Message.objects.exists()


def test_a_stranger_cannot_cancel_someone_elses_run(alice_client, bob_client, thread):
    post_message(alice_client, thread, "hello")
    run = Run.objects.get()
    response = bob_client.post(reverse("chat:run_cancel", args=[thread.id, run.id]))
    assert response.status_code == 404
    run.refresh_from_db()
    assert run.status == "queued"


def test_a_stranger_cannot_post_as_someone_else_through_their_own_thread(bob_client, bob, tutor):
    own = Thread.objects.create(owner=bob)
    response = bob_client.post(reverse("chat:message_create", args=[own.id]), {"text": "hi", "assistant": tutor.id})
    assert response.status_code == 400  # alice's assistant is not a valid choice for bob
    assert not Run.objects.exists()


def test_a_message_sent_from_a_textarea_is_stored_with_plain_newlines(alice_client, thread):
    # Browsers submit a textarea's line breaks as CRLF.
    post_message(alice_client, thread, "Run this:\r\n```python\r\nprint(6 * 7)\r\n```", **HTMX)
    assert Message.objects.get(thread=thread).text == "Run this:\n```python\nprint(6 * 7)\n```"


def test_the_length_limit_counts_a_newline_once_as_the_browser_does(alice_client, thread, settings):
    settings.MAX_MESSAGE_CHARS = limit = 1000
    text = "a\r\n" * (limit // 2)  # limit characters in the browser, 1.5 x limit as CRLF
    post_message(alice_client, thread, text.strip(), **HTMX)
    assert Message.objects.filter(thread=thread).exists()


def test_a_reloaded_page_shows_a_streaming_answer_without_its_citation_markers(alice_client, thread):
    Message.objects.create(
        thread=thread,
        role="assistant",
        status=Message.IN_PROGRESS,
        content=Message.text_content("Big【0:0†a.pdf】 and old【0:1†a"),
    )
    response = alice_client.get(reverse("chat:thread", args=[thread.id]))
    assertContains(response, "Big[1] and old</span>")


def test_a_stopped_answer_cut_inside_display_math_shows_it_as_math_with_its_backslashes(alice_client, thread):
    Message.objects.create(
        thread=thread,
        role="assistant",
        status=Message.INCOMPLETE,
        incomplete_details={"reason": "run_cancelled"},
        content=Message.text_content("Multiply out:\n\\[\n\\left(x + 1\\right)^{5} = x^{5} + 5 x^{4} +"),
    )
    response = alice_client.get(reverse("chat:thread", args=[thread.id]))
    assertContains(response, '<div class="math-display">\\left(x + 1\\right)^{5} = x^{5} + 5 x^{4} +</div>')
    assertContains(response, "Stopped: the answer was cancelled before it was finished.")


def test_the_list_leaves_out_conversations_without_messages(alice_client, alice, thread):
    say(Thread.objects.create(owner=alice, title="Geometry"), "What is a rhombus?")
    response = alice_client.get(reverse("chat:threads"))
    assertContains(response, "Geometry")
    assertNotContains(response, "Algebra")


def test_the_list_groups_conversations_by_date(alice_client, alice, tutor):
    now = timezone.now()
    for title, days in [("Fresh", 0), ("Last night", 1), ("Monday", 4), ("Ancient", 40)]:
        thread = Thread.objects.create(owner=alice, title=title)
        say(thread, "hi")
        Thread.objects.filter(pk=thread.pk).update(updated_at=now - timedelta(days=days))
    text = alice_client.get(reverse("chat:threads")).content.decode()
    order = [
        text.index(word)
        for word in ("Today", "Fresh", "Yesterday", "Last night", "Previous 7 days", "Monday", "Older", "Ancient")
    ]
    assert order == sorted(order)


def test_searching_finds_conversations_by_title_or_message_text(alice_client, alice):
    say(Thread.objects.create(owner=alice, title="Fractions"), "What is 1/2 + 1/3?")
    say(Thread.objects.create(owner=alice, title="Triangles"), "Explain Pythagoras, please")
    by_text = alice_client.get(reverse("chat:threads"), {"q": "pythag"}, HTTP_HX_TARGET="conversation-list", **HTMX)
    assertContains(by_text, "Triangles")
    assertNotContains(by_text, "Fractions")
    assert b"<html" not in by_text.content  # the list alone, for the sidebar to swap in
    by_title = alice_client.get(reverse("chat:threads"), {"q": "FRACT"})
    assertContains(by_title, "Fractions")
    assertNotContains(by_title, "Triangles")
    assertContains(alice_client.get(reverse("chat:threads"), {"q": "rhombus"}), "No conversation matches")


def test_a_search_never_finds_someone_elses_conversation(alice_client, bob):
    say(Thread.objects.create(owner=bob, title="Bob's algebra"), "secret algebra")
    assertNotContains(alice_client.get(reverse("chat:threads"), {"q": "algebra"}), "Bob")


def test_new_conversation_reuses_my_empty_one_instead_of_piling_up(alice_client, alice, tutor, thread):
    first = alice_client.post(reverse("chat:thread_create"), {"assistant": tutor.id})
    second = alice_client.post(reverse("chat:thread_create"), {"assistant": tutor.id})
    assert first["Location"] == second["Location"] == reverse("chat:thread", args=[thread.id])
    assert Thread.objects.filter(owner=alice).count() == 1
    say(thread, "Now it has a message")
    third = alice_client.post(reverse("chat:thread_create"), {"assistant": tutor.id})
    assert third["Location"] != first["Location"] and Thread.objects.filter(owner=alice).count() == 2


def test_deleting_asks_for_confirmation_first_and_then_says_it_is_done(alice_client, thread):
    say(thread, "Keep me?")
    confirm = alice_client.get(reverse("chat:thread_delete", args=[thread.id]))
    assertContains(confirm, "This deletes the conversation and its 1 message")
    assert Thread.objects.filter(pk=thread.pk).exists()
    done = alice_client.post(reverse("chat:thread_delete", args=[thread.id]), follow=True)
    assertContains(done, "Deleted the conversation “Algebra”.")
    assert b'role="status"' in done.content
    assert not Thread.objects.filter(pk=thread.pk).exists()


def test_renaming_says_it_is_done(alice_client, thread):
    response = alice_client.post(reverse("chat:thread_rename", args=[thread.id]), {"title": "Geometry"}, follow=True)
    assertContains(response, "Renamed the conversation to “Geometry”.")


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("**Solve** `3x + 11 = 14`, _please_", "Solve 3x + 11 = 14, please"),
        ("# Fibonacci\n\n- first [20 numbers](https://example.com)", "Fibonacci first 20 numbers"),
        ("```python\nprint(snake_case)\n```", "print(snake_case)"),
        # A mark between two operands is an operator, not emphasis.
        ("What is 10**9?", "What is 10**9?"),
        ("Is 2**k even? **Why**", "Is 2**k even? Why"),
        ("Expand `(a+b)**2` and 3*x", "Expand (a+b)**2 and 3*x"),
        ("***Very*** *important*: 2*3", "Very important: 2*3"),
        # A spaced star is multiplication, and so is one between symbols.
        ("what is 12 * 7?", "what is 12 * 7?"),
        ("*Check* 5*-3 and **a *b* c**", "Check 5*-3 and a b c"),
        # Math keeps its text, not its delimiters; a price is no formula.
        ("Solve $x^2=4$", "Solve x^2=4"),
        (r"Solve \(x^2 = 4\) and \[\frac{a}{b}\]", r"Solve x^2 = 4 and \frac{a}{b}"),
        ("Is $$\\sum_{k=1}^n k$$ even?", "Is \\sum_{k=1}^n k even?"),
        ("$$\nx_1 + x_2\n$$", "x_1 + x_2"),
        ("It costs $5 and $10, so $a$ is", "It costs $5 and $10, so a is"),
        ("solve 3\u200bx = 9\u2060", "solve 3x = 9"),  # invisible format characters go
    ],
)
def test_titles_from_the_first_message_are_plain_text(alice_client, alice, tutor, text, title):
    thread = Thread.objects.create(owner=alice, assistant=tutor)
    post_message(alice_client, thread, text)
    thread.refresh_from_db()
    assert thread.title == title


def test_a_title_from_a_longest_message_of_unpaired_stars_does_not_hang():
    start = time.perf_counter()
    assert title_from("*a " * 85_000).startswith("*a *a")
    assert (
        time.perf_counter() - start < 10
    )  # a hang guard (pairing stars over the whole line took minutes), not a timing test


def test_two_assistants_with_the_same_name_are_told_apart_in_the_picker(alice_client, alice, tutor, thread):
    twin = Assistant.objects.create(owner=alice, name=tutor.name, model=tutor.model)
    text = alice_client.get(reverse("chat:thread", args=[thread.id])).content.decode()
    assert f"…{twin.id[-4:]})" in text and f"…{tutor.id[-4:]})" in text


def test_answer_again_replaces_the_last_answer_with_a_new_run(
    alice_client, thread, no_dispatch, django_capture_on_commit_callbacks
):
    say(thread, "What is 2 + 2?")
    say(thread, "5", role=Message.ASSISTANT)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("chat:answer_again", args=[thread.id]), {"assistant": thread.assistant_id})
    assertRedirects(response, reverse("chat:thread", args=[thread.id]), fetch_redirect_response=False)
    assert [m.text for m in thread.messages.all()] == ["What is 2 + 2?"]
    (run,) = Run.objects.filter(thread=thread)
    assert no_dispatch == [run.id]


def test_editing_the_last_message_replaces_it_and_its_answer(alice_client, thread, no_dispatch):
    say(thread, "First question")
    say(thread, "First answer", role=Message.ASSISTANT)
    say(thread, "What is 2 + 2")
    say(thread, "5", role=Message.ASSISTANT)
    page = alice_client.get(reverse("chat:thread", args=[thread.id]) + "?edit")
    assertContains(page, "Editing your last message")
    assertContains(page, ">What is 2 + 2</textarea>")
    response = alice_client.post(
        reverse("chat:message_edit", args=[thread.id]), {"text": "What is 2 + 2?", "assistant": thread.assistant_id}
    )
    assertRedirects(response, reverse("chat:thread", args=[thread.id]), fetch_redirect_response=False)
    assert [m.text for m in thread.messages.all()] == ["First question", "First answer", "What is 2 + 2?"]
    assert Run.objects.filter(thread=thread).count() == 1


def test_editing_the_first_question_renames_a_conversation_it_named(alice_client, alice, tutor, no_dispatch):
    thread = Thread.objects.create(owner=alice, assistant=tutor)
    post_message(alice_client, thread, "What is 2 + 2")
    Run.objects.filter(thread=thread).update(status="completed")
    response = alice_client.post(
        reverse("chat:message_edit", args=[thread.id]),
        {"text": "What is 3 + 3?", "assistant": tutor.id},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver/threads/{thread.id}/"},
    )
    thread.refresh_from_db()
    assert thread.title == "What is 3 + 3?"
    page = response.content.decode()
    # the page's heading and the sidebar's entry, both swapped in place
    assert (
        page.count("What is 3 + 3?") >= 3
        and f'id="conversation-{thread.id}" class="conversation-item" hx-swap-oob="outerHTML"' in page
    )


@pytest.mark.parametrize("earlier", ["a renamed conversation", "a later question"])
def test_an_edit_keeps_a_title_the_question_did_not_give(alice_client, alice, tutor, no_dispatch, earlier):
    thread = Thread.objects.create(owner=alice, assistant=tutor)
    post_message(alice_client, thread, "What is 2 + 2")
    Run.objects.filter(thread=thread).update(status="completed")
    if earlier == "a renamed conversation":
        Thread.objects.filter(pk=thread.pk).update(title="Sums")
    else:
        say(thread, "What is 5 + 5")
    alice_client.post(reverse("chat:message_edit", args=[thread.id]), {"text": "What is 3 + 3?", "assistant": tutor.id})
    thread.refresh_from_db()
    assert thread.title == ("Sums" if earlier == "a renamed conversation" else "What is 2 + 2")


def test_an_edit_sent_through_htmx_takes_edit_out_of_the_address(alice_client, thread):
    """The page was opened as ?edit; after sending, a reload must show the conversation, not the editor again."""
    say(thread, "What is 2 + 2")
    say(thread, "5", role=Message.ASSISTANT)
    here = reverse("chat:thread", args=[thread.id])
    response = alice_client.post(
        reverse("chat:message_edit", args=[thread.id]),
        {"text": "What is 2 + 2?", "assistant": thread.assistant_id},
        HTTP_HX_CURRENT_URL="http://testserver" + here + "?edit",
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Replace-Url"] == here


def test_an_edit_opened_before_a_newer_question_replaces_nothing(alice_client, thread, no_dispatch):
    """Two tabs: the editor was opened on one question, another tab sent a newer one since."""
    old = say(thread, "Solve 5x = 10")
    say(thread, "x = 2", role=Message.ASSISTANT)
    page = alice_client.get(reverse("chat:thread", args=[thread.id]) + "?edit").content.decode()
    assert f'name="replaces" value="{old.id}"' in page
    newer = say(thread, "Solve 7x = 14")
    say(thread, "x = 2", role=Message.ASSISTANT)
    response = alice_client.post(
        reverse("chat:message_edit", args=[thread.id]),
        {"text": "Solve 5x = 15", "assistant": thread.assistant_id, "replaces": old.id},
    )
    assertContains(response, "Your last message changed since you began editing", status_code=400)
    assertContains(response, ">Solve 5x = 15</textarea>", status_code=400)  # the draft is kept
    assertContains(
        response, f'name="replaces" value="{newer.id}"', status_code=400
    )  # a resend replaces the newer, knowingly
    assert [m.text for m in thread.messages.all()] == ["Solve 5x = 10", "x = 2", "Solve 7x = 14", "x = 2"]
    assert not Run.objects.filter(thread=thread).exists()


def test_answer_again_and_edit_are_refused_during_a_run(alice_client, thread):
    say(thread, "Question")
    Run.objects.create(thread=thread, assistant=thread.assistant, model="offline", status="in_progress")
    response = alice_client.post(
        reverse("chat:answer_again", args=[thread.id]), {"assistant": thread.assistant_id}, follow=True
    )
    assertContains(response, "already has an active run")
    response = alice_client.post(
        reverse("chat:message_edit", args=[thread.id]), {"text": "Other", "assistant": thread.assistant_id}
    )
    assertContains(response, "already has an active run", status_code=400)
    assert [m.text for m in thread.messages.all()] == ["Question"]


def test_answer_again_with_no_question_says_so(alice_client, thread):
    response = alice_client.post(
        reverse("chat:answer_again", args=[thread.id]), {"assistant": thread.assistant_id}, follow=True
    )
    assertContains(response, "There is no message of yours in this conversation yet.")


def test_renaming_from_the_sidebar_returns_its_entry_a_notice_and_the_page_title(alice_client, thread):
    say(thread, "Hello")
    here = reverse("chat:thread", args=[thread.id])
    response = alice_client.post(
        reverse("chat:thread_rename", args=[thread.id]),
        {"title": "Triangles"},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{here}"},
    )
    thread.refresh_from_db()
    assert thread.title == "Triangles"
    html = response.content.decode()
    assert f'<li id="conversation-{thread.id}"' in html
    assert 'aria-current="page"' in html  # still the page being read
    assert (
        '<div id="notice" class="notice" role="status" hx-swap-oob="innerHTML"><ul class="flash"><li>Renamed the conversation to “Triangles”.'
        in html
    )
    assert '<h1 id="thread-title" hx-swap-oob="true">Triangles</h1>' in html


def test_renaming_another_conversation_from_the_sidebar_leaves_the_page_title(alice_client, alice, tutor, thread):
    other = Thread.objects.create(owner=alice, assistant=tutor, title="Other")
    say(other, "Hi")
    response = alice_client.post(
        reverse("chat:thread_rename", args=[other.id]),
        {"title": "Circles"},
        headers={
            "HX-Request": "true",
            "HX-Current-URL": "http://testserver" + reverse("chat:thread", args=[thread.id]),
        },
    )
    assertContains(response, "Circles")
    assertNotContains(response, "thread-title")
    assertNotContains(response, 'aria-current="page"')


def test_renaming_without_javascript_comes_back_to_the_page_it_was_asked_from(alice_client, alice, tutor, thread):
    back = reverse("chat:threads") + "?q=alg"
    response = alice_client.post(reverse("chat:thread_rename", args=[thread.id]), {"title": "Algebra II", "next": back})
    assertRedirects(response, back, fetch_redirect_response=False)
    assertContains(alice_client.get(back), "Renamed the conversation to “Algebra II”.")
    response = alice_client.post(
        reverse("chat:thread_rename", args=[thread.id]), {"title": "X", "next": "https://evil.example/"}
    )
    assertRedirects(response, reverse("chat:thread", args=[thread.id]), fetch_redirect_response=False)


def test_a_title_too_long_is_refused_with_a_notice(alice_client, thread):
    response = alice_client.post(
        reverse("chat:thread_rename", args=[thread.id]), {"title": "x" * 201}, headers={"HX-Request": "true"}
    )
    assertContains(response, "The title was not changed")
    thread.refresh_from_db()
    assert thread.title == "Algebra"


def test_a_stranger_cannot_rename_a_conversation(bob_client, thread):
    response = bob_client.post(
        reverse("chat:thread_rename", args=[thread.id]), {"title": "Mine now"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 404
    thread.refresh_from_db()
    assert thread.title == "Algebra"


def test_the_sidebar_offers_rename_and_delete_for_each_listed_conversation(alice_client, alice, tutor, thread):
    say(thread, "Hello")
    Thread.objects.create(owner=alice, assistant=tutor, title="Empty one")  # no messages: not listed
    response = alice_client.get(reverse("chat:thread", args=[thread.id]))
    assertContains(
        response, f'action="{reverse("chat:thread_rename", args=[thread.id])}"', count=2
    )  # header menu and sidebar
    assertContains(response, f'href="{reverse("chat:thread_delete", args=[thread.id])}"', count=2)
    assertNotContains(response, "Empty one")


TODAY_GROUP = '<div hx-swap-oob="afterbegin:#conversation-list"><section aria-labelledby="group-today">'


def test_every_question_puts_the_conversation_on_top_of_the_sidebar(alice_client, thread):
    """Its first lists it, a later one moves it to the top of "Today" (as a reload would):
    its entry alone, inside a "Today" group the page takes if it has none (app.js)."""
    htmx = {"HX-Request": "true"}
    url = reverse("chat:message_create", args=[thread.id])
    first = alice_client.post(url, {"text": "Solve 2x = 4", "assistant": thread.assistant_id}, headers=htmx)
    assertContains(first, TODAY_GROUP)
    assertContains(first, f'<li id="conversation-{thread.id}"')
    Run.objects.filter(thread=thread).update(status="completed")
    Thread.objects.filter(pk=thread.pk).update(updated_at=timezone.now() - timedelta(days=3))
    second = alice_client.post(url, {"text": "And 3x = 9?", "assistant": thread.assistant_id}, headers=htmx)
    assertContains(second, TODAY_GROUP)
    assertContains(second, f'<li id="conversation-{thread.id}"')
    assertNotContains(second, 'id="conversation-list" class=')


def test_a_question_puts_one_entry_on_top_never_the_whole_list(alice_client, alice, tutor, thread):
    htmx = {"HX-Request": "true"}
    say(thread, "Older question")
    Thread.objects.filter(pk=thread.pk).update(updated_at=timezone.now() - timedelta(days=3))
    fresh = Thread.objects.create(owner=alice, assistant=tutor)
    response = alice_client.post(
        reverse("chat:message_create", args=[fresh.id]), {"text": "Solve 3x = 9", "assistant": tutor.id}, headers=htmx
    )
    assertContains(response, TODAY_GROUP)
    assertContains(response, f'<li id="conversation-{fresh.id}"')
    assertContains(response, 'aria-current="page"', count=1)
    assertNotContains(response, f'id="conversation-{thread.id}"')
    page = alice_client.get(reverse("chat:thread", args=[fresh.id]))
    assertContains(page, '<ul id="conversations-today">')


def test_live_pages_are_never_kept_in_the_browsers_cache(alice_client, thread):
    """Back and Forward would otherwise show the conversation as it was, missing what came since."""
    for url in (reverse("chat:thread", args=[thread.id]), reverse("chat:threads")):
        assert "no-store" in alice_client.get(url)["Cache-Control"]


def test_someone_in_no_class_is_told_how_to_join_one(alice_client):
    response = alice_client.get(reverse("chat:threads"))
    assertContains(response, f'<a href="{reverse("classes:list")}#join">Join a class with its code</a>', html=True)


def test_a_student_in_a_class_is_not_told_to_join_one(alice_client, alice):
    classroom = Classroom.objects.create(name="Algebra 1")
    Membership.objects.create(classroom=classroom, user=alice, role=Membership.Role.STUDENT)
    response = alice_client.get(reverse("chat:threads"))
    assertNotContains(response, "Join a class with its code")


@pytest.mark.parametrize("blank", ["", "   ", "\t\n", "\u200b", " \u200b\u2060 "])
def test_a_blank_rename_is_refused_and_keeps_the_title(alice_client, thread, blank):
    response = alice_client.post(
        reverse("chat:thread_rename", args=[thread.id]), {"title": blank}, headers={"HX-Request": "true"}
    )
    assertContains(response, "The title was not changed: a title cannot be blank.")
    thread.refresh_from_db()
    assert thread.title == "Algebra"
