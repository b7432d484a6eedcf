"""The offline model tries its skills in the order SKILL_ORDER states, whatever order the
apps (or their modules) were loaded in."""

import importlib
import random

import pytest

from chat.providers.offline import explain, model


def test_the_registered_skills_are_tried_in_the_stated_order():
    assert model.SKILLS.names() == list(model.SKILL_ORDER)
    assert explain.EXPLAINERS.names() == list(explain.EXPLAINERS.order)


@pytest.mark.parametrize("arrival", ["reversed", "shuffled"])
def test_the_order_does_not_depend_on_the_order_of_registration(arrival):
    live = list(zip(model.SKILLS.names(), model.SKILLS, strict=True))
    incoming = live[::-1] if arrival == "reversed" else random.Random(7).sample(live, len(live))
    registry = model.Registry(model.SKILL_ORDER)
    for name, skill in incoming:
        registry.register(name, skill)
    assert list(registry) == [skill for _name, skill in live]


def test_importing_a_plugin_skill_module_again_changes_nothing():
    # A helper once imported the code_interpreter skill from the retrieval skill, which
    # moved file_search ahead of it: importing a skill module must not register anything.
    before = list(model.SKILLS), list(explain.EXPLAINERS)
    for name in ("chat.code_interpreter.skill", "chat.retrieval.skill", "chat.functions.skills"):
        importlib.reload(importlib.import_module(name))
    assert (list(model.SKILLS), list(explain.EXPLAINERS)) == before


def test_a_skill_without_a_place_in_the_order_is_refused():
    with pytest.raises(ValueError, match="SKILL_ORDER|has no place"):
        model.Registry(model.SKILL_ORDER).register("weather", lambda request: None)
