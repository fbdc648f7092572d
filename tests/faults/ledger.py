"""What a fault test counts once the dust settles: generations by status, image rows beside the
files really in storage, and the jobs RunPod ran for each generation."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.generations.models import FINAL_STATUSES, GeneratedImage, Generation, Status
from tests.dashboard.stack import Stack
from tests.support.processes import wait_until


def active_count(team) -> int:
    return Generation.objects.filter(team=team).exclude(status__in=FINAL_STATUSES).count()


def wait_all_final(team, *, since: float, timeout: float) -> float:
    """Wait until every generation of the team is final; seconds from `since` (monotonic)."""
    try:
        wait_until(lambda: active_count(team) == 0, timeout=timeout, interval=0.1)
    except TimeoutError:
        stuck = Counter(Generation.objects.filter(team=team).values_list("status", flat=True))
        raise TimeoutError(f"not every generation reached a final state: {dict(stuck)}") from None
    return round(time.monotonic() - since, 2)


def runpod_jobs_by_generation(cloud: Stack) -> dict[int, list[dict]]:
    """RunPod's jobs grouped by the generation that sent them (the id travels in the input)."""
    grouped: dict[int, list[dict]] = {}
    for job in cloud.jobs():
        owner = (job.get("input") or {}).get("extra_metadata", {}).get("swarmdeck_generation")
        if owner:
            grouped.setdefault(int(owner), []).append(job)
    return grouped


@dataclass
class Ledger:
    generations: int
    statuses: Counter
    images: int
    expected_images: int  # the image count asked for, summed over succeeded generations
    stored_files: int  # files in storage under the team's folder (images and thumbnails)
    orphan_files: list[str]  # in storage, but no row points at them
    missing_files: list[str]  # a row points at them, but storage has no such file
    jobs_per_generation: dict[int, int]
    max_submit_attempts: int
    errors: Counter = field(default_factory=Counter)

    @property
    def duplicates(self) -> dict[int, int]:
        """Generations RunPod ran more than once: id → number of jobs."""
        return {gid: jobs for gid, jobs in self.jobs_per_generation.items() if jobs > 1}

    @property
    def runpod_jobs(self) -> int:
        return sum(self.jobs_per_generation.values())

    def figures(self) -> dict:
        return {
            "generations": self.generations,
            "statuses": dict(self.statuses),
            "images": self.images,
            "expected_images": self.expected_images,
            "stored_files": self.stored_files,
            "orphan_files": len(self.orphan_files),
            "missing_files": len(self.missing_files),
            "runpod_jobs": self.runpod_jobs,
            "generations_run_twice_or_more": len(self.duplicates),
            "extra_runpod_jobs": self.runpod_jobs - len(self.jobs_per_generation),
            "max_submit_attempts": self.max_submit_attempts,
        }

    def assert_each_image_stored_once(self) -> None:
        assert self.images == self.expected_images, self.figures()
        assert self.stored_files == 2 * self.images, self.figures()  # the image and its thumbnail
        assert not self.orphan_files, f"files without a row: {self.orphan_files[:5]}"
        assert not self.missing_files, f"rows without a file: {self.missing_files[:5]}"


def take_ledger(team, media_root: Path, cloud: Stack) -> Ledger:
    generations = list(Generation.objects.filter(team=team))
    ids = {generation.pk for generation in generations}
    rows = GeneratedImage.objects.filter(generation__team=team)
    referenced = {name for row in rows for name in (row.file.name, row.thumbnail.name) if name}
    folder = media_root / "generations" / str(team.pk)
    on_disk = {
        path.relative_to(media_root).as_posix() for path in folder.rglob("*") if path.is_file()
    }
    jobs = runpod_jobs_by_generation(cloud)
    return Ledger(
        generations=len(generations),
        statuses=Counter(generation.status for generation in generations),
        images=rows.count(),
        expected_images=sum(g.image_count for g in generations if g.status == Status.SUCCEEDED),
        stored_files=len(on_disk),
        orphan_files=sorted(on_disk - referenced),
        missing_files=sorted(referenced - on_disk),
        jobs_per_generation={gid: len(jobs.get(gid, [])) for gid in ids},
        max_submit_attempts=max((g.submit_attempts for g in generations), default=0),
        errors=Counter(g.error for g in generations if g.error),
    )
