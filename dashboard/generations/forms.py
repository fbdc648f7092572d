"""The generate form: types here, the team's rules in services (so the API and the page agree)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from dashboard.forms import ServiceErrorsMixin
from dashboard.generations.history import parse_history_query


def _refuse_constant(name: str) -> None:
    # Python's json reads NaN and Infinity, but they are not JSON: PostgreSQL refuses to store them.
    raise ValueError(f"{name} is not a JSON number")


class SwarmParamsField(forms.Field):
    """More SwarmUI parameters as one JSON object in a textarea. Only the JSON is checked here;
    the services judge the object (validation.py), so the page and the API refuse alike."""

    widget = forms.Textarea

    def to_python(self, value: Any) -> Any:
        text = (value or "").strip()
        if not text:
            return None
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise ValidationError(f"{self.label}: not valid JSON at {where} ({exc.msg}).") from None
        except ValueError as exc:  # NaN or Infinity
            raise ValidationError(f"{self.label}: {exc}; use a number or a string.") from None
        except RecursionError:
            raise ValidationError(f"{self.label}: nested too deeply.") from None

    def prepare_value(self, value: Any) -> str:
        """What the textarea shows: typed text as it was, a generation's parameters indented."""
        if isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False) if value else ""


class GenerationForm(ServiceErrorsMixin, forms.Form):
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
    extra_params = SwarmParamsField(
        required=False,
        label="Extra parameters",
        help_text=(
            "One JSON object of SwarmUI parameter id → value. Ids are the lower-case names from "
            "SwarmUI's ListT2IParams, like sampler, scheduler, loras or refinermodel; the "
            "parameters above (prompt, model, size, steps, CFG scale, seed, images) are set "
            "in their own fields."
        ),
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "spellcheck": "false",
                "autocomplete": "off",
                "placeholder": '{"sampler": "dpmpp_2m", "scheduler": "karras"}',
            }
        ),
    )

    def __init__(self, *args, endpoints=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = [(e.pk, e.name) for e in endpoints]
        self.known_models = sorted({m for e in endpoints for m in (e.known_models or [])})


# --- re-use: intent-sized steps from a past generation into the generate form -------------------
REUSE_MODES = {
    "all": "Use all",
    "remix": "Remix",
    "prompt": "Use prompt",
    "seed": "Use seed",
}


def actual_seed(generation, image=None) -> int:
    """The seed that made the image: a generation asked for -1 got a random one from the worker."""
    if image is not None and image.seed is not None:
        return image.seed
    if generation.seed == -1:
        seeds = [i.seed for i in generation.images.all() if i.seed is not None]
        if seeds:
            return seeds[0]
    return generation.seed


def reuse_initial(generation, mode: str, *, image=None, endpoints=()) -> dict:
    """Initial values of the generate form for a re-use `mode`; ValueError for an unknown mode.

    all: every parameter, the extra SwarmUI ones too; remix: all but the seed (a new one);
    prompt: prompt and negative only; seed: only the seed (the image's real seed when it has one).
    """
    if mode not in REUSE_MODES:
        raise ValueError(f"Unknown re-use mode; use one of: {', '.join(REUSE_MODES)}.")
    seed = actual_seed(generation, image)
    if mode == "seed":
        return {"seed": seed}
    prompts = {"prompt": generation.prompt, "negative_prompt": generation.negative_prompt}
    if mode == "prompt":
        return prompts
    everything = {
        **prompts,
        "model": generation.model,
        "width": generation.width,
        "height": generation.height,
        "steps": generation.steps,
        "cfg_scale": generation.cfg_scale,
        "seed": seed,
        "images": generation.image_count,
        "extra_params": generation.extra_params,
    }
    # The endpoint only if the team still has it; otherwise the form's default.
    if any(e.pk == generation.endpoint_id for e in endpoints):
        everything["endpoint"] = generation.endpoint_id
    if mode == "remix":
        everything["seed"] = -1
    return everything


# --- the history filters (the rules themselves live in history.parse_history_query) -----------
class HistoryFilterForm(forms.Form):
    """Renders the filters with their values and errors; `history.parse_history_query` decides
    what is valid, so the page, the API and this form never disagree."""

    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Words of the prompt…", "autocomplete": "off"}
        ),
    )
    user = forms.CharField(required=False, label="Member", widget=forms.Select)
    model = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"list": "filter-models", "autocomplete": "off"}),
    )
    status = forms.CharField(required=False, widget=forms.Select)
    endpoint = forms.CharField(required=False, widget=forms.Select)
    tag = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"list": "tag-options", "autocomplete": "off"})
    )
    starred = forms.CharField(
        required=False,
        label="Starred only",
        widget=forms.CheckboxInput,
    )
    # "from" and "to" are Python keywords: declared below, under their GET names.

    def __init__(self, data, *, members=(), endpoints=(), statuses=(), models=()):
        super().__init__(data)
        self.fields["user"].widget.choices = [("", "Anyone")] + [
            (m.user.get_username(), m.user.get_username()) for m in members
        ]
        self.fields["status"].widget.choices = [("", "Any status"), *statuses]
        self.fields["endpoint"].widget.choices = [("", "Any endpoint")] + [
            (str(e.pk), e.name) for e in endpoints
        ]
        self.known_models = list(models)
        self.query = None

    def clean(self):
        try:
            self.query = parse_history_query(self.data)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return self.cleaned_data

    @property
    def active_count(self) -> int:
        return len(self.query.as_params()) if self.query else 0


HistoryFilterForm.base_fields["from"] = forms.CharField(
    required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
)
HistoryFilterForm.base_fields["to"] = forms.CharField(
    required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
)
