"""The reconciler re-drives generations that a lost wake-up (or a lost Redis) left behind."""

from datetime import timedelta

from django.utils import timezone

from dashboard.generations.models import Generation, Status
from dashboard.generations.services import reconcile_generations
from dashboard.generations.tasks import reconcile_generations as reconcile_task
from tests.dashboard.factories import make_generation


def _age(generation, seconds, **fields):
    when = timezone.now() - timedelta(seconds=seconds)
    Generation.objects.filter(pk=generation.pk).update(created_at=when, **fields)


def test_old_unsubmitted_generation_is_submitted_again(member, endpoint, sent_tasks):
    stuck = make_generation(member, endpoint)
    _age(stuck, 600)
    make_generation(member, endpoint)  # just created: its own wake-up is still on its way
    assert reconcile_generations() == {"resubmitted": 1, "polled": 0}
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [("generations.submit", (stuck.pk,))]


def test_generation_being_submitted_right_now_is_left_alone(member, endpoint, sent_tasks):
    busy = make_generation(member, endpoint, submit_claimed_at=timezone.now())
    _age(busy, 600)
    assert reconcile_generations() == {"resubmitted": 0, "polled": 0}


def test_unfollowed_running_generation_is_polled_again(member, endpoint, sent_tasks, settings):
    stale = make_generation(member, endpoint, status=Status.RUNNING, runpod_job_id="j1")
    _age(stale, 600, last_checked_at=timezone.now() - timedelta(seconds=600))
    fresh = make_generation(member, endpoint, status=Status.SUBMITTED, runpod_job_id="j2")
    _age(fresh, 600, last_checked_at=timezone.now())
    assert reconcile_generations() == {"resubmitted": 0, "polled": 1}
    [task] = sent_tasks.drain()
    assert task.name == "generations.poll"
    assert task.args[0] == stale.pk


def test_finished_generations_are_never_touched(member, endpoint, sent_tasks):
    for status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT):
        _age(make_generation(member, endpoint, status=status, runpod_job_id="j"), 600)
    assert reconcile_generations() == {"resubmitted": 0, "polled": 0}


def test_reconcile_task_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["reconcile-generations"]
    assert entry["task"] == reconcile_task.name
