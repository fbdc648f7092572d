"""Catalogue pages: browsing (views) for members; model management (manage_views) for admins."""

from django.urls import path

from dashboard.catalogue import manage_views, views

app_name = "catalogue"
urlpatterns = [
    path("", views.model_list, name="list"),
    *manage_views.urlpatterns,
]
