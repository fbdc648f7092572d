"""Reads for the catalogue: a team's models with filters, sorts, use counts and badges; a model's
generations and spend; volume usage; sync runs."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Left, Length

from dashboard.catalogue import inventory
from dashboard.catalogue.models import FolderUsage, ModelFile, SyncRun, SyncStatus
from dashboard.generations.models import Generation


class ModelSort(StrEnum):
    NAME = "name"  # A → Z
    DATE = "date"  # newest first
    SIZE = "size"  # largest first
    USES = "uses"  # most used first


ORDERINGS = {
    ModelSort.NAME: (F("name").asc(),),
    ModelSort.DATE: (F("modified_at").desc(nulls_last=True), F("first_seen_at").desc()),
    ModelSort.SIZE: (F("size").desc(),),
    ModelSort.USES: (F("uses").desc(),),
}


def _stem():
    """The model name without its extension, in SQL (generations name a model either way)."""
    name_length = Length("name")
    return Case(
        *[
            When(name__endswith=ext, then=Left("name", name_length - len(ext)))
            for ext in inventory.MODEL_EXTENSIONS
        ],
        default=F("name"),
    )


def _generations_of(team) -> QuerySet[Generation]:
    """The team's generations that name the outer model, with or without its extension."""
    return Generation.objects.filter(team=team).filter(
        Q(model=OuterRef("name")) | Q(model=OuterRef("stem"))
    )


def _count(queryset: QuerySet) -> Subquery:
    return Subquery(
        queryset.order_by().values("team").annotate(n=Count("pk")).values("n")[:1],
        output_field=IntegerField(),
    )


def models_for_team(
    team,
    *,
    endpoint_id: int | None = None,
    subtype: str | None = None,
    architecture: str | None = None,
    q: str | None = None,
    missing: bool | None = None,
    sort: ModelSort = ModelSort.NAME,
) -> QuerySet[ModelFile]:
    """The team's model files, each with `uses` (generations naming it) and `has_duplicate`
    (another file on the same volume with the same size and ETag)."""
    models = ModelFile.objects.filter(endpoint__team=team)
    if endpoint_id is not None:
        models = models.filter(endpoint_id=endpoint_id)
    if subtype:
        models = models.filter(subtype=subtype)
    if architecture:
        models = models.filter(architecture=architecture)
    if q:
        # The history links here with a generation's model name (with or without extension).
        words = Q(name__icontains=q) | Q(title__icontains=q) | Q(path__icontains=q)
        models = models.filter(words | Q(trigger_phrase__icontains=q))
    if missing is not None:
        models = models.filter(missing_since__isnull=not missing)
    twins = (
        ModelFile.objects.filter(
            endpoint=OuterRef("endpoint"),
            size=OuterRef("size"),
            etag=OuterRef("etag"),
            missing_since__isnull=True,
        )
        .exclude(etag="")
        .exclude(pk=OuterRef("pk"))
    )
    models = models.annotate(stem=_stem()).annotate(
        uses=Coalesce(_count(_generations_of(team)), Value(0)),
        has_duplicate=Case(
            When(Q(missing_since__isnull=True) & Exists(twins), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
    )
    return models.select_related("endpoint").order_by(*ORDERINGS[ModelSort(sort)], "name", "pk")


def generations_using(model: ModelFile) -> QuerySet[Generation]:
    """The team's generations that used the model, newest first."""
    names = {model.name, inventory.strip_extension(model.name)}
    return (
        Generation.objects.filter(team_id=model.endpoint.team_id, model__in=names)
        .select_related("user")
        .order_by("-id")
    )


def spend_on(model: ModelFile) -> Decimal:
    total = generations_using(model).aggregate(total=Sum("cost"))["total"]
    return total or Decimal("0")


def duplicates_of(model: ModelFile) -> QuerySet[ModelFile]:
    """Other present files on the same volume with the same size and ETag."""
    if not model.etag:
        return ModelFile.objects.none()
    return (
        ModelFile.objects.filter(
            endpoint_id=model.endpoint_id,
            size=model.size,
            etag=model.etag,
            missing_since__isnull=True,
        )
        .exclude(pk=model.pk)
        .order_by("path")
    )


def architectures_for_team(team) -> list[str]:
    values = (
        ModelFile.objects.filter(endpoint__team=team)
        .exclude(architecture="")
        .order_by()
        .values_list("architecture", flat=True)
        .distinct()
    )
    return sorted(values)


def folder_usage(endpoint) -> QuerySet[FolderUsage]:
    """Usage folders in tree order ('SwarmUI' before 'SwarmUI/Models' before its folders)."""
    return FolderUsage.objects.filter(endpoint=endpoint).order_by("folder")


def sync_runs_for_team(team, *, endpoint_id: int | None = None) -> QuerySet[SyncRun]:
    runs = SyncRun.objects.filter(endpoint__team=team)
    if endpoint_id is not None:
        runs = runs.filter(endpoint_id=endpoint_id)
    return runs.select_related("endpoint", "requested_by").order_by("-started_at", "-id")


def running_syncs(team) -> QuerySet[SyncRun]:
    return sync_runs_for_team(team).filter(status=SyncStatus.RUNNING)
