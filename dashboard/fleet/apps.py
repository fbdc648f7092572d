from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "dashboard.fleet"
    label = "fleet"
    verbose_name = "RunPod endpoints"
