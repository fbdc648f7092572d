"""A team's RunPod serverless endpoints, with their secrets encrypted at rest."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
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


# --- warm pools --------------------------------------------------------------------------------


class WarmMode(models.TextChoices):
    """How an endpoint is kept warm: by RunPod's own min workers, or (for API keys without
    endpoint-management scope, which RunPod answers 403) by keeping a worker busy with jobs."""

    MIN_WORKERS = "min_workers", "Active workers (workers.min)"
    KEEP_ALIVE = "keep_alive", "Keep-alive jobs"


class WarmSchedule(models.Model):
    """A calendar window, in the team's time zone, during which `warm_workers` stay warm."""

    endpoint = models.ForeignKey(
        RunPodEndpoint, on_delete=models.CASCADE, related_name="warm_schedules"
    )
    name = models.CharField(max_length=100, blank=True)
    weekdays = models.JSONField(default=list, help_text="0 = Monday … 6 = Sunday.")
    start_time = models.TimeField()
    end_time = models.TimeField()
    warm_workers = models.PositiveSmallIntegerField(default=1)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["endpoint", "start_time"]

    def __str__(self) -> str:
        return f"{self.endpoint.name}: {self.warm_workers} warm {self.start_time}-{self.end_time}"


class WarmState(models.Model):
    """What the warm-pool task last decided and applied for one endpoint; the database (not
    RunPod, not Redis) remembers the value to restore when a window closes."""

    endpoint = models.OneToOneField(
        RunPodEndpoint, on_delete=models.CASCADE, related_name="warm_state"
    )
    mode = models.CharField(max_length=12, choices=WarmMode.choices, default=WarmMode.MIN_WORKERS)
    desired_workers = models.PositiveSmallIntegerField(default=0)
    applied_min = models.PositiveSmallIntegerField(null=True, blank=True)
    baseline_min = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="workers.min before we raised it; restored afterwards."
    )
    keep_warm_until = models.DateTimeField(null=True, blank=True)
    keep_warm_workers = models.PositiveSmallIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_applied_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    management_forbidden_at = models.DateTimeField(
        null=True, blank=True, help_text="When RunPod refused endpoint management (403)."
    )
    # RunPod has no "list my jobs" call: our keep_alive jobs in flight (id, submitted, duration,
    # low priority, expires), followed on every apply.
    keep_alive_jobs = models.JSONField(default=list, blank=True)
    notice = models.TextField(
        blank=True, help_text="What people should know about the last apply (not an error)."
    )
    observed = models.JSONField(
        default=dict,
        blank=True,
        help_text="Worker counts (idle, running, initializing, ...) at the last check.",
    )

    def __str__(self) -> str:
        return f"warm state of {self.endpoint}"


class WarmupRun(models.Model):
    """A `warmup` job that loaded a model on a worker, and how long the load took."""

    endpoint = models.ForeignKey(
        RunPodEndpoint, on_delete=models.CASCADE, related_name="warmup_runs"
    )
    model = models.CharField(max_length=300, blank=True)
    trigger = models.CharField(max_length=20, default="manual")
    status = models.CharField(max_length=12, default="queued")
    runpod_job_id = models.CharField(max_length=120, blank=True)
    load_seconds = models.FloatField(null=True, blank=True)
    delay_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"warm-up of {self.endpoint} ({self.status})"


# --- health and alerts -------------------------------------------------------------------------


class HealthSample(models.Model):
    """One reading of `/health` and the REST v2 workers list (kept 30 days)."""

    endpoint = models.ForeignKey(
        RunPodEndpoint, on_delete=models.CASCADE, related_name="health_samples"
    )
    taken_at = models.DateTimeField(default=timezone.now)
    reachable = models.BooleanField(default=True)
    jobs_in_queue = models.PositiveIntegerField(default=0)
    jobs_in_progress = models.PositiveIntegerField(default=0)
    jobs_completed = models.PositiveIntegerField(default=0)
    jobs_failed = models.PositiveIntegerField(default=0)
    workers_idle = models.PositiveIntegerField(default=0)
    workers_running = models.PositiveIntegerField(default=0)
    workers_initializing = models.PositiveIntegerField(default=0)
    workers_throttled = models.PositiveIntegerField(default=0)
    workers_unhealthy = models.PositiveIntegerField(default=0)
    workers_min = models.PositiveIntegerField(null=True, blank=True)
    workers_max = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["endpoint", "-taken_at"], name="health_endpoint_recent")]

    def __str__(self) -> str:
        return f"health of {self.endpoint} at {self.taken_at:%Y-%m-%d %H:%M}"


class AlertKind(models.TextChoices):
    UNREACHABLE = "unreachable", "Endpoint unreachable"
    UNHEALTHY = "unhealthy", "Unhealthy workers"
    THROTTLED = "throttled", "Throttled workers (no GPU capacity)"
    QUEUE_BACKLOG = "queue_backlog", "Queue backing up"
    MAX_SCALED_DOWN = "max_scaled_down", "Max workers cut by RunPod's idle scale-down"


class Alert(models.Model):
    """An open (or resolved) problem with an endpoint; one open alert per kind."""

    endpoint = models.ForeignKey(RunPodEndpoint, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "kind"],
                condition=models.Q(resolved_at__isnull=True),
                name="alert_one_open_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.endpoint}"


# --- budgets and notifications ---------------------------------------------------------------


class TeamBudget(models.Model):
    """A team's monthly spend limits (US dollars) and where alerts go."""

    team = models.OneToOneField("accounts.Team", on_delete=models.CASCADE, related_name="budget")
    monthly_soft_limit = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Warn at 80% and 100%."
    )
    monthly_hard_limit = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Refuse new work."
    )
    alert_email = models.EmailField(blank=True)
    alert_webhook_url = models.URLField(blank=True)
    # Fair use inside the team: what one member may spend and keep in the queue.
    member_monthly_limit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Each member's monthly limit unless they have their own. Empty: none.",
    )
    member_max_active = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Generations one member may have in flight at once. Empty: no cap.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"budget of {self.team}"


class MemberBudget(models.Model):
    """One member's own monthly spend limit, in place of the team's member limit. It goes with
    the membership: someone who leaves and comes back starts from the team's limit."""

    membership = models.OneToOneField(
        "accounts.Membership", on_delete=models.CASCADE, related_name="member_budget"
    )
    monthly_limit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="US dollars.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"budget of {self.membership}"
