from datetime import timedelta

from django.test import Client
from django.utils import timezone

from dashboard.accounts.models import ApiToken
from dashboard.accounts.services import api_token_create, api_token_revoke, hash_token
from tests.dashboard.factories import PASSWORD


def _password_token(client: Client, username: str, password: str = PASSWORD, **extra):
    body = {"username": username, "password": password, **extra}
    return client.post("/api/v1/auth/token", body, content_type="application/json")


def test_password_trades_for_a_token_shown_once_and_stored_hashed(member):
    response = _password_token(Client(), member.user.username, name="laptop")
    assert response.status_code == 201
    plain = response.json()["token"]
    stored = ApiToken.objects.get(user=member.user)
    assert stored.name == "laptop"
    assert stored.token_hash == hash_token(plain)
    assert plain not in stored.token_hash
    listed = Client(HTTP_AUTHORIZATION=f"Bearer {plain}").get("/api/v1/tokens").json()
    assert "token" not in listed[0]


def test_wrong_password_gets_401_and_no_token(member):
    response = _password_token(Client(), member.user.username, password="nope")
    assert response.status_code == 401
    assert response.json() == {"detail": "Wrong username or password.", "errors": []}
    assert not ApiToken.objects.exists()


def test_token_request_with_missing_fields_names_them(db):
    response = Client().post("/api/v1/auth/token", {}, content_type="application/json")
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"username", "password"}


def test_bearer_token_authenticates_and_records_last_use(member):
    token, plain = api_token_create(user=member.user, name="script")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {plain}").get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["username"] == member.user.username
    assert response.json()["teams"][0]["role"] == "member"
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_revoked_token_is_refused(member):
    token, plain = api_token_create(user=member.user, name="script")
    api_token_revoke(token=token)
    response = Client(HTTP_AUTHORIZATION=f"Bearer {plain}").get("/api/v1/me")
    assert response.status_code == 401


def test_expired_token_is_refused(member):
    token, plain = api_token_create(
        user=member.user, name="short", expires_at=timezone.now() + timedelta(days=1)
    )
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client(HTTP_AUTHORIZATION=f"Bearer {plain}").get("/api/v1/me").status_code == 401


def test_no_credentials_get_401_in_the_standard_error_shape(db):
    response = Client().get("/api/v1/me")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "errors"}


def test_token_is_created_and_revoked_through_the_api(member, api_client):
    client = api_client(member)
    created = client.post(
        "/api/v1/tokens", {"name": "ci", "expires_in_days": 30}, content_type="application/json"
    )
    assert created.status_code == 201
    assert created.json()["token"].startswith("sdk_")
    assert created.json()["expires_at"] is not None
    revoked = client.delete(f"/api/v1/tokens/{created.json()['id']}")
    assert revoked.status_code == 204
    assert ApiToken.objects.get(pk=created.json()["id"]).revoked_at is not None


def test_someone_elses_token_cannot_be_revoked(member, owner, api_client):
    token, _ = api_token_create(user=owner.user, name="owner's")
    response = api_client(member).delete(f"/api/v1/tokens/{token.pk}")
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_name_is_required(member, api_client):
    response = api_client(member).post(
        "/api/v1/tokens", {"name": "   "}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "name", "message": "Name the token so you can recognise it later."}
    ]
