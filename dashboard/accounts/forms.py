"""Forms for account pages."""

from django import forms


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="So you recognise it later, e.g. 'laptop'.")
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, help_text="Leave empty for no expiry."
    )
