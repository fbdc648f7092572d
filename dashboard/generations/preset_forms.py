"""The preset form: the generate form's fields, each optional, plus a name and a description.
Types only; the rules are presets.py's, so the pages and the API refuse alike."""

from __future__ import annotations

from django import forms

from dashboard.generations.forms import GenerationForm
from dashboard.generations.presets import MAX_DESCRIPTION, MAX_NAME, SETTINGS


class PresetForm(GenerationForm):
    name = forms.CharField(
        required=False,  # the service names the field when it is missing
        label="Preset name",
        widget=forms.TextInput(attrs={"maxlength": MAX_NAME, "autocomplete": "off"}),
    )
    description = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"maxlength": MAX_DESCRIPTION, "autocomplete": "off"}),
    )

    def __init__(self, *args, endpoints=(), **kwargs):
        super().__init__(*args, endpoints=endpoints, **kwargs)
        for name in SETTINGS:  # empty: the preset leaves the generate form's value
            self.fields[name].required = False
            self.fields[name].initial = None
        self.fields["endpoint"].choices = [("", "(the form's)"), *self.fields["endpoint"].choices]
        self.fields["model"].help_text = "Empty: the form's model."
        self.fields["prompt"].help_text = (
            "Empty: the form's prompt. With {prompt} in it, a template: the form's prompt goes "
            "there."
        )

    def settings_fields(self) -> list:
        """The bound fields of the settings (not the name and description)."""
        return [self[name] for name in SETTINGS]
