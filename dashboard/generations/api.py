"""API for generations: create, list (cursor-paginated, filtered), get, cancel, retry, delete,
and image metadata and files."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import ValidationError
from ninja.pagination import CursorPagination, paginate
from pydantic import StrictFloat, StrictInt

from dashboard.accounts.api import require_membership
from dashboard.generations import selectors, services
from dashboard.generations.files import image_file_response
from dashboard.generations.models import GeneratedImage, Generation
from dashboard.generations.models import Status as GenerationStatus

router = Router(tags=["generations"])


class NewestFirst(CursorPagination):
    """Keyset pagination on the id; a cursor whose position is not an id is a 422, not a 500."""

    def _find_position(self, queryset, cursor):
        if cursor.p is not None and not str(cursor.p).isdigit():
            raise ValidationError([{"cursor": "Invalid Cursor"}])
        return super()._find_position(queryset, cursor)


Number = StrictInt | StrictFloat


class GenerationIn(Schema):
    prompt: str
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
    images: list[ImageOut]

    @staticmethod
    def resolve_user(generation: Generation) -> str | None:
        return generation.user.get_username() if generation.user else None

    @staticmethod
    def resolve_images(generation: Generation) -> list[GeneratedImage]:
        return list(generation.images.all())


class GenerationFilters(Schema):
    status: GenerationStatus | None = None
    user: Annotated[str | None, Field(None, max_length=150, description="username")]
    model: Annotated[str | None, Field(None, max_length=300)]
    created_after: datetime | None = None
    created_before: datetime | None = None


def _generation(request: HttpRequest, generation_id: int) -> Generation:
    return get_object_or_404(selectors.generations_visible_to(request.user), pk=generation_id)


@router.post("/generations", response={201: GenerationOut})
def create_generation(request: HttpRequest, payload: GenerationIn):
    membership = require_membership(request)
    generation = services.generation_create(
        team=membership.team, user=request.user, **payload.dict()
    )
    return Status(201, generation)


@router.get("/generations", response=list[GenerationOut])
@paginate(NewestFirst, ordering=("-id",), page_size=20, max_page_size=100)
def list_generations(request: HttpRequest, filters: Query[GenerationFilters]):
    membership = require_membership(request)
    return selectors.generations_for_team(
        membership.team,
        status=filters.status,
        username=filters.user,
        model=filters.model,
        created_after=filters.created_after,
        created_before=filters.created_before,
    )


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
