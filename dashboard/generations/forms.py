"""The generate form: types here, the team's rules in services (so the API and the page agree)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


class GenerationForm(forms.Form):
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    negative_prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Negative prompt"
    )
    endpoint = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    model = forms.CharField(
        required=False,
        help_text="Empty: the endpoint's default model.",
        widget=forms.TextInput(attrs={"list": "known-models", "autocomplete": "off"}),
    )
    width = forms.IntegerField(initial=1024)
    height = forms.IntegerField(initial=1024)
    steps = forms.IntegerField(initial=20)
    cfg_scale = forms.FloatField(initial=7.0, label="CFG scale")
    seed = forms.IntegerField(initial=-1, help_text="-1 picks a random seed.")
    images = forms.IntegerField(initial=1, label="Images")

    def __init__(self, *args, endpoints=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = [(e.pk, e.name) for e in endpoints]
        self.known_models = sorted({m for e in endpoints for m in (e.known_models or [])})

    def add_service_errors(self, error: ValidationError) -> None:
        """Put a service's field errors next to the fields (others at the top of the form)."""
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)
