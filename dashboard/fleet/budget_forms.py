"""The budget settings form: types here, the rules (negative limits, soft above hard) in
budgets.budget_update so the page and the API agree. The webhook URL is write-only: it may carry
a token, so only its host is shown and an empty input keeps it."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


class BudgetForm(forms.Form):
    monthly_soft_limit = forms.DecimalField(
        required=False,
        max_digits=12,
        decimal_places=2,
        label="Monthly soft limit ($)",
        help_text="A banner and a notice at 80% and 100%. Empty: none.",
    )
    monthly_hard_limit = forms.DecimalField(
        required=False,
        max_digits=12,
        decimal_places=2,
        label="Monthly hard limit ($)",
        help_text="New generations are refused past it. Empty: none.",
    )
    alert_email = forms.CharField(
        required=False, max_length=254, label="Send alerts and notices to (email)"
    )
    alert_webhook_url = forms.CharField(
        required=False,
        max_length=200,
        label="Webhook URL (JSON POST)",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    remove_webhook = forms.BooleanField(required=False, label="Remove the webhook")

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        remove = data.pop("remove_webhook")
        url = data.pop("alert_webhook_url")
        if remove:
            data["alert_webhook_url"] = ""
        elif url:
            data["alert_webhook_url"] = url
        return data

    def add_service_errors(self, error: ValidationError) -> None:
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)
