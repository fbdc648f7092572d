"""generation_create and POST /api/v1/generations: bad input changes nothing."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dashboard.accounts.models import Role
from dashboard.generations.models import Generation, Status
from dashboard.generations.services import generation_create
from tests.dashboard.broker import use_broker
from tests.dashboard.factories import make_endpoint, make_member, make_team
from tests.support.processes import free_port

VALID = {
    "prompt": "a red fox in the snow",
    "negative_prompt": "blurry",
    "model": "OfficialStableDiffusion/sd_xl_base_1.0",
    "width": 512,
    "height": 768,
    "steps": 20,
    "cfg_scale": 7,
    "seed": 1234,
    "images": 2,
}


def _post(client, **changes):
    body = {**VALID, **changes}
    return client.post("/api/v1/generations", body, content_type="application/json")


def test_generation_is_saved_queued_and_submitted_on_commit(
    member, endpoint, django_capture_on_commit_callbacks, sent_tasks
):
    with django_capture_on_commit_callbacks(execute=True):
        generation = generation_create(team=member.team, user=member.user, **VALID)
    assert generation.status == Status.QUEUED
    assert generation.endpoint == endpoint
    assert generation.image_count == 2
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [
        ("generations.submit", (generation.pk,))
    ]


def test_nothing_is_sent_before_the_transaction_commits(member, endpoint, sent_tasks):
    generation_create(team=member.team, user=member.user, **VALID)
    assert sent_tasks.drain() == []


def test_api_creates_a_generation_and_answers_201_with_id_and_status(
    member, endpoint, api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api_client(member))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued"
    assert Generation.objects.get(pk=body["id"]).prompt == VALID["prompt"]


def test_model_defaults_to_the_endpoints_default(member, endpoint):
    generation = generation_create(team=member.team, user=member.user, **{**VALID, "model": ""})
    assert generation.model == endpoint.default_model


def test_known_models_accept_a_name_without_folder_or_extension(member, endpoint):
    endpoint.known_models = ["OfficialStableDiffusion/sd_xl_base_1.0.safetensors"]
    endpoint.save()
    generation = generation_create(
        team=member.team, user=member.user, **{**VALID, "model": "sd_xl_base_1.0"}
    )
    assert generation.model == "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("prompt", "", "Write a prompt."),
        ("prompt", "x" * 4001, "Use at most 4000 characters"),
        ("width", 500, "multiple of 8"),
        ("width", 4096, "between 64 and 2048"),
        ("height", 0, "between 64 and 2048"),
        ("steps", 151, "between 1 and 150"),
        ("steps", 0, "between 1 and 150"),
        ("cfg_scale", 31, "between 0 and 30"),
        ("seed", -2, "between -1"),
        ("images", 0, "between 1 and 4"),
        ("images", 5, "between 1 and 4"),
    ],
)
def test_out_of_range_values_get_a_422_naming_the_field_and_nothing_is_saved(
    member,
    endpoint,
    api_client,
    sent_tasks,
    django_capture_on_commit_callbacks,
    field,
    value,
    message,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api_client(member), **{field: value})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert message in errors[0]["message"]
    assert not Generation.objects.exists()
    assert sent_tasks.drain() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("width", "wide"),
        ("width", 512.5),
        ("steps", True),
        ("images", "2"),
        ("cfg_scale", "high"),
        ("seed", None),
        ("prompt", 42),
        ("extra_params", "sampler=euler"),
    ],
)
def test_wrong_types_get_a_422_naming_the_field(member, endpoint, api_client, field, value):
    response = _post(api_client(member), **{field: value})
    assert response.status_code == 422
    assert response.json()["detail"] == "The request has invalid fields."
    assert {e["field"] for e in response.json()["errors"]} == {field}
    assert not Generation.objects.exists()


def test_several_bad_fields_are_reported_together(member, endpoint, api_client):
    response = _post(api_client(member), width=100, steps=500, prompt=" ")
    assert {e["field"] for e in response.json()["errors"]} == {"width", "steps", "prompt"}


def test_unknown_model_is_refused_with_the_known_ones_listed(member, endpoint, api_client):
    endpoint.known_models = ["OfficialStableDiffusion/sd_xl_base_1.0.safetensors"]
    endpoint.save()
    response = _post(api_client(member), model="nonexistent_model")
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "model"
    assert "Unknown model 'nonexistent_model'" in error["message"]
    assert "sd_xl_base_1.0" in error["message"]


def test_another_teams_endpoint_is_refused(member, endpoint, api_client):
    foreign = make_endpoint(make_team("Rivals"), name="theirs")
    response = _post(api_client(member), endpoint=foreign.pk)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "endpoint", "message": "Unknown endpoint."}]
    assert not Generation.objects.exists()


def test_endpoint_can_be_named(member, endpoint, api_client):
    second = make_endpoint(member.team, name="spare")
    response = _post(api_client(member), endpoint="spare")
    assert response.status_code == 201
    assert Generation.objects.get().endpoint == second


def test_team_without_endpoint_is_told_to_ask_an_admin(member, api_client):
    response = _post(api_client(member))
    assert response.status_code == 422
    assert "an admin can add one" in response.json()["errors"][0]["message"]


def test_extra_params_pass_through_but_cannot_override_core_fields(member, endpoint, api_client):
    ok = _post(api_client(member), extra_params={"sampler": "euler", "scheduler": "karras"})
    assert ok.status_code == 201
    assert Generation.objects.get().extra_params == {"sampler": "euler", "scheduler": "karras"}
    clash = _post(api_client(member), extra_params={"CFGScale": 3})
    assert clash.status_code == 422
    assert clash.json()["errors"][0]["field"] == "extra_params"


def test_extra_params_the_worker_contract_rejects_are_named(member, endpoint, api_client):
    response = _post(api_client(member), extra_params={"123": "x"})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "extra_params"
    assert error["message"].startswith("'123': is not a SwarmUI parameter name")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"sampler": NaN}', "'sampler': numbers must be finite."),
        ('{"loras": ["a", Infinity]}', "'loras': numbers must be finite."),
        ('{"sampler": "eu\\u0000ler"}', "'sampler': text must not contain NUL characters."),
        ('{"nested": {"\\u0000": 1}}', "'nested': text must not contain NUL characters."),
    ],
)
def test_extra_params_postgres_cannot_store_are_422_not_500(
    member, endpoint, api_client, body, message
):
    payload = '{"prompt": "x", "extra_params": ' + body + "}"
    response = api_client(member).post(
        "/api/v1/generations", payload, content_type="application/json"
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    # NUL characters are already refused where the API reads JSON, naming the exact key.
    assert error["field"].startswith("extra_params")
    assert message.split(": ")[1].split(" ")[0] in error["message"].lower()
    assert not Generation.objects.exists()


def test_team_limit_on_images_is_configurable(member, endpoint, api_client):
    member.team.max_images_per_generation = 8
    member.team.save()
    assert _post(api_client(member), images=8).status_code == 201


def test_viewers_cannot_generate(viewer, endpoint, api_client):
    response = _post(api_client(viewer))
    assert response.status_code == 403
    assert "Viewers cannot generate" in response.json()["detail"]
    assert not Generation.objects.exists()


def test_non_members_cannot_generate_for_a_team(team, endpoint):
    outsider = make_member(make_team("Elsewhere"), Role.OWNER)
    with pytest.raises(PermissionDenied):
        generation_create(team=team, user=outsider.user, **VALID)


def test_service_reports_every_problem_as_field_errors(member, endpoint):
    with pytest.raises(ValidationError) as error:
        generation_create(team=member.team, user=member.user, **{**VALID, "width": "x"})
    assert error.value.message_dict == {"width": ["Enter a whole number."]}


def test_generation_is_kept_when_the_broker_is_down(
    member, endpoint, django_capture_on_commit_callbacks, caplog
):
    """Redis carries wake-ups only: the row is saved and the reconciler will submit it later."""
    use_broker(f"redis://127.0.0.1:{free_port()}/0")
    with django_capture_on_commit_callbacks(execute=True):
        generation = generation_create(team=member.team, user=member.user, **VALID)
    assert Generation.objects.get(pk=generation.pk).status == Status.QUEUED
    assert "the reconciler will re-drive it" in caplog.text
