"""Image files, thumbnails and the lightbox panel (members only), and my running generations
for the title badge and toasts."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from dashboard.generations import selectors
from dashboard.generations.files import image_file_response
from dashboard.generations.forms import (
    REUSE_MODES,
    actual_seed,
)
from dashboard.generations.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    GeneratedImage,
)
from dashboard.generations.views.common import next_url, visible_generation

# Finished generations are reported again for this long after `since`: a row committed a moment
# after its finished_at would otherwise fall between two polls. The page drops ids it has shown.
ACTIVITY_OVERLAP = timedelta(seconds=30)
ACTIVITY_LOOKBACK = timedelta(minutes=10)


# --- images and their fragments ------------------------------------------------------------------
def _visible_image(request: HttpRequest, image_id: int) -> GeneratedImage:
    return get_object_or_404(selectors.images_visible_to(request.user), pk=image_id)


@login_required
def image_file(request: HttpRequest, image_id: int) -> HttpResponse:
    return image_file_response(_visible_image(request, image_id))


@login_required
def image_thumbnail(request: HttpRequest, image_id: int) -> HttpResponse:
    return image_file_response(_visible_image(request, image_id), thumbnail=True)


@login_required
@require_GET
def image_panel(request: HttpRequest, image_id: int) -> HttpResponse:
    """The lightbox's side panel for one image: every parameter, copy, re-use, star, tags."""
    image = _visible_image(request, image_id)
    generation = visible_generation(request, image.generation_id)
    seed = actual_seed(generation, image)
    context = {
        "image": image,
        "g": generation,
        "seed": seed,
        "parameters": {**generation.parameters(), "seed": seed},
        "parameters_id": f"image-parameters-{image.pk}",
        "reuse_modes": REUSE_MODES,
        "next": next_url(request, ""),
    }
    return render(request, "generations/_image_panel.html", context)


# --- my running generations, for the title badge and toasts --------------------------------------
def _activity_error(message: str) -> JsonResponse:
    body = {"detail": message, "errors": [{"field": "since", "message": message}]}
    return JsonResponse(body, status=400)


@require_GET
def my_activity(request: HttpRequest) -> JsonResponse:
    """`{"running": n, "finished": [...], "now": iso}`: how many of my generations run, and
    which finished since `since` (an ISO time the previous answer gave as `now`)."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Sign in first.", "errors": []}, status=401)
    now = timezone.now()
    since = None
    if since_text := request.GET.get("since", "").strip():
        try:
            since = parse_datetime(since_text)
        except ValueError:
            since = None
        if since is None or timezone.is_naive(since):
            return _activity_error("Give `since` as an ISO 8601 time with its offset.")
    mine = selectors.generations_of_user(request.user)
    # Without `since` (a page's first poll) the recent ones come too: the page marks them as
    # seen without a toast, so the overlap of its next poll does not announce them late.
    window_start = max((since or now) - ACTIVITY_OVERLAP, now - ACTIVITY_LOOKBACK)
    finished = [
        {
            "id": g.pk,
            "status": g.status,
            "status_display": g.get_status_display(),
            "prompt": g.prompt[:80],
            "url": reverse("generations:detail", args=[g.pk]),
        }
        for g in mine.filter(status__in=FINAL_STATUSES, finished_at__gt=window_start).order_by(
            "finished_at"
        )[:20]
    ]
    running = mine.filter(status__in=ACTIVE_STATUSES).count()
    return JsonResponse({"running": running, "finished": finished, "now": now.isoformat()})
