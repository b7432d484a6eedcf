"""The offline model tolerates misspelt keywords and explains its previous answer."""

import pytest

from chat.providers.base import ModelRequest
from chat.providers.offline import spelling
from chat.providers.offline.explain import is_explain_request
from chat.providers.offline.mathtutor import answer
from chat.providers.offline.model import compose


@pytest.mark.parametrize(
    "typo, word",
    [("fibbonaci", "fibonacci"), ("fibonnaci", "fibonacci"), ("Fibonaci", "fibonacci"), ("factoral", "factorial"),
     ("factorail", "factorial"), ("primse", "primes"), ("simplfy", "simplify"), ("intergrate", "integrate"),
     ("differntiate", "differentiate"), ("explian", "explain")],
)
def test_a_keyword_misspelt_by_an_edit_or_two_is_recognised(typo, word):
    assert spelling.closest_keyword(typo) == word


@pytest.mark.parametrize("word", ["prices", "solved", "factory", "square", "hello", "between", "fibonacci", "primes"])
def test_real_words_and_keywords_are_left_alone(word):
    assert spelling.closest_keyword(word) is None


def test_only_longer_words_are_corrected_and_numbers_stay():
    assert spelling.correct("the first 20 fibbonaci numbers, x = fib") == "the first 20 fibonacci numbers, x = fib"


def test_the_damerau_distance_counts_a_swap_of_neighbours_as_one_edit():
    assert spelling.distance("factorail", "factorial", 2) == 1
    assert spelling.distance("fibbonaci", "fibonacci", 2) == 2
    assert spelling.distance("abcdef", "uvwxyz", 2) == 3  # stops counting above the limit


def test_a_misspelt_math_command_still_works():
    assert "3x^2" in answer("differntiate x^3")


@pytest.mark.parametrize(
    "text", ["Could you explain this to me?", "explain that", "why?", "Why?", "What does this code do?",
             "I don't understand", "how did you get that?", "can you explian it again please"],
)
def test_requests_to_explain_are_recognised_by_their_words_not_a_fixed_sentence(text):
    assert is_explain_request(text)


@pytest.mark.parametrize("text", ["Explain the Pythagorean theorem", "Why is the sky blue?", "Solve 3x + 1 = 4", ""])
def test_questions_of_their_own_are_not_explain_requests(text):
    assert not is_explain_request(text)


def conversation(*turns: tuple[str, str]) -> ModelRequest:
    return ModelRequest(model="offline", messages=[{"role": r, "content": c} for r, c in turns], tools=[])


def test_asked_why_it_explains_each_step_of_the_equation_it_solved_and_checks_it():
    question = "I need to solve the equation `3x + 11 = 14`. Can you help me?"
    reply = compose(conversation(("user", question), ("assistant", answer(question)), ("user", "Could you explain this to me?")))
    text = reply.text
    assert "Subtract 11 from both sides" in text and "keeps them equal" in text
    assert "Divide both sides by 3" in text and "undoes that multiplication" in text
    assert text.index("Subtract 11") < text.index("Divide both sides")
    assert "**Check:**" in text and "left side is \\(14\\)" in text


def test_a_second_why_still_refers_to_the_solution_not_to_the_explanation():
    question = "Solve x^2 - 5x + 6 = 0"
    first = conversation(("user", question), ("assistant", answer(question)), ("user", "why?"))
    explanation = compose(first).text
    again = compose(conversation(*[(m["role"], m["content"]) for m in first.messages], ("assistant", explanation), ("user", "explain that")))
    assert "Discriminant" in again.text and "a product is 0" in again.text


def test_with_nothing_to_explain_it_says_so():
    assert "no earlier answer" in compose(conversation(("user", "Could you explain this to me?"))).text


def test_explaining_hostile_code_stays_short_and_never_fails():
    from chat.code_interpreter.explain import explain_program

    assert explain_program("x = " + "1+" * 5000 + "1") is None  # deeper than ast reads
    assert len(explain_program("print(" + "[1]," * 20000 + ")")) < 300
    assert explain_program("def broken(:") is None
    assert explain_program("\n".join(f"x{i} = {i}" for i in range(100))).count("\n") == 40


def test_a_long_message_is_corrected_only_at_its_start_and_never_inside_a_word():
    text = "fibbonaci " + "x" * (spelling.MAX_TEXT - 14) + " fibbonaci fibbonaci"
    assert spelling.correct(text) == "fibonacci " + "x" * (spelling.MAX_TEXT - 14) + " fibbonaci fibbonaci"
