from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from dashboard.generations.models import GeneratedImage, Generation, Preset, Tag


@admin.display(description="image")
def preview(image: GeneratedImage) -> str:
    """Media has no public URL; link through the view that checks membership."""
    if not image.pk:
        return "—"
    return format_html(
        '<a href="{}"><img src="{}" alt="" style="max-height:96px"></a>',
        reverse("generations:image", args=[image.pk]),
        reverse("generations:thumbnail", args=[image.pk]),
    )


class GeneratedImageInline(admin.TabularInline):
    model = GeneratedImage
    extra = 0
    fields = ["index", preview, "width", "height", "bytes", "seed", "mime"]
    readonly_fields = fields
    can_delete = False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["id", "team", "user", "status", "model", "image_count", "created_at", "cost"]
    list_filter = ["status", "team", "endpoint"]
    search_fields = ["prompt", "runpod_job_id", "model"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "runpod_job_id",
        "submit_attempts",
        "submit_claimed_at",
        "delay_ms",
        "execution_ms",
        "cost",
        "progress",
        "progress_percent",
        "worker_id",
        "submitted_at",
        "started_at",
        "finished_at",
        "last_checked_at",
    ]
    exclude = ["webhook_token"]
    raw_id_fields = ["retry_of", "user"]
    inlines = [GeneratedImageInline]


@admin.register(GeneratedImage)
class GeneratedImageAdmin(admin.ModelAdmin):
    list_display = ["id", "generation", "index", preview, "width", "height", "bytes", "created_at"]
    search_fields = ["sha256", "filename"]
    raw_id_fields = ["generation"]
    exclude = ["file", "thumbnail"]
    readonly_fields = [preview, "sha256", "bytes", "width", "height", "mime"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_at"]
    list_filter = ["team"]
    search_fields = ["name"]


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_by", "created_at", "updated_at"]
    list_filter = ["team"]
    search_fields = ["name", "description", "prompt"]
    raw_id_fields = ["created_by", "endpoint"]
