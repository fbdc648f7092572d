"""Account pages: sign in/out, the team switcher, personal API tokens, members and teams."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dashboard.accounts import invitations, selectors, services
from dashboard.accounts.forms import InvitationForm, MemberRoleForm, TeamForm, TokenForm
from dashboard.accounts.models import Membership, Role


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


def _current(request: HttpRequest) -> Membership:
    membership = selectors.current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any team yet.")
    return membership


def _team_member(request: HttpRequest, membership_id: int) -> tuple[Membership, Membership]:
    """The acting membership and one of the current team's memberships (another team's: 404)."""
    actor = _current(request)
    target = get_object_or_404(selectors.members_of_team(actor.team), pk=membership_id)
    return actor, target


def _roles_for(actor: Membership) -> list[tuple[str, str]]:
    """The roles the menus offer: only owners are shown "Owner" (the service decides anyway)."""
    return [c for c in Role.choices if c[0] != Role.OWNER or actor.role == Role.OWNER]


def _row(actor: Membership, member: Membership) -> dict:
    # Admins manage everyone but owners; nobody edits their own row here (they leave instead).
    editable = (
        actor.can_manage
        and member.pk != actor.pk
        and (member.role != Role.OWNER or actor.role == Role.OWNER)
    )
    return {"member": member, "editable": editable}


@login_required
def members(request: HttpRequest) -> HttpResponse:
    """The current team's members; owners and admins invite people here (POST)."""
    actor = selectors.current_membership(request)
    if actor is None:
        return render(request, "accounts/members.html")
    form = InvitationForm(request.POST or None, can_make_owners=actor.role == Role.OWNER)
    if request.method == "POST":
        if form.is_valid():
            try:
                invitation = invitations.invitation_create(
                    team=actor.team,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    by=actor,
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                _announce(request, invitation)
                return redirect("accounts:members")
        elif not actor.can_manage:
            # The service never sees a malformed form; refuse it as the service would.
            raise PermissionDenied("Only the team's owners and admins invite people.")
    rows = [_row(actor, m) for m in selectors.members_of_team(actor.team)]
    context = {"rows": rows, "form": form, "roles": _roles_for(actor)}
    if actor.can_manage:
        context["invitations"] = invitations.invitations_of_team(actor.team)
    return render(request, "accounts/members.html", context)


def _announce(request: HttpRequest, invitation) -> None:
    sent = invitations.invitation_send_email(invitation, request=request)
    where = "by email" if sent else "— the email could not be sent, so tell them yourself"
    messages.success(
        request,
        f"Invited {invitation.email} as {invitation.get_role_display().lower()} {where}. "
        "They accept on their Invitations page after signing in.",
    )


@login_required
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    """Change a member's role; htmx gets the row back, a plain form the list."""
    actor, target = _team_member(request, membership_id)
    form = MemberRoleForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            target = services.membership_change_role(
                membership=target, role=form.cleaned_data["role"], by=actor
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    elif not actor.can_manage:
        raise PermissionDenied("Only the team's owners and admins manage its members.")
    else:
        error = " ".join(form.errors["role"])
    if request.htmx:
        context = {
            "row": _row(actor, target),
            "roles": _roles_for(actor),
            "error": error,
            "saved": not error,
        }
        return render(request, "accounts/_member_row.html", context)
    if error:
        messages.error(request, f"{target.user.get_username()}: {error}")
    else:
        messages.success(
            request,
            f"{target.user.get_username()} is now {target.get_role_display().lower()}.",
        )
    return redirect("accounts:members")


@login_required
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    """GET asks for confirmation; POST removes the member from the current team."""
    actor, target = _team_member(request, membership_id)
    name = target.user.get_username()
    if request.method == "POST":
        try:
            services.membership_remove(membership=target, by=actor)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{name} no longer belongs to {actor.team.name}.")
        return redirect("accounts:members")
    if not actor.can_manage:
        raise PermissionDenied("Only the team's owners and admins manage its members.")
    return render(
        request,
        "accounts/confirm.html",
        {
            "title": f"Remove {name}",
            "question": f"Remove {name} from {actor.team.name}? They lose access to the "
            "team's endpoints, generations and images at once.",
            "button": "Remove",
        },
    )


@login_required
def leave_team(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST takes the user out of the current team."""
    actor = _current(request)
    team_name = actor.team.name
    if request.method == "POST":
        try:
            services.membership_leave(membership=actor)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("accounts:members")
        request.session.pop(selectors.SESSION_TEAM_KEY, None)
        messages.success(request, f"You left {team_name}.")
        return redirect("accounts:members")
    return render(
        request,
        "accounts/confirm.html",
        {
            "title": f"Leave {team_name}",
            "question": f"Leave {team_name}? You will need an owner or admin to invite you again.",
            "button": "Leave team",
        },
    )


@login_required
def create_team(request: HttpRequest) -> HttpResponse:
    """A new team with the signed-in user as its owner; it becomes the current team."""
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(
                name=form.cleaned_data["name"], slug=form.cleaned_data["slug"], owner=request.user
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            request.session[selectors.SESSION_TEAM_KEY] = team.pk
            messages.success(request, f"Team {team.name} created; you are its owner.")
            return redirect("accounts:members")
    return render(request, "accounts/team_form.html", {"form": form})
