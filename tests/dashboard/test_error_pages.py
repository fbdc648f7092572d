"""Refusals and missing pages answer with SwarmDeck's own pages, not Django's bare defaults."""

import pytest
from django.test import Client
from django.urls import path

from tests.dashboard.factories import PASSWORD, make_member, make_team


def _signed_in(membership) -> Client:
    client = Client()
    assert client.login(username=membership.user.username, password=PASSWORD)
    return client


def test_a_refusal_says_why_and_where_roles_are_changed(team, owner, viewer):
    response = _signed_in(viewer).get(f"/accounts/members/{owner.pk}/remove/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "You can't do that here" in html
    assert "Only the team&#x27;s owners and admins manage its members." in html
    assert 'href="/accounts/members/"' in html


def test_another_teams_object_is_a_friendly_404(team, owner):
    stranger = make_member(make_team("Other"))
    response = _signed_in(owner).get(f"/accounts/members/{stranger.pk}/remove/")
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()
    assert "Other" not in response.content.decode()


def _boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", _boom)]


@pytest.mark.urls("tests.dashboard.test_error_pages")
def test_a_server_error_page_renders_without_a_request_context(db):
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
