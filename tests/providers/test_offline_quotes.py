"""What the offline model quotes back of a user's words."""

from chat.providers.offline.model import QUOTE_LIMIT, quoted
from chat.retrieval import skill


def test_a_long_question_is_quoted_in_part_with_an_ellipsis_when_nothing_answers_it():
    question = "Why does the lantern " + "really " * 5000 + "glow?"
    reply = skill.answer(question, "No results: nothing in the files matches.")
    assert "found nothing relevant" in reply and len(reply) < 250
    assert "“Why does the lantern really" in reply and "…”" in reply


def test_a_short_question_is_quoted_whole_and_a_long_one_ends_at_a_word():
    assert quoted("What is  the\nanswer?") == "What is the answer?"
    long = quoted("word " * 100)
    assert len(long) <= QUOTE_LIMIT + 1 and long.endswith("word…")
    assert quoted("x" * 500) == "x" * QUOTE_LIMIT + "…"
