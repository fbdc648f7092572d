"""apply_job_status: the state machine that webhooks and polls both feed."""

import json
from decimal import Decimal

import pytest

from dashboard.generations.models import GeneratedImage, Status
from dashboard.generations.services import apply_job_status
from tests.dashboard.factories import inline_output, make_generation, png_bytes


@pytest.fixture
def generation(member, endpoint):
    endpoint.gpu_price_per_second = Decimal("0.00031")
    endpoint.save()
    return make_generation(
        member, endpoint, status=Status.SUBMITTED, runpod_job_id="job-1", image_count=2
    )


def _apply(generation, **job):
    return apply_job_status(generation_id=generation.pk, job={"id": "job-1", **job})


def test_in_progress_marks_running_with_the_workers_progress(generation):
    progress = {"action": "generate", "stage": "sampling", "percent": 40.0}
    updated = _apply(generation, status="IN_PROGRESS", delayTime=2140, output=progress)
    assert updated.status == Status.RUNNING
    assert updated.progress_percent == 40
    assert updated.progress["stage"] == "sampling"
    assert updated.delay_ms == 2140
    assert updated.started_at is not None
    assert updated.phase == "Sampling 40%"


def test_completed_stores_every_image_and_records_times_and_cost(generation):
    output = inline_output(png_bytes(color=(1, 2, 3)), png_bytes(color=(4, 5, 6)), seed=7)
    updated = _apply(
        generation, status="COMPLETED", delayTime=100, executionTime=8000, output=output
    )
    assert updated.status == Status.SUCCEEDED
    assert updated.execution_ms == 8000
    assert updated.cost == Decimal("0.002480")
    assert updated.finished_at is not None
    images = list(updated.images.order_by("index"))
    assert [(i.index, i.seed, i.width, i.height) for i in images] == [
        (0, 7, 64, 48),
        (1, 8, 64, 48),
    ]
    assert images[0].file.read() == png_bytes(color=(1, 2, 3))


def test_duplicate_completion_stores_images_once(generation):
    output = inline_output(png_bytes())
    _apply(generation, status="COMPLETED", executionTime=10, output=output)
    again = _apply(generation, status="COMPLETED", executionTime=10, output=output)
    assert again.status == Status.SUCCEEDED
    assert GeneratedImage.objects.filter(generation=generation).count() == 1


def test_progress_arriving_after_the_result_changes_nothing(generation):
    _apply(generation, status="COMPLETED", executionTime=10, output=inline_output(png_bytes()))
    late = _apply(generation, status="IN_PROGRESS", output={"percent": 90})
    assert late.status == Status.SUCCEEDED
    assert late.progress_percent == 100


def test_failure_after_success_changes_nothing(generation):
    _apply(generation, status="COMPLETED", executionTime=10, output=inline_output(png_bytes()))
    assert _apply(generation, status="FAILED", error="late").status == Status.SUCCEEDED


def test_handler_error_text_is_kept_as_is(generation):
    updated = _apply(generation, status="FAILED", error="Unknown model 'foo'")
    assert updated.status == Status.FAILED
    assert updated.error == "Unknown model 'foo'"
    assert updated.finished_at is not None


def test_raised_exception_json_is_turned_into_its_message(generation):
    error = json.dumps(
        {
            "error_type": "<class 'RuntimeError'>",
            "error_message": "CUDA out of memory",
            "error_traceback": "Traceback ...",
            "hostname": "h",
            "worker_id": "w",
        }
    )
    assert _apply(generation, status="FAILED", error=error).error == (
        "RuntimeError: CUDA out of memory"
    )


def test_completed_without_output_fails_with_advice(generation):
    updated = _apply(generation, status="COMPLETED", executionTime=5)
    assert updated.status == Status.FAILED
    assert "output mode to volume" in updated.error


def test_output_that_breaks_the_contract_fails_clearly(generation):
    updated = _apply(generation, status="COMPLETED", output={"images": "nope"})
    assert updated.status == Status.FAILED
    assert "does not follow the contract" in updated.error


def test_bytes_that_are_not_an_image_fail_clearly(generation):
    updated = _apply(generation, status="COMPLETED", output=inline_output(b"not a png"))
    assert updated.status == Status.FAILED
    assert "not an image" in updated.error
    assert not updated.images.exists()


@pytest.mark.parametrize(
    ("state", "status"),
    [("CANCELLED", Status.CANCELLED), ("TIMED_OUT", Status.TIMED_OUT)],
)
def test_other_final_states(generation, state, status):
    assert _apply(generation, status=state).status == status


def test_in_queue_marks_a_queued_generation_submitted(member, endpoint):
    generation = make_generation(member, endpoint, runpod_job_id="job-1")
    assert _apply(generation, status="IN_QUEUE").status == Status.SUBMITTED


def test_result_of_a_lost_submission_is_accepted(generation):
    """A /run whose answer was lost, then resubmitted: the first job's result is ours too."""
    output = inline_output(png_bytes())
    updated = apply_job_status(
        generation_id=generation.pk,
        job={"id": "job-0", "status": "COMPLETED", "output": output},
    )
    assert updated.status == Status.SUCCEEDED
    assert updated.runpod_job_id == "job-0"
