"""The sidebar of every open page of a user follows their list of conversations: one listed
(its first question), renamed or deleted in one tab reaches their pages on other
conversations, over each socket's own group for its user. A tutor's sidebar lists their
own conversations: a student's changes never reach it."""

import asyncio
import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chat.engine import events
from chat.models import Message, Thread
from chat.services.messages import add_message, post_message
from chat.services.threads import delete_thread, rename_thread
from tests.test_consumers import in_a_class, open_tab, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]

HOSTILE = "Is <b>x</b> & y prime?"
HOSTILE_SHOWN = "Is &lt;b&gt;x&lt;/b&gt; &amp; y prime?"


def entry_in(frames: list[str], thread_id: str) -> str | None:
    """The sidebar entry of ``thread_id`` the frames carry, if any."""
    found = re.search(rf'<li id="conversation-{thread_id}".*?</li>', "".join(frames), re.S)
    return found.group(0) if found else None


@sync_to_async
def a_listed_conversation(owner, title: str) -> Thread:
    thread = Thread.objects.create(owner=owner, title=title)
    add_message(thread, content=Message.text_content("What is 2 + 2?"))
    return thread


async def test_a_conversation_listed_renamed_and_deleted_reaches_the_owners_page_on_another(alice, bob, thread, tutor):
    """Alice's page on one conversation: a new one goes on top of its sidebar, then its
    new title shows, then it leaves; the titles are her text, escaped. Bob's page hears of
    none of it: the first news his page gets is his own rename."""
    await a_listed_conversation(alice, "Algebra")
    bobs = await a_listed_conversation(bob, "Geometry")
    alices_tab, bobs_tab = await open_tab(thread, alice, 0), await open_tab(bobs, bob, 0)

    new = await Thread.objects.acreate(owner=alice, assistant=tutor)
    await sync_to_async(post_message)(new, HOSTILE, tutor, start=False)
    frames = await receive_until(alices_tab, rf'id="conversation-{new.id}"')
    listed = entry_in(frames, new.id)
    assert f">{HOSTILE_SHOWN}</a>" in listed and "<b>x" not in "".join(frames)
    assert 'aria-current="page"' not in listed  # the page shows another conversation
    assert 'hx-swap-oob="afterbegin:#conversation-list"' in frames[-1] and '<ul id="conversations-today">' in frames[-1]

    await sync_to_async(rename_thread)(new, "Why <i>2</i> & 3?")
    frames = await receive_until(alices_tab, rf'id="conversation-{new.id}"')
    renamed = entry_in(frames, new.id)
    assert 'hx-swap-oob="outerHTML"' in renamed and ">Why &lt;i&gt;2&lt;/i&gt; &amp; 3?</a>" in renamed

    new_id = new.id
    await sync_to_async(delete_thread)(new)
    frames = await receive_until(alices_tab, r"data-removed-conversations")
    assert f'data-removed-conversations="{new_id}"' in frames[-1]

    await sync_to_async(rename_thread)(bobs, "Triangles")
    frames = await receive_until(bobs_tab, rf'id="conversation-{bobs.id}"')
    assert new_id not in "".join(frames)
    assert ">Triangles</a>" in entry_in(frames, bobs.id)
    for tab in (alices_tab, bobs_tab):
        await tab.disconnect()


async def test_a_students_rename_reaches_her_other_page_but_not_her_tutors_sidebar(alice, bob, thread):
    """Bob teaches Alice's class and reads her conversation: her rename of it changes his
    page's heading, never his sidebar (it lists his own conversations), while her page on
    another conversation gets the new entry. Bob's own rename does reach his sidebar there."""
    await sync_to_async(in_a_class)(thread, student=alice, tutor=bob)
    await sync_to_async(add_message)(thread, content=Message.text_content("What is 2 + 2?"))
    other = await a_listed_conversation(alice, "Geometry")
    bobs = await a_listed_conversation(bob, "Lesson plans")
    tutors_tab, alices_tab = await open_tab(thread, bob, 0), await open_tab(other, alice, 0)

    await sync_to_async(rename_thread)(thread, HOSTILE)
    frames = await receive_until(alices_tab, rf'id="conversation-{thread.id}"')
    assert f">{HOSTILE_SHOWN}</a>" in entry_in(frames, thread.id)
    frames = await receive_until(tutors_tab, r'hx-swap-oob="innerHTML:#page-title"')
    assert f'<h1 id="thread-title" hx-swap-oob="true">{HOSTILE_SHOWN}</h1>' in frames[-1]

    await sync_to_async(rename_thread)(bobs, "Quadratics")
    frames = await receive_until(tutors_tab, rf'id="conversation-{bobs.id}"')
    assert entry_in(frames, thread.id) is None
    assert ">Quadratics</a>" in entry_in(frames, bobs.id)
    for tab in (tutors_tab, alices_tab):
        await tab.disconnect()


async def test_a_conversation_not_listed_yet_renamed_sends_no_entry(alice, thread):
    """Renamed before its first question (its menu), it is in no sidebar: no page is sent an
    entry htmx would find no place for. The next news does come."""
    other = await a_listed_conversation(alice, "Geometry")
    tab = await open_tab(other, alice, 0)
    await sync_to_async(rename_thread)(thread, "Not yet asked")
    await sync_to_async(rename_thread)(other, "Triangles")
    frames = await receive_until(tab, rf'id="conversation-{other.id}"')
    assert thread.id not in "".join(frames)
    await tab.disconnect()


async def test_a_later_question_moves_the_conversation_to_the_top_of_the_owners_other_page(alice, thread, tutor):
    """A conversation last asked three days ago gets a new question: Alice's page on another
    conversation gets its entry on top of "Today" (alone: one entry rendered, app.js takes
    off the copy shown below and its emptied group), as a reload would list it."""
    older = await a_listed_conversation(alice, HOSTILE)
    await Thread.objects.filter(pk=older.pk).aupdate(updated_at=timezone.now() - timedelta(days=3))
    await older.arefresh_from_db()  # as a request reads it
    await a_listed_conversation(alice, "Algebra")  # the page's own, asked today
    tab = await open_tab(thread, alice, 0)
    await sync_to_async(post_message)(older, "And 3 + 3?", tutor, start=False)
    frames = await receive_until(tab, rf'id="conversation-{older.id}"')
    moved = entry_in(frames, older.id)
    assert f">{HOSTILE_SHOWN}</a>" in moved and 'aria-current="page"' not in moved
    assert frames[-1].startswith('<div hx-swap-oob="afterbegin:#conversation-list">')
    assert frames[-1].count("<li ") == 1
    await tab.disconnect()


async def test_a_later_question_the_same_day_moves_the_entry_on_the_owners_other_pages_without_a_render(
    alice, thread, tutor
):
    """A question in a conversation asked earlier today: Alice's page on another
    conversation is told to move the entry it shows on top (a marker app.js acts on),
    nothing read or rendered: rendering it on each of the owner's pages for every question
    cost pages × questions (one user's 200 tabs asking at once in make bench)."""
    asked = await a_listed_conversation(alice, "Algebra")  # asked today
    other = await a_listed_conversation(alice, "Geometry")
    tab = await open_tab(other, alice, 0)
    await sync_to_async(post_message)(asked, "And 3 + 3?", tutor, start=False)
    frames = await receive_until(tab, rf'data-moved-conversations="[^"]*{asked.id}"')
    assert entry_in(frames, asked.id) is None
    # (the news of the setup's questions may come with it, gathered: asked.id is last, on top)
    assert re.search(rf'<span hidden data-moved-conversations="(thread_\w+ )*{asked.id}"></span>', frames[-1])
    await tab.disconnect()


async def test_questions_gathered_in_one_moment_list_and_move_their_conversations_in_the_order_asked(
    monkeypatch, alice, thread, tutor
):
    """A new conversation's first question, then one in a conversation listed earlier
    today, then in the new one again, within one gathering moment: one piece of news, the
    new entry rendered once and the order to put them on top (the last asked on top)."""
    monkeypatch.setattr("chat.engine.events.LISTED_GATHER_SECONDS", 3)  # all three fall in it
    asked = await a_listed_conversation(alice, "Algebra")  # asked today
    tab = await open_tab(thread, alice, 0)
    new = await Thread.objects.acreate(owner=alice, assistant=tutor)
    for conversation, question in ((new, "What is 2 + 2?"), (asked, "And 3 + 3?"), (new, "And 4 + 4?")):
        await sync_to_async(add_message)(conversation, content=Message.text_content(question))
    frames = await receive_until(tab, r"data-moved-conversations", timeout=10)
    assert "".join(frames).count(f'<li id="conversation-{new.id}"') == 1
    assert f'data-moved-conversations="{asked.id} {new.id}"' in frames[-1]
    await tab.disconnect()


async def test_news_sent_as_a_loop_ends_gives_up_on_a_send_that_never_returns(monkeypatch):
    """The gathered sidebar news is sent when the gathering wait is cancelled (a loop
    ending), but a send that never returns (the closing loop's Redis connection) is given
    up after ``LAST_SEND_SECONDS``: waiting on it kept a test's loop from closing."""

    class StuckLayer:
        sent: list[dict] = []

        async def group_send(self, group, message):
            self.sent.append(message)
            await asyncio.Event().wait()  # never answered

    layer = StuckLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(events, "LAST_SEND_SECONDS", 0.05)
    await events.tell_owner(7, events.CONVERSATION_LISTED, thread_id="thread_a")
    (sending,) = events._sending
    await asyncio.sleep(0)  # the gathering wait has begun
    sending.cancel()  # as the loop's end cancels it
    done, _ = await asyncio.wait({sending}, timeout=5)
    assert done == {sending}, "the last send was waited on forever"
    assert [news["thread_ids"] for news in layer.sent] == [["thread_a"]]
