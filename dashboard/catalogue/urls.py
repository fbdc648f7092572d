"""Catalogue pages: browsing (views) for members; model management (manage_views) for admins."""

from django.urls import path

from dashboard.catalogue import manage_views, views

app_name = "catalogue"
urlpatterns = [
    path("", views.model_list, name="list"),
    path("<int:model_id>/", views.model_detail, name="detail"),
    path("<int:model_id>/preview/", views.model_preview, name="preview"),
    path("sync/", views.sync_start, name="sync"),
    path("sync/<int:run_id>/", views.sync_run_status, name="sync-run"),
    *manage_views.urlpatterns,
]
