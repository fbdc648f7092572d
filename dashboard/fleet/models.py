"""A team's RunPod serverless endpoints, with their secrets encrypted at rest."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard import crypto
from dashboard.fleet.runpod_client import RunPodClient
from dashboard.fleet.volume import VolumeReader


class OutputMode(models.TextChoices):
    """How the worker hands images back (worker env OUTPUT_MODE, overridable per job)."""

    AUTO = "auto", "Automatic"
    INLINE = "inline", "Inline (base64 in the job result)"
    VOLUME = "volume", "Network volume (fetched over its S3 API)"
    BUCKET = "bucket", "S3 bucket"


class RunPodEndpoint(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=100)
    endpoint_id = models.CharField(max_length=100, help_text="The id RunPod shows for it.")
    api_key_encrypted = models.TextField(editable=False)
    api_base_url = models.URLField(
        blank=True, help_text="Job API base; empty means RunPod's (settings.RUNPOD_API_BASE)."
    )
    rest_base_url = models.URLField(
        blank=True, help_text="REST v2 base; empty means RunPod's (settings.RUNPOD_REST_BASE)."
    )
    gpu_price_per_second = models.DecimalField(
        max_digits=10, decimal_places=6, default=Decimal("0"), help_text="US dollars."
    )
    default_model = models.CharField(max_length=300, blank=True)
    # Model names this endpoint's volume is known to hold (refreshed from the worker's
    # list_models; the catalogue supersedes it when it has synced the volume).
    known_models = models.JSONField(default=list, blank=True)
    output_mode = models.CharField(
        max_length=10, choices=OutputMode.choices, default=OutputMode.AUTO
    )
    is_default = models.BooleanField(default=False)

    # The network volume's S3 API (runpod.md §7): bucket = volume id, region = datacenter.
    volume_id = models.CharField(max_length=100, blank=True)
    volume_s3_endpoint_url = models.URLField(blank=True)
    volume_s3_region = models.CharField(max_length=40, blank=True)
    volume_s3_access_key_encrypted = models.TextField(blank=True, editable=False)
    volume_s3_secret_key_encrypted = models.TextField(blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="endpoint_team_name_unique"),
            models.UniqueConstraint(
                fields=["team"],
                condition=models.Q(is_default=True),
                name="endpoint_one_default_per_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.endpoint_id})"

    # Secrets: set through these, read only where they are sent to RunPod or S3.
    def set_api_key(self, plain: str) -> None:
        self.api_key_encrypted = crypto.encrypt(plain)

    def get_api_key(self) -> str:
        return crypto.decrypt(self.api_key_encrypted)

    def set_volume_credentials(self, access_key: str, secret_key: str) -> None:
        self.volume_s3_access_key_encrypted = crypto.encrypt(access_key)
        self.volume_s3_secret_key_encrypted = crypto.encrypt(secret_key)

    @property
    def has_volume_access(self) -> bool:
        return bool(
            self.volume_id and self.volume_s3_endpoint_url and self.volume_s3_access_key_encrypted
        )

    @property
    def job_api_base(self) -> str:
        return (self.api_base_url or settings.RUNPOD_API_BASE).rstrip("/")

    @property
    def management_api_base(self) -> str:
        return (self.rest_base_url or settings.RUNPOD_REST_BASE).rstrip("/")

    def runpod_client(self) -> RunPodClient:
        return RunPodClient(
            endpoint_id=self.endpoint_id,
            api_key=self.get_api_key(),
            api_base=self.job_api_base,
            rest_base=self.management_api_base,
            timeout=settings.RUNPOD_TIMEOUT_SECONDS,
            retries=settings.RUNPOD_RETRIES,
        )

    def volume_reader(self) -> VolumeReader:
        return VolumeReader(
            endpoint_url=self.volume_s3_endpoint_url,
            region=self.volume_s3_region,
            volume_id=self.volume_id,
            access_key=crypto.decrypt(self.volume_s3_access_key_encrypted),
            secret_key=crypto.decrypt(self.volume_s3_secret_key_encrypted),
            max_attempts=settings.VOLUME_S3_MAX_ATTEMPTS,
        )

    def cost_of(self, execution_ms: int | None) -> Decimal | None:
        """What a job that ran `execution_ms` costs at this endpoint's per-second price."""
        if execution_ms is None:
            return None
        return (Decimal(execution_ms) / 1000 * self.gpu_price_per_second).quantize(
            Decimal("0.000001")
        )
