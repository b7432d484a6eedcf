from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "chat.api"
    label = "api"
    verbose_name = "Assistants API"
    default_auto_field = "django.db.models.BigAutoField"
