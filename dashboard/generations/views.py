"""Pages: generate (form + live progress), history, detail; image files for team members."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard.accounts.selectors import current_membership
from dashboard.errors import Conflict
from dashboard.fleet.runpod_client import RunPodError
from dashboard.fleet.selectors import endpoints_for_team
from dashboard.generations import selectors, services
from dashboard.generations.files import image_file_response
from dashboard.generations.forms import GenerationForm

HISTORY_PAGE_SIZE = 24


def _membership_or_404(request: HttpRequest):
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any team yet.")
    return membership


def _visible_generation(request: HttpRequest, generation_id: int):
    return get_object_or_404(selectors.generations_visible_to(request.user), pk=generation_id)


@login_required
def generate(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return render(request, "generations/no_team.html")
    endpoints = list(endpoints_for_team(membership.team))
    form = GenerationForm(request.POST or None, endpoints=endpoints)
    generation = None
    if request.method == "POST" and form.is_valid():
        try:
            generation = services.generation_create(
                team=membership.team,
                user=request.user,
                extra_params=None,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
    recent = selectors.generations_for_team(membership.team)[:6]
    context = {"form": form, "generation": generation, "endpoints": endpoints, "recent": recent}
    if request.htmx:
        return render(request, "generations/_generate_result.html", context)
    return render(request, "generations/generate.html", context)


@login_required
def history(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_404(request)
    generations = selectors.generations_for_team(membership.team)
    before = request.GET.get("before", "")
    if before.isdigit():
        generations = generations.filter(pk__lt=int(before))
    page = list(generations[: HISTORY_PAGE_SIZE + 1])
    next_before = page[HISTORY_PAGE_SIZE - 1].pk if len(page) > HISTORY_PAGE_SIZE else None
    return render(
        request,
        "generations/history.html",
        {"generations": page[:HISTORY_PAGE_SIZE], "next_before": next_before},
    )


@login_required
def detail(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = _visible_generation(request, generation_id)
    return render(request, "generations/detail.html", {"generation": generation})


@login_required
def progress(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = _visible_generation(request, generation_id)
    return render(request, "generations/_progress.html", {"generation": generation})


@login_required
@require_POST
def cancel(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = _visible_generation(request, generation_id)
    error = ""
    try:
        generation = services.generation_cancel(generation=generation, user=request.user)
    except (Conflict, PermissionDenied, RunPodError) as exc:
        error = str(exc)
    if request.htmx:
        generation = _visible_generation(request, generation_id)
        return render(
            request, "generations/_progress.html", {"generation": generation, "error": error}
        )
    return redirect("generations:detail", generation_id)


@login_required
@require_POST
def retry(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = _visible_generation(request, generation_id)
    try:
        new = services.generation_retry(generation=generation, user=request.user)
    except (Conflict, PermissionDenied, ValidationError) as exc:
        return render(
            request,
            "generations/detail.html",
            {"generation": generation, "error": "; ".join(getattr(exc, "messages", [str(exc)]))},
            status=409 if isinstance(exc, Conflict) else 403,
        )
    return redirect("generations:detail", new.pk)


@login_required
def image_file(request: HttpRequest, image_id: int) -> HttpResponse:
    image = get_object_or_404(selectors.images_visible_to(request.user), pk=image_id)
    return image_file_response(image)


@login_required
def image_thumbnail(request: HttpRequest, image_id: int) -> HttpResponse:
    image = get_object_or_404(selectors.images_visible_to(request.user), pk=image_id)
    return image_file_response(image, thumbnail=True)
