"""Lexical ranking pieces: best-passage scoring, stems, synonyms, the query's words."""

from __future__ import annotations

import pytest

from chat.retrieval import passages, questions, search, synonyms
from chat.retrieval.ingest import index_file
from chat.retrieval.models import Chunk

FILLER = "Unrelated words about weather, cooking and gardening fill this part of the page. " * 12


def test_a_chunk_scores_by_its_best_passage_not_by_scattered_mentions():
    together = FILLER + "The encoder stack has six identical layers with residual connections. " + FILLER
    scattered = "encoder. " + FILLER + " stack. " + FILLER + " layers." + FILLER
    scores = passages.best_passage_scores({"encoder": 1.0, "stack": 1.0, "layers": 1.0}, {1: together, 2: scattered})
    assert scores[1] > scores[2] > 0


def test_words_match_by_their_stems_and_ligatures_are_unfolded():
    scores = passages.best_passage_scores({"filtering": 1.0, "layer": 1.0}, {1: "The ﬁlters of each layers.", 2: "Nothing."})
    assert scores[1] > 0 and scores[2] == 0
    assert passages.stem("normalizations") == passages.stem("normalization")


def test_a_synonym_counts_but_less_than_the_word_itself():
    weights = synonyms.weighted(["biggest", "corpus"])
    assert weights["biggest"] == 1.0 and weights["largest"] == synonyms.SYNONYM_WEIGHT
    assert weights["dataset"] == synonyms.SYNONYM_WEIGHT
    own = passages.best_passage_scores({"biggest": 1.0, "largest": 0.5}, {1: "the biggest model", 2: "the largest model"})
    assert own[1] > own[2] > 0


def test_british_spellings_also_search_the_american_ones():
    assert synonyms.weighted(["optimiser"])["optimizer"] == 1.0
    assert synonyms.weighted(["normalisation"])["normalization"] == 1.0


def test_question_words_are_not_searched():
    assert search.terms("How many tokens of context can the model see?") == ["tokens", "context", "model", "see"]


@pytest.mark.django_db
def test_the_chunk_whose_passage_holds_the_words_together_ranks_first(upload):
    # Whole-chunk BM25 prefers the shorter file; the passage with all three words is in the longer.
    scattered = index_file(upload("scattered.md", ("context. " + FILLER + " tokens. " + FILLER + " size.").encode()))
    together = index_file(upload("together.md", (FILLER * 2 + "We increase the context size from 512 to 1024 tokens. " + FILLER).encode()))
    hits = search.search("What context size in tokens?", [scattered.id, together.id], 2, mode="lexical")
    assert [h.chunk.document_id for h in hits] == [together.id, scattered.id]


def test_a_pasted_page_searches_with_a_bounded_number_of_words():
    page = " ".join(f"word{i}" for i in range(5000))
    assert len(search.terms(page)) == search.MAX_QUERY_TERMS
    assert len(synonyms.weighted(search.terms(page))) <= 2 * search.MAX_QUERY_TERMS


def test_a_document_that_keeps_naming_the_questions_subject_lifts_its_table():
    # Document 10 names "Zorblax" in most chunks but not where it gives the figure; document
    # 20 never names it and has the same sentence.
    weights = {"zorblax": 1.0, "layers": 1.0, "stacked": 1.0}
    texts = {
        1: FILLER + "Zorblax is trained on web text. " + FILLER,
        2: FILLER + "Zorblax beats the baselines. " + FILLER,
        6: FILLER + "Zorblax writes summaries. " + FILLER,
        3: FILLER + "The model is a stack of 48 identical layers. " + FILLER,
        4: FILLER + "The model is a stack of 48 identical layers. " + FILLER,
        5: FILLER,
    }
    owners = {1: 10, 2: 10, 6: 10, 3: 10, 4: 20, 5: 20}
    plain = passages.best_passage_scores(weights, texts)
    focused = passages.best_passage_scores(weights, texts, owners)
    assert plain[3] == pytest.approx(plain[4])
    assert focused[3] > focused[4]
    # A single document has nothing to stand out from.
    assert passages.best_passage_scores(weights, texts, dict.fromkeys(texts, 10)) == plain


def test_a_figure_question_prefers_the_window_holding_a_figure():
    weights = {"beam": 1.0, "width": 1.0}
    texts = {1: FILLER + "The beam width was tuned on the development set. " + FILLER,
             2: FILLER + "We used a beam width of 4 when decoding. " + FILLER}
    plain = passages.best_passage_scores(weights, texts)
    assert plain[1] == pytest.approx(plain[2])
    numeric = passages.best_passage_scores(weights, texts, numeric=True)
    assert numeric[2] > numeric[1]
    # Years and citations are not figures.
    cited = {1: FILLER + "The beam width follows Smith (2017) and [12]. " + FILLER, 2: texts[2]}
    scores = passages.best_passage_scores(weights, cited, numeric=True)
    assert scores[2] > scores[1]


def test_a_figure_by_what_is_asked_counts_more_than_a_figure_elsewhere_in_the_window():
    weights = {"tokens": 1.0, "context": 1.0}
    texts = {1: FILLER + "The context holds many tokens of text for the reader, while the network stacks 12 layers. " + FILLER,
             2: FILLER + "The context grows from 512 to 1024 tokens in the larger runs. " + FILLER}
    anywhere = passages.best_passage_scores(weights, texts, numeric=True)
    assert anywhere[1] == pytest.approx(anywhere[2])
    by_asked = passages.best_passages(weights, texts, numeric=True, focus={passages.stem("tokens")})
    assert by_asked[2][0] > by_asked[1][0]
    # Only for a figure question: the same focus does nothing to another kind.
    assert passages.best_passages(weights, texts, focus={passages.stem("tokens")})[2][0] == pytest.approx(
        passages.best_passages(weights, texts)[2][0]
    )


@pytest.mark.django_db
def test_a_count_question_ranks_the_chunk_giving_the_count_by_its_noun_first(upload):
    """"How many tokens …": the passage with "1024 tokens" beats one holding the question's
    words together (one of them twice) and a figure that counts something else."""
    other = FILLER + "Each of the 24 layers reads the context, a sequence of tokens (tokens are word pieces), and the model sees it whole. " + FILLER
    answer = FILLER + "The model sees a context of 1024 tokens at most, as the sequence is cut there. " + FILLER
    ids = {name: index_file(upload(name, text.encode())).id for name, text in (("a.md", other), ("b.md", answer))}
    hits = search.search("How many tokens of context can the model see?", list(ids.values()), 2, mode="lexical")
    assert hits[0].chunk.document_id == ids["b.md"]


def test_a_question_word_after_a_preposition_still_tells_the_kind():
    assert questions.kind_of("Into how many parts is the input split?") == questions.NUMBER
    assert questions.kind_of("Roughly how many pages are left?") == questions.NUMBER
    assert questions.kind_of("For which task was it tuned?") == questions.NAME
    assert questions.kind_of("About what share of the answers are right?") == questions.SHARE


def test_the_kind_of_answer_adds_the_words_that_stand_next_to_it():
    assert {"days", "hours"} <= set(questions.cues("How long did training take?"))
    assert "percent" in questions.cues("What fraction of the images overlap?")
    assert "size" in questions.cues("How big is the vocabulary?")
    assert questions.cues("Which optimizer was used?") == []


@pytest.mark.django_db
def test_how_long_finds_the_passage_giving_a_duration(upload):
    # Both passages hold the question's words and a figure; only one says how long.
    plain = index_file(upload("plain.md", (FILLER + "The large model needed training on 8 machines. " + FILLER).encode()))
    timed = index_file(upload("timed.md", (FILLER + "The large model needed training for 3.5 days. " + FILLER).encode()))
    hits = search.search("How long did the large model need to train?", [plain.id, timed.id], 2, mode="lexical")
    assert hits[0].chunk.document_id == timed.id


def test_course_abbreviations_and_negated_words_search_what_papers_write_out():
    weights = synonyms.weighted(["qa", "disambiguation", "unscaled"])
    assert weights["question"] == weights["answering"] == synonyms.SYNONYM_WEIGHT
    scores = passages.best_passage_scores(weights, {1: "It must resolve ambiguities in text.", 2: "Nothing here."})
    assert scores[1] > 0 and scores[2] == 0
    assert weights["scaled"] == synonyms.SYNONYM_WEIGHT
    # A short root would be a different word: "under" is not about "der".
    assert "der" not in synonyms.weighted(["under"])


@pytest.mark.django_db
def test_a_chunk_repeating_a_better_chunks_passage_yields_to_one_adding_its_own(upload):
    # A caption repeated on two pages and a passage of its own that scores a little less:
    # the second copy of the caption adds nothing the first did not show.
    caption = ("Table 9. Contexts are 768 tokens, with about 256 tokens of paragraphs shown; the completions "
               "below them come from the smallest and the largest model, sampled with the same settings. ")
    first = index_file(upload("first.md", (FILLER + caption + "Weather again. " + FILLER).encode()))
    second = index_file(upload("second.md", (FILLER + FILLER + caption + "Cooking again. " + FILLER).encode()))
    own = index_file(upload("own.md", (FILLER + "The context size grows to 1024 tokens. " + FILLER).encode()))
    documents = [first.id, second.id, own.id]
    texts = {c.document_id: c.text for c in Chunk.objects.filter(document_id__in=documents)}
    weights = synonyms.weighted(search.terms("How many tokens of context?"))
    best = passages.best_passages(weights, texts)
    assert best[first.id][1] == best[second.id][1]
    assert best[first.id][0] == pytest.approx(best[second.id][0])
    assert best[first.id][0] > best[own.id][0] > search.REPEAT_DISCOUNT * best[first.id][0]
    hits = search.search("How many tokens of context?", documents, 3, mode="lexical")
    ranked = [h.chunk.document_id for h in hits]
    assert ranked[1] == own.id and {ranked[0], ranked[2]} == {first.id, second.id}


def test_a_chunks_term_index_says_where_each_stem_stands():
    assert passages.term_index("The ﬁlters, FILTER filtered.").split("\n") == [
        passages.TERMS_FORMAT, "the 0", "filter 4 13 20",
    ]


# Words whose stem does not start like the word ("dying" -> "die"), capitals, ligatures,
# digits and underscores: where reading the stored index could part from scanning the text.
INDEXED_TEXTS = {
    1: "The dying star and the STUDIES of 1,024 tokens. " + FILLER + "Studying ﬁlters: the filter_size is 1024.",
    2: FILLER + "Skies, skis and a sky; tokenization, Tokenizer and tokens in 2019 [12].",
    3: "Nothing of the kind.",
    4: "",
}


@pytest.mark.parametrize("question", [
    "Why do stars die?", "How many tokens does the tokenizer make?", "What studies of the sky?",
    "What filter size?", "How big are the filters, in tokens?",
])
def test_reading_the_stored_term_index_ranks_as_scanning_the_text(question, monkeypatch):
    weights = synonyms.weighted(search.terms(question))
    numeric = questions.wants_figure(question)
    owners = {1: 10, 2: 10, 3: 20, 4: 20}
    scanned = passages.best_passages(weights, INDEXED_TEXTS, owners, numeric)
    scan = passages._matcher

    class NoScan:
        """The query's matcher, less the scan of the whole text."""

        def __init__(self, stems):
            self.pattern = scan(stems)

        def match(self, text, at):
            return self.pattern.match(text, at)

    monkeypatch.setattr(passages, "_matcher", NoScan)
    indexes = {cid: passages.term_index(text) for cid, text in INDEXED_TEXTS.items()}
    assert passages.best_passages(weights, INDEXED_TEXTS, owners, numeric, indexes=indexes) == scanned
    assert any(score for score, _ in scanned.values())


def test_an_index_of_another_format_is_not_read():
    weights = {"tokens": 1.0}
    texts = {1: "Many tokens here."}
    stale = {1: "#terms 0\ntoken 99"}
    assert passages.best_passages(weights, texts, indexes=stale) == passages.best_passages(weights, texts)


@pytest.mark.django_db
def test_a_section_whose_heading_names_what_is_asked_outranks_a_passage_repeating_the_words(upload):
    # The section under "Training Corpus" names the corpus without repeating the question's
    # words; elsewhere a passage says "trained" and "corpus" (twice) about something else.
    section = (
        "We describe our data first. 4.1. Training Corpus Most earlier work used news text. "
        "We gathered forum pages that readers had voted up. The result, PageMix, holds eight million pages. "
    )
    about = index_file(upload("about.md", (FILLER + section + FILLER).encode()))
    other = index_file(upload("other.md", (FILLER + "Models trained on a small corpus overfit; a larger corpus helps. " + FILLER).encode()))
    hits = search.search("What corpus was it trained on?", [about.id, other.id], 2, mode="lexical")
    assert [h.chunk.document_id for h in hits] == [about.id, other.id]
    # A heading holding only other words of the question names a neighbouring topic.
    hits = search.search("Which pages was it trained on?", [about.id, other.id], 2, mode="lexical")
    assert hits[0].chunk.document_id == other.id


def test_numbered_headings_are_found_inline_without_the_sentence_after_them():
    text = "Results follow. 2.1. Training Dataset Most prior work used news. 3.3. LAMBADA The LAMBADA set tests. See Table 2. Results"
    assert [title for _, _, title in passages.headings(text)] == ["Training Dataset", "LAMBADA"]


def test_a_heading_that_opens_a_chunk_after_a_leading_space_is_a_heading():
    # Chunks are cut at token boundaries and a token carries its leading space, so a chunk
    # may begin " 4.1 Training Corpus ...": the heading opens the chunk all the same.
    text = " 4.1 Training Corpus We gathered forum pages. 4.2 Cleaning Steps We dropped copies."
    assert [title for _, _, title in passages.headings(text)] == ["Training Corpus", "Cleaning Steps"]
    assert [title for _, _, title in passages.headings("\n 7 Closing Remarks We end.")] == ["Closing Remarks"]
    # Still not a figure's number after a word: "see Figure 2 Results" heads nothing.
    assert passages.headings("As in Figure 2 Results Are Shown here.") == []
    chunks = [" 4.1 Training Corpus We gathered forum pages. More words.", "More words. The end."]
    assert passages.sections_at_start(chunks) == ["", "Training Corpus"]


def test_a_chunk_opening_with_a_heading_that_names_what_is_asked_ranks_by_it():
    weights = {"corpus": 1.0, "trained": 1.0}
    texts = {
        1: " 4.1 Training Corpus We kept pages that readers voted up. The result, PageMix, holds eight million pages.",
        2: "Models trained on a small corpus overfit; a larger corpus helps them.",
        3: FILLER,
    }
    scores = passages.best_passages(weights, texts, asked={passages.stem("corpus")})
    assert scores[1][0] > scores[2][0]


@pytest.mark.django_db
def test_the_number_of_a_name_in_the_question_counts_only_inside_the_name(upload):
    # "2" of "Zorb-2" is no reason to rank a passage about "Table 2" and "WikiText-2".
    named = index_file(upload("named.md", (FILLER + "Zorb-2 learned from forum pages. " + FILLER).encode()))
    numbers = index_file(upload(
        "numbers.md", (FILLER + "Zorb results are in Table 2, with WikiText-2 at 2 points and 2 runs. " + FILLER).encode()
    ))
    hits = search.search("What about Zorb-2?", [named.id, numbers.id], 2, mode="lexical")
    assert [h.chunk.document_id for h in hits] == [named.id, numbers.id]
    assert set(search.name_numbers("Was GPT-2 or WMT-14 used, in section 23?")) == {"2", "14"}


def test_each_chunk_knows_the_section_it_begins_inside():
    # Chunks overlap: "2. Method" stands before the point where the third chunk begins in
    # the second, "3. Results" inside the overlap, so it is the third chunk's own.
    chunks = [
        "Intro text here. 1. Overview The start of it all.",
        "The start of it all. More words. 2. Method We did this. Then 3. Results Scores rose.",
        "Then 3. Results Scores rose. The end of the paper.",
    ]
    assert passages.sections_at_start(chunks) == ["", "Overview", "Method"]
    # Without overlap every heading of a chunk stands before the next one.
    assert passages.sections_at_start(["A. 1. Setup We begin.", "Plain words follow."]) == ["", "Setup"]


def test_a_passage_in_a_section_whose_heading_names_what_is_asked_ranks_higher_though_the_heading_is_elsewhere():
    weights = {"corpus": 1.0, "trained": 1.0}
    asked = {passages.stem("corpus")}
    texts = {
        1: "We kept pages that readers voted up. The result, PageMix, is the corpus of eight million pages.",
        2: "Models trained on a small corpus overfit; a larger corpus helps them.",
        3: FILLER,
    }
    plain = passages.best_passage_scores(weights, texts)
    assert plain[1] < plain[2]
    titled = passages.best_passages(weights, texts, asked=asked, opening={1: "Training Corpus"})
    assert titled[1][0] > titled[2][0]
    # The section ends at the chunk's own next heading.
    later = {**texts, 1: "Short. 5.2. Weather Notes A corpus of rain, here."}
    assert passages.best_passages(weights, later, asked=asked, opening={1: "Training Corpus"})[1][0] < titled[2][0]


@pytest.mark.django_db
def test_ingest_stores_the_section_each_chunk_begins_inside(upload):
    text = "Opening words. " * 40 + "4.1. Training Corpus We gathered forum pages. " + "More about the pages. " * 80
    document = index_file(upload("sections.md", text.encode()), chunking=(100, 20))
    sections = list(Chunk.objects.filter(document=document).order_by("seq").values_list("section", flat=True))
    assert sections[0] == "" and sections[-1] == "Training Corpus"


def test_the_words_of_a_heading_that_names_no_asked_word_count_as_the_window_s_own():
    # "Training" in "3.1. Training Data" is a word of the question like any other when the
    # heading gives no bonus (the question asks for an encyclopedia, not data).
    weights = {"encyclopedia": 1.0, "left": 1.0, "training": 1.0}
    texts = {
        1: "Intro words. 3.1. Training Data We left out every encyclopedia page.",
        2: "Intro words. We left out every encyclopedia page.",
        3: FILLER,
    }
    scores = passages.best_passages(weights, texts, asked={passages.stem("encyclopedia")})
    assert scores[1][0] > scores[2][0]


@pytest.mark.parametrize("question, passage", [
    ("Which graphics card was it?", "Eight GPUs were used."),
    ("Why were encyclopedia articles dropped?", "All Wikipedia documents were removed."),
    ("How long can the input window be?", "The context grows from 512 to 1024 tokens."),
    ("What do skip connections add?", "Residual layers are scaled."),
    ("How long did one update take?", "Each training step took about 0.4 seconds."),
    ("How many parameters does it have?", "The table lists params for every row."),
    ("How big is it, in millions?", "Column: params ×106 (the exponent lost)."),
    ("Where may the decoder look?", "Each position may attend to earlier positions."),
    ("Which syntax experiment?", "We also tried constituency parsing."),
])
def test_a_students_general_word_finds_the_word_course_material_uses(question, passage):
    # The passage holds none of the question's own words, only the course-material word.
    scores = passages.best_passage_scores(synonyms.weighted(search.terms(question)), {1: passage, 2: FILLER})
    assert scores[1] > 0 == scores[2]
