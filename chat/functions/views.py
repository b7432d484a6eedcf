from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chat import live
from chat.access import get_assistant_for_user, get_run_for_user
from chat.engine import states
from chat.engine.runs import InvalidToolOutputs
from chat.functions.forms import FunctionForm
from chat.functions.pending import call_forms, render_pending_action
from chat.functions.services import submit_call_forms
from chat.models import Assistant
from chat.services import Refused
from chat.services.assistants import functions_of, set_functions
from chat.views.methods import require_GET, require_http_methods, require_POST

# --- the student's answers ----------------------------------------------------------------------


@require_POST
@login_required
def submit_tool_outputs(request: HttpRequest, thread_id: str, run_id: str) -> HttpResponse:
    run = get_run_for_user(request.user, thread_id, run_id)
    forms = call_forms(run, request.POST if run.status == states.REQUIRES_ACTION else None)
    error = ""
    if run.status != states.REQUIRES_ACTION:
        error = f"Nothing was sent: this run is not waiting for answers any more (it is {run.status_label.lower()})."
    elif any(form.output is None for form in forms):
        error = "Nothing was sent yet: " + next(form.error for form in forms if form.output is None)
    else:
        try:
            submit_call_forms(run, request.user, forms)
        except InvalidToolOutputs as exc:
            error = f"Nothing was sent: {exc}"
            forms = call_forms(run)
        except Refused as refused:
            error = str(refused)
    if error:
        if request.htmx:  # htmx swaps only 2xx responses: the message must show
            return HttpResponse(render_pending_action(run.thread, run, oob=True, forms=forms, error=error))
        return HttpResponse(
            render_pending_action(run.thread, run, forms=forms, error=error),
            status=400 if run.status == states.REQUIRES_ACTION else 409,
        )
    if request.htmx:
        return HttpResponse(live.render_run_panel(run.thread))
    return redirect("chat:thread", thread_id=thread_id)


# --- the tutor's function definitions -------------------------------------------------------------


def _function_or_404(assistant: Assistant, name: str) -> dict:
    for fn in functions_of(assistant):
        if fn["name"] == name:
            return fn
    raise Http404("No such function.")


@require_http_methods(["GET", "POST"])
@login_required
def function_list(request: HttpRequest, assistant_id: str) -> HttpResponse:
    assistant = get_assistant_for_user(request.user, assistant_id)
    functions = functions_of(assistant)
    form = FunctionForm(request.POST if request.method == "POST" else None, taken={fn["name"] for fn in functions})
    if request.method == "POST" and form.is_valid():
        set_functions(assistant, [*functions, form.cleaned_data["function"]])
        return redirect("functions:function_list", assistant_id=assistant.id)
    context = {"assistant": assistant, "functions": functions, "form": form}
    return render(request, "functions/function_list.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
def function_edit(request: HttpRequest, assistant_id: str, name: str) -> HttpResponse:
    assistant = get_assistant_for_user(request.user, assistant_id)
    current = _function_or_404(assistant, name)
    functions = functions_of(assistant)
    taken = {fn["name"] for fn in functions} - {name}
    form = FunctionForm(
        request.POST if request.method == "POST" else None, initial=FunctionForm.initial_for(current), taken=taken
    )
    if request.method == "POST" and form.is_valid():
        set_functions(assistant, [form.cleaned_data["function"] if fn["name"] == name else fn for fn in functions])
        return redirect("functions:function_list", assistant_id=assistant.id)
    context = {"assistant": assistant, "function": current, "form": form}
    return render(request, "functions/function_form.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def function_delete(request: HttpRequest, assistant_id: str, name: str) -> HttpResponse:
    assistant = get_assistant_for_user(request.user, assistant_id)
    _function_or_404(assistant, name)
    set_functions(assistant, [fn for fn in functions_of(assistant) if fn["name"] != name])
    return redirect("functions:function_list", assistant_id=assistant.id)


@require_GET
@login_required
def function_definition(request: HttpRequest, assistant_id: str, name: str) -> HttpResponse:
    """The definition as JSON, to copy into another assistant."""
    fn = _function_or_404(get_assistant_for_user(request.user, assistant_id), name)
    return HttpResponse(json.dumps(fn, indent=2), content_type="application/json")
