"""Bench-only data set-up, run in its own process against the server's DATA_DIR:

    DATA_DIR=/tmp/x python -m bench.fixtures --threads 300

Creates (idempotently) the bench user and its offline Math Tutor, then ``--threads``
fresh threads, and prints JSON: {"username", "password", "assistant", "threads": [...]}.
"""

from __future__ import annotations

import argparse
import json
import os

USERNAME = "bench"
PASSWORD = "bench-password-31415"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from chat.demo import MATH_TUTOR
    from chat.models import Assistant, Thread

    User = get_user_model()
    user, created = User.objects.get_or_create(username=USERNAME)
    if created:
        user.set_password(PASSWORD)
        user.save()
    assistant = Assistant.objects.filter(owner=user, name=MATH_TUTOR["name"]).first()
    if assistant is None:
        assistant = Assistant.objects.create(owner=user, model="offline", **MATH_TUTOR)
    threads = Thread.objects.bulk_create(
        [Thread(owner=user, assistant=assistant, title=f"bench {i}") for i in range(args.threads)]
    )
    print(json.dumps({
        "username": USERNAME,
        "password": PASSWORD,
        "assistant": assistant.id,
        "threads": [t.id for t in threads],
    }))


if __name__ == "__main__":
    main()
