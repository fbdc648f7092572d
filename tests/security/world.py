"""Two teams for security tests: team A owns one of every kind of object a URL can name, and
carries canary strings (text that must never reach anyone outside A) and known secrets (that
must reach nobody at all); team B's admin is the outsider."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import time, timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from dashboard.accounts.invitations import invitation_create
from dashboard.accounts.models import ApiToken, Invitation, Membership, Role, Team
from dashboard.accounts.services import api_token_create, api_token_revoke
from dashboard.catalogue.models import (
    ActionKind,
    AuditEntry,
    ModelAction,
    ModelFile,
    ProviderTokens,
    Subtype,
    SyncRun,
    SyncStatus,
)
from dashboard.fleet.models import Alert, AlertKind, HealthSample, RunPodEndpoint, WarmSchedule
from dashboard.generations.models import GeneratedImage, Generation, Preset, Tag
from tests.dashboard import factories


@dataclass
class Secrets:
    """Plain secret values stored (encrypted) in team A's rows."""

    runpod_api_key: str
    volume_access_key: str
    volume_secret_key: str
    huggingface_token: str
    civitai_token: str

    def values(self) -> list[str]:
        return [
            self.runpod_api_key,
            self.volume_access_key,
            self.volume_secret_key,
            self.huggingface_token,
            self.civitai_token,
        ]


@dataclass
class World:
    team: Team
    owner: Membership
    member: Membership
    viewer: Membership
    target: Membership  # a member the admin-only member routes act on
    outsider: Membership  # an admin of team B
    endpoint: RunPodEndpoint
    generation: Generation
    images: list[GeneratedImage]
    tag: Tag
    preset: Preset  # saved by the member: members change their own, owners and admins any
    schedule: WarmSchedule
    alert: Alert
    model_file: ModelFile
    model_action: ModelAction
    sync_run: SyncRun
    invitation: Invitation  # open, addressed to someone who is none of the actors
    owner_token: ApiToken
    tokens: dict[str, str]  # plain values: "revoked", "expired"
    secrets: Secrets
    canaries: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # storage name → content

    def restore_files(self) -> None:
        """Put back any of team A's stored files a request deleted."""
        for name, content in self.files.items():
            if not default_storage.exists(name):
                default_storage.save(name, ContentFile(content))

    @property
    def image(self) -> GeneratedImage:
        return self.images[0]

    def image_digests(self) -> set[str]:
        return {image.sha256 for image in self.images}


def canary(label: str) -> str:
    return f"canary-{label}-{uuid.uuid4().hex[:10]}"


def build_world(*, endpoint_base_url: str = "http://127.0.0.1:9/v2") -> World:
    """Team A with one of everything, team B with its admin; `endpoint_base_url` is where A's
    endpoint sends RunPod calls (port 9, nothing listens, by default: calls fail fast)."""
    names = {
        key: canary(key)
        for key in ("team", "prompt", "tag", "endpoint", "model", "user", "invitee", "preset")
    }
    # (the slug is no canary: an outsider may know it, and sends it as X-Team)
    team = Team.objects.create(name=names["team"], slug=f"alpha-{uuid.uuid4().hex[:8]}")
    owner = factories.make_member(
        team, Role.OWNER, user=factories.make_user(f"{names['user']}-owner")
    )
    member = factories.make_member(team, Role.MEMBER)
    viewer = factories.make_member(team, Role.VIEWER)
    target = factories.make_member(
        team, Role.MEMBER, user=factories.make_user(f"{names['user']}-target")
    )
    outsider = factories.make_member(factories.make_team("Other Team"), Role.ADMIN)
    factories.make_endpoint(outsider.team, name="their-own")

    secrets = Secrets(
        runpod_api_key=f"rpa_{uuid.uuid4().hex}SECRETKEY",
        volume_access_key=f"user_{uuid.uuid4().hex[:16]}",
        volume_secret_key=f"rps_{uuid.uuid4().hex}SECRETS3",
        huggingface_token=f"hf_{uuid.uuid4().hex}SECRETHF",
        civitai_token=f"civ{uuid.uuid4().hex}SECRETCIVITAI",
    )
    endpoint = factories.make_endpoint(
        team,
        name=names["endpoint"],
        api_key=secrets.runpod_api_key,
        api_base_url=endpoint_base_url,
        default_model=f"OfficialStableDiffusion/{names['model']}",
        volume_id="vol-canary",
        volume_s3_endpoint_url="http://127.0.0.1:9",
        volume_s3_region="eu-ro-1",
    )
    endpoint.set_volume_credentials(secrets.volume_access_key, secrets.volume_secret_key)
    endpoint.save()
    tokens = ProviderTokens(team=team)
    tokens.set_tokens(huggingface=secrets.huggingface_token, civitai=secrets.civitai_token)
    tokens.save()

    generation = factories.make_stored_generation(
        member,
        endpoint,
        factories.png_bytes(color=(10, 200, 30)),
        factories.png_bytes(color=(20, 30, 220)),
        prompt=f"a fox named {names['prompt']}",
        starred=False,
    )
    tag = Tag.objects.create(team=team, name=names["tag"][:40])
    generation.tags.add(tag)
    preset = Preset.objects.create(
        team=team,
        created_by=member.user,
        name=names["preset"],
        negative_prompt=f"blurry, {names['prompt']}",
        endpoint=endpoint,
        extra_params={"sampler": "euler"},
    )
    schedule = WarmSchedule.objects.create(
        endpoint=endpoint,
        name="mornings",
        weekdays=[0, 1, 2],
        start_time=time(8),
        end_time=time(10),
        warm_workers=1,
    )
    alert = Alert.objects.create(
        endpoint=endpoint,
        kind=AlertKind.MAX_SCALED_DOWN,
        message="max workers cut",
        details={"restore_max": 3},
    )
    HealthSample.objects.create(endpoint=endpoint, workers_idle=1)
    model_file = ModelFile.objects.create(
        endpoint=endpoint,
        path=f"SwarmUI/Models/Stable-Diffusion/{names['model']}.safetensors",
        folder="SwarmUI/Models/Stable-Diffusion/",
        subtype=Subtype.STABLE_DIFFUSION,
        name=f"{names['model']}.safetensors",
        size=1234,
    )
    model_file.preview.save("preview.png", ContentFile(factories.png_bytes()), save=True)
    model_action = ModelAction.objects.create(
        team=team,
        endpoint=endpoint,
        user=owner.user,
        kind=ActionKind.DOWNLOAD,
        subtype=Subtype.LORA,
        model_name=f"{names['model']}-lora.safetensors",
    )
    sync_run = SyncRun.objects.create(
        endpoint=endpoint, source="s3", status=SyncStatus.SUCCEEDED, finished_at=timezone.now()
    )
    AuditEntry.objects.create(
        team=team,
        user=owner.user,
        username=owner.user.username,
        action="download",
        target=model_action.model_name,
        outcome="queued",
    )

    invitation = invitation_create(
        team=team, email=f"{names['invitee']}@example.com", role=Role.MEMBER, by=owner
    )
    owner_token, _ = api_token_create(user=owner.user, name="owner's script")
    revoked, revoked_plain = api_token_create(user=member.user, name="revoked")
    api_token_revoke(token=revoked)
    expired, expired_plain = api_token_create(
        user=member.user, name="expired", expires_at=timezone.now() + timedelta(days=1)
    )
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    images = list(generation.images.order_by("index"))
    stored = [f for image in images for f in (image.file, image.thumbnail) if f]
    files = {f.name: f.storage.open(f.name, "rb").read() for f in [*stored, model_file.preview]}
    return World(
        files=files,
        team=team,
        owner=owner,
        member=member,
        viewer=viewer,
        target=target,
        outsider=outsider,
        endpoint=endpoint,
        generation=generation,
        images=images,
        tag=tag,
        preset=preset,
        schedule=schedule,
        alert=alert,
        model_file=model_file,
        model_action=model_action,
        sync_run=sync_run,
        invitation=invitation,
        owner_token=owner_token,
        tokens={"revoked": revoked_plain, "expired": expired_plain},
        secrets=secrets,
        canaries=[*names.values(), names["tag"][:40]],
    )
