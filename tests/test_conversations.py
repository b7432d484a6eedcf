"""The browser's "start a conversation" takes the user's blank thread in the same place
(private, or that class) instead of piling up another (chat.conversations)."""

import pytest

from chat import conversations
from chat.classes import services as classes
from chat.models import Message
from chat.services.messages import add_message
from chat.services.threads import create_thread
from tests.classes.fixtures import class_a, class_b, math, people  # noqa: F401

pytestmark = [pytest.mark.django_db]


def test_a_blank_class_thread_is_taken_again_for_its_class_only(people, class_a, class_b, math):
    sam = people["sam"]
    blank = classes.start_class_thread(sam, class_a, math)
    assert conversations.empty_conversation(sam, math, class_a) == blank
    assert conversations.empty_conversation(sam, math) is None  # never a class thread for a private one
    assert conversations.empty_conversation(sam, math, class_b) is None
    assert conversations.empty_conversation(people["sue"], math, class_a) is None  # nor someone else's


def test_a_thread_with_something_asked_is_never_taken_again(people, class_a, math):
    sam = people["sam"]
    asked = classes.start_class_thread(sam, class_a, math)
    add_message(asked, content=Message.text_content("3x + 11 = 14"))
    assert conversations.empty_conversation(sam, math, class_a) is None


def test_new_conversation_pressed_twice_leaves_one_blank_private_thread(people, math):
    tess = people["tess"]
    first = conversations.start_conversation(tess, math)
    assert conversations.start_conversation(tess, math) == first
    create_thread(tess, assistant=math)  # /v1's threads.create always creates
    assert tess.threads.count() == 2


def test_start_a_conversation_pressed_twice_in_a_class_leaves_one_blank_thread(people, class_a, math):
    sam = people["sam"]
    first = classes.start_class_thread(sam, class_a, math)
    assert classes.start_class_thread(sam, class_a, math) == first
    assert sam.threads.count() == 1
