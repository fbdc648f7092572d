"""Forms for account pages: tokens, members, teams."""

from django import forms

from dashboard.accounts.models import Role
from dashboard.forms import ServiceErrorsMixin


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="So you recognise it later, e.g. 'laptop'.")
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, help_text="Leave empty for no expiry."
    )


ROLE_ERRORS = {"invalid_choice": f"Choose one of: {', '.join(Role.values)}."}


class InvitationForm(ServiceErrorsMixin, forms.Form):
    email = forms.CharField(
        max_length=254,
        label="Email",
        help_text="The address of their SwarmDeck account; they accept after signing in.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER, error_messages=ROLE_ERRORS)

    def __init__(self, *args, can_make_owners: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_make_owners:
            # Only the menu loses "Owner"; the service still decides (and refuses with a 403).
            self.fields["role"].widget.choices = [
                choice for choice in Role.choices if choice[0] != Role.OWNER
            ]


class MemberRoleForm(ServiceErrorsMixin, forms.Form):
    role = forms.ChoiceField(choices=Role.choices, error_messages=ROLE_ERRORS)


class TeamForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=100, label="Team name")
    slug = forms.CharField(
        max_length=60,
        required=False,
        label="Short name",
        help_text="Letters, digits and dashes, used in the API's X-Team header. "
        "Leave empty to derive it from the name.",
    )
