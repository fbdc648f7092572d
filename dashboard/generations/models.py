"""Prompt history: a Generation is one request to the GPU worker; a GeneratedImage, one output."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"  # saved, not yet accepted by RunPod
    SUBMITTED = "submitted", "Submitted"  # RunPod has the job (IN_QUEUE)
    RUNNING = "running", "Running"  # a worker took it (IN_PROGRESS)
    SUCCEEDED = "succeeded", "Succeeded"  # every image stored
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    TIMED_OUT = "timed_out", "Timed out"


FINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT})
ACTIVE_STATUSES = frozenset({Status.QUEUED, Status.SUBMITTED, Status.RUNNING})


def new_webhook_token() -> str:
    return secrets.token_urlsafe(32)


class Tag(models.Model):
    """A team's label for generations (e.g. 'client-x', 'keeper'); names are unique per team,
    ignoring case."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "team", models.functions.Lower("name"), name="tag_team_name_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Generation(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="generations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="generations",
    )
    endpoint = models.ForeignKey(
        "fleet.RunPodEndpoint",
        on_delete=models.SET_NULL,
        null=True,
        related_name="generations",
    )
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries"
    )

    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    model = models.CharField(max_length=300)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    steps = models.PositiveIntegerField()
    cfg_scale = models.FloatField()
    seed = models.BigIntegerField(default=-1, help_text="-1: the worker picks one.")
    image_count = models.PositiveSmallIntegerField(default=1)
    extra_params = models.JSONField(default=dict, blank=True)

    # The team's own curation of its history.
    starred = models.BooleanField(default=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="generations")

    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    runpod_job_id = models.CharField(max_length=120, blank=True, db_index=True)
    webhook_token = models.CharField(max_length=64, default=new_webhook_token, editable=False)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    # Set while one task talks to RunPod's /run, so two never submit the same generation at once.
    submit_claimed_at = models.DateTimeField(null=True, blank=True)
    delay_ms = models.PositiveIntegerField(null=True, blank=True)
    execution_ms = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    error = models.TextField(blank=True)
    progress = models.JSONField(default=dict, blank=True)
    progress_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    worker_id = models.CharField(max_length=120, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["team", "-id"], name="generation_team_recent"),
            models.Index(fields=["status", "last_checked_at"], name="generation_status_checked"),
            # History filters: each walks its own index newest first and stops after a page.
            models.Index(
                fields=["team", "-id"],
                condition=models.Q(starred=True),
                name="generation_team_starred",
            ),
            models.Index(fields=["team", "user", "-id"], name="generation_team_user"),
            models.Index(fields=["team", "model", "-id"], name="generation_team_model"),
            models.Index(fields=["team", "status", "-id"], name="generation_team_status"),
            models.Index(fields=["team", "endpoint", "-id"], name="generation_team_endpoint"),
            models.Index(fields=["team", "created_at"], name="generation_team_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.prompt[:40]!r} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def elapsed_seconds(self) -> float:
        end = self.finished_at or timezone.now()
        return max(0.0, (end - self.created_at).total_seconds())

    @property
    def phase(self) -> str:
        """What a person waiting reads: queued → starting worker → sampling N% → saving."""
        if self.is_final:
            return self.get_status_display()
        if self.status == Status.QUEUED:
            return "Queued"
        if self.status == Status.SUBMITTED:
            return "Waiting for a worker"
        if self.progress.get("stage") == "saving" or self.progress_percent == 100:
            return "Saving"
        if self.progress_percent is not None:
            return f"Sampling {self.progress_percent}%"
        return "Starting worker"

    def parameters(self) -> dict:
        """Every parameter as sent to the worker (SwarmUI names, flat)."""
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "model": self.model,
            "width": self.width,
            "height": self.height,
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
            "seed": self.seed,
            "images": self.image_count,
            **self.extra_params,
        }


def image_upload_to(image: GeneratedImage, filename: str) -> str:
    generation = image.generation
    return (
        f"generations/{generation.team_id}/{generation.created_at:%Y/%m}/{generation.pk}/{filename}"
    )


class GeneratedImage(models.Model):
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveSmallIntegerField(help_text="Position in the worker's output list.")
    file = models.FileField(upload_to=image_upload_to, max_length=300)
    thumbnail = models.FileField(upload_to=image_upload_to, max_length=300, blank=True)
    filename = models.CharField(max_length=300, blank=True, help_text="The worker's file name.")
    mime = models.CharField(max_length=60, default="image/png")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    seed = models.BigIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["generation", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "index"], name="generated_image_once_per_index"
            )
        ]

    def __str__(self) -> str:
        return f"image {self.index} of generation {self.generation_id}"


PROMPT_SLOT = "{prompt}"
# A preset's settings: the generate form's (and the API's) name → the model's attribute.
PRESET_SETTINGS = {
    name: {"images": "image_count", "endpoint": "endpoint_id"}.get(name, name)
    for name in (
        *("prompt", "negative_prompt", "model", "width", "height", "steps", "cfg_scale", "seed"),
        *("images", "extra_params", "endpoint"),
    )
}


class Preset(models.Model):
    """A team's generation settings saved under a name. Every setting is optional: an empty one
    leaves the generate form's value as it is, so a preset may be just a negative prompt and a
    sampler. A prompt containing `{prompt}` is a template the form's own prompt is put into."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="presets")
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)

    prompt = models.TextField(blank=True, help_text="May contain {prompt}: the form's prompt.")
    negative_prompt = models.TextField(blank=True)
    model = models.CharField(max_length=300, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    steps = models.PositiveIntegerField(null=True, blank=True)
    cfg_scale = models.FloatField(null=True, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    image_count = models.PositiveSmallIntegerField(null=True, blank=True)
    extra_params = models.JSONField(default=dict, blank=True)
    endpoint = models.ForeignKey(
        "fleet.RunPodEndpoint",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="presets",
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="presets",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [models.functions.Lower("name")]
        constraints = [
            models.UniqueConstraint(
                "team", models.functions.Lower("name"), name="preset_team_name_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_template(self) -> bool:
        return PROMPT_SLOT in self.prompt

    def settings(self) -> dict:
        """The settings it sets, by the generate form's names; the ones it leaves out are absent."""
        values = {name: getattr(self, field) for name, field in PRESET_SETTINGS.items()}
        return {name: value for name, value in values.items() if value not in (None, "", {})}

    def summary(self) -> list[str]:
        """Its settings in a few words each, for lists: `1024x768`, `30 steps`, `sampler=euler`."""
        parts = []
        if self.prompt:
            parts.append("prompt template" if self.is_template else "prompt")
        if self.negative_prompt:
            parts.append("negative prompt")
        if self.model:
            parts.append(f"model {self.model}")
        if self.width or self.height:
            parts.append(f"{self.width or '…'}x{self.height or '…'}")
        if self.steps is not None:
            parts.append(f"{self.steps} steps")
        if self.cfg_scale is not None:
            parts.append(f"CFG {self.cfg_scale:g}")
        if self.seed is not None:
            parts.append("random seed" if self.seed == -1 else f"seed {self.seed}")
        if self.image_count is not None:
            parts.append(f"{self.image_count} image{'s' if self.image_count != 1 else ''}")
        parts += [f"{key}={value}" for key, value in (self.extra_params or {}).items()]
        if self.endpoint_id:
            parts.append(f"on {self.endpoint.name}")
        return parts
