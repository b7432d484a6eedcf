from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chat.demo import MATH_TUTOR, ensure_starter_assistant
from chat.models import Assistant


class Command(BaseCommand):
    help = "Create the demo login and its Math Tutor assistant (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-password")

    def handle(self, *args, username, password, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True, "is_superuser": True})
        if created:
            user.set_password(password)
            user.save()
        ensure_starter_assistant(user)
        if not Assistant.objects.filter(owner=user, name=MATH_TUTOR["name"]).exists():
            Assistant.objects.create(owner=user, model="offline", **MATH_TUTOR)
        self.stdout.write(f"Demo login: {username} / {password}" + ("" if created else " (existing user; password unchanged)"))
