"""The budget settings forms (the team's, and one member's own limit): types here, the rules
(negative limits, soft above hard) in budgets.budget_update and budgets.member_budget_update so
the page and the API agree. The webhook URL is write-only: it may carry a token, so only its host
is shown and an empty input keeps it."""

from __future__ import annotations

from django import forms

from dashboard.forms import ServiceErrorsMixin


def _dollars(label: str, help_text: str) -> forms.DecimalField:
    """An optional amount in US dollars and cents."""
    return forms.DecimalField(
        required=False, max_digits=12, decimal_places=2, label=label, help_text=help_text
    )


class BudgetForm(ServiceErrorsMixin, forms.Form):
    monthly_soft_limit = _dollars(
        "Monthly soft limit ($)", "A banner and a notice at 80% and 100%. Empty: none."
    )
    monthly_hard_limit = _dollars(
        "Monthly hard limit ($)", "New generations are refused past it. Empty: none."
    )
    member_monthly_limit = _dollars(
        "Monthly limit per member ($)",
        "No member may spend more in a month, unless given their own limit below. Empty: none.",
    )
    member_max_active = forms.IntegerField(
        required=False,
        label="Generations per member in the queue",
        help_text="Queued or running at once; the next one is refused until one ends. "
        "Empty: no cap.",
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


class MemberBudgetForm(ServiceErrorsMixin, forms.Form):
    """One member's own monthly limit (a row of the budget page's member table)."""

    monthly_limit = _dollars("Own monthly limit ($)", "Empty: the team's limit per member.")

    def __init__(self, *args, target, **kwargs):
        super().__init__(*args, **kwargs)
        self.target = target  # the membership whose limit this sets
