"""Warm-pool pages of one endpoint, under /endpoints/<endpoint_pk>/warm/ (names in `fleet:`)."""

from django.urls import path

from dashboard.fleet import warm_views

urlpatterns = [
    path("", warm_views.warm_pool, name="warm-pool"),
    path("state/", warm_views.warm_state, name="warm-state"),
    path("schedules/new/", warm_views.schedule_edit, name="warm-schedule-create"),
    path("schedules/<int:schedule_pk>/", warm_views.schedule_edit, name="warm-schedule-edit"),
    path(
        "schedules/<int:schedule_pk>/delete/",
        warm_views.schedule_delete,
        name="warm-schedule-delete",
    ),
    path("keep-warm/", warm_views.keep_warm, name="warm-keep"),
    path("cool-down/", warm_views.cool_down, name="warm-cool-down"),
    path("warm-up/", warm_views.warm_up, name="warm-up"),
]
