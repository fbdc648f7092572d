from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "dashboard.catalogue"
    label = "catalogue"
    verbose_name = "Model catalogue"
