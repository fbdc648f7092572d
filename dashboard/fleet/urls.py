from django.urls import include, path

from dashboard.fleet import views

app_name = "fleet"
urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("new/", views.endpoint_edit, name="create"),
    path("<int:endpoint_pk>/", views.endpoint_edit, name="edit"),
    path("<int:endpoint_pk>/test/", views.endpoint_test, name="test"),
    path("<int:endpoint_pk>/models/", views.endpoint_refresh_models, name="refresh-models"),
    path("<int:endpoint_pk>/warm/", include("dashboard.fleet.warm_urls")),
    path("", include("dashboard.fleet.health_urls")),
]
