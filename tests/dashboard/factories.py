"""Small functions that build dashboard objects for tests, with sensible defaults."""

from __future__ import annotations

import base64
import io
import itertools

from django.contrib.auth import get_user_model
from PIL import Image, PngImagePlugin

from dashboard.accounts.models import Membership, Role, Team
from dashboard.fleet.models import RunPodEndpoint
from dashboard.generations.models import Generation

_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(username: str | None = None, **fields):
    username = username or f"user{next(_counter)}"
    return get_user_model().objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com", **fields
    )


def make_team(name: str | None = None, **fields) -> Team:
    number = next(_counter)
    name = name or f"Team {number}"
    return Team.objects.create(name=name, slug=f"team-{number}", **fields)


def make_member(team: Team, role: str = Role.MEMBER, user=None) -> Membership:
    return Membership.objects.create(team=team, user=user or make_user(), role=role)


def make_endpoint(
    team: Team,
    *,
    api_key: str = "local-dev-key",
    api_base_url: str = "http://127.0.0.1:9/v2",
    **fields,
) -> RunPodEndpoint:
    endpoint = RunPodEndpoint(
        team=team,
        name=fields.pop("name", f"endpoint-{next(_counter)}"),
        endpoint_id=fields.pop("endpoint_id", "local"),
        api_base_url=api_base_url,
        rest_base_url=fields.pop("rest_base_url", api_base_url),
        default_model=fields.pop("default_model", "OfficialStableDiffusion/sd_xl_base_1.0"),
        is_default=fields.pop("is_default", not team.endpoints.exists()),
        **fields,
    )
    endpoint.set_api_key(api_key)
    endpoint.save()
    return endpoint


def make_generation(membership: Membership, endpoint: RunPodEndpoint, **fields) -> Generation:
    defaults = {
        "prompt": "a red fox in the snow",
        "model": endpoint.default_model,
        "width": 512,
        "height": 512,
        "steps": 4,
        "cfg_scale": 7.0,
        "seed": 42,
        "image_count": 1,
    }
    return Generation.objects.create(
        team=membership.team, user=membership.user, endpoint=endpoint, **{**defaults, **fields}
    )


def png_bytes(
    width: int = 64, height: int = 48, color=(200, 30, 30), parameters: str = ""
) -> bytes:
    image = Image.new("RGB", (width, height), color)
    info = PngImagePlugin.PngInfo()
    if parameters:
        info.add_text("parameters", parameters)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def inline_output(*images: bytes, seed: int = 42) -> dict:
    """A generate output as the worker's contract shapes it, images inline."""
    return {
        "images": [
            {
                "filename": f"image-{index}.png",
                "mime": "image/png",
                "size_bytes": len(content),
                "seed": seed + index,
                "width": 64,
                "height": 48,
                "metadata": {"sui_image_params": {"seed": seed + index}},
                "type": "base64",
                "data": base64.b64encode(content).decode(),
            }
            for index, content in enumerate(images)
        ],
        "output_mode": "inline",
        "parameters": {},
        "elapsed_seconds": 1.5,
    }


def make_stored_generation(
    membership: Membership, endpoint: RunPodEndpoint, *images: bytes, **fields
) -> Generation:
    """A succeeded generation whose images (PNG bytes, default one) are in media storage."""
    from dashboard.generations.models import Status
    from dashboard.generations.services import ingest_outputs

    images = images or (png_bytes(),)
    generation = make_generation(
        membership, endpoint, status=Status.SUCCEEDED, image_count=len(images), **fields
    )
    ingest_outputs(generation=generation, output=inline_output(*images, seed=generation.seed))
    return generation


def make_finished_generation(
    membership, endpoint, *, images: int = 1, seed: int = 42, **fields
) -> Generation:
    """A generation that succeeded with `images` real PNGs stored (through the real ingest)."""
    from dashboard.generations.models import Status
    from dashboard.generations.services import apply_job_status

    generation = make_generation(
        membership,
        endpoint,
        status=Status.SUBMITTED,
        runpod_job_id=f"job-{seed}",
        image_count=images,
        seed=seed,
        **fields,
    )
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]
    # Asked for -1, the worker reports the random seeds it picked.
    output = inline_output(
        *(png_bytes(color=colours[i % 4]) for i in range(images)),
        seed=seed if seed >= 0 else 918_273_645,
    )
    return apply_job_status(
        generation_id=generation.pk,
        job={"id": f"job-{seed}", "status": "COMPLETED", "output": output, "executionTime": 1500},
    )
