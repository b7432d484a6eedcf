"""Plug-ins reach the layers below them only through what they register in
AppConfig.ready() (no lazy imports dodging cycles): these are the hooks that replaced them."""

from __future__ import annotations

from chat import live, tools
from chat.engine import supervisor
from chat.functions.schema import check_arguments
from chat.retrieval import ingest


def test_plug_ins_start_with_the_engine():
    assert ingest.resume_unfinished in supervisor._start_hooks  # files a stopped server left half-read
    assert [h.__module__ for h in supervisor._start_hooks].count("chat.code_interpreter.apps") == 1  # the kernel pool


def test_the_consumer_renders_retrievals_file_chip_and_tools_check_arguments():
    assert "file.status" in live._event_renderers
    assert live.render_event("no.such.event", None, {}) == ""
    assert tools._argument_check is check_arguments
