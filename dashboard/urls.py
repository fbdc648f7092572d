"""URL map: pages per app, the API at /api/v1, RunPod's webhook, Django admin."""

from django.contrib import admin
from django.urls import include, path

from dashboard.api import api
from dashboard.generations.webhooks import runpod_webhook

urlpatterns = [
    path("", include("dashboard.generations.urls")),
    path("accounts/", include("dashboard.accounts.urls")),
    path("endpoints/", include("dashboard.fleet.urls")),
    path("models/", include("dashboard.catalogue.urls")),
    path("api/v1/", api.urls),
    path("hooks/runpod/<int:generation_id>/<str:token>/", runpod_webhook, name="runpod-webhook"),
    path("admin/", admin.site.urls),
]
