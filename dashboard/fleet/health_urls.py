"""Pages for endpoint health, alerts, usage and budgets (included by dashboard/fleet/urls.py,
so their names live in the `fleet` namespace)."""

from django.urls import path

from dashboard.fleet import health_views

urlpatterns = [
    path("<int:endpoint_pk>/health/", health_views.health_page, name="health"),
    path("<int:endpoint_pk>/health/record/", health_views.health_record_now, name="health-record"),
    path("alerts/<int:alert_pk>/restore/", health_views.alert_restore, name="alert-restore"),
    path("alerts/<int:alert_pk>/dismiss/", health_views.alert_dismiss, name="alert-dismiss"),
    path("usage/", health_views.usage_page, name="usage"),
    path("usage.csv", health_views.usage_csv, name="usage-csv"),
    path("budget/", health_views.budget_page, name="budget"),
    path(
        "budget/members/<int:membership_id>/",
        health_views.member_budget,
        name="budget-member",
    ),
    path("cost-estimate/", health_views.cost_estimate, name="cost-estimate"),
]
