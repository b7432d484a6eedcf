import itertools

import pytest

from chat.engine import states
from chat.engine.runs import ThreadBusy, create_run
from chat.models import Run

LEGAL_PAIRS = [(a, b) for a, targets in states.LEGAL.items() for b in targets]
ILLEGAL_PAIRS = [(a, b) for a, b in itertools.product(states.ALL, states.ALL) if b not in states.LEGAL[a]]

EXPECTED_LEGAL = {
    ("queued", "in_progress"), ("queued", "cancelling"), ("queued", "cancelled"), ("queued", "failed"),
    ("queued", "expired"),
    ("in_progress", "requires_action"), ("in_progress", "completed"), ("in_progress", "failed"),
    ("in_progress", "incomplete"), ("in_progress", "cancelling"), ("in_progress", "expired"),
    ("requires_action", "queued"), ("requires_action", "cancelling"), ("requires_action", "expired"),
    ("requires_action", "failed"),
    ("cancelling", "cancelled"), ("cancelling", "failed"),
}


def test_the_legal_moves_are_exactly_the_assistants_state_machine():
    assert set(LEGAL_PAIRS) == EXPECTED_LEGAL


def test_terminal_statuses_have_no_way_out():
    for status in states.TERMINAL:
        assert states.LEGAL[status] == frozenset()
    assert states.TERMINAL == {"cancelled", "failed", "completed", "incomplete", "expired"}


@pytest.mark.parametrize(("current", "target"), sorted(EXPECTED_LEGAL))
def test_a_legal_move_is_allowed(current, target):
    states.check(current, target)


@pytest.mark.parametrize(("current", "target"), ILLEGAL_PAIRS)
def test_an_illegal_move_is_refused(current, target):
    with pytest.raises(states.IllegalTransition):
        states.check(current, target)


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), sorted(EXPECTED_LEGAL))
def test_a_run_row_makes_every_legal_move(thread, tutor, current, target):
    run = Run.objects.create(thread=thread, assistant=tutor, model="offline", status=current)
    assert run.transition(target, expect=current)
    run.refresh_from_db()
    assert run.status == target
    if target in states.STAMPS:
        assert getattr(run, states.STAMPS[target]) is not None


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), ILLEGAL_PAIRS)
def test_a_run_row_refuses_every_illegal_move(thread, tutor, current, target):
    run = Run.objects.create(thread=thread, assistant=tutor, model="offline", status=current)
    if target == current or not states.sources_for(target):
        with pytest.raises(states.IllegalTransition):
            run.transition(target, expect=current)
    else:
        with pytest.raises(states.IllegalTransition):
            run.transition(target, expect=current)
        # Without naming a source the move is refused by the compare-and-set instead.
        assert run.transition(target) is False
    run.refresh_from_db()
    assert run.status == current


@pytest.mark.django_db
def test_a_stale_instance_loses_the_race_and_is_reloaded(thread, tutor):
    run = Run.objects.create(thread=thread, assistant=tutor, model="offline", status="in_progress")
    other = Run.objects.get(pk=run.pk)
    assert other.transition("cancelling")
    assert run.transition("completed") is False
    assert run.status == "cancelling"


@pytest.mark.django_db
def test_a_thread_can_have_only_one_active_run(thread, tutor):
    create_run(thread, tutor, start=False)
    with pytest.raises(ThreadBusy):
        create_run(thread, tutor, start=False)


@pytest.mark.django_db
def test_the_database_refuses_a_second_active_run_even_without_the_check(thread, tutor):
    from django.db import IntegrityError, transaction

    Run.objects.create(thread=thread, assistant=tutor, model="offline")
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(thread=thread, assistant=tutor, model="offline", status="requires_action")
    Run.objects.create(thread=thread, assistant=tutor, model="offline", status="completed")
