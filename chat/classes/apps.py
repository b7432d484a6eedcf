from django.apps import AppConfig


class ClassesConfig(AppConfig):
    name = "chat.classes"
    label = "classes"
    verbose_name = "Classes"
    default_auto_field = "django.db.models.BigAutoField"
