"""A table flattened by PDF extraction is read back as rows, and a figure question is
answered by quoting the row that holds it (with the caption and header), not the whole run."""

from __future__ import annotations

import re

from chat.retrieval import skill, tables, tool

# As pypdf gives a table: caption, header, then label-and-figures rows in one run, glued to
# the prose after it.
BAKERY = (
    "We baked every recipe four times and weighed what was left. "
    "Table 3: The Sourdough keeps best of the loaves we tested in the cold and humid rooms. "
    "Loaf Crumb Crust Cost (EUR) cold humid cold humid "
    "Rye Batard [12] 3.10 2.75 1.20 0.95 Plain White Tin 2.05 1.80 0.80 "
    "Seeded Spelt [4] 3.45 3.05 1.40 1.10 Sourdough (long proof) 4.70 4.15 1.90 1.55 "
    "Sourdough (short proof) 4.20 3.60 1.75 1.35 "
    "Storage We kept each loaf in a paper bag on the middle shelf of the pantry for a week."
)

# A table whose first column is a figure with a unit (model sizes), the caption after it.
SIZES = (
    "The networks were trained on the same shelf of old servers. Weights Blocks Width "
    "125M 12 640 350M 24 1152 1.3B 40 2176 "
    "Table 1. Sizes of the three networks we trained. Each was trained twice."
)


def _output(query: str, *texts: str) -> str:
    class Chunk:
        def __init__(self, text):
            self.text, self.document_id, self.page_start, self.page_end, self.page_marks = text, 1, 5, 5, []
            self.section = ""

    class Hit:
        def __init__(self, text):
            self.chunk, self.score = Chunk(text), 1.0

    class File:
        id, filename = "file-1", "bakery.pdf"

    return tool.model_output(tool.entry_for("call_1", query, [Hit(t) for t in texts], {1: File()}))


def _first_quote(reply: str) -> str:
    return re.search(r"“(.+?)”【", reply).group(1)


def test_a_flattened_table_is_split_into_rows_ending_where_their_figures_end():
    found = tables.rows(BAKERY)
    owns = [row.own for row in found]
    assert "Plain White Tin 2.05 1.80 0.80" in owns
    assert "Seeded Spelt [4] 3.45 3.05 1.40 1.10" in owns
    assert "Sourdough (long proof) 4.70 4.15 1.90 1.55" in owns
    assert "Sourdough (short proof) 4.20 3.60 1.75 1.35" in owns
    assert len(found) == 5
    # The prose before and after is no row.
    assert not any("pantry" in row.quote or "weighed" in row.quote for row in found)


def test_a_row_is_quoted_with_its_caption_and_header_as_extracts_of_the_text():
    row = next(r for r in tables.rows(BAKERY) if r.own.startswith("Seeded Spelt"))
    pieces = row.quote.split(tables.SEPARATOR)
    assert pieces[0].startswith("Table 3: The Sourdough keeps best")
    assert "Loaf Crumb Crust Cost (EUR) cold humid cold humid" in row.quote
    assert pieces[-1] == "Seeded Spelt [4] 3.45 3.05 1.40 1.10"
    # Every piece stands in the text as quoted, in the text's order.
    at = [BAKERY.index(piece) for piece in pieces]
    assert at == sorted(at)


def test_rows_keyed_by_a_figure_with_a_unit_start_at_each_key_and_know_the_largest():
    found = tables.rows(SIZES)
    assert [row.own.split()[-3:] for row in found] == [
        ["125M", "12", "640"],
        ["350M", "24", "1152"],
        ["1.3B", "40", "2176"],
    ]
    assert [row.extreme for row in found] == ["min", "", "max"]
    assert all(row.quote.endswith("Table 1. Sizes of the three networks we trained.") for row in found)


def test_prose_with_figures_is_no_table():
    prose = (
        "We increase the context size from 512 to 1024 tokens and a larger batch of 512 is used. "
        "We used values of 2.8, 3.7, 6.0 and 9.5 for the four machines, respectively. "
        "Alec Radford * 1 Jeffrey Wu * 1 Rewon Child 1 David Luan 1"
    )
    assert tables.rows(prose) == []


def test_a_figure_in_a_table_is_answered_by_its_row_with_the_caption():
    reply = skill.answer("How much does the seeded spelt cost in humid storage?", _output("q", BAKERY))
    quote = _first_quote(reply)
    assert "Seeded Spelt [4] 3.45 3.05 1.40 1.10" in quote
    assert "Table 3:" in quote
    # Only that row: not the other loaves' figures.
    assert "4.70" not in quote and "2.05" not in quote
    assert "【" in reply.split(quote, 1)[1][:3]  # the citation follows the quote


def test_a_question_naming_no_row_is_answered_by_the_caption_s_subject():
    reply = skill.answer("What crumb score does the long proof loaf get when cold?", _output("q", BAKERY))
    quote = _first_quote(reply)
    assert "Sourdough (long proof) 4.70" in quote and "3.45" not in quote


def test_the_biggest_is_the_row_of_the_largest_key():
    reply = skill.answer("How many blocks does the biggest network have?", _output("q", SIZES))
    quote = _first_quote(reply)
    assert "1.3B 40 2176" in quote and "640" not in quote
