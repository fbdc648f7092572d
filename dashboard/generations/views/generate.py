"""Pages of one generation: the generate form (with re-use), detail, progress, cancel, retry,
re-run on another endpoint."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dashboard.accounts.selectors import current_membership
from dashboard.errors import Conflict
from dashboard.fleet.runpod_client import RunPodError
from dashboard.fleet.selectors import endpoints_for_team
from dashboard.generations import presets, selectors, services
from dashboard.generations.forms import (
    REUSE_MODES,
    GenerationForm,
    actual_seed,
    reuse_initial,
)
from dashboard.generations.models import (
    Generation,
)
from dashboard.generations.views.common import first_error, parse_id, visible_generation


# --- generate ------------------------------------------------------------------------------------
def _reuse(request: HttpRequest, team, endpoints) -> tuple[dict, str, str]:
    """(initial values, note, error) for `/?reuse=<generation id>&mode=…[&image=<id>]`."""
    reference, mode = parse_id(request.GET.get("reuse", "")), request.GET.get("mode", "all")
    generation = None
    if reference is not None:
        generation = selectors.generations_for_team(team).filter(pk=reference).first()
    if generation is None:
        return {}, "", "That generation is not in your team's history; the form starts afresh."
    image = None
    image_ref = request.GET.get("image", "")
    if image_ref.isascii() and image_ref.isdigit():
        image = next((i for i in generation.images.all() if i.pk == int(image_ref)), None)
    try:
        initial = reuse_initial(generation, mode, image=image, endpoints=endpoints)
    except ValueError as exc:
        return {}, "", str(exc)
    return initial, f"{REUSE_MODES[mode]} of generation #{generation.pk}.", ""


def _preset(request: HttpRequest, team) -> tuple[dict, str, str]:
    """(initial values, note, error) for `/?preset=<id>`: the preset over the form's values sent
    along (the preset menu sends them with htmx; without JS the form starts from its defaults)."""
    reference = parse_id(request.GET.get("preset", ""))
    preset = presets.preset_for_team(team, reference) if reference is not None else None
    if preset is None:
        return {}, "", "That preset is not one of your team's; the form starts afresh."
    values = {name: request.GET[name] for name in GenerationForm.base_fields if name in request.GET}
    initial = presets.preset_apply(preset=preset, values=values)
    return initial, f"Preset “{preset.name}” applied.", ""


@login_required
def generate(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return render(request, "generations/no_team.html")
    endpoints = list(endpoints_for_team(membership.team))
    initial, reuse_note, reuse_error = {}, "", ""
    if request.method == "GET" and "reuse" in request.GET:
        initial, reuse_note, reuse_error = _reuse(request, membership.team, endpoints)
    elif request.method == "GET" and "preset" in request.GET:
        initial, reuse_note, reuse_error = _preset(request, membership.team)
    form = GenerationForm(request.POST or None, endpoints=endpoints, initial=initial)
    generation = None
    status = 200
    if request.method == "POST" and not membership.can_generate:
        form.is_valid()  # refused whatever was sent; the form only carries the reason
        form.add_error(
            None, "Viewers cannot generate images; ask a team admin for the member role."
        )
        status = 403
    elif request.method == "POST" and form.is_valid():
        try:
            generation = services.generation_create(
                team=membership.team,
                user=request.user,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except PermissionDenied as exc:  # a viewer: the form says why, the status says refused
            form.add_error(None, str(exc))
            status = 403
    recent = selectors.generations_for_team(membership.team)[:6]
    context = {
        "form": form,
        "generation": generation,
        "endpoints": endpoints,
        "recent": recent,
        "presets": presets.presets_for_team(membership.team),
        "reuse_note": reuse_note,
        "reuse_error": reuse_error,
    }
    if request.htmx:  # htmx swaps only 2xx answers, and the form must show why it was refused
        return render(request, "generations/_generate_result.html", context)
    return render(request, "generations/generate.html", context, status=status)


# --- one generation ------------------------------------------------------------------------------
def detail_context(request: HttpRequest, generation: Generation, **extra) -> dict:
    other_endpoints = [
        e for e in endpoints_for_team(generation.team) if e.pk != generation.endpoint_id
    ]
    return {
        "generation": generation,
        "other_endpoints": other_endpoints,
        "tag_options": selectors.tags_for_team(generation.team),
        "reuse_modes": REUSE_MODES,
        "parameters_id": f"parameters-{generation.pk}",
        **extra,
    }


@login_required
def detail(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = visible_generation(request, generation_id)
    return render(request, "generations/detail.html", detail_context(request, generation))


@login_required
def progress(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = visible_generation(request, generation_id)
    return render(request, "generations/_progress.html", {"generation": generation})


@login_required
@require_POST
def cancel(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = visible_generation(request, generation_id)
    error, refused = "", False
    try:
        generation = services.generation_cancel(generation=generation, user=request.user)
    except PermissionDenied as exc:
        error, refused = str(exc), True
    except (Conflict, RunPodError) as exc:
        error = str(exc)
    if request.htmx:  # 200 even when refused: htmx swaps only 2xx, and the fragment says why
        generation = visible_generation(request, generation_id)
        context = {"generation": generation, "error": error}
        return render(request, "generations/_progress.html", context)
    if refused:
        return detail_error(request, generation, PermissionDenied(error), 403)
    if error:
        messages.error(request, error)
    return redirect("generations:detail", generation_id)


def detail_error(request, generation, exc: Exception, status: int) -> HttpResponse:
    text = first_error(exc) if isinstance(exc, ValidationError) else str(exc)
    context = detail_context(request, generation, error=text)
    return render(request, "generations/detail.html", context, status=status)


@login_required
@require_POST
def retry(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = visible_generation(request, generation_id)
    try:
        new = services.generation_retry(generation=generation, user=request.user)
    except (Conflict, PermissionDenied, ValidationError) as exc:
        return detail_error(request, generation, exc, 409 if isinstance(exc, Conflict) else 403)
    return redirect("generations:detail", new.pk)


@login_required
@require_POST
def rerun(request: HttpRequest, generation_id: int) -> HttpResponse:
    """The same parameters on another of the team's endpoints: a new generation."""
    generation = visible_generation(request, generation_id)
    extra = generation.extra_params
    parameters = {k: v for k, v in generation.parameters().items() if k not in extra}
    # The seed the worker really used, so the two endpoints' results are comparable.
    parameters["seed"] = actual_seed(generation)
    try:
        new = services.generation_create(
            team=generation.team,
            user=request.user,
            endpoint=request.POST.get("endpoint") or "",
            extra_params=extra,
            **parameters,
        )
    except PermissionDenied as exc:
        return detail_error(request, generation, exc, 403)
    except ValidationError as exc:
        return detail_error(request, generation, exc, 400)
    return redirect("generations:detail", new.pk)
