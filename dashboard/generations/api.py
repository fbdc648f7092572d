"""API for generations: create, list (searched, filtered, cursor pages), get, cancel (one, many,
all of mine), retry, delete; stars, tags and bulk actions; image metadata, files and zips."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictFloat, StrictInt

from dashboard.accounts.api import require_membership
from dashboard.generations import presets, selectors, services
from dashboard.generations.files import image_file_response
from dashboard.generations.history import MAX_PAGE_SIZE, history_page, parse_history_query
from dashboard.generations.models import GeneratedImage, Generation
from dashboard.generations.preset_api import team_preset
from dashboard.generations.tag_names import MAX_TAG_LENGTH
from dashboard.generations.zips import zip_response

router = Router(tags=["generations"])
MAX_BULK_IDS = 500
MAX_ZIP_IMAGES = 1000

Number = StrictInt | StrictFloat


class GenerationIn(Schema):
    prompt: str = Field("", description="Required unless the preset gives one.")
    negative_prompt: str = ""
    model: str = ""
    width: StrictInt = 1024
    height: StrictInt = 1024
    steps: StrictInt = 20
    cfg_scale: Number = 7.0
    seed: StrictInt = -1
    images: StrictInt = Field(1, description="How many images (1 to the team's limit).")
    endpoint: StrictInt | str | None = Field(
        None, description="The team's endpoint, by id or name; default: the team's default."
    )
    extra_params: dict[str, Any] = Field(
        default_factory=dict, description="More SwarmUI parameters, passed through."
    )
    preset: StrictInt | str | None = Field(
        None,
        description="One of the team's presets, by id or name: its settings first, the fields "
        "sent here over them; a prompt template takes `prompt` in place of {prompt}.",
    )


class ImageOut(Schema):
    id: int
    index: int
    width: int
    height: int
    seed: int | None
    bytes: int
    mime: str
    sha256: str
    filename: str
    url: str
    thumbnail_url: str

    @staticmethod
    def resolve_url(image: GeneratedImage) -> str:
        return reverse("api:image_file", args=[image.pk])

    @staticmethod
    def resolve_thumbnail_url(image: GeneratedImage) -> str:
        return reverse("api:image_thumbnail", args=[image.pk])


class ImageDetailOut(ImageOut):
    generation_id: int
    metadata: dict


class GenerationOut(Schema):
    id: int
    status: str
    phase: str
    prompt: str
    negative_prompt: str
    model: str
    width: int
    height: int
    steps: int
    cfg_scale: float
    seed: int
    image_count: int
    extra_params: dict
    endpoint: int | None = Field(None, alias="endpoint_id")
    user: str | None
    retry_of: int | None = Field(None, alias="retry_of_id")
    runpod_job_id: str
    progress_percent: int | None
    error: str
    delay_ms: int | None
    execution_ms: int | None
    cost: Decimal | None
    created_at: datetime
    submitted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    starred: bool
    tags: list[str] = Field(description="The team's tags on it, by name.")
    images: list[ImageOut]

    @staticmethod
    def resolve_user(generation: Generation) -> str | None:
        return generation.user.get_username() if generation.user else None

    @staticmethod
    def resolve_images(generation: Generation) -> list[GeneratedImage]:
        return list(generation.images.all())

    @staticmethod
    def resolve_tags(generation: Generation) -> list[str]:
        # Sorted here, not in SQL, so that a prefetched page costs no query per generation.
        return sorted((tag.name for tag in generation.tags.all()), key=str.casefold)


class GenerationPage(Schema):
    results: list[GenerationOut]
    next: str | None = Field(description="The URL of the next page; null on the last one.")
    previous: None = Field(None, description="Always null: pages go forward from the newest.")


class HistoryFilters(Schema):
    """Documents the list's parameters; `parse_history_query` checks them (422 naming each)."""

    q: str | None = Field(
        None,
        description="Words that must all appear in the prompt or negative prompt (prefix "
        'and fragments match; "quoted phrase", -excluded).',
    )
    user: str | None = Field(None, description="username of the member who generated")
    model: str | None = None
    status: str | None = Field(None, description="queued, submitted, running, succeeded, …")
    endpoint: str | None = Field(None, description="id of one of the team's endpoints")
    tag: str | None = Field(None, description="a tag name (ignoring case)")
    starred: str | None = Field(None, description="1/true: starred only")
    created_from: str | None = Field(
        None, alias="from", description="YYYY-MM-DD, inclusive, in the team's time zone"
    )
    created_to: str | None = Field(None, alias="to", description="YYYY-MM-DD, inclusive")
    created_after: str | None = Field(None, description="ISO 8601 instant, inclusive")
    created_before: str | None = Field(None, description="ISO 8601 instant, exclusive")
    cursor: str | None = Field(None, max_length=200, description="from a previous `next`")
    page_size: int = Field(20, ge=1, le=MAX_PAGE_SIZE)


class TagsIn(Schema):
    names: list[str] = Field(min_length=1, max_length=services.MAX_TAGS_PER_CALL)


class TagOut(Schema):
    id: int
    name: str


class BulkIn(Schema):
    ids: list[StrictInt] = Field(min_length=1, max_length=MAX_BULK_IDS)
    action: Literal["star", "unstar", "tag", "untag", "delete", "cancel"]
    tags: list[str] = Field(
        default_factory=list,
        max_length=services.MAX_TAGS_PER_CALL,
        description="For tag and untag: the tag names.",
    )


class CancelFailureOut(Schema):
    id: int = Field(alias="generation_id")
    status: str = Field(description="Its status, unchanged: RunPod could not cancel it.")
    error: str = Field(description="What RunPod answered.")


class BulkOut(Schema):
    action: str
    count: int = Field(description="How many generations changed (were deleted, were cancelled).")
    tags: list[TagOut] = []
    already_finished: int | None = Field(
        None, description="For cancel: how many had already finished (left as they were)."
    )
    failed: list[CancelFailureOut] | None = Field(
        None, description="For cancel: the ones RunPod could not cancel; each stays as it was."
    )


class CancelMineOut(Schema):
    cancelled: int = Field(description="How many of my unfinished generations were cancelled.")
    already_finished: int = Field(description="How many finished before the cancel reached them.")
    kept: int | None = Field(description="With keep_newest: the id of the one left running.")
    failed: list[CancelFailureOut] = Field(
        description="The ones RunPod could not cancel; each stays as it was."
    )


class ZipIn(Schema):
    image_ids: list[StrictInt] = Field(min_length=1, max_length=MAX_ZIP_IMAGES)


def _generation(request: HttpRequest, generation_id: int) -> Generation:
    return get_object_or_404(selectors.generations_visible_to(request.user), pk=generation_id)


@router.post("/generations", response={201: GenerationOut})
def create_generation(request: HttpRequest, payload: GenerationIn):
    membership = require_membership(request)
    parameters = payload.dict(exclude_unset=True)
    if (reference := parameters.pop("preset", None)) is not None:
        preset = team_preset(request, reference)
        parameters = presets.generation_parameters(preset=preset, given=parameters)
    generation = services.generation_create(
        team=membership.team, user=request.user, **{"prompt": "", **parameters}
    )
    return Status(201, generation)


def _team_generations(request: HttpRequest, ids: list[int]) -> list[Generation]:
    """Every one of `ids` among the current team's generations, or 404 (nothing acts on a part)."""
    team = require_membership(request).team
    generations = list(Generation.objects.filter(team=team, pk__in=set(ids)))
    if len(generations) != len(set(ids)):
        raise Http404("Not every id is a generation of this team.")
    return generations


@router.get("/generations", response=GenerationPage)
def list_generations(request: HttpRequest, filters: Query[HistoryFilters]):
    membership = require_membership(request)
    query = parse_history_query(request.GET)
    page = history_page(membership.team, query, cursor=filters.cursor, page_size=filters.page_size)
    next_url = None
    if page.next_cursor:
        params = {**query.as_params(), "page_size": filters.page_size, "cursor": page.next_cursor}
        next_url = f"{request.path}?{urlencode(params)}"
    return {"results": page.generations, "next": next_url, "previous": None}


# Declared before "/generations/{generation_id}" so that "bulk" is not taken for an id.
# exclude_none: the cancel counts appear only in a cancel's answer.
@router.post("/generations/bulk", response=BulkOut, exclude_none=True)
def bulk_action(request: HttpRequest, payload: BulkIn):
    """One action on up to 500 of the team's generations: all of them, or none (404/403/409).
    `cancel` skips the finished ones and reports each one RunPod could not cancel."""
    generations = _team_generations(request, payload.ids)
    user, tags = request.user, []
    if payload.action == "cancel":
        report = services.generations_cancel(generations=generations, user=user)
        return {
            "action": "cancel",
            "count": len(report.cancelled),
            "already_finished": len(report.finished),
            "failed": report.failed,
        }
    if payload.action in ("star", "unstar"):
        count = services.generations_set_starred(
            generations=generations, user=user, starred=payload.action == "star"
        )
    elif payload.action == "tag":
        tags = services.generations_add_tags(generations=generations, names=payload.tags, user=user)
        count = len(generations)
    elif payload.action == "untag":
        if not payload.tags:
            raise ValidationError({"tags": "Give at least one tag name."})
        with transaction.atomic():  # a bad second name undoes the first
            for name in payload.tags:
                services.generations_remove_tag(generations=generations, name=name, user=user)
        count = len(generations)
    else:
        count = services.generations_delete(generations=generations, user=user)
    return {"action": payload.action, "count": count, "tags": tags}


@router.post("/generations/cancel-mine", response=CancelMineOut)
def cancel_mine(request: HttpRequest, keep_newest: bool = False):
    """Cancel every unfinished generation of mine in the team; `keep_newest=1`: all but the
    newest. Each one RunPod could not cancel is reported and stays as it was."""
    report = services.generations_cancel_mine(
        team=require_membership(request).team, user=request.user, keep_newest=keep_newest
    )
    return {
        "cancelled": len(report.cancelled),
        "already_finished": len(report.finished),
        "kept": report.kept[0] if report.kept else None,
        "failed": report.failed,
    }


@router.get("/generations/{generation_id}", response=GenerationOut)
def get_generation(request: HttpRequest, generation_id: int):
    return _generation(request, generation_id)


@router.post("/generations/{generation_id}/cancel", response=GenerationOut)
def cancel_generation(request: HttpRequest, generation_id: int):
    generation = services.generation_cancel(
        generation=_generation(request, generation_id), user=request.user
    )
    return _generation(request, generation.pk)


@router.post("/generations/{generation_id}/retry", response={201: GenerationOut})
def retry_generation(request: HttpRequest, generation_id: int):
    generation = services.generation_retry(
        generation=_generation(request, generation_id), user=request.user
    )
    return Status(201, generation)


@router.delete("/generations/{generation_id}", response={204: None})
def delete_generation(request: HttpRequest, generation_id: int):
    services.generation_delete(generation=_generation(request, generation_id), user=request.user)
    return Status(204, None)


@router.post("/generations/{generation_id}/star", response=GenerationOut)
def star_generation(request: HttpRequest, generation_id: int):
    services.generations_set_starred(
        generations=[_generation(request, generation_id)], user=request.user, starred=True
    )
    return _generation(request, generation_id)  # as it is now


@router.delete("/generations/{generation_id}/star", response=GenerationOut)
def unstar_generation(request: HttpRequest, generation_id: int):
    services.generations_set_starred(
        generations=[_generation(request, generation_id)], user=request.user, starred=False
    )
    return _generation(request, generation_id)  # as it is now


@router.post("/generations/{generation_id}/tags", response=GenerationOut)
def tag_generation(request: HttpRequest, generation_id: int, payload: TagsIn):
    services.generations_add_tags(
        generations=[_generation(request, generation_id)], names=payload.names, user=request.user
    )
    return _generation(request, generation_id)  # as it is now


@router.delete("/generations/{generation_id}/tags/{name}", response=GenerationOut)
def untag_generation(request: HttpRequest, generation_id: int, name: str):
    services.generations_remove_tag(
        generations=[_generation(request, generation_id)], name=name, user=request.user
    )
    return _generation(request, generation_id)  # as it is now


@router.get("/tags", response=list[TagOut])
def list_tags(
    request: HttpRequest,
    prefix: str = Query("", max_length=MAX_TAG_LENGTH),
    limit: int = Query(20, ge=1, le=100),
):
    """The team's tags starting with `prefix` (ignoring case), by name: for autocomplete."""
    return selectors.tags_for_team(require_membership(request).team, prefix.strip(), limit)


@router.post("/images/zip", response={200: None})
def download_zip(request: HttpRequest, payload: ZipIn):
    """A streamed zip of up to 1000 of the team's images, with a metadata.json manifest."""
    team = require_membership(request).team
    wanted = set(payload.image_ids)
    images = list(selectors.images_for_team(team, wanted))
    if len(images) != len(wanted):
        raise Http404("Not every id is an image of this team.")
    return zip_response(images, f"{team.slug}-images.zip")


@router.get("/images/{image_id}", response=ImageDetailOut)
def get_image(request: HttpRequest, image_id: int):
    return get_object_or_404(selectors.images_visible_to(request.user), pk=image_id)


@router.get("/images/{image_id}/file", url_name="image_file", response={200: None})
def download_image(request: HttpRequest, image_id: int):
    image = get_object_or_404(selectors.images_visible_to(request.user), pk=image_id)
    return image_file_response(image)


@router.get("/images/{image_id}/thumbnail", url_name="image_thumbnail", response={200: None})
def download_thumbnail(request: HttpRequest, image_id: int):
    image = get_object_or_404(selectors.images_visible_to(request.user), pk=image_id)
    return image_file_response(image, thumbnail=True)
