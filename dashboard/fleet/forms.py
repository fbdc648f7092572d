"""The endpoint form: secrets are write-only (never rendered back; empty keeps the stored one)."""

from __future__ import annotations

from django import forms

from dashboard.fleet.models import OutputMode
from dashboard.forms import ServiceErrorsMixin


class EndpointForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=100)
    endpoint_id = forms.CharField(max_length=100, label="RunPod endpoint id")
    api_key = forms.CharField(
        required=False,
        max_length=500,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    api_base_url = forms.URLField(required=False, label="Job API base URL", assume_scheme="https")
    rest_base_url = forms.URLField(required=False, label="REST API base URL", assume_scheme="https")
    gpu_price_per_second = forms.DecimalField(
        min_value=0, max_digits=10, decimal_places=6, initial=0, label="GPU price per second ($)"
    )
    default_model = forms.CharField(max_length=300, required=False)
    output_mode = forms.ChoiceField(choices=OutputMode.choices, initial=OutputMode.AUTO)
    is_default = forms.BooleanField(required=False, label="The team's default endpoint")
    volume_id = forms.CharField(max_length=100, required=False, label="Network volume id")
    volume_s3_endpoint_url = forms.URLField(
        required=False, label="Volume S3 endpoint URL", assume_scheme="https"
    )
    volume_s3_region = forms.CharField(max_length=40, required=False, label="Volume region")
    volume_access_key = forms.CharField(
        required=False,
        max_length=500,
        label="Volume S3 access key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    volume_secret_key = forms.CharField(
        required=False,
        max_length=500,
        label="Volume S3 secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
