"""Sign in/out and the API tokens page."""

from django.test import Client

from dashboard.accounts.models import ApiToken
from tests.dashboard.factories import PASSWORD


def test_sign_in_then_out(member):
    client = Client()
    page = client.get("/accounts/sign-in/")
    assert page.status_code == 200
    response = client.post(
        "/accounts/sign-in/", {"username": member.user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/sign-out/")
    assert client.get("/").status_code == 302


def test_wrong_password_is_explained(member):
    response = Client().post(
        "/accounts/sign-in/", {"username": member.user.username, "password": "nope"}
    )
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_token_is_shown_once_then_only_its_prefix(member):
    client = Client()
    client.login(username=member.user.username, password=PASSWORD)
    created = client.post("/accounts/tokens/", {"name": "laptop", "expires_in_days": 30})
    html = created.content.decode()
    token = ApiToken.objects.get()
    assert 'id="new-token"' in html
    plain = html.split('<code class="token">')[1].split("</code>")[0]
    assert plain.startswith(token.prefix)
    again = client.get("/accounts/tokens/").content.decode()
    assert plain not in again
    assert token.prefix in again


def test_token_form_errors_are_shown(member):
    client = Client()
    client.login(username=member.user.username, password=PASSWORD)
    html = client.post("/accounts/tokens/", {"name": "", "expires_in_days": 0}).content.decode()
    assert 'id="id_name-errors"' in html
    assert 'id="id_expires_in_days-errors"' in html
    assert not ApiToken.objects.exists()


def test_revoke_from_the_page(member):
    client = Client()
    client.login(username=member.user.username, password=PASSWORD)
    client.post("/accounts/tokens/", {"name": "laptop"})
    token = ApiToken.objects.get()
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None
