#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from project import event_loop

    event_loop.install()  # before Django sets up: Daphne makes its loop as its app loads
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
