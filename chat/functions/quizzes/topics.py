"""Which quiz to write: the topic a quiz request names, else the conversation's most recent
one, and an honest note when I have no quiz on it (which quiz I write instead, and why)."""

from __future__ import annotations

import re

from chat.providers.offline.mathparse import extract

POLYGONS = {
    "triangle": 3,
    "quadrilateral": 4,
    "square": 4,
    "pentagon": 5,
    "hexagon": 6,
    "heptagon": 7,
    "octagon": 8,
    "nonagon": 9,
    "decagon": 10,
    "dodecagon": 12,
}
GEOMETRY_WORDS = re.compile(r"angle|polygon|triangle|pentagon|hexagon|octagon|geometr|shape|degree", re.I)
SYSTEM_WORDS = re.compile(r"\bsystems? of (?:linear )?equations\b|\bsimultaneous equations\b", re.I)
DERIVATIVE_WORDS = re.compile(r"\b(?:calculus|derivatives?|differentiat\w*|(?:power|chain|product) rule)\b", re.I)
INTEGRAL_WORDS = re.compile(r"\b(?:integra\w*|antiderivatives?)\b", re.I)
LIMIT_WORDS = re.compile(r"\blimits?\b", re.I)
QUADRATIC_WORDS = re.compile(r"\b(?:quadratics?|difference of (?:two )?squares|perfect squares?)\b", re.I)
FACTORING_WORDS = re.compile(r"\bfactor(?:ing|i[sz]ing|i[sz]e|i[sz]ation)?\b", re.I)
SQUARED = re.compile(r"\^\s*\(?\s*2\b|\*\*\s*2\b")  # an x^2 in the math read from a message
PLOT_WORDS = re.compile(r"\b(?:plot|graph|chart|draw|sketch)\b", re.I)
# The quizzes I write, by topic, as the reply names them.
TOPIC_NAMES = {
    "arithmetic": "arithmetic",
    "algebra": "linear equations",
    "quadratics": "quadratic equations",
    "systems of equations": "systems of linear equations",
    "derivatives": "derivatives",
    "geometry": "angles of polygons",
}
# Topics I have no quiz on whose nearest quiz is not arithmetic.
NEAREST = {"integrals": "derivatives", "limits": "derivatives"}


def topic_of_message(text: str) -> str | None:
    """The topic one message is about: a quiz topic (a key of TOPIC_NAMES), one I have no
    quiz for ("integrals", "limits", "graphs of functions"), "other" for a message with no
    math (a question about a paper), or None for one that names no topic at all."""
    request = extract(text)
    candidates = request.candidates if request else ()
    equations = [c for c in candidates if c.count("=") == 1]
    intent = request.intent if request else None
    if GEOMETRY_WORDS.search(text) and not PLOT_WORDS.search(text):
        return "geometry"
    if SYSTEM_WORDS.search(text) or len(equations) >= 2:
        return "systems of equations"
    if DERIVATIVE_WORDS.search(text) or intent == "diff":
        return "derivatives"
    if INTEGRAL_WORDS.search(text) or intent == "integrate":
        return "integrals"
    if LIMIT_WORDS.search(text) or intent == "limit":
        return "limits"
    if PLOT_WORDS.search(text):
        return "graphs of functions"
    squared = any(SQUARED.search(c) for c in candidates)
    if QUADRATIC_WORDS.search(text) or squared and (equations or FACTORING_WORDS.search(text) or intent == "factor"):
        return "quadratics"
    if equations or re.search(r"\b(?:equations?|algebra|solve for)\b", text, re.I):
        return "algebra"
    if request and request.candidates:
        return "arithmetic"
    return "other" if len(re.findall(r"[a-z]{3,}", text, re.I)) >= 3 else None


# A quiz request that names what it is on: "quiz me on X", "a quiz about X", "test me on X",
# "practice questions on X"; or "an X quiz", where X is taken only when it is a topic I
# know (else "a new quiz", "a harder quiz" would be topics).
NAMED_TOPIC = re.compile(
    r"\b(?:quiz(?:zes)?(?:\s+me)?|test\s+me|questions?(?:\s+to\s+test\s+me)?)\s+(?:on|about|in|covering)\s+"
    r"(?P<named>[^.?!;\n]+)",
    re.I,
)
TOPIC_BEFORE_QUIZ = re.compile(r"\b(?P<named>[a-z]+)\s+quiz", re.I)
# The words each quiz covers; a named topic with any other word is one I have no quiz on.
# The first topic all of whose words a request uses is the one ("linear equations" is algebra).
QUIZ_WORDS = {
    "geometry": set(
        "geometry angle angles polygon polygons interior exterior regular shape shapes degree degrees sum sums".split()
    )
    | set(POLYGONS)
    | {f"{name}s" for name in POLYGONS},
    "algebra": set("algebra equation equations linear solve solving variable variables unknown unknowns x".split()),
    "quadratics": set(
        "quadratic quadratics equation equations factor factoring factorising factorizing factorise factorize "
        "factorisation factorization roots root solve solving difference squares square perfect trinomials".split()
    ),
    "systems of equations": set(
        "system systems simultaneous linear equation equations solve solving pairs pair two unknowns".split()
    ),
    "derivatives": set(
        "calculus derivative derivatives differentiation differentiating differentiate rule rules power chain "
        "product trig trigonometric polynomials polynomial sin cos".split()
    ),
    "arithmetic": set(
        "arithmetic multiplication multiplying multiply times tables table addition adding subtraction subtracting "
        "order operations whole numbers number sums products mental".split()
    ),
}
# Words that name no topic: the request's own ("some", "practice") and those pointing back
# at the conversation ("this", "what we covered"), whose topic is in the messages before it.
NO_TOPIC_WORDS = frozenset(
    "a an the some my our me us you i we it this that these those what which just so far today's today "
    "talked talking discussed covered covering did done learned learning about above lesson conversation topic "
    "stuff material everything things thing basic basics simple easy hard short quick little math maths "
    "mathematics problems problem questions question practice skills level please now again more another "
    "and or of on in for with to".split()
)


def _quiz_list(*leaving_out: str) -> str:
    names = [name for topic, name in TOPIC_NAMES.items() if topic not in leaving_out]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _instead(named: str, topic: str | None) -> tuple[str, str]:
    """The quiz I write for a topic I have none on, and the note that says so."""
    nearest = NEAREST.get(topic or "", topic if topic in TOPIC_NAMES else "arithmetic")
    if nearest == "arithmetic":
        return nearest, (
            f"I have no quiz on {named} yet, so this one is on arithmetic (I also write quizzes on "
            f"{_quiz_list('arithmetic')}: just ask for one)."
        )
    return nearest, (
        f"I have no quiz on {named} yet, so this one is on {TOPIC_NAMES[nearest]}, the nearest topic I have a quiz for."
    )


def named_quiz_topic(text: str) -> tuple[str, str] | None:
    """(the quiz topic, a note) when ``text`` asks for a quiz and names its topic: that
    topic's quiz when I have one, else the nearest, and the note says I have none on what
    was named. None when it names no topic (then the conversation's is used)."""
    match = NAMED_TOPIC.search(text)
    before = None if match else TOPIC_BEFORE_QUIZ.search(text)
    if match is None and before is None:
        return None
    named = (match or before)["named"].strip(" ,:-'\"“”")
    words = [word for word in re.findall(r"[a-z']+", named.lower()) if word not in NO_TOPIC_WORDS]
    if not words:
        return None
    covering = [topic for topic, known in QUIZ_WORDS.items() if all(word in known for word in words)]
    if covering:
        return covering[0], ""
    topic = topic_of_message(named)
    if before and topic in (None, "other"):
        return None
    named = named.split()
    while len(named) > 1 and named[-1].lower() in NO_TOPIC_WORDS:  # "logarithms please"
        named.pop()
    return _instead(" ".join(named), topic)


def quiz_topic(texts: list[str], skip=lambda text: False) -> tuple[str, str]:
    """(the quiz topic, a note for the reply) from the conversation's most recent message
    that has a topic: a quiz request that names one (``named_quiz_topic``), else the last
    message about something (``skip`` passes over quiz requests, "why?" and the like). The
    note is empty when I have a quiz on that topic, else it says which quiz I write and why."""
    for text in reversed(texts):
        if named := named_quiz_topic(text):
            return named
        if skip(text):
            continue
        topic = topic_of_message(text)
        if topic in TOPIC_NAMES:
            return topic, ""
        if topic in NEAREST:
            return _instead(topic, topic)
        if topic is not None:
            what = "isn't about math" if topic == "other" else f"is about {topic}"
            return "arithmetic", (
                f"Our recent conversation {what}, and I only write quizzes on "
                f"{_quiz_list()}, so this one is on arithmetic."
            )
    return "arithmetic", (
        "I found no topic in our conversation to quiz you on, so this one is on arithmetic "
        f"(I also write quizzes on {_quiz_list('arithmetic')}: just ask about one)."
    )


def topic_of(texts: list[str]) -> str:
    return quiz_topic(texts)[0]
