"""The offline model's file_search answer leads with the sentence that answers."""

from __future__ import annotations

import re

from chat.retrieval import answers, passages, questions, skill, tool
from chat.retrieval.answers import ANY, DEFINITION, EFFECT, MANNER, NAME, NUMBER, REASON, SCORE, SHARE, SORT
from chat.retrieval.quotes import sentences

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


def output_for(query: str, *texts: str, sections: tuple[str, ...] = ()) -> str:
    """The tool output the offline model reads, one passage per text (``sections``: the
    section each begins inside)."""

    class Chunk:
        def __init__(self, text, section):
            self.text, self.document_id, self.page_start, self.page_end, self.page_marks = text, 1, 3, 3, []
            self.section = section

    class Hit:
        def __init__(self, text, section=""):
            self.chunk, self.score = Chunk(text, section), 1.0

    class File:
        id, filename = "file-1", "paper.pdf"

    hits = [Hit(t, s) for t, s in zip(texts, [*sections, *[""] * len(texts)], strict=False)]
    return tool.model_output(tool.entry_for("call_1", query, hits, {1: File()}))


def first_quote(text: str) -> str:
    return re.search(r"“(.+?)”【", text).group(1)


def lead(question: str, notes: str) -> str:
    """The sentence the offline answer to ``question`` leads with, over one passage ``notes``."""
    return first_quote(skill.answer(question, output_for("q", notes)))


def test_question_kinds_are_told_apart_by_their_first_words():
    assert answers.answer_kind("How many links did they scrape?") == NUMBER
    assert answers.answer_kind("What share of questions does it answer exactly?") == SHARE
    assert answers.answer_kind("What dataset was GPT-2 trained on?") == NAME
    assert answers.answer_kind("Which momentum coefficients did Adam use?") == NUMBER
    assert answers.answer_kind("What is layer normalization?") == DEFINITION
    assert answers.answer_kind("Why are the dot products scaled?") == REASON
    assert answers.answer_kind("Explain the training objective") == ANY
    assert answers.answer_kind("What does photosynthesis produce?") == ANY
    assert answers.answer_kind("What does self-attention mean?") == DEFINITION


def test_a_question_of_no_particular_kind_leads_with_the_sentence_covering_it():
    notes = "Photosynthesis turns light, water and carbon dioxide into glucose and oxygen."
    assert "glucose" in lead("What does photosynthesis produce?", notes)


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
    assert first_quote(skill.answer("What is layer normalization?", output_for("q", PAPER))).startswith(
        "Layer normalization is"
    )
    assert "To counteract" in first_quote(skill.answer("Why scale the dot products?", output_for("q", PAPER)))


def test_at_most_two_supporting_quotes_follow_each_cited():
    reply = skill.answer("How many steps and seconds did training take?", output_for("q", PAPER, PAPER + " More."))
    quotes = re.findall(r"“(.+?)”(【[^】]+】)", reply)
    assert 1 <= len(quotes) <= 3 and all(marker for _, marker in quotes)
    assert len({q for q, _ in quotes}) == len(quotes)


def test_also_in_the_files_quotes_another_file_only_when_it_is_on_the_question():
    """A sentence of another file that shares one word with the question ("light") is no
    source on it: it is not listed under the answer. The answer's own file backs it."""

    class Chunk:
        def __init__(self, text, document_id):
            self.text, self.document_id, self.page_start, self.page_end, self.page_marks = text, document_id, 1, 1, []
            self.section = ""

    class Hit:
        def __init__(self, document_id, text):
            self.chunk, self.score = Chunk(text, document_id), 1.0

    class File:
        def __init__(self, file_id, filename):
            self.id, self.filename = file_id, filename

    files = {1: File("file-1", "biology.pdf"), 2: File("file-2", "history.pdf")}
    leaf = (
        "Photosynthesis turns light, water and carbon dioxide into glucose and oxygen. "
        "Plants use chlorophyll to absorb light energy. The glucose feeds the plant's growth."
    )
    bulb = "The first electric light bulb that lasted was made by Edison in 1879. Factories could then work at night by electric light."
    pores = "Oxygen is released through small pores in the leaves. Light energy drives the whole process."
    hits = [Hit(1, leaf), Hit(2, bulb), Hit(1, pores)]
    question = "What does photosynthesis do with light?"
    reply = skill.answer(question, tool.model_output(tool.entry_for("call_1", question, hits, files)))
    assert "glucose and oxygen" in first_quote(reply)
    also = reply.split("Also in the files:")[1]
    assert "absorb light energy" in also and "history.pdf" not in also and "Edison" not in reply
    # Asked about the other file's topic, that file answers.
    question = "What did Edison make in 1879?"
    reply = skill.answer(question, tool.model_output(tool.entry_for("call_1", question, hits, files)))
    assert "Edison" in first_quote(reply) and "history.pdf" in reply


def test_a_sentence_only_standing_next_to_the_answer_does_not_back_it():
    notes = "Welcome to the chess club. The password is hunter2. Meetings are on Friday."
    reply = skill.answer("What is the password?", output_for("q", notes))
    assert first_quote(reply) == "The password is hunter2."
    assert "Also in the files" not in reply
    # A sentence saying something of the question's own words still backs it.
    more = notes + " The password changes every month at the club."
    assert "The password changes every month" in skill.answer("What is the password?", output_for("q", more))


def test_when_no_passage_answers_it_says_so_plainly_without_quoting():
    reply = skill.answer("How many goals did the striker score in the final?", output_for("q", PAPER))
    assert "found no passage that answers it" in reply
    assert "“" not in reply.split("found no passage")[1]


def test_result_questions_want_a_measured_figure_not_a_count():
    assert answers.answer_kind("How well does the parser do on the news test?") == SCORE
    assert answers.answer_kind("What accuracy does the classifier reach on birds?") == SCORE
    assert answers.answer_kind("How much worse is it without the hint?") == SCORE
    notes = (
        "The bird classifier was compared with 3 of 4 earlier classifiers on the survey. "
        "On the bird survey the classifier reaches 91.5% accuracy after pruning."
    )
    assert "91.5%" in lead("What accuracy does the classifier reach on birds?", notes)


def test_a_figure_leads_by_the_word_it_measures():
    assert answers.focus_word("How rare is the unknown glyph in the scans?") == "rare"
    assert answers.focus_word("How many pumps does the station run?") == "pump"
    notes = (
        "Each scan of the archive holds at least 40 glyphs of context for the reader. "
        "The unknown glyph is extremely rare in the archive, occurring only 12 times in all scans."
    )
    assert "12 times" in lead("How rare is the unknown glyph in the scans?", notes)


def test_references_headings_and_years_are_not_answers():
    notes = (
        "The pump tuning experiments for the river station are listed in Section 22 of 2014 report. "
        "The river station runs 6 pumps at night."
    )
    reply = skill.answer("How many pumps does the river station run?", output_for("q", notes))
    assert "6 pumps" in first_quote(reply)
    assert answers._strength(NUMBER, "See Table 3 and Figure 2 (Smith et al., 2019) from 2014.", {"tabl"}, set()) == 0.0
    assert answers._strength(NUMBER, "4.2 Pump Design The station was built in 1998.", {"pump"}, set()) == 0.0
    assert answers._strength(NUMBER, "It opened in 1998.", {"open"}, set(), years=True) > 0


def test_a_figure_given_after_the_sentence_naming_the_topic_leads_even_without_the_question_words():
    notes = "The lighthouse survey counted migrating cranes over the northern marsh. The total came to 4,210 birds."
    assert "4,210" in lead("How many cranes did the lighthouse survey count?", notes)


def test_a_sentence_matching_only_a_synonym_of_the_question_does_not_answer():
    notes = "The orchestra's accuracy in tuning improved by 12% over the season."
    reply = skill.answer("What score did the striker get in the final?", output_for("q", notes))
    assert "found no passage that answers it" in reply and "12%" not in reply


def test_question_words_standing_together_pick_the_sentence_that_uses_them_as_a_phrase():
    notes = (
        "The common answer for each survey question was recorded at 41.5% by the birds team. "
        "The survey recorded 77.5% on common birds and 12.5% on rare birds."
    )
    assert "77.5%" in lead("What accuracy does the survey reach on common birds?", notes)


def test_more_question_kinds_past_a_leading_word():
    assert answers.answer_kind("Roughly how many cranes were counted?") == NUMBER
    assert answers.answer_kind("Into how many parts is the marsh divided?") == NUMBER
    assert answers.answer_kind("What pumping speed does the station assume?") == NUMBER
    assert answers.answer_kind("What goes wrong when the pumps run dry?") == EFFECT
    assert answers.answer_kind("What kind of filters clean the water?") == SORT
    assert questions.asked_words("How many update steps was the pump run for?") == ["update", "steps"]
    assert questions.asked_words("How large is the station's water tank?") == ["station", "water", "tank"]
    assert questions.asked_words("How much water, in litres, went into the tank?") == ["water", "litres"]


def test_how_many_leads_with_the_count_of_the_thing_asked_about_not_another_count():
    notes = (
        "The station was fitted with 3 new valves in the spring. "
        "Roughly 40 pumps were left running at the station after the flood."
    )
    assert "40 pumps" in lead("Roughly how many pumps were left running?", notes)


def test_a_unit_the_question_asks_for_picks_the_figure_in_it():
    notes = (
        "The archive grew to about 9 million records over 12 years of collecting. "
        "In all, the archive takes up 250 GB of disk."
    )
    assert "250 GB" in lead("How big is the archive, in GB?", notes)


def test_digits_of_a_name_are_no_figure_and_a_figure_the_question_states_is_no_answer():
    assert answers._strength(NUMBER, "The Falcon-9 and the P100 carried the probe.", {"probe"}, set()) == 0.0
    notes = (
        "In survey 7 the marsh cranes were counted by the Falcon-9 team. The crane count in survey 7 came to 312 birds."
    )
    assert "312 birds" in lead("How many cranes were counted in survey 7 by the team?", notes)


def test_a_shortened_or_longer_form_of_a_question_word_counts():
    notes = (
        "The station hums loudly at night because of the old motors. "
        "The <UNK> glyph is extremely rare in the scans, occurring only 12 times. "
        "Normalization of the readings was moved to the start of each shift."
    )
    assert "12 times" in lead("How rare is the unknown glyph?", notes)
    reply = skill.answer("Where was the norm step relocated?", output_for("q", notes))
    assert first_quote(reply).startswith("Normalization of the readings was moved")


def test_an_acronym_defined_in_the_passages_stands_for_its_words():
    notes = (
        "The Northern Marsh Survey (NMS) is run every spring by volunteers. "
        "Counting by volunteers is slow and the cranes often move. "
        "In the NMS, the crane count reached 812 birds."
    )
    assert "812 birds" in lead("How many cranes did the northern marsh survey count?", notes)


def test_a_table_row_is_read_with_its_caption():
    notes = (
        "The Fuji rows were weighed 3 times a season by the growers. "
        "Table 2: Yield of the orchard in tonnes per hectare, then cost, by apple variety. "
        "Gala 12.5 3.1 Braeburn 9.8 2.7. Cox 8.1 2.2 Jonagold 10.4 2.9. Elstar 7.7 2.0 Fuji 14.2 3.3. "
        "The cost of the fertiliser rose every year of the trial."
    )
    assert "14.2" in lead("How much does the Fuji variety yield per hectare?", notes)


def test_sorts_and_consequences_lead_with_the_sentence_giving_them():
    notes = (
        "The filters of the plant are checked every week. "
        "The plant cleans the water with sand and charcoal filters of different grades. "
        "When the pumps run dry, the bearings overheat, causing the motor to seize."
    )
    assert "sand and charcoal" in lead("What kind of filters clean the water?", notes)
    assert "overheat" in lead("What goes wrong when the pumps run dry?", notes)


def test_a_where_question_leads_with_the_place():
    notes = (
        "The lantern of the lighthouse was repaired in spring by the keepers. "
        "The lantern was moved to the top of the northern tower."
    )
    reply = skill.answer("Where was the lantern moved?", output_for("q", notes))
    assert first_quote(reply).startswith("The lantern was moved to the top")


def test_a_sentence_only_mentioning_the_topic_loses_to_the_one_naming_the_answer():
    notes = (
        "Many volunteers helped to gather the recordings the bird classifier was trained on. "
        "The classifier was trained on BirdSong, a collection of field recordings."
    )
    assert "BirdSong" in lead("What dataset was the bird classifier trained on?", notes)


def test_nothing_answering_is_said_plainly_with_a_pointer_but_no_quote():
    notes = "The lighthouse keepers painted the tower white. The tower stands on the northern cliff."
    reply = skill.answer("How many cranes did the marsh survey count?", output_for("q", notes))
    assert reply.startswith("I searched the attached files") and "found no passage that answers it" in reply
    assert "“" not in reply.split("found no passage")[1] and "【" in reply


def test_a_figure_in_a_comparison_is_what_something_else_has():
    notes = (
        "The tank is small compared to the 4,000 to 9,000 litre tanks often used on farms. The tank holds 650 litres."
    )
    assert "650 litres" in lead("How large is the tank?", notes)
    # Asked to compare, the comparison is the answer.
    assert questions.change_words("How much worse is the pump without the filter?")[0] == "drops"


def test_how_much_worse_is_answered_by_the_drop():
    notes = (
        "With the filter in, the pump is worse than the old one by 3.5 litres a minute at full speed. "
        "The pump's output drops by 12.5 litres a minute when the filter is removed."
    )
    assert "12.5 litres" in lead("How much worse does the pump get when the filter is taken out?", notes)


def test_what_is_the_count_wants_a_figure_and_two_words_may_be_written_as_one():
    assert answers.answer_kind("What is the parameter count of the smallest pump?") == NUMBER
    assert answers.answer_kind("Up to what date were the cranes counted?") == NUMBER
    notes = (
        "The crane survey used a net size of 4 metres on the marsh. "
        "The survey used a larger batchsize of 512 photos per upload."
    )
    assert "512" in lead("How big was the batch size of the survey?", notes)


def test_a_footnote_mark_after_a_full_stop_ends_the_sentence_but_a_figure_does_not():
    text = (
        "The survey counted 4.1% of the cranes twice on marshes like Fenland.3 As a comparison point, "
        "the old survey did worse. It reached 28.4 Points on the scale."
    )
    assert [s for _, s in sentences(text)] == [
        "The survey counted 4.1% of the cranes twice on marshes like Fenland.",
        "As a comparison point, the old survey did worse.",
        "It reached 28.4 Points on the scale.",
    ]
    # A footnote's text set mid-sentence by the PDF starts with its mark glued to a capital.
    glued = "We compared the pumps of the station on the 5We used values of 2.8 and 9.5 litres for the pumps."
    assert [s for _, s in sentences(glued)][-1] == "We used values of 2.8 and 9.5 litres for the pumps."


def test_figures_listed_respectively_stand_for_the_names_in_order():
    notes = (
        "The Cedar pump was serviced 2 times last winter. "
        "All three pumps draw their power from the grid. "
        "Their ratings were 2.8, 3.7 and 9.5 kilowatts for the Alder, Birch and Cedar pumps, respectively."
    )
    assert "9.5" in lead("How much power does the Cedar pump draw?", notes)


def test_a_lone_digit_ending_a_sentence_after_a_noun_is_a_footnote_mark():
    assert answers._strength(NUMBER, "We count the pumps used at each station 5.", {"pump"}, set()) == 0.0
    assert answers._strength(NUMBER, "The number of pumps is 5.", {"pump"}, set()) > 0
    assert answers._strength(NUMBER, "The station runs pumps with N = 6.", {"pump"}, set()) > 0


def test_a_name_s_number_in_the_question_is_not_matched_by_another_name_s():
    # "WikiText-2" shares the "2" of "Zorb-2" and is no more about it than any dataset.
    other = "Large gains show on small datasets such as WikiText-2 which have few training tokens."
    own = "Zorb-2 learned from PageMix, a dataset of forum pages."
    reply = skill.answer("What dataset was Zorb-2 trained on?", output_for("q", other, own))
    assert "PageMix" in first_quote(reply)


def test_a_sentence_is_read_with_its_sections_heading():
    # The figure for the encoder stands three sentences after its heading, out of reach of
    # the neighbouring sentences; the decoder's figure comes first.
    decoder = "A decoder often has 12 layers in such systems."
    section = (
        "3.1 Encoder Stack The first half reads the input. It is built from identical blocks. "
        "Each block has two parts. Residual paths join them. In all, it is built of 6 layers."
    )
    reply = skill.answer("How many layers does the encoder have?", output_for("q", decoder, section))
    assert "6 layers" in first_quote(reply)


def test_the_model_reads_the_section_a_passage_begins_inside():
    # Its heading stood in the chunk before; the header names it, and the offline model
    # still finds the passage's text.
    inside = "We kept pages that readers had voted up. The result, PageMix, holds eight million pages."
    output = output_for("What corpus was Zorb trained on?", inside, sections=("Training Corpus",))
    assert "page 3, section “Training Corpus”)\n" in output
    assert [text for _, _, text in skill.passages(output)] == [inside]


def test_a_heading_glued_to_a_sentence_s_start_is_no_name():
    # Extraction left "4. Upgrades" glued to the section's first sentence: neither the
    # title nor "Since", which starts the sentence after it, names the pump.
    notes = (
        "The station has four pumps. 4. Upgrades Since spring the station uses a newer pump. "
        "It came by ship in May. The pump is the Kestrel, built in Norway."
    )
    assert "Kestrel" in lead("Which pump does the station use now?", notes)


def test_a_name_in_apposition_to_the_asked_word_answers_what_is_asked():
    # "What corpus": the sentence calling a name a corpus answers, though another covers
    # more of the question's words and names something else.
    notes = (
        "Zorb was trained on pages linked from Reddit over two years. We kept only pages that "
        "readers voted up. The resulting corpus, PageMix, holds eight million pages."
    )
    reply = skill.answer("What corpus was Zorb trained on?", output_for("q", notes))
    assert "PageMix" in first_quote(reply)
    assert answers._named("We tuned it with the Adam optimizer.", "optim", set())
    assert answers._named("We used an optimizer called Adam.", "optim", set())
    assert not answers._named("Adam was used to tune the optimizer.", "optim", set())


def test_a_scene_setting_clause_before_the_question_word_does_not_hide_the_kind():
    assert questions.main_clause("In the standard setup, how many pumps run?") == "how many pumps run?"
    assert questions.main_clause("What is a pump, and why?") == "What is a pump, and why?"
    assert answers.answer_kind("In the standard setup, how many pumps run side by side?") == NUMBER
    assert answers.answer_kind("If the tank is full, why does the valve close?") == REASON
    notes = "In the standard setup the station runs its pumps side by side to share the load. The station runs 6 pumps."
    assert "6 pumps" in lead("In the standard setup, how many pumps run side by side?", notes)


def test_an_index_in_a_formula_is_no_figure():
    assert (
        answers._strength(
            NUMBER, "Each hidden state ht follows from the hidden state ht−1 and the input.", {"hidden"}, set()
        )
        == 0.0
    )
    notes = (
        "The recurrent layer produces a hidden state ht from the previous hidden state ht−1 and the input. "
        "The inner layer of the block has width 512."
    )
    assert "512" in lead("How wide is the hidden layer of the block?", notes)


def test_why_is_answered_by_what_a_thing_brings_about():
    notes = (
        "Recurrent pumps move the water one tank after another. "
        "This sequential nature precludes filling the tanks in parallel."
    )
    assert "precludes" in lead("Why can't the tanks be filled in parallel?", notes)


def test_a_name_right_by_a_word_for_the_kind_asked_answers_with_few_question_words():
    board = "The Station Board fitted the pump controller weights by hand for years."
    method = "The tank holds rain water for the dry months. We used the Adam optimizer with a small step size."
    reply = skill.answer(
        "Which gradient-based optimization algorithm was used for the controller weights?",
        output_for("q", board, method),
    )
    assert "Adam" in first_quote(reply)


def test_a_value_set_with_an_equals_sign_is_no_year():
    assert answers._strength(NUMBER, "The inner layer has width dff = 2048.", {"width"}, set()) > 0
    assert answers._strength(NUMBER, "The inner layer was widened in 2018.", {"width"}, set()) == 0.0
    notes = (
        "The inner layer of the pump model was widened in 2018 after a review. The inner layer has width dff = 2048."
    )
    assert "2048" in lead("What is the width of the inner layer?", notes)


def test_a_figure_saying_what_would_happen_is_not_what_was_done():
    assert (
        answers._strength(NUMBER, "A full alphabet would need a table of over 130,000 glyphs.", {"glyph"}, set()) == 0.0
    )
    assert answers._strength(NUMBER, "Printing by hand would be slow, so we cast 300 glyphs.", {"glyph"}, set()) > 0
    notes = (
        "A glyph table for the press that held the full alphabet would have over 130,000 entries. "
        "The glyph table is cut down to 2,400."
    )
    assert "2,400" in lead("How large is the press's glyph table?", notes)


def test_a_drawback_asked_for_is_answered_by_its_consequence():
    assert answers.answer_kind("What’s the catch with draining the tank early?") == EFFECT
    assert answers.answer_kind("What are the drawbacks of a larger pump?") == EFFECT
    notes = (
        "Early Draining The crew drains the tank early in the season. "
        "This hurts the harvest, as the fields dry out, but protects the pumps."
    )
    assert "hurts" in lead("What's the catch with draining the tank early?", notes)


def test_a_sort_asked_for_with_an_adjective_is_found_by_its_noun():
    notes = "The station cleans the water of the town with care. The water runs through sand and charcoal filters."
    assert "charcoal filters" in lead("What kind of mechanical filters clean the water?", notes)


def test_a_range_or_average_asked_for_is_a_figure():
    assert answers.answer_kind("What range do the pump pressures span?") == NUMBER
    assert answers.answer_kind("What is the average of the readings?") == NUMBER
    notes = "Pump pressures in the station span the needs of the whole town. The pressures run from 2 bar to 9 bar."
    assert "2 bar to 9 bar" in lead("What range do the pump pressures in the station span?", notes)


def test_an_equation_s_label_after_its_formula_is_no_figure():
    text = (
        "The rate rises over the warmup as r = d−0.5 · min(n−0.5, n · w−1.5) (3) and falls after the warmup. "
        "For the base models we used w = 4000 in all runs."
    )
    assert "4000" in first_quote(
        skill.answer("For how many steps does the rate rise during the warmup?", output_for("q", text))
    )


def test_a_sentence_cut_by_an_overlapping_passage_is_read_whole_or_not_at_all():
    whole = "The rate rises over the warmup as r = d−0.5 · min(n−0.5, n · w−1.5) and falls after the warmup."
    cut = "0.5, n · w−1.5) and falls after the warmup. For the base models we used w = 4000 in all runs."
    output = output_for("q", whole, cut)
    assert "4000" in first_quote(skill.answer("For how many steps does the rate rise during the warmup?", output))


def test_a_figure_for_the_other_direction_does_not_answer_one_direction():
    text = (
        "On the English-to-German translation task, the big model reaches a translation score of 30.1 BLEU. "
        "On the German-English test set, it achieves 20.5 BLEU."
    )
    quote = first_quote(
        skill.answer("What translation score does it reach from German into English?", output_for("q", text))
    )
    assert "20.5" in quote
    # A pair with no direction ("German-English data") is the same pair written either way.
    data = "The English-German dataset holds 4.5 million sentence pairs. The model has 65 million parameters."
    assert "4.5 million" in first_quote(
        skill.answer("How many sentence pairs are in the German-English data?", output_for("q", data))
    )


def test_what_a_thing_is_called_is_answered_by_the_name_given_after_a_naming_word():
    assert answers.answer_kind("What are the six-legged lizards called in the story?") == NAME
    text = (
        "Walter Price, a biologist from the University of Bern, was exploring the Alps when he found a herd of lizards. "
        "The explorer named the six-legged herd, after its odd gait, Marlow’s Walkers."
    )
    quote = first_quote(
        skill.answer("What are the six-legged lizards called in the story about the Alps?", output_for("q", text))
    )
    assert "Marlow" in quote


def test_asked_why_a_remedy_was_needed_the_sentence_it_remedies_leads():
    text = (
        "Merging letters with punctuation makes many variants of common words. "
        "This results in a poor allocation of the vocabulary. "
        "To avoid this, we stop the tokenizer from merging letters with punctuation."
    )
    quote = first_quote(
        skill.answer("Why did they stop the tokenizer from merging letters with punctuation?", output_for("q", text))
    )
    assert "poor allocation" in quote


# h-ans (issue 14, item 4): sentence choice, second pass.


def test_what_they_conclude_is_answered_by_the_conclusion_drawn_in_the_next_sentence():
    notes = (
        "The tank holds forty litres of water. "
        "We observe that cooling the pump slowly makes the flow weaker. "
        "This suggests that the valve seal is not tight enough at low temperature."
    )
    question = "What do they conclude from cooling the pump making the flow weaker?"
    assert answers.answer_kind(question) == questions.CONCLUSION
    assert "valve seal" in lead(question, notes)


def test_what_is_the_long_named_score_asks_for_a_result():
    assert answers.answer_kind("What is the averaged ROUGE score of the small model?") == SCORE
    assert answers.answer_kind("What was the final BLEU score?") == SCORE


def test_what_model_of_a_thing_is_answered_by_a_name_by_the_papers_word_for_the_thing():
    notes = (
        "We estimate the cost of training from the hours of each GPU used and the power it draws. "
        "The network was trained on four K2000 GPUs for a week."
    )
    assert "K2000" in lead("What model of graphics card was used for training?", notes)


def test_a_figure_by_the_asked_words_modifier_in_a_sentence_without_its_head_is_another_things():
    notes = (
        "The bread recipe archive of the bakery holds 120 entries by now. We also bake 500 bread recipe rolls a day."
    )
    assert "120 entries" in lead("How large is the bread recipe archive?", notes)


def test_a_figure_in_a_sentence_opening_in_contrast_is_the_alternatives():
    notes = (
        "Our garden's seed store now holds some 40 packets. "
        "In contrast, a village garden needs a seed store of 12 packets."
    )
    assert "40 packets" in lead("How large is the garden's seed store?", notes)


def test_who_is_answered_by_the_name_that_did_it_not_by_the_work_named():
    notes = (
        "In this report we presented the Lantern, the first lamp to replace candles with sealed oil burners. "
        "Marta proposed replacing candles with oil burners and started the first tests."
    )
    reply = skill.answer("Who first suggested replacing candles with oil burners?", output_for("q", notes))
    assert first_quote(reply).startswith("Marta proposed")


def test_why_not_is_answered_by_the_things_problem_stated_without_a_marker():
    notes = (
        "The players want to avoid getting caught by the guard in the garden game. "
        "Public river samples are far larger than lab samples, but they have serious contamination issues. "
        "We collected lab samples from three sites."
    )
    assert "contamination issues" in lead("Why not simply test on the large public river samples?", notes)


def test_what_noun_with_any_verb_is_answered_by_a_name_by_that_noun():
    notes = (
        "3.1 Cooling Loops In each cooling loop of the rack, coolant flows from the pumps to the two copper pipes and back. "
        "This consists of a pipe pair with a Xylene coolant in between."
    )
    assert "Xylene" in lead("What coolant flows between the two copper pipes of the cooling loop?", notes)


def test_a_short_name_spelled_from_the_questions_words_stands_for_them():
    notes = (
        "Our network reaches an accuracy of 70.2 on the test, a strong result. The RecNet model reaches 64.5 accuracy."
    )
    assert "64.5" in lead("What accuracy does the recurrent network reach?", notes)


HARBOUR = (
    "The harbour team kept notes on the tides, the gulls and the weather for many long winters. "
    "Their logbook fills three shelves in the old customs house by the pier. "
)
CUT = "The Zorblax reader unit, which the harbour team assembled from salvaged parts, spans"
WHOLE_END = " 17 meters from end to end. Nobody has moved it since the storm."
UNRELATED = "Bakers in the town sell rye bread, apple cakes and small honey biscuits every morning. " * 3


def test_a_sentence_cut_at_a_passage_s_end_is_completed_from_the_overlapping_passage_and_cited_there():
    # The best passage ends inside the answering sentence; the next chunk of the same file
    # (fifth among the results, past the passages searched for an answer) holds it whole.
    cut = HARBOUR + CUT
    overlapping = HARBOUR[60:] + CUT + WHOLE_END
    output = output_for("q", cut, UNRELATED, UNRELATED + " Rye.", UNRELATED + " Cakes.", overlapping)
    reply = skill.answer("How many meters does the Zorblax reader unit span?", output)
    assert "“The Zorblax reader unit, which the harbour team assembled from salvaged parts, spans 17 meters" in reply
    assert re.search(r"end to end\.”【0:4†paper\.pdf】", reply)


def test_a_sentence_cut_at_a_passage_s_start_is_completed_from_the_passage_before_it():
    whole = HARBOUR + CUT + WHOLE_END
    cut_at = whole.index("salvaged")
    starts_inside = whole[cut_at:] + " " + UNRELATED
    output = output_for("q", starts_inside, UNRELATED + " Rye.", UNRELATED + " Cakes.", UNRELATED + " Buns.", whole)
    reply = skill.answer("How many meters does the Zorblax reader unit span?", output)
    assert re.search(r"“The Zorblax reader unit, which .* 17 meters from end to end\.”【0:4†paper\.pdf】", reply)


def test_only_a_passage_of_the_same_file_completes_a_cut_sentence():
    cut = HARBOUR + CUT
    overlapping = HARBOUR[60:] + CUT + WHOLE_END
    same = answers.complete_edges(0, [cut, overlapping], ["a.pdf", "a.pdf"])
    assert same.text == cut + " 17 meters from end to end." and same.after == 1
    other = answers.complete_edges(0, [cut, overlapping], ["a.pdf", "b.pdf"])
    assert other.text == cut and other.after is None


def test_a_short_sentence_that_answers_leads():
    notes = (
        "Welcome to the lab wiki for new members of the team. The password is hunter2. Ask Sam for a badge at the desk."
    )
    assert lead("What is the password?", notes) == "The password is hunter2."
    # Still no fragment of fewer words: "See Table 2." stays out.
    assert [s for _, s in sentences("Scores rose. See Table 2. Then more.", words=answers.SHORT_SENTENCE_WORDS)] == []


def test_a_figure_stated_as_a_minimum_answers_a_question_for_a_minimum_not_one_for_a_capacity():
    notes = (
        "The reading test uses sentences that require at least 50 glyphs of context for a reader to follow. "
        "For the scanner, we widen the context of the reader from 300 to 900 glyphs per pass."
    )
    reply = skill.answer("How many glyphs of context can the reader see?", output_for("q", notes))
    assert "900 glyphs" in first_quote(reply)
    guide = (
        "The guide lists 300 taverns across the whole region and its coast. "
        "Inspectors kept only the taverns whose listing received a rating of at least 4 stars from guests."
    )
    reply = skill.answer("What minimum rating did a tavern listing need to be kept?", output_for("q", guide))
    assert "at least 4 stars" in first_quote(reply)
    assert questions.asks_minimum("What minimum rating was needed?") is True
    assert questions.asks_minimum("How many glyphs can it see?") is False
    assert questions.asks_minimum("How many glyphs were read?") is None


def test_a_figure_in_another_measure_than_the_one_asked_is_no_answer():
    notes = (
        "Riddle summaries of the harbour logs were scored against the keepers' own notes. "
        "On the harbour set, the riddle summaries reach 55.2 F1 when the hint is given. "
        "Averaged over the overlap metrics, ROUGE is 21.4 for them."
    )
    reply = skill.answer("What ROUGE score do the riddle summaries reach on the harbour set?", output_for("q", notes))
    assert "21.4" in first_quote(reply)
    # Asked for F1, the F1 figure answers.
    assert "55.2 F1" in lead("What F1 do the riddle summaries reach on the harbour set?", notes)


def test_a_dimension_s_symbol_stands_for_its_words():
    notes = (
        "In this design we use h = 6 parallel lantern units, or beams. "
        "For each of these we use dk = dv = dmodel/h = 48. "
        "The beams are joined again at the end of the tower."
    )
    reply = skill.answer("How many dimensions does each individual beam work with?", output_for("q", notes))
    assert "= 48" in first_quote(reply)
    assert answers.symbol_stems("dmodel") >= {passages.stem("dimension"), passages.stem("model")}
    assert answers.symbol_stems("dog") == frozenset()


def test_how_many_per_item_is_not_answered_by_the_count_of_the_items():
    notes = (
        "For the night shift the bakery fires 8 ovens full of rye loaves. "
        "Its racks are loaded by hand and take 120 loaves on the middle shelves."
    )
    assert "120 loaves" in lead("How many loaves fit in each oven?", notes)
    # Asked for the ovens themselves, their count answers.
    assert "8 ovens" in lead("How many ovens does the bakery fire?", notes)
    assert answers.per_item("How many tokens per batch, and for every single step?") == {
        passages.stem("batch"),
        passages.stem("step"),
    }


def test_a_figure_counting_what_lacks_a_thing_answers_only_a_question_about_its_absence():
    notes = (
        "Over 30% of the pantry samples share no recipe with the old mill's book. "
        "The median pantry sample has 4.1% in common with it."
    )
    reply = skill.answer("How much of a pantry sample's recipe is shared with the mill's book?", output_for("q", notes))
    assert "4.1%" in first_quote(reply)
    assert "30%" in lead("What share of pantry samples share no recipe with the mill's book?", notes)


def test_why_is_not_answered_by_a_sentence_restating_what_is_asked():
    # "to prevent the light from shining on ships" says again what the question asks about;
    # the reason is what the other sentence's clause adds.
    notes = (
        "We also fit a hood over each lantern to prevent the light from shining on ships. "
        "The keepers need to prevent glare from the lanterns at sea to keep pilots able to read the coast."
    )
    assert "to keep pilots able to read the coast" in lead(
        "Why must the lanterns be kept from shining at passing ships?", notes
    )


def test_a_result_in_a_measure_is_no_count_or_duration():
    notes = (
        "After its training steps the lantern model reached 27.3 BLEU on the harbour logs. "
        "Its training ran for 9000 steps in all on the old cluster."
    )
    assert "9000 steps" in lead("How long did training the lantern model take?", notes)
    assert "27.3 BLEU" in lead("What BLEU did the lantern model reach?", notes)


def test_how_is_it_done_is_answered_by_the_way_it_is_done():
    assert answers.answer_kind("How are the oars trimmed before a race?") == MANNER
    assert answers.answer_kind("How many oars are trimmed?") == NUMBER
    notes = (
        "The oars of the long boats are stacked in the race shed, followed by the masts. "
        "Before a race the crews trim the oars by shaving a thin strip from each blade."
    )
    assert "by shaving" in lead("How are the oars of the long boats trimmed before a race?", notes)


def test_a_verb_s_irregular_form_counts_as_the_question_s_verb():
    notes = "The villagers sing in the square every evening. The villagers brought bread and cheese to the fair."
    assert "brought" in lead("What did the villagers bring?", notes)


def test_how_much_time_asks_a_duration_like_how_long():
    assert answers.content_words("How much wall-clock time did the crossing take?") == ["crossing", "take"]
    notes = (
        "The harbour clock on the wall shows the time of every departure. "
        "The ferry crossing took about 40 minutes in calm weather."
    )
    assert "40 minutes" in lead("How much wall-clock time did the crossing take?", notes)


def test_a_figure_for_each_item_answers_for_a_single_one():
    notes = "The whole relay race took 3 hours over 40 laps of the track. Each lap of the track took about 4 minutes."
    assert "4 minutes" in lead("How much time did a single lap take?", notes)


def test_what_date_wants_a_year_or_a_month_not_a_count():
    notes = (
        "The society's archive of letters holds 4,000 letters from the valley. "
        "Only letters written before March 1921 were collected for the archive."
    )
    assert "March 1921" in lead("Up to what date were letters collected for the society's archive?", notes)


def test_a_word_after_no_or_without_does_not_cover_the_question_s_word():
    notes = (
        "Table 3: Points of each team in the quiz. Team Round Final Total Foxes hinted 11.0 12.0 23.0 "
        "Owls no hint 12.5 14.0 26.5 Owls hint 15.5 17.0 32.5 Badgers hint 10.0 9.0 19.0 The quiz ended at nine."
    )
    reply = skill.answer(
        "How many points in total did the owls reach in the quiz with the hint?", output_for("q", notes)
    )
    assert "Owls hint 15.5" in first_quote(reply)
    # Asked about the absence, the row saying it is missing answers.
    reply = skill.answer(
        "How many points in total did the owls reach in the quiz with no hint?", output_for("q", notes)
    )
    assert "Owls no hint 12.5" in first_quote(reply)


def test_a_question_about_a_table_is_answered_by_the_table_s_row():
    notes = (
        "As the tally table shows, the count at the marsh rose by 4.5 in the last week of the survey. "
        "Table 1: Birds counted at each site. Site Herons Gulls Terns Pier 14 230 12 Beach 9 410 40 "
        "Marsh 31 55 7 Dunes 2 17 90 The survey ended in May."
    )
    assert "Marsh 31 55 7" in lead("In the tally table, how many herons were counted at the marsh?", notes)


def test_how_many_things_are_in_a_container_wants_a_sentence_naming_the_container():
    assert answers.contained_in("How many birds were there in the marsh on Monday?") == {"marsh"}
    notes = (
        "Each reader may borrow 12 books from the reading room at once. "
        "The reading room collection is expanded to 4,500."
    )
    assert "4,500" in lead("How many books are in the reading room collection?", notes)


def test_how_many_things_are_in_something_asks_what_it_has_not_a_minimum():
    notes = (
        "Each entry in the final word list needs at least 20 words of description. The list is expanded to 3,100 words."
    )
    assert "3,100" in lead("How many words are in the final list?", notes)


def test_a_figure_in_an_assumption_is_given_not_the_answer():
    notes = (
        "To see why the pond fills, assume that each of the two streams adds water at a rate of 1 litre per hour. "
        "Then together the streams add 2 litres per hour to the pond."
    )
    question = "If each stream adds one litre per hour, how much water do the streams add to the pond per hour?"
    assert "2 litres" in lead(question, notes)


def test_at_least_states_the_minimum_the_question_asks_for():
    notes = (
        "Members were invited to the team once they had at least 1200 points.",
        "The junior section of the club has its own coach.",
        "Every player keeps a score card for each game.",
        "The county team plays in the autumn league.",
    )
    question = "What minimum score did a junior player need before the club invited them to the county team?"
    assert "at least 1200 points" in first_quote(skill.answer(question, output_for("q", *notes)))


def test_what_the_question_sets_aside_is_no_part_of_the_answer():
    assert answers.content_words("Why is the marsh survey so hard, apart from its size?") == ["marsh", "survey", "hard"]
    notes = (
        "The marsh survey is hard because the paths flood every spring. "
        "The marsh survey is hard to staff because of its size, with too few trained volunteers for the long walks."
    )
    assert "flood" in lead("Why is the marsh survey so hard, apart from its size?", notes)


def test_what_time_wants_a_time_of_day_not_another_figure():
    notes = (
        "The under-12 squad plays its cup match away at Riverside on Saturday. "
        "The minibus departs from the clubhouse car park at 9:40 am. "
        "Each player pays 3 pounds towards the minibus and should go to bed early."
    )
    assert "9:40 am" in lead("What time does the minibus go?", notes)


def test_a_time_of_day_covers_the_question_s_word_time():
    notes = (
        "Tickets for the island ferry are sold at the harbour kiosk. Dogs must stay on a lead on deck. "
        "Bicycles travel free on every crossing. The boat leaves the pier at 7:30 am."
    )
    reply = skill.answer("What time does the ferry sail?", output_for("q", notes))
    assert "7:30 am" in first_quote(reply)
    assert answers._clock_said("Doors open at noon.", {"time": 1.0}) == {"time": 1.0}
    assert answers._clock_said("Model 3.5 has 12 layers.", {"time": 1.0}) == {}


def test_how_much_does_it_cost_wants_a_sum_of_money_not_a_label_s_number():
    notes = (
        "Under 14 tour to the national stadium in May. "
        "Each player pays 15 dollars for the coach and tickets to the treasurer by Friday."
    )
    reply = skill.answer("How much does the tour cost?", output_for("q", notes))
    assert "15 dollars" in first_quote(reply)
    assert answers.price_asked("How much does the tour cost?")
    assert not answers.price_asked("What is the training cost in FLOPs?")
    assert not answers.price_asked("How much time did the team spend on drills?")


def test_what_does_someone_do_is_answered_by_the_sentence_saying_the_question_s_verb():
    assert answers.asked_verb("What should the swimmers bring?") == passages.stem("bring")
    assert answers.asked_verb("What does the best method score going from French to English?") is None
    notes = (
        "Veterans tournament at the county ground on Sunday. The gates open at nine. Please bring a racket and water. "
        "Entry is 3 pounds per man, paid at the desk. Men who arrive late cannot play."
    )
    # "Men who …" has the question's other word and the verb two sentences before it; the
    # sentence saying the verb itself answers.
    reply = skill.answer("What should the men bring?", output_for("q", notes))
    assert "racket and water" in first_quote(reply)


def test_a_running_header_glued_into_a_sentence_by_a_page_break_is_taken_out():
    # Two pages of one file begin with its title; the first break cuts a sentence mid-way.
    first = (
        "The reed beds were surveyed over three summers by two teams. "
        "Of the rare birds, only one species, the Spotted Crake,\n\n"
        "Field Notes on Marsh Birds nests in the reed beds every year. The teams counted nests at dawn."
    )
    second = (
        "Water levels were logged at the sluice. The wardens cut the reeds in winter.\n\n"
        "Field Notes on Marsh Birds Herons feed at the edge of the open water at dusk."
    )
    assert answers.running_headers([first, second], ["notes.pdf", "notes.pdf"]) == {
        "notes.pdf": "Field Notes on Marsh Birds"
    }
    reply = skill.answer("Which rare bird nests in the reed beds?", output_for("q", first, second))
    assert (
        first_quote(reply)
        == "Of the rare birds, only one species, the Spotted Crake, nests in the reed beds every year."
    )
    # A page start followed by another after a full stop keeps its break; words that are no
    # title ("In this section") are no header.
    assert answers.without_headers([second, first], ["a.pdf", "a.pdf"])[0].endswith(
        "\n\nHerons feed at the edge of the open water at dusk."
    )
    assert answers.running_headers(["A.\n\nIn this section we go on.", "B.\n\nIn this section we stop."]) == {}


def test_a_name_in_apposition_with_an_article_is_named_by_the_word_before_it():
    assert answers._named("We trained a single model, the Kestrel, on all the counts.", {"model"}, set())
    notes = (
        "Bird counts were kept by hand for decades. "
        "Wardens from Norfolk and Suffolk compared their counts each year. "
        "Moss showed it was possible to train a single model, the Kestrel, to count many different birds."
    )
    assert "Kestrel" in lead("Which single model counted many kinds of birds?", notes)


def test_when_is_answered_by_a_time_not_by_a_count():
    # A year, a day of the week, a time of day, with digits or none; a count says no when.
    bridge = "The bridge carries 4 lanes over the river. It was built in 1932 by the county. It is 200 metres long."
    assert lead("When was the bridge built?", bridge) == "It was built in 1932 by the county."
    club = "The chess club has 24 members in Year 7. It meets every Tuesday after school in Room 9."
    assert lead("When does the club meet?", club) == "It meets every Tuesday after school in Room 9."
    gates = "Parking is free for 300 cars in the north field. The gates open at nine o'clock on Saturday. The show has 40 stalls."
    assert lead("When do the gates open?", gates) == "The gates open at nine o'clock on Saturday."


def test_a_sum_with_its_unit_run_on_is_money_and_a_label_s_number_is_none():
    cartons = "Milk is ordered for 30 pupils each term. Each carton is 40p, paid at the office. The milk fridge holds 60 cartons."
    assert lead("How much does the milk cost?", cartons) == "Each carton is 40p, paid at the office."
    notes = "Milk is ordered for Class 4 pupils each term. Each carton is 40p, paid at the office. Room 12 keeps the milk fridge."
    # "How much is …?" with nothing between asks what the thing comes to: a price.
    assert answers.price_asked("How much is the milk?")
    assert not answers.price_asked("How much data is left?")
    assert lead("How much is the milk?", notes) == "Each carton is 40p, paid at the office."


def test_what_does_a_thing_cost_asks_for_a_sum_of_money():
    assert answers.answer_kind("What does a ticket for the school show cost?") == NUMBER
    notes = "Tickets for the two shows go on sale in the hall. Please bring a bag for the raffle. They are €2.50 each, cash only."
    assert lead("What does a ticket cost?", notes) == "They are €2.50 each, cash only."
