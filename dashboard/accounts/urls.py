from django.urls import path

from dashboard.accounts import invitation_views, views

app_name = "accounts"
urlpatterns = [
    path("sign-in/", views.SignInView.as_view(), name="sign-in"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("team/", views.switch_team, name="switch-team"),
    path("team/new/", views.create_team, name="create-team"),
    path("team/leave/", views.leave_team, name="leave-team"),
    path("tokens/", views.tokens, name="tokens"),
    path("members/", views.members, name="members"),
    path("members/<int:membership_id>/role/", views.member_role, name="member-role"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="member-remove"),
    path("tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke-token"),
    path("invitations/", invitation_views.invitation_list, name="invitations"),
    path(
        "invitations/<int:invitation_id>/accept/",
        invitation_views.invitation_accept,
        name="invitation-accept",
    ),
    path(
        "invitations/<int:invitation_id>/decline/",
        invitation_views.invitation_decline,
        name="invitation-decline",
    ),
    path(
        "members/invitations/<int:invitation_id>/revoke/",
        invitation_views.invitation_revoke,
        name="invitation-revoke",
    ),
]
