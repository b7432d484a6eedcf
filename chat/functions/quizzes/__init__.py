"""The offline tutor's quizzes: which topic to quiz on (``topics``), writing a quiz from a
seed (``banks``), working each question out again from its text (``solving``) and grading
what a student types against that (``answers``, ``grading``), never against a stored key.
"""

from chat.functions.models import QUIZ_FUNCTION, is_quiz_function
from chat.functions.quizzes.answers import number_in
from chat.functions.quizzes.banks import FREE_RESPONSE, MULTIPLE_CHOICE, write_quiz
from chat.functions.quizzes.grading import Graded, Grading, grade, grading
from chat.functions.quizzes.solving import Solution, solve_question
from chat.functions.quizzes.topics import TOPIC_NAMES, named_quiz_topic, quiz_topic, topic_of, topic_of_message

__all__ = [
    "FREE_RESPONSE",
    "MULTIPLE_CHOICE",
    "QUIZ_FUNCTION",
    "TOPIC_NAMES",
    "Graded",
    "Grading",
    "Solution",
    "grade",
    "grading",
    "is_quiz_function",
    "named_quiz_topic",
    "number_in",
    "quiz_topic",
    "solve_question",
    "topic_of",
    "topic_of_message",
    "write_quiz",
]
