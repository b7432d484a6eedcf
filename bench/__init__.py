"""Benchmarks for the chat app, run with ``make bench`` or ``python -m bench``.

Each benchmark drives a real server (``manage.py serve`` in a subprocess, its own
SQLite database in a temporary DATA_DIR) over loopback only, and writes its own
section of ``docs/benchmarks.md``. See ``bench/README.md``.
"""
