"""The endpoint list's "Sync models": admins start the catalogue's sync of an endpoint (one at a
time) and land on the models page, where that run's progress shows."""

import pytest
from django.test import Client

from dashboard.accounts.models import Role
from dashboard.catalogue import tasks
from dashboard.catalogue.models import SyncRun, SyncStatus
from tests.dashboard.factories import make_endpoint, make_member, make_team

SDXL = "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"


@pytest.fixture
def admin(team):
    return make_member(team, Role.ADMIN)


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def click_sync(client: Client, endpoint, capture):
    """Press the button (committing, so the Celery wake-up is sent) and follow the redirect."""
    with capture(execute=True):
        return client.post(f"/endpoints/{endpoint.pk}/models/", follow=True)


def test_admins_see_sync_models_and_members_do_not(admin, member, endpoint):
    assert "Sync models" in signed_in(admin).get("/endpoints/").text
    assert "Sync models" not in signed_in(member).get("/endpoints/").text


def test_sync_models_starts_one_manual_sync_and_shows_its_progress(
    admin, endpoint, django_capture_on_commit_callbacks, sent_tasks
):
    response = click_sync(signed_in(admin), endpoint, django_capture_on_commit_callbacks)
    run = SyncRun.objects.get()
    assert (run.endpoint, run.trigger, run.requested_by) == (endpoint, "manual", admin.user)
    assert (run.status, run.source) == (SyncStatus.RUNNING, "worker")  # no S3 credentials
    assert response.redirect_chain == [(f"/models/#sync-run-{run.pk}", 302)]
    assert "Syncing the models of main through its worker." in response.text
    assert f'hx-get="/models/sync/{run.pk}/"' in response.text
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [("catalogue.sync", (run.pk,))]


def test_a_second_click_while_it_runs_joins_the_running_sync(
    admin, endpoint, django_capture_on_commit_callbacks, sent_tasks
):
    client = signed_in(admin)
    click_sync(client, endpoint, django_capture_on_commit_callbacks)
    sent_tasks.drain()
    again = click_sync(client, endpoint, django_capture_on_commit_callbacks)
    run = SyncRun.objects.get()
    assert again.redirect_chain == [(f"/models/#sync-run-{run.pk}", 302)]
    assert "A sync of main was already running; here is its progress." in again.text
    assert sent_tasks.drain() == []


def test_after_a_sync_ends_the_button_starts_a_new_one(
    admin, endpoint, django_capture_on_commit_callbacks
):
    client = signed_in(admin)
    click_sync(client, endpoint, django_capture_on_commit_callbacks)
    SyncRun.objects.update(status=SyncStatus.SUCCEEDED)
    response = click_sync(client, endpoint, django_capture_on_commit_callbacks)
    newest = SyncRun.objects.get(status=SyncStatus.RUNNING)
    assert SyncRun.objects.count() == 2
    assert response.redirect_chain == [(f"/models/#sync-run-{newest.pk}", 302)]
    assert "Syncing the models of main" in response.text


def test_members_and_viewers_get_403_and_start_nothing(member, viewer, endpoint, sent_tasks):
    for someone in (member, viewer):
        response = signed_in(someone).post(f"/endpoints/{endpoint.pk}/models/")
        assert response.status_code == 403
    assert not SyncRun.objects.exists()
    assert sent_tasks.drain() == []


def test_another_teams_endpoint_is_404_and_starts_nothing(admin, sent_tasks):
    theirs = make_endpoint(make_team("Rivals"), name="theirs")
    response = signed_in(admin).post(f"/endpoints/{theirs.pk}/models/")
    assert response.status_code == 404
    assert not SyncRun.objects.exists()
    assert sent_tasks.drain() == []


def test_the_sync_it_starts_reads_the_volume_and_fills_the_endpoints_models(
    admin, team, volume_bucket, moto_s3, django_capture_on_commit_callbacks, sent_tasks
):
    bucket, s3 = volume_bucket
    s3.put_object(Bucket=bucket, Key=f"SwarmUI/Models/Stable-Diffusion/{SDXL}", Body=b"w" * 64)
    endpoint = make_endpoint(
        team,
        name="volume",
        volume_id=bucket,
        volume_s3_endpoint_url=moto_s3.base_url,
        volume_s3_region="us-east-1",
    )
    endpoint.set_volume_credentials("user_test", "rps_test")
    endpoint.save()
    client = signed_in(admin)
    response = click_sync(client, endpoint, django_capture_on_commit_callbacks)
    assert "Syncing the models of volume over its volume&#x27;s S3 API." in response.text
    (task,) = sent_tasks.drain()
    assert tasks.sync_catalogue(*task.args) == SyncStatus.SUCCEEDED  # the Celery task's body
    endpoint.refresh_from_db()
    assert endpoint.known_models == [SDXL]
    done = client.get(f"/models/sync/{task.args[0]}/")
    assert "Done: " in done.text
