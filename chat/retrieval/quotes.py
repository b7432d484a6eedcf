"""Finding the sentence of a passage that best supports a claim, and its page."""

from __future__ import annotations

import re

from chat.retrieval import synonyms
from chat.retrieval.search import terms

# A sentence: starts with a capital, digit, quote or bracket ("<UNK> is rare...") after a
# boundary, ends with . ! or ?; a footnote mark may follow a word's full stop ("... like
# SQUAD.3 As a comparison point ..." is two sentences), but not a figure's ("28.4 BLEU").
# A footnote's text the PDF put mid-sentence starts with its mark glued to a capital
# ("... on the 5We used values of ..."): it ends the sentence before it and starts its own.
# An abbreviation's full stop ends none: "et al. (2018)", "Fig. 3", "Aug. 16".
SENTENCE = re.compile(
    r"(?:(?<=[.!?]\s)|(?<=[A-Za-z][.!?]\d\s)|(?<=[A-Za-z][.!?]\d\d\s)|(?<=[a-z,]\s\d)(?=[A-Z][a-z])|(?<=\n)|^)"
    r"[\"“(<]?[A-Z0-9][^\n]*?(?:(?<!\bet al)(?<!\bFig)(?<!\bFigs)(?<!\bEq)(?<!\bEqs)(?<!\bSec)(?<!\bcf)(?<!\bvs)(?<!\bapprox)(?<!\bresp)(?<!\bJan)(?<!\bFeb)(?<!\bMar)(?<!\bApr)(?<!\bJun)(?<!\bJul)(?<!\bAug)(?<!\bSep)(?<!\bSept)(?<!\bOct)(?<!\bNov)(?<!\bDec)[.!?](?=\s|$|(?<=[A-Za-z][.!?])\d{1,2}\s+[A-Z])|(?=\s\d[A-Z][a-z]))"
)
_SUFFIX = re.compile(r"(?:ing|ed|es|s)$")


# A sentence shorter than this is most likely a fragment ("See Table 2."), unless it has
# the words of a statement (``sentences``' ``words``).
SHORTEST = 25
# A longer "sentence" is most likely a run of table cells or a page's debris.
LONGEST = 600
_ASCII_LETTERS = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1))
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def letter_count(text: str) -> int:
    """How many characters of ``text`` are letters (``str.isalpha``): ASCII ones counted
    by bytes.translate in C, only the rest (curly quotes, accents, "²") one at a time;
    counting every character in Python was the largest cost of answering."""
    ascii_part = text.encode("ascii", "ignore")
    count = len(ascii_part) - len(ascii_part.translate(None, _ASCII_LETTERS))
    if len(ascii_part) != len(text):
        count += sum(map(str.isalpha, "".join(_NON_ASCII.findall(text))))
    return count


def sentences(text: str, letters: float = 0.6, words: int = 0) -> list[tuple[int, str]]:
    """(offset, sentence) pairs of whole sentences, skipping fragments and formula debris
    (fewer than ``letters`` of the characters are letters); with ``words``, a shorter
    sentence of at least that many words counts too ("The password is hunter2.")."""
    found = []
    for match in SENTENCE.finditer(text):
        sentence = match.group(0)
        long_enough = len(sentence) >= SHORTEST or (words and len(sentence.split()) >= words)
        if long_enough and len(sentence) <= LONGEST and letter_count(sentence) > len(sentence) * letters:
            found.append((match.start(), sentence))
    return found


def _stems(text: str) -> set[str]:
    return {_SUFFIX.sub("", w)[:6] for w in synonyms.weighted(terms(text)) if len(w) > 2 or w.isdigit()}


def best_sentences(text: str, query: str, count: int = 1) -> list[tuple[int, str, float]]:
    """The ``count`` sentences of ``text`` sharing most (stemmed) words with ``query``."""
    wanted = _stems(query)
    scored = []
    for offset, sentence in sentences(text):
        have = _stems(sentence)
        overlap = len(wanted & have)
        if overlap:
            scored.append((overlap + overlap / (len(have) + 5), offset, sentence))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [(offset, sentence, score) for score, offset, sentence in scored[:count]]


def page_at(result: dict, offset: int) -> int:
    page = result.get("page", 1)
    for start, number in result.get("page_marks") or []:
        if start <= offset:
            page = number
    return page


def quote_for(result: dict, claim: str) -> tuple[str, int]:
    """(quoted sentence, page) of a search result that best matches ``claim``."""
    text = "".join(c.get("text", "") for c in result.get("content", []))
    if claim:
        exact = text.find(claim.strip().strip("“”\"'"))
        if exact >= 0 and len(claim.strip()) > 20:
            quoted = claim.strip().strip("“”\"'")
            return quoted, page_at(result, exact)
        best = best_sentences(text, claim, 1)
        if best:
            offset, sentence, _ = best[0]
            return sentence, page_at(result, offset)
    first = sentences(text)
    if first:
        return first[0][1], page_at(result, first[0][0])
    return text[:200], result.get("page", 1)
