"""REST v2 endpoint management: GET/PATCH /v2/serverless/{id} and its workers (reference §5.2)."""

from __future__ import annotations

import pytest

from tests.emulators.runpod.helpers import RunPodAPI, eventually

ENDPOINT_KEYS = {
    "id",
    "name",
    "type",
    "requestUrls",
    "image",
    "env",
    "gpu",
    "workers",
    "scaling",
    "dataCenterIds",
    "networkVolumes",
    "timeout",
    "flashboot",
    "createdAt",
}
FLASHBOOT_VALUES = {"OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"}
SUMMARY_KEYS = {"running", "idle", "initializing", "throttled", "unhealthy", "total"}
WORKER_KEYS = {
    "id",
    "status",
    "isStale",
    "version",
    "gpuCount",
    "gpuTypeId",
    "dataCenterId",
    "uptimeSeconds",
    "startedAt",
}


@pytest.fixture(scope="module")
def endpoint(start_module_runpod):
    """Shared by tests that must leave the settings as they found them."""
    flags = (
        "--workers-min 1 --workers-max 3 --idle-timeout 5 --cold-start 0 --readonly-api-key ro-key"
    )
    return start_module_runpod(*flags.split())


def test_endpoint_object_has_its_worker_settings_and_every_documented_field(api):
    settings = api.endpoint_settings()

    assert settings.keys() >= ENDPOINT_KEYS
    assert settings["id"] == "local"
    assert {key: settings["workers"][key] for key in ("min", "max", "idleTimeout")} == {
        "min": 1,
        "max": 3,
        "idleTimeout": 5,
    }
    assert settings["flashboot"] in FLASHBOOT_VALUES
    assert settings["timeout"] == 600000
    assert {"run", "runSync", "status"} <= settings["requestUrls"].keys()


def test_workers_listing_has_endpoint_version_summary_and_worker_details(api):
    listing = eventually(
        api.workers, lambda listing: listing["workers"], what="the warm worker in the listing"
    )

    assert isinstance(listing["endpointVersion"], int)
    assert listing["summary"].keys() >= SUMMARY_KEYS
    assert listing["summary"]["total"] == len(listing["workers"]) == 1
    assert listing["workers"][0].keys() >= WORKER_KEYS


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"workers": {"min": -1}}, id="negative-min"),
        pytest.param({"workers": {"min": "one"}}, id="string-min"),
        pytest.param({"workers": "many"}, id="workers-not-an-object"),
        pytest.param({"workers": {"idleTimeout": 0}}, id="idle-timeout-below-1"),
        pytest.param({"workers": {"min": 2, "max": -1}}, id="one-good-one-bad-field"),
        pytest.param({"flashboot": "TURBO"}, id="unknown-flashboot"),
        pytest.param("just a string", id="body-not-an-object"),
    ],
)
def test_invalid_patch_is_a_400_problem_and_changes_nothing(api, body):
    before = api.endpoint_settings()

    response = api.management("PATCH", json=body)

    assert response.status_code == 400
    problem = response.json()
    assert problem["status"] == 400
    assert problem["title"]
    assert problem["detail"]
    assert api.endpoint_settings() == before


def test_readonly_key_may_run_jobs_but_gets_403_on_patch(api):
    readonly = RunPodAPI(api.base_url, api_key="ro-key")
    before = api.endpoint_settings()

    assert readonly.management("PATCH", json={"workers": {"max": 1}}).status_code == 403

    assert api.endpoint_settings() == before
    assert readonly.run_to_end({"echo": "read-only"})["status"] == "COMPLETED"


def test_management_needs_a_key_and_a_known_endpoint(api):
    assert RunPodAPI(api.base_url, api_key=None).management("GET").status_code == 401
    assert RunPodAPI(api.base_url, endpoint="no-such-endpoint").management("GET").status_code == 404


def test_patch_workers_min_brings_up_a_warm_worker(start_api):
    api = start_api("--workers-min", "0", "--cold-start", "0")
    assert api.workers()["workers"] == []

    response = api.management("PATCH", json={"workers": {"min": 1}})

    assert response.status_code == 200
    assert response.json()["workers"]["min"] == 1
    api.wait_for_health(workers={"idle": 1})


def test_patch_changes_only_the_fields_sent(start_api):
    api = start_api("--workers-min", "0", "--workers-max", "3", "--idle-timeout", "5", worker=None)
    before = api.endpoint_settings()

    patched = api.management("PATCH", json={"workers": {"max": 5}}).json()
    api.management("PATCH", json={"flashboot": "OFF"})

    assert patched["workers"] == {**before["workers"], "max": 5}
    after = api.endpoint_settings()
    assert after["workers"] == patched["workers"]
    assert after["flashboot"] == "OFF"
    untouched = ENDPOINT_KEYS - {"workers", "flashboot"}
    assert {key: after[key] for key in untouched} == {key: before[key] for key in untouched}
