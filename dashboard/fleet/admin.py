from django import forms
from django.contrib import admin
from django.db import models

from dashboard.fleet import budgets
from dashboard.fleet.models import (
    Alert,
    HealthSample,
    MemberBudget,
    RunPodEndpoint,
    TeamBudget,
    WarmSchedule,
    WarmState,
    WarmupRun,
)


def _formfield(field, **kwargs):
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class EndpointAdminForm(forms.ModelForm):
    """Secrets are write-only here too: the inputs start empty and empty keeps what is stored."""

    api_key = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Empty: keep."
    )
    volume_access_key = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Empty: keep."
    )
    volume_secret_key = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Empty: keep."
    )

    class Meta:
        model = RunPodEndpoint
        formfield_callback = _formfield
        exclude = [
            "api_key_encrypted",
            "volume_s3_access_key_encrypted",
            "volume_s3_secret_key_encrypted",
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.instance.api_key_encrypted and not cleaned.get("api_key"):
            self.add_error("api_key", "Enter the RunPod API key.")
        return cleaned

    def save(self, commit=True):
        endpoint = super().save(commit=False)
        if self.cleaned_data.get("api_key"):
            endpoint.set_api_key(self.cleaned_data["api_key"])
        access, secret = (
            self.cleaned_data.get("volume_access_key"),
            self.cleaned_data.get("volume_secret_key"),
        )
        if access and secret:
            endpoint.set_volume_credentials(access, secret)
        if commit:
            endpoint.save()
        return endpoint


@admin.register(RunPodEndpoint)
class RunPodEndpointAdmin(admin.ModelAdmin):
    form = EndpointAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "name",
        "team",
        "endpoint_id",
        "output_mode",
        "is_default",
        "gpu_price_per_second",
    ]
    list_filter = ["team", "output_mode"]
    search_fields = ["name", "endpoint_id", "team__name"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(WarmSchedule)
class WarmScheduleAdmin(admin.ModelAdmin):
    list_display = ["endpoint", "name", "weekdays", "start_time", "end_time", "warm_workers"]
    list_filter = ["enabled", "endpoint__team"]


@admin.register(WarmState)
class WarmStateAdmin(admin.ModelAdmin):
    """What the warm-pool task applied; edited by the task, inspected here."""

    list_display = ["endpoint", "mode", "desired_workers", "applied_min", "baseline_min"]
    readonly_fields = [field.name for field in WarmState._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WarmupRun)
class WarmupRunAdmin(admin.ModelAdmin):
    list_display = ["endpoint", "model", "trigger", "status", "load_seconds", "created_at"]
    list_filter = ["status", "trigger"]


@admin.register(HealthSample)
class HealthSampleAdmin(admin.ModelAdmin):
    """Readings recorded by the health task (kept 30 days); inspected here, never edited."""

    list_display = [
        "endpoint",
        "taken_at",
        "reachable",
        "jobs_in_queue",
        "workers_running",
        "workers_idle",
        "workers_unhealthy",
        "workers_max",
    ]
    list_filter = ["reachable", "endpoint__team"]
    date_hierarchy = "taken_at"
    readonly_fields = [field.name for field in HealthSample._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["endpoint", "kind", "opened_at", "resolved_at", "notified_at"]
    list_filter = ["kind", "endpoint__team"]
    readonly_fields = ["endpoint", "kind", "opened_at", "notified_at"]


class TeamBudgetAdminForm(forms.ModelForm):
    """The webhook URL may carry a token: write-only here too (empty keeps it)."""

    webhook_url = forms.URLField(
        required=False,
        assume_scheme="https",
        widget=forms.PasswordInput(render_value=False),
        help_text="Empty: keep the stored one.",
    )
    remove_webhook = forms.BooleanField(required=False)

    class Meta:
        model = TeamBudget
        exclude = ["alert_webhook_url"]

    def clean(self):
        cleaned = super().clean()
        for field in ("monthly_soft_limit", "monthly_hard_limit"):
            if cleaned.get(field) is not None and cleaned[field] < 0:
                self.add_error(field, "A limit cannot be negative.")
        return cleaned

    def save(self, commit=True):
        budget = super().save(commit=False)
        if self.cleaned_data.get("remove_webhook"):
            budget.alert_webhook_url = ""
        elif self.cleaned_data.get("webhook_url"):
            budget.alert_webhook_url = self.cleaned_data["webhook_url"]
        if commit:
            budget.save()
        return budget


@admin.register(TeamBudget)
class TeamBudgetAdmin(admin.ModelAdmin):
    form = TeamBudgetAdminForm
    list_display = [
        "team",
        "monthly_soft_limit",
        "monthly_hard_limit",
        "member_monthly_limit",
        "member_max_active",
        "alert_email",
    ]


@admin.register(MemberBudget)
class MemberBudgetAdmin(admin.ModelAdmin):
    """One member's own monthly limit, in place of the team's limit per member."""

    list_display = ["membership", "monthly_limit", "updated_at"]
    list_filter = ["membership__team"]
    search_fields = ["membership__user__username", "membership__team__name"]
    raw_id_fields = ["membership"]

    def save_model(self, request, obj, form, change) -> None:
        budgets.ensure_team_budget(obj.membership.team)
        super().save_model(request, obj, form, change)
