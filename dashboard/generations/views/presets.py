"""Pages of the team's presets: the list, new, edit, delete (after a confirmation), and
"Save as preset…" of the generate form (first a name for its values, then the preset)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.accounts.models import Membership
from dashboard.fleet.selectors import endpoints_for_team
from dashboard.generations import presets
from dashboard.generations.models import Preset
from dashboard.generations.preset_forms import PresetForm
from dashboard.generations.views.common import membership_or_404


def _author(request: HttpRequest):
    """The acting membership, which may save presets (members and up), else 403."""
    membership = membership_or_404(request)
    if not membership.can_generate:
        raise PermissionDenied(presets.VIEWERS_REFUSED)
    return membership


def _changeable(request: HttpRequest, preset_id: int) -> tuple[Membership, Preset]:
    """The current team's preset (else 404) and the membership that may change it (else 403)."""
    membership = membership_or_404(request)
    preset = get_object_or_404(presets.presets_for_team(membership.team), pk=preset_id)
    if not presets.may_change(preset, membership):
        raise PermissionDenied(
            presets.VIEWERS_REFUSED
            if not membership.can_generate
            else "Only the preset's creator or a team admin can change it."
        )
    return membership, preset


@login_required
@require_GET
def preset_list(request: HttpRequest) -> HttpResponse:
    membership = membership_or_404(request)
    rows = [
        (preset, presets.may_change(preset, membership))
        for preset in presets.presets_for_team(membership.team)
    ]
    return render(request, "generations/presets.html", {"rows": rows})


def _form_page(request: HttpRequest, form: PresetForm, save, preset=None) -> HttpResponse:
    """The preset form; on a valid POST, `save(**fields)` and back to the list."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(**form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Saved preset “{saved.name}”.")
            return redirect("generations:presets")
    status = 400 if form.errors else 200
    context = {"form": form, "preset": preset}
    return render(request, "generations/preset_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def preset_create(request: HttpRequest) -> HttpResponse:
    membership = _author(request)
    form = PresetForm(request.POST or None, endpoints=endpoints_for_team(membership.team))

    def save(**fields):
        return presets.preset_create(team=membership.team, user=request.user, **fields)

    return _form_page(request, form, save)


@login_required
@require_http_methods(["GET", "POST"])
def preset_edit(request: HttpRequest, preset_id: int) -> HttpResponse:
    membership, preset = _changeable(request, preset_id)
    initial = {"name": preset.name, "description": preset.description, **preset.settings()}
    form = PresetForm(
        request.POST or None, endpoints=endpoints_for_team(membership.team), initial=initial
    )

    def save(**fields):
        return presets.preset_update(preset=preset, user=request.user, **fields)

    return _form_page(request, form, save, preset)


@login_required
@require_http_methods(["GET", "POST"])
def preset_delete(request: HttpRequest, preset_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes the preset."""
    _, preset = _changeable(request, preset_id)
    if request.method == "POST":
        presets.preset_delete(preset=preset, user=request.user)
        messages.success(request, f"Deleted preset “{preset.name}”.")
        return redirect("generations:presets")
    return render(request, "generations/preset_delete.html", {"preset": preset})


@login_required
@require_POST
def preset_save(request: HttpRequest) -> HttpResponse:
    """ "Save as preset…" of the generate form. Straight from the form (no `name` sent yet): its
    values and a name field; with the name: the preset, or the same with errors by their fields."""
    membership = _author(request)
    form = PresetForm(request.POST, endpoints=endpoints_for_team(membership.team))
    naming = "name" not in request.POST
    if form.is_valid() and not naming:
        try:
            preset = presets.preset_create(
                team=membership.team, user=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return _saved(request, membership, preset)
    context = {"form": form, "naming": naming}
    if request.htmx:  # htmx swaps only 2xx answers; the small form says what is wrong
        return render(request, "generations/_preset_save.html", context)
    status = 400 if form.errors else 200
    return render(request, "generations/preset_save.html", context, status=status)


def _saved(request: HttpRequest, membership, preset: Preset) -> HttpResponse:
    if not request.htmx:  # back to the generate form, filled from the new preset
        messages.success(request, f"Saved preset “{preset.name}”.")
        return redirect(reverse("generations:generate") + f"?preset={preset.pk}")
    context = {"saved": preset, "presets": presets.presets_for_team(membership.team)}
    return render(request, "generations/_preset_saved.html", context)
