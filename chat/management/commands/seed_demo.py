from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chat.demo import MATH_TUTOR, get_or_create_login, seed_demo_class
from chat.models import Assistant


class Command(BaseCommand):
    help = "Create the demo login and its Math Tutor, and the demo class's tutor and student (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-password")

    def handle(self, *args, username, password, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True, "is_superuser": True})
        if created:
            user.set_password(password)
            user.save()
        # The walkthrough's Math Tutor itself, not a new account's starter copy.
        if not Assistant.objects.filter(owner=user, name=MATH_TUTOR["name"]).exists():
            Assistant.objects.create(owner=user, model=settings.DEFAULT_MODEL, **MATH_TUTOR)
        self.stdout.write(f"Demo login: {username} / {password}" + ("" if created else " (existing user; password unchanged)"))
        tutor, tutor_created = get_or_create_login("tutor", "tutor-password")
        student, student_created = get_or_create_login("student", "student-password")
        classroom = seed_demo_class(tutor, student)
        for login, password, created in (("tutor", "tutor-password", tutor_created), ("student", "student-password", student_created)):
            self.stdout.write(f"{classroom.name}: {login} / {password}" + ("" if created else " (existing user; password unchanged)"))
