from django.apps import AppConfig


class GenerationsConfig(AppConfig):
    name = "dashboard.generations"
    label = "generations"
    verbose_name = "Generations"
