"""python manage.py createapikey USERNAME [--name NAME] — prints a new API key."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from chat.api.models import ApiKey


class Command(BaseCommand):
    help = "Create an API key for USERNAME and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="created with manage.py createapikey")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        _, raw = ApiKey.issue(user, name)
        self.stdout.write(raw)
