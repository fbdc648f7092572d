"""What is on a team's RunPod network volume, how we learnt it, and what admins did to it.

The inventory is keyed by the endpoint whose volume it describes (an endpoint carries the volume's
id and S3 credentials). Files that disappear stay as rows marked missing, so that history keeps
pointing at them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard import crypto


class Subtype(models.TextChoices):
    """SwarmUI's model subtypes (swarmui-api.md §4.1), spelt exactly as its API wants them."""

    STABLE_DIFFUSION = "Stable-Diffusion", "Stable Diffusion"
    LORA = "LoRA", "LoRA"
    VAE = "VAE", "VAE"
    EMBEDDING = "Embedding", "Embedding"
    CONTROLNET = "ControlNet", "ControlNet"
    CLIP = "Clip", "Clip"
    CLIP_VISION = "ClipVision", "Clip Vision"


class ModelFile(models.Model):
    endpoint = models.ForeignKey(
        "fleet.RunPodEndpoint", on_delete=models.CASCADE, related_name="model_files"
    )
    path = models.CharField(max_length=1000, help_text="Key on the volume, e.g. SwarmUI/Models/…")
    # The listing the file was found in (its key up to the last '/'): a sync compares one folder's
    # listing with the rows of that folder, so it never needs the whole volume in memory.
    folder = models.CharField(max_length=1000, blank=True)
    subtype = models.CharField(max_length=20, choices=Subtype.choices)
    name = models.CharField(max_length=500, help_text="The name SwarmUI gives it (with extension).")
    size = models.PositiveBigIntegerField(default=0)
    modified_at = models.DateTimeField(null=True, blank=True)
    etag = models.CharField(max_length=100, blank=True)
    is_supported_format = models.BooleanField(default=True)

    # From the `.swarm.json` side file (or an edit through the worker).
    title = models.CharField(max_length=300, blank=True)
    architecture = models.CharField(max_length=200, blank=True)
    trigger_phrase = models.TextField(blank=True)
    description = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    metadata_etag = models.CharField(max_length=100, blank=True)
    preview = models.FileField(upload_to="catalogue/previews/", max_length=300, blank=True)
    preview_etag = models.CharField(max_length=100, blank=True)

    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    missing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["subtype", "name"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "path"], name="model_file_once_per_path")
        ]
        indexes = [
            models.Index(fields=["endpoint", "subtype", "name"], name="model_file_lookup"),
            models.Index(fields=["endpoint", "folder"], name="model_file_folder"),
        ]

    def __str__(self) -> str:
        return f"{self.subtype}: {self.name}"

    @property
    def is_missing(self) -> bool:
        return self.missing_since is not None


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SyncRun(models.Model):
    """One walk of a volume's inventory, with what it found."""

    endpoint = models.ForeignKey(
        "fleet.RunPodEndpoint", on_delete=models.CASCADE, related_name="sync_runs"
    )
    source = models.CharField(max_length=10, help_text="'s3' or 'worker' (list_models).")
    trigger = models.CharField(max_length=10, default="manual", help_text="'manual' or 'schedule'.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    progress = models.CharField(max_length=300, blank=True, help_text="What it is doing now.")
    objects_listed = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when a task takes the run (so a redelivered task does not run it twice) and at every
    # progress report; a running sync silent for long is one whose task died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Something changed the volume while this run was walking it: sync again when it ends.
    rerun_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint"],
                condition=models.Q(status="running"),
                name="sync_run_one_running_per_endpoint",
            )
        ]

    def __str__(self) -> str:
        return f"sync of {self.endpoint} at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class FolderUsage(models.Model):
    """Bytes and files under one top folder of a volume, as of the last sync."""

    endpoint = models.ForeignKey(
        "fleet.RunPodEndpoint", on_delete=models.CASCADE, related_name="folder_usage"
    )
    folder = models.CharField(max_length=300)
    bytes = models.PositiveBigIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-bytes"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "folder"], name="folder_usage_once")
        ]

    def __str__(self) -> str:
        return f"{self.folder}: {self.bytes} bytes"


class ActionKind(models.TextChoices):
    DOWNLOAD = "download", "Download"
    EDIT = "edit", "Edit metadata"
    RENAME = "rename", "Rename"
    DELETE = "delete", "Delete"


class ActionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ModelAction(models.Model):
    """An admin's change to the volume, carried out by the worker as a RunPod job."""

    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, related_name="model_actions"
    )
    endpoint = models.ForeignKey(
        "fleet.RunPodEndpoint", on_delete=models.CASCADE, related_name="model_actions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    kind = models.CharField(max_length=10, choices=ActionKind.choices)
    status = models.CharField(
        max_length=10, choices=ActionStatus.choices, default=ActionStatus.QUEUED
    )
    subtype = models.CharField(max_length=20, choices=Subtype.choices)
    model_name = models.CharField(max_length=500, help_text="The model acted on (or created).")
    params = models.JSONField(default=dict, blank=True, help_text="The job input, minus secrets.")
    runpod_job_id = models.CharField(max_length=120, blank=True)
    progress_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    bytes_per_second = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.model_name} ({self.status})"


class AuditEntry(models.Model):
    """Who did what to a team's models, when, and how it ended. Never edited, never deleted
    with the user."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="audit_log")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    username = models.CharField(max_length=150, help_text="As it was when the entry was written.")
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=500)
    outcome = models.CharField(max_length=20)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.target}"


class ProviderTokens(models.Model):
    """A team's Hugging Face and CivitAI tokens for model downloads, encrypted at rest."""

    team = models.OneToOneField(
        "accounts.Team", on_delete=models.CASCADE, related_name="provider_tokens"
    )
    huggingface_token_encrypted = models.TextField(blank=True, editable=False)
    civitai_token_encrypted = models.TextField(blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "provider tokens"

    def __str__(self) -> str:
        return f"provider tokens of {self.team}"

    def set_tokens(self, *, huggingface: str | None = None, civitai: str | None = None) -> None:
        """Set the given tokens ('' clears one; None leaves it as it is)."""
        if huggingface is not None:
            self.huggingface_token_encrypted = crypto.encrypt(huggingface) if huggingface else ""
        if civitai is not None:
            self.civitai_token_encrypted = crypto.encrypt(civitai) if civitai else ""

    def huggingface_token(self) -> str:
        return (
            crypto.decrypt(self.huggingface_token_encrypted)
            if self.huggingface_token_encrypted
            else ""
        )

    def civitai_token(self) -> str:
        return crypto.decrypt(self.civitai_token_encrypted) if self.civitai_token_encrypted else ""
