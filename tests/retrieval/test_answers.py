"""The offline model's file_search answer leads with the sentence that answers."""

from __future__ import annotations

import re

from chat.retrieval import answers, skill, tool
from chat.retrieval.answers import ANY, DEFINITION, NAME, NUMBER, REASON, SHARE

PAPER = (
    "Many millions of people were involved in creating the data that GPT-2 was trained on. "
    "We created a new web scrape which emphasizes document quality. "
    "The resulting dataset, WebText, contains the text subset of these 45 million links. "
    "We trained the base models for a total of 100,000 steps or 12 hours. "
    "Each training step took about 0.4 seconds on the machine. "
    "The Winograd Schema challenge measures commonsense reasoning by resolving ambiguities. "
    "GPT-2 improves state of the art accuracy by 7%, achieving 70.70%. "
    "Layer normalization is a technique that rescales the activations of each layer. "
    "To counteract this effect, we scale the dot products by the square root of the dimension."
)


def output_for(query: str, *texts: str) -> str:
    """The tool output the offline model reads, one passage per text."""

    class Chunk:
        def __init__(self, text):
            self.text, self.document_id, self.page_start, self.page_end, self.page_marks = text, 1, 3, 3, []

    class Hit:
        def __init__(self, text):
            self.chunk, self.score = Chunk(text), 1.0

    class File:
        id, filename = "file-1", "paper.pdf"

    return tool.model_output(tool.entry_for("call_1", query, [Hit(t) for t in texts], {1: File()}))


def first_quote(text: str) -> str:
    return re.search(r"“(.+?)”【", text).group(1)


def test_question_kinds_are_told_apart_by_their_first_words():
    assert answers.kind_of("How many links did they scrape?") == NUMBER
    assert answers.kind_of("What share of questions does it answer exactly?") == SHARE
    assert answers.kind_of("What dataset was GPT-2 trained on?") == NAME
    assert answers.kind_of("Which momentum coefficients did Adam use?") == NUMBER
    assert answers.kind_of("What is layer normalization?") == DEFINITION
    assert answers.kind_of("Why are the dot products scaled?") == REASON
    assert answers.kind_of("Explain the training objective") == ANY
    assert answers.kind_of("What does photosynthesis produce?") == ANY
    assert answers.kind_of("What does self-attention mean?") == DEFINITION


def test_a_question_of_no_particular_kind_leads_with_the_sentence_covering_it():
    notes = "Photosynthesis turns light, water and carbon dioxide into glucose and oxygen."
    assert "glucose" in first_quote(skill.answer("What does photosynthesis produce?", output_for("q", notes)))


def test_what_dataset_leads_with_the_sentence_naming_it():
    reply = skill.answer("What dataset was GPT-2 trained on?", output_for("q", PAPER))
    assert "WebText" in first_quote(reply)
    assert reply.startswith("From *paper.pdf*: “The resulting dataset, WebText")


def test_how_many_leads_with_the_number_next_to_the_word_asked_about():
    reply = skill.answer("How many update steps was the base model trained for?", output_for("q", PAPER))
    assert "100,000 steps" in first_quote(reply)


def test_a_figure_stated_after_the_sentence_naming_the_topic_is_found():
    reply = skill.answer("How accurate is GPT-2 on the Winograd challenge?", output_for("q", PAPER))
    assert "70.70%" in first_quote(reply)


def test_definitions_and_reasons_lead_with_the_defining_or_explaining_sentence():
    assert first_quote(skill.answer("What is layer normalization?", output_for("q", PAPER))).startswith("Layer normalization is")
    assert "To counteract" in first_quote(skill.answer("Why scale the dot products?", output_for("q", PAPER)))


def test_at_most_two_supporting_quotes_follow_each_cited():
    reply = skill.answer("How many steps and seconds did training take?", output_for("q", PAPER, PAPER + " More."))
    quotes = re.findall(r"“(.+?)”(【[^】]+】)", reply)
    assert 1 <= len(quotes) <= 3 and all(marker for _, marker in quotes)
    assert len({q for q, _ in quotes}) == len(quotes)


def test_when_no_passage_answers_it_says_so_plainly_without_quoting():
    reply = skill.answer("How many goals did the striker score in the final?", output_for("q", PAPER))
    assert "found no passage that answers it" in reply
    assert "“" not in reply.split("found no passage")[1]
