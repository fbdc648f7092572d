"""First-start seeding: a few tiny but valid model files, so a fresh volume can generate."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from emulators.swarmui.models import SUBTYPE_FOLDERS, ModelStore
from emulators.swarmui.safetensors import write_model

log = logging.getLogger(__name__)

# (path under Models/, architecture, title); the first is the original worker's default model.
SEED_MODELS = [
    (
        "Stable-Diffusion/OfficialStableDiffusion/sd_xl_base_1.0.safetensors",
        "stable-diffusion-xl-v1-base",
        "Stable Diffusion XL 1.0 Base",
    ),
    ("Stable-Diffusion/Flux/flux1-schnell-tiny.safetensors", "Flux.1-schnell", "Flux.1 Schnell"),
    (
        "Lora/OfficialStableDiffusion/sd_xl_offset_example-lora_1.0.safetensors",
        "stable-diffusion-xl-v1-base/lora",
        "SDXL Offset Example LoRA",
    ),
    ("VAE/Flux/ae.safetensors", "flux.1/vae", "Flux.1 Autoencoder"),
]


def seed_models_if_empty(store: ModelStore) -> None:
    """Seed only when no subtype has any model (a fresh volume)."""
    store.refresh()
    if any(store.models(subtype) for subtype in SUBTYPE_FOLDERS):
        return
    for relative, architecture, title in SEED_MODELS:
        path = store.root / relative
        metadata = {
            "modelspec.sai_model_spec": "1.0.0",
            "modelspec.architecture": architecture,
            "modelspec.title": title,
            "modelspec.author": "SwarmDeck emulator",
        }
        # 4 KiB of deterministic "weights", different per file so tensor hashes differ.
        data = hashlib.shake_256(relative.encode()).digest(4096)
        write_model(path, metadata, data)
        side = {
            "modelspec.title": title,
            "modelspec.architecture": architecture,
            "modelspec.description": "A tiny placeholder model seeded by the SwarmUI emulator.",
        }
        Path(str(path)[: -len(".safetensors")] + ".swarm.json").write_text(
            json.dumps(side, indent=2)
        )
        log.info("Seeded model %s", relative)
    store.refresh()
