"""Account pages: sign in/out, the team switcher, personal API tokens."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dashboard.accounts import selectors, services
from dashboard.accounts.forms import TokenForm


class SignInView(auth_views.LoginView):
    template_name = "accounts/sign_in.html"
    redirect_authenticated_user = True


sign_out = auth_views.LogoutView.as_view()


@login_required
@require_POST
def switch_team(request: HttpRequest) -> HttpResponse:
    membership = get_object_or_404(
        selectors.memberships_for_user(request.user), team__slug=request.POST.get("team", "")
    )
    request.session[selectors.SESSION_TEAM_KEY] = membership.team_id
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "generations:generate"
    return redirect(target)


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        try:
            _, new_token = services.api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = TokenForm()
    return render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "tokens": selectors.api_tokens_for_user(request.user),
            "new_token": new_token,
        },
    )


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(selectors.api_tokens_for_user(request.user), pk=token_id)
    services.api_token_revoke(token=token)
    messages.success(request, f"Token '{token.name}' revoked.")
    return redirect("accounts:tokens")


@login_required
def members(request: HttpRequest) -> HttpResponse:
    """The current team's members (to be completed: add, change role, remove)."""
    return render(request, "accounts/members.html", {})
