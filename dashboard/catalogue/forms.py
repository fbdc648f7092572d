"""Forms of the model management pages: types and widgets here, the rules in actions.py (so the
pages and the API agree). Tokens are write-only: never rendered back."""

from __future__ import annotations

from django import forms

from dashboard.catalogue.actions import TEXT_FIELDS
from dashboard.catalogue.models import ModelFile, Subtype
from dashboard.forms import ServiceErrorsMixin


class DownloadForm(ServiceErrorsMixin, forms.Form):
    url = forms.CharField(
        label="Link",
        max_length=2000,
        help_text="A Hugging Face file page, a CivitAI model page with its version chosen, or a "
        "direct link to a .safetensors or .gguf file.",
        widget=forms.URLInput(attrs={"autocomplete": "off", "placeholder": "https://"}),
    )
    subtype = forms.ChoiceField(
        label="Type", choices=Subtype.choices, initial=Subtype.STABLE_DIFFUSION
    )
    folder = forms.CharField(
        required=False, max_length=200, help_text="Optional subfolder, e.g. Flux or Team/styles."
    )
    name = forms.CharField(
        required=False,
        max_length=200,
        help_text="Without extension; empty: the file's own name. No dots (SwarmUI drops them); "
        "spaces become _.",
    )
    endpoint = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, endpoints=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = [(e.pk, e.name) for e in endpoints]
        if len(self.fields["endpoint"].choices) < 2:
            self.fields["endpoint"].widget = forms.HiddenInput()


class MetadataForm(ServiceErrorsMixin, forms.Form):
    """Starts with what the catalogue knows; only the fields changed are sent (a partial edit)."""

    title = forms.CharField(required=False, max_length=TEXT_FIELDS["title"])
    trigger_phrase = forms.CharField(
        required=False,
        max_length=TEXT_FIELDS["trigger_phrase"],
        label="Trigger phrase",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    architecture = forms.CharField(
        required=False,
        max_length=TEXT_FIELDS["architecture"],
        help_text="SwarmUI's class id, e.g. stable-diffusion-xl-v1-base.",
    )
    description = forms.CharField(
        required=False,
        max_length=TEXT_FIELDS["description"],
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    author = forms.CharField(required=False, max_length=TEXT_FIELDS["author"])
    license = forms.CharField(required=False, max_length=TEXT_FIELDS["license"])
    usage_hint = forms.CharField(
        required=False, max_length=TEXT_FIELDS["usage_hint"], label="Usage hint"
    )
    tags = forms.CharField(required=False, max_length=2000, help_text="Separated by commas.")
    standard_width = forms.IntegerField(
        required=False, min_value=0, max_value=16384, label="Standard width"
    )
    standard_height = forms.IntegerField(
        required=False, min_value=0, max_value=16384, label="Standard height"
    )

    @classmethod
    def for_model(cls, model_file: ModelFile, data=None) -> MetadataForm:
        meta = model_file.metadata or {}

        def known(key: str) -> str:
            value = meta.get(key, meta.get(f"modelspec.{key}", ""))
            return ", ".join(value) if isinstance(value, list) else str(value or "")

        initial = {
            "title": model_file.title,
            "trigger_phrase": model_file.trigger_phrase,
            "architecture": model_file.architecture,
            "description": model_file.description,
            "author": known("author"),
            "license": known("license"),
            "usage_hint": known("usage_hint"),
            "tags": known("tags"),
        }
        return cls(data, initial=initial)

    def changes(self) -> dict:
        """The fields the admin changed; an emptied size field is not a change."""
        changed = {}
        for name in self.changed_data:
            value = self.cleaned_data.get(name)
            if value is None:
                continue
            changed[name] = value
        return changed


class RenameForm(ServiceErrorsMixin, forms.Form):
    new_name = forms.CharField(
        label="New name",
        max_length=200,
        help_text="Folders allowed (Flux/new_name); the extension stays. No dots; spaces become _.",
    )


class ProviderTokensForm(ServiceErrorsMixin, forms.Form):
    """Empty keeps a token; the checkbox clears it."""

    huggingface_token = forms.CharField(
        required=False,
        max_length=500,
        label="Hugging Face token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    clear_huggingface = forms.BooleanField(required=False, label="Remove the Hugging Face token")
    civitai_token = forms.CharField(
        required=False,
        max_length=500,
        label="CivitAI token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    clear_civitai = forms.BooleanField(required=False, label="Remove the CivitAI token")

    def token_changes(self) -> dict[str, str | None]:
        """For provider_tokens_update: a value sets, "" clears, None keeps."""
        data = self.cleaned_data
        return {
            provider: ""
            if data.get(f"clear_{provider}")
            else (data.get(f"{provider}_token") or None)
            for provider in ("huggingface", "civitai")
        }
