"""Known model architectures (`T2IModelClassSorter`), a subset covering common models."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompatClass:
    id: str
    short_code: str
    vae_family: str | None = None

    def to_net(self) -> dict:
        return {
            "id": self.id,
            "short_code": self.short_code,
            "loras_target_text_enc": True,
            "is_text2video": False,
            "is_image2video": False,
            "is_audio_model": False,
            "has_joint_av_latents": False,
            "resolution_precision": 64,
            "vae_family": self.vae_family,
        }


@dataclass(frozen=True)
class ModelClass:
    id: str
    name: str
    compat: CompatClass
    standard_width: int = 1024
    standard_height: int = 1024

    def to_net(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "compat_class": self.compat.id,
            "standard_width": self.standard_width,
            "standard_height": self.standard_height,
        }


SDV1 = CompatClass("stable-diffusion-v1", "SDv1", "sd1-vae")
SDXL = CompatClass("stable-diffusion-xl-v1", "SDXL", "sdxl-vae")
SD3 = CompatClass("stable-diffusion-v3", "SD3", "sd3-vae")
FLUX = CompatClass("flux-1", "Flux", "flux-vae")

CLASSES = [
    ModelClass("stable-diffusion-v1", "Stable Diffusion v1", SDV1, 512, 512),
    ModelClass("stable-diffusion-v1/lora", "Stable Diffusion v1 LoRA", SDV1, 512, 512),
    ModelClass("stable-diffusion-xl-v1-base", "Stable Diffusion XL 1.0-Base", SDXL),
    ModelClass("stable-diffusion-xl-v1-base/lora", "Stable Diffusion XL 1.0-Base LoRA", SDXL),
    ModelClass(
        "stable-diffusion-xl-v1-base/controlnet", "Stable Diffusion XL 1.0-Base ControlNet", SDXL
    ),
    ModelClass("stable-diffusion-v3-medium", "Stable Diffusion 3 Medium", SD3),
    ModelClass("stable-diffusion-v3.5-large", "Stable Diffusion 3.5 Large", SD3),
    ModelClass("Flux.1-schnell", "Flux.1 Schnell", FLUX),
    ModelClass("Flux.1-dev", "Flux.1 Dev", FLUX),
    ModelClass("Flux.1-dev/lora", "Flux.1 LoRA", FLUX),
    ModelClass("flux.1/vae", "Flux.1 Autoencoder", FLUX),
]

_BY_ID = {clazz.id.lower(): clazz for clazz in CLASSES}
_REMAPS = {"flux.1-schnell/lora": "flux.1-dev/lora", "flux.1-ae": "flux.1/vae"}


def find_class(architecture: str | None) -> ModelClass | None:
    """The class for an architecture id (case-insensitive, with SwarmUI's remaps), or None."""
    if not architecture or not architecture.strip():
        return None
    key = architecture.strip().lower()
    return _BY_ID.get(_REMAPS.get(key, key))


def compat_classes() -> dict[str, dict]:
    return {clazz.compat.id: clazz.compat.to_net() for clazz in CLASSES}


def model_classes() -> dict[str, dict]:
    return {clazz.id: clazz.to_net() for clazz in CLASSES}
