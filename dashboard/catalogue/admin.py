"""Django admin for the catalogue: models on the volumes, syncs, usage, model actions, the audit
log (read-only), provider tokens (never shown; set them on the team's Provider tokens page)."""

from django.contrib import admin

from dashboard.catalogue.models import (
    AuditEntry,
    FolderUsage,
    ModelAction,
    ModelFile,
    ProviderTokens,
    SyncRun,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModelFile)
class ModelFileAdmin(ReadOnlyAdmin):
    """What the last sync found; change the volume through the team's pages, then sync."""

    list_display = ["name", "subtype", "endpoint", "size", "title", "missing_since", "last_seen_at"]
    list_filter = ["subtype", "endpoint__team", "endpoint"]
    search_fields = ["name", "path", "title", "trigger_phrase"]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "endpoint",
        "source",
        "trigger",
        "status",
        "added",
        "changed",
        "missing",
    ]
    list_filter = ["status", "source", "trigger", "endpoint"]
    date_hierarchy = "started_at"


@admin.register(FolderUsage)
class FolderUsageAdmin(ReadOnlyAdmin):
    list_display = ["folder", "endpoint", "bytes", "files", "updated_at"]
    list_filter = ["endpoint"]


@admin.register(ModelAction)
class ModelActionAdmin(ReadOnlyAdmin):
    """Started from the team's pages or the API (they check the input and run the job)."""

    list_display = ["created_at", "team", "kind", "subtype", "model_name", "user", "status"]
    list_filter = ["kind", "status", "team", "endpoint"]
    search_fields = ["model_name", "runpod_job_id", "user__username"]
    date_hierarchy = "created_at"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "team", "username", "action", "target", "outcome"]
    list_filter = ["action", "outcome", "team"]
    search_fields = ["username", "target"]
    date_hierarchy = "created_at"


@admin.register(ProviderTokens)
class ProviderTokensAdmin(admin.ModelAdmin):
    """Only whether a token is set; the encrypted values are not fields here at all."""

    list_display = ["team", "huggingface", "civitai", "updated_at"]
    fields = ["team", "huggingface", "civitai", "updated_at"]
    readonly_fields = ["team", "huggingface", "civitai", "updated_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Hugging Face token", boolean=True)
    def huggingface(self, tokens: ProviderTokens) -> bool:
        return bool(tokens.huggingface_token_encrypted)

    @admin.display(description="CivitAI token", boolean=True)
    def civitai(self, tokens: ProviderTokens) -> bool:
        return bool(tokens.civitai_token_encrypted)
