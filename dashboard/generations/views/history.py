"""History of the current team: list and gallery views, lazy pages, density, tag options,
and the side-by-side compare."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dashboard.accounts.models import GalleryDensity
from dashboard.accounts.selectors import members_of_team, preferences_for
from dashboard.accounts.services import set_gallery_density
from dashboard.fleet.selectors import endpoints_for_team
from dashboard.generations import selectors
from dashboard.generations.forms import (
    HistoryFilterForm,
    actual_seed,
)
from dashboard.generations.history import history_page
from dashboard.generations.models import (
    GeneratedImage,
    Status,
)
from dashboard.generations.views.common import first_error, membership_or_404, next_url, parse_id

HISTORY_PAGE_SIZE = 24

GRID_SIZES = ("small", "medium", "large")


# --- history: list and gallery -------------------------------------------------------------------
def _layout(request: HttpRequest, density: str) -> tuple[str, str, str | None]:
    """(view, tile size, view asked for in the URL): the URL's `view` wins over the preference."""
    asked = request.GET.get("view")
    asked = asked if asked in ("list", "grid") else None
    view = asked or ("list" if density == GalleryDensity.LIST else "grid")
    return view, density if density in GRID_SIZES else "medium", asked


def _history_context(request: HttpRequest, membership) -> tuple[dict, int]:
    team = membership.team
    density = preferences_for(request.user).gallery_density
    view, size, asked_view = _layout(request, density)
    endpoints = list(endpoints_for_team(team))
    filters = HistoryFilterForm(
        request.GET,
        members=members_of_team(team),
        endpoints=endpoints,
        statuses=Status.choices,
        models=sorted({m for e in endpoints for m in (e.known_models or [])}),
    )
    page, cursor_error, status = None, "", 200
    if filters.is_valid():
        try:
            page = history_page(
                team,
                filters.query,
                cursor=request.GET.get("cursor") or None,
                page_size=HISTORY_PAGE_SIZE,
            )
        except ValidationError as exc:
            cursor_error, status = first_error(exc), 400
    else:
        status = 400
    params = filters.query.as_params() if filters.query else {}
    view_param = {"view": asked_view} if asked_view else {}
    context = {
        "filters": filters,
        "generations": page.generations if page else [],
        "cursor_error": cursor_error,
        "view": view,
        "asked_view": asked_view,
        "size": size,
        "density": density,
        "densities": GalleryDensity.choices,
        "query_string": urlencode(params),
        "list_url": "?" + urlencode({**params, "view": "list"}),
        "grid_url": "?" + urlencode({**params, "view": "grid"}),
        # The density switch shows the result in the layout it implies, so it drops `view`.
        "density_next": reverse("generations:history")
        + ("?" + urlencode(params) if params else ""),
        "tag_options": selectors.tags_for_team(team),
        # Where forms come back to, also from the htmx "more" fragment (its URL is no page).
        "here": reverse("generations:history")
        + ("?" + request.GET.urlencode() if request.GET else ""),
    }
    if page and page.next_cursor:
        more = urlencode({**params, **view_param, "cursor": page.next_cursor})
        context["older_url"] = reverse("generations:history") + "?" + more
        context["more_url"] = reverse("generations:history-more") + "?" + more
    return context, status


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    context, status = _history_context(request, membership_or_404(request))
    return render(request, "generations/history.html", context, status=status)


@login_required
@require_GET
def history_more(request: HttpRequest) -> HttpResponse:
    """The next page's rows or tiles and the next "Older" link, appended by htmx."""
    context, status = _history_context(request, membership_or_404(request))
    if status != 200:
        return HttpResponseBadRequest(context["cursor_error"] or "Invalid filters.")
    return render(request, "generations/_history_items.html", context)


@login_required
@require_POST
def gallery_density(request: HttpRequest) -> HttpResponse:
    try:
        set_gallery_density(user=request.user, density=request.POST.get("density", ""))
    except ValidationError as exc:
        return HttpResponseBadRequest(f"density: {first_error(exc)}")
    return redirect(next_url(request, reverse("generations:history")))


@login_required
@require_GET
def tag_options(request: HttpRequest) -> HttpResponse:
    """`<option>`s of the team's tags starting with what was typed, for the tag `<datalist>`."""
    membership = membership_or_404(request)
    prefix = (request.GET.get("name") or request.GET.get("tag") or "").strip()[:40]
    tags = selectors.tags_for_team(membership.team, prefix=prefix)
    return render(request, "generations/_tag_options.html", {"tag_options": tags})


# --- compare -------------------------------------------------------------------------------------
def _facts(image: GeneratedImage) -> dict[str, object]:
    """What differs between two images worth a row in the compare table."""
    g = image.generation
    facts = {
        "Prompt": g.prompt,
        "Negative prompt": g.negative_prompt or "—",
        "Model": g.model,
        "Size": f"{image.width}\N{MULTIPLICATION SIGN}{image.height}",
        "Steps": g.steps,
        "CFG scale": g.cfg_scale,
        "Seed": actual_seed(g, image),
        "Images": g.image_count,
        "Endpoint": g.endpoint.name if g.endpoint else "—",
        "By": g.user.get_username() if g.user else "—",
        "Status": g.get_status_display(),
        "Cost": f"${g.cost}" if g.cost is not None else "—",
        "Queue wait": f"{g.delay_ms} ms" if g.delay_ms is not None else "—",
        "Run time": f"{g.execution_ms} ms" if g.execution_ms is not None else "—",
        "Created": timezone.localtime(g.created_at).strftime("%Y-%m-%d %H:%M:%S"),
    }
    # SwarmUI's own ids, labelled apart so that a parameter called "seed" or "Status" cannot
    # overwrite a row above; lists and objects shown as the JSON they were sent as.
    facts.update(
        {
            f"SwarmUI {key}": value if isinstance(value, str) else json.dumps(value)
            for key, value in g.extra_params.items()
        }
    )
    return facts


def compare_rows(a: GeneratedImage, b: GeneratedImage) -> list[dict]:
    """One row per parameter of either image, marked `same` when both have the same value."""
    facts_a, facts_b = _facts(a), _facts(b)
    labels = list(dict.fromkeys([*facts_a, *facts_b]))
    return [
        {
            "label": label,
            "a": facts_a.get(label, "—"),
            "b": facts_b.get(label, "—"),
            "same": facts_a.get(label) == facts_b.get(label),
        }
        for label in labels
    ]


@login_required
@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    membership = membership_or_404(request)
    refs = [request.GET.get("a", ""), request.GET.get("b", "")]
    errors = {
        name: "Give an image id (a whole number)."
        for name, ref in zip(("a", "b"), refs, strict=True)
        if parse_id(ref) is None
    }
    if errors:
        return render(request, "generations/compare.html", {"errors": errors}, status=400)
    ids = [int(ref) for ref in refs]
    found = {image.pk: image for image in selectors.images_for_team(membership.team, ids)}
    if set(ids) - set(found):
        raise Http404("No such image.")
    a, b = found[ids[0]], found[ids[1]]
    context = {"a": a, "b": b, "rows": compare_rows(a, b)}
    return render(request, "generations/compare.html", context)
