import json

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from chat.functions.pending import call_error, render_pending_action

register = template.Library()


@register.simple_tag
def pending_action(thread, run, read_only=False):
    """The forms for the pending function calls of ``run`` (the thread's latest run)."""
    script = format_html('<script defer src="{}"></script>', static("functions/pending.js"))
    return mark_safe(render_pending_action(thread, run, read_only=read_only)) + script


@register.filter
def tool_error(output):
    return call_error(output)


@register.filter
def quiz_answers(call):
    """[(question, answer)] for a display_quiz step entry whose answers came back, else []."""
    fn = call.get("function") or {}
    if fn.get("name") != "display_quiz" or not fn.get("output"):
        return []
    try:
        questions = json.loads(fn.get("arguments") or "{}").get("questions") or []
        answers = json.loads(fn["output"])
    except (ValueError, AttributeError):
        return []
    if not isinstance(answers, list):
        return []
    pairs = []
    for index, answer in enumerate(answers):
        text = answer.get("answer", "") if isinstance(answer, dict) else str(answer)
        question = questions[index].get("question_text", "") if index < len(questions) and isinstance(questions[index], dict) else ""
        pairs.append({"question": question, "answer": text})
    return pairs


@register.filter
def quiz_title(call):
    try:
        return json.loads(call["function"].get("arguments") or "{}").get("title") or "Quiz"
    except (ValueError, AttributeError):
        return "Quiz"


@register.filter
def pretty_json(value):
    return json.dumps(value, indent=2, ensure_ascii=False)
