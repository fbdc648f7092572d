"""Curation: star, tags and delete on one generation; the selection bar's bulk actions (cancel
included) and zip; "cancel all my running" on the generate page."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from dashboard.errors import Conflict
from dashboard.generations import selectors, services
from dashboard.generations.models import (
    GeneratedImage,
    Generation,
    Status,
)
from dashboard.generations.views.common import (
    first_error,
    membership_or_404,
    next_url,
    parse_id,
    visible_generation,
)
from dashboard.generations.views.generate import detail_error
from dashboard.generations.zips import zip_response

MAX_SELECTION = 1000


# --- curation of one generation ------------------------------------------------------------------
def _curation_failed(request, generation: Generation, exc: Exception, status: int):
    """htmx gets the sentence alone (it keeps the page); a plain form post gets the detail page."""
    if request.htmx:
        text = first_error(exc) if isinstance(exc, ValidationError) else str(exc)
        return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    return detail_error(request, generation, exc, status)


@login_required
@require_POST
def star(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = visible_generation(request, generation_id)
    starred = request.POST.get("starred", "1") not in ("0", "false", "")
    try:
        services.generations_set_starred(
            generations=[generation], user=request.user, starred=starred
        )
    except PermissionDenied as exc:
        return _curation_failed(request, generation, exc, 403)
    if not request.htmx:
        return redirect(next_url(request, reverse("generations:detail", args=[generation.pk])))
    generation.starred = starred
    response = render(
        request,
        "generations/_star.html",
        {"g": generation, "next": next_url(request, "")},
    )
    # Other buttons for the same generation (one per image tile, the lightbox) follow this one.
    return trigger_client_event(
        response, "starChanged", {"id": generation.pk, "starred": starred}, after="swap"
    )


def _tags_response(request, generation: Generation) -> HttpResponse:
    if not request.htmx:
        return redirect(next_url(request, reverse("generations:detail", args=[generation.pk])))
    generation = visible_generation(request, generation.pk)  # its tags as they are now
    return render(
        request, "generations/_tags.html", {"g": generation, "next": next_url(request, "")}
    )


def _tag_error(request, generation: Generation, exc: ValidationError) -> HttpResponse:
    """A bad tag name: the tag editor again with the rule next to its input (400)."""
    if not request.htmx:
        return detail_error(request, generation, exc, 400)
    context = {"g": generation, "tag_error": first_error(exc), "next": next_url(request, "")}
    return render(request, "generations/_tags.html", context, status=400)


@login_required
@require_POST
def tag_add(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = visible_generation(request, generation_id)
    try:
        services.generations_add_tags(
            generations=[generation], names=[request.POST.get("name", "")], user=request.user
        )
    except PermissionDenied as exc:
        return _curation_failed(request, generation, exc, 403)
    except ValidationError as exc:
        return _tag_error(request, generation, exc)
    return _tags_response(request, generation)


@login_required
@require_POST
def tag_remove(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = visible_generation(request, generation_id)
    try:
        services.generations_remove_tag(
            generations=[generation], name=request.POST.get("name", ""), user=request.user
        )
    except PermissionDenied as exc:
        return _curation_failed(request, generation, exc, 403)
    except ValidationError as exc:
        return _tag_error(request, generation, exc)
    return _tags_response(request, generation)


def _delete_summary(generations: list[Generation]) -> dict:
    return {
        "generation_count": len(generations),
        "image_count": sum(len(g.images.all()) for g in generations),
    }


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, generation_id: int) -> HttpResponse:
    """GET: what will be removed; POST: remove the generation and its files."""
    generation = visible_generation(request, generation_id)
    context = {
        **_delete_summary([generation]),
        "form_action": reverse("generations:delete", args=[generation.pk]),
        "cancel_url": reverse("generations:detail", args=[generation.pk]),
        "action": "delete",
    }
    if request.method == "POST":
        try:
            services.generations_delete(generations=[generation], user=request.user)
        except PermissionDenied as exc:
            return render(
                request, "generations/selection.html", {**context, "error": str(exc)}, status=403
            )
        except Conflict as exc:
            return render(
                request, "generations/selection.html", {**context, "error": str(exc)}, status=409
            )
        messages.success(request, f"Deleted generation #{generation_id} and its images.")
        return redirect("generations:history")
    return render(request, "generations/selection.html", context)


# --- many generations at once: the selection bar -------------------------------------------------
@dataclass
class Selection:
    image_ids: list[int] = field(default_factory=list)
    generation_ids: list[int] = field(default_factory=list)
    images: list[GeneratedImage] = field(default_factory=list)  # chosen one by one
    generations: list[Generation] = field(default_factory=list)  # every one touched

    @property
    def all_images(self) -> list[GeneratedImage]:
        """The chosen images, and every image of the generations chosen as rows."""
        chosen = {image.pk: image for image in self.images}
        by_row = set(self.generation_ids)
        for generation in self.generations:
            if generation.pk in by_row:
                chosen.update({image.pk: image for image in generation.images.all()})
        return sorted(chosen.values(), key=lambda i: (-i.generation_id, i.index))


def _ids(values: list[str]) -> list[int]:
    """Ids from the form; anything else cannot name one of the team's objects: 404."""
    ids = [parse_id(value) for value in values]
    if None in ids:
        raise Http404("No such image or generation.")
    return list(dict.fromkeys(ids))


def _selection(request: HttpRequest, team) -> Selection:
    """What the selection names, all of it the current team's: 404 otherwise (nothing done)."""
    selection = Selection(
        image_ids=_ids(request.POST.getlist("image")),
        generation_ids=_ids(request.POST.getlist("generation")),
    )
    if len(selection.image_ids) + len(selection.generation_ids) > MAX_SELECTION:
        raise ValidationError({"selection": f"Select at most {MAX_SELECTION} items at once."})
    selection.images = list(selectors.images_for_team(team, selection.image_ids))
    if len(selection.images) != len(selection.image_ids):
        raise Http404("No such image.")
    wanted = set(selection.generation_ids) | {i.generation_id for i in selection.images}
    selection.generations = list(selectors.generations_for_team(team).filter(pk__in=wanted))
    if not set(selection.generation_ids) <= {g.pk for g in selection.generations}:
        raise Http404("No such generation.")
    return selection


def _selection_page(request, selection: Selection, action: str, status=200, **extra):
    context = {
        **_delete_summary(selection.generations),
        "selection": selection,
        "action": action,
        "form_action": reverse("generations:selection"),
        "next": next_url(request, reverse("generations:history")),
        "cancel_url": next_url(request, reverse("generations:history")),
        **extra,
    }
    return render(request, "generations/selection.html", context, status=status)


def _apply_selection_action(request, selection: Selection, action: str) -> HttpResponse:
    user, generations = request.user, selection.generations
    back = next_url(request, reverse("generations:history"))
    if action in ("star", "unstar"):
        count = services.generations_set_starred(
            generations=generations, user=user, starred=action == "star"
        )
        messages.success(request, f"{'Starred' if action == 'star' else 'Unstarred'} {count}.")
    elif action == "tag":
        name = request.POST.get("tag", "")
        services.generations_add_tags(generations=generations, names=[name], user=user)
        messages.success(request, f"Tagged {len(generations)} with “{name.strip()}”.")
    elif action == "delete":
        if request.POST.get("confirm") != "1":
            return _selection_page(request, selection, "delete")
        count = services.generations_delete(generations=generations, user=user)
        messages.success(request, f"Deleted {count} generation{'s' if count != 1 else ''}.")
    elif action == "cancel":
        _say_what_was_cancelled(
            request, services.generations_cancel(generations=generations, user=user)
        )
    elif action == "compare":
        images = selection.all_images
        if len(images) != 2:
            raise ValidationError({"selection": "Select exactly two images to compare them."})
        return redirect(reverse("generations:compare") + f"?a={images[0].pk}&b={images[1].pk}")
    else:
        raise ValidationError({"action": "Unknown action."})
    return redirect(back)


@login_required
@require_POST
def selection_action(request: HttpRequest) -> HttpResponse:
    """Star, unstar, tag, delete (after a confirmation page), cancel or compare the selection."""
    membership = membership_or_404(request)
    action = request.POST.get("action", "")
    selection = Selection()
    try:
        selection = _selection(request, membership.team)
        if not selection.generations:
            raise ValidationError({"selection": "Select at least one image or generation."})
        return _apply_selection_action(request, selection, action)
    except ValidationError as exc:
        return _selection_page(request, selection, action, 400, error=first_error(exc))
    except PermissionDenied as exc:
        return _selection_page(request, selection, action, 403, error=str(exc))
    except Conflict as exc:
        return _selection_page(request, selection, action, 409, error=str(exc))


@login_required
@require_POST
def selection_zip(request: HttpRequest) -> HttpResponse:
    """The selected images (or every image of the selected rows) as one streamed zip."""
    membership = membership_or_404(request)
    try:
        images = _selection(request, membership.team).all_images
    except ValidationError as exc:
        return HttpResponseBadRequest(first_error(exc))
    if not images:
        return HttpResponseBadRequest("Select at least one image to download.")
    filename = f"{membership.team.slug}-{timezone.now():%Y%m%d-%H%M%S}.zip"
    return zip_response(images, filename)


# --- cancelling many -----------------------------------------------------------------------------
def _say_what_was_cancelled(request: HttpRequest, report: services.CancelReport) -> None:
    cancelled, finished = len(report.cancelled), len(report.finished)
    if not (cancelled or finished or report.failed or report.kept):
        messages.info(request, "None of your generations is running.")
        return
    text = f"Cancelled {cancelled} generation{'s' if cancelled != 1 else ''}."
    if finished:
        text += f" {finished} had already finished."
    if report.kept:
        text += f" Kept the newest, #{report.kept[0]}, running."
    messages.success(request, text)
    for failure in report.failed:
        still = Status(failure.status).label.lower()
        messages.error(
            request,
            f"RunPod could not cancel #{failure.generation_id}; it is still {still}: "
            f"{failure.error}",
        )


@login_required
@require_POST
def cancel_mine(request: HttpRequest) -> HttpResponse:
    """Cancel every unfinished generation of mine in the current team (`keep_newest=1`: all but
    the newest), then back to where the button was."""
    membership = membership_or_404(request)
    keep_newest = request.POST.get("keep_newest", "")
    if keep_newest not in ("", "0", "1"):
        return HttpResponseBadRequest("keep_newest: send 1 to keep the newest running, or 0.")
    report = services.generations_cancel_mine(
        team=membership.team, user=request.user, keep_newest=keep_newest == "1"
    )
    _say_what_was_cancelled(request, report)
    return redirect(next_url(request, reverse("generations:generate")))
