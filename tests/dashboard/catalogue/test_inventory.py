"""SwarmUI's naming rules applied to volume keys (swarmui-api.md §4.1) and `.swarm.json` files."""

import base64
import json

import pytest

from dashboard.catalogue import inventory
from dashboard.catalogue.inventory import ModelKey, SideFileError


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            "SwarmUI/Models/Stable-Diffusion/OfficialStableDiffusion/sd_xl_base_1.0.safetensors",
            ModelKey(
                "Stable-Diffusion", "OfficialStableDiffusion/sd_xl_base_1.0.safetensors", True
            ),
        ),
        ("SwarmUI/Models/tensorrt/a.engine", ModelKey("Stable-Diffusion", "a.engine", True)),
        (
            "SwarmUI/Models/diffusion_models/wan/x.gguf",
            ModelKey("Stable-Diffusion", "wan/x.gguf", True),
        ),
        ("SwarmUI/Models/unet/u.sft", ModelKey("Stable-Diffusion", "u.sft", True)),
        ("SwarmUI/Models/Lora/style.safetensors", ModelKey("LoRA", "style.safetensors", True)),
        ("SwarmUI/Models/VAE/ae.pt", ModelKey("VAE", "ae.pt", False)),
        ("SwarmUI/Models/Embeddings/neg.bin", ModelKey("Embedding", "neg.bin", False)),
        ("SwarmUI/Models/controlnet/c.pth", ModelKey("ControlNet", "c.pth", False)),
        (
            "SwarmUI/Models/model_patches/p.safetensors",
            ModelKey("ControlNet", "p.safetensors", True),
        ),
        ("SwarmUI/Models/text_encoders/t5.safetensors", ModelKey("Clip", "t5.safetensors", True)),
        ("SwarmUI/Models/clip/l.safetensors", ModelKey("Clip", "l.safetensors", True)),
        ("SwarmUI/Models/clip_vision/v.safetensors", ModelKey("ClipVision", "v.safetensors", True)),
        (
            "SwarmUI/Models/Stable-Diffusion/old.ckpt",
            ModelKey("Stable-Diffusion", "old.ckpt", False),
        ),
        (
            "SwarmUI/Models/Lora/a b+c #1 ünï.safetensors",
            ModelKey("LoRA", "a b+c #1 ünï.safetensors", True),
        ),
    ],
)
def test_model_keys_get_swarmui_subtype_and_name(key, expected):
    assert inventory.parse_model_key(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "SwarmUI/Models/Stable-Diffusion/",  # a directory marker
        "SwarmUI/Models/Stable-Diffusion/notes.txt",  # not a model format
        "SwarmUI/Models/Stable-Diffusion/x.swarm.json",  # a side file
        "SwarmUI/Models/Stable-Diffusion/.hidden/x.safetensors",  # dot-folder
        "SwarmUI/Models/Stable-Diffusion/.x.safetensors",  # dot-file
        "SwarmUI/Models/checkpoints/x.safetensors",  # ComfyUI's folder name: SwarmUI ignores it
        "SwarmUI/Models/lora/x.safetensors",  # folder names are case-sensitive
        "SwarmUI/Models/upscale_models/4x.pth",
        "SwarmUI/Models/x.safetensors",  # not in a subtype folder
        "ComfyUI/models/loras/x.safetensors",
        "SwarmUI/Models/Stable-Diffusion/x.SAFETENSORS.txt",
    ],
)
def test_keys_swarmui_does_not_list_are_not_models(key):
    assert inventory.parse_model_key(key) is None


def test_side_files_share_the_model_base_name_in_swarmui_order():
    key = "SwarmUI/Models/Lora/styles/pixel.safetensors"
    assert inventory.metadata_key(key) == "SwarmUI/Models/Lora/styles/pixel.swarm.json"
    previews = inventory.preview_keys(key)
    assert previews[:3] == [
        "SwarmUI/Models/Lora/styles/pixel.jpg",
        "SwarmUI/Models/Lora/styles/pixel.png",
        "SwarmUI/Models/Lora/styles/pixel.preview.png",
    ]
    assert previews[-1] == "SwarmUI/Models/Lora/styles/pixel.thumb.png"
    assert inventory.is_side_file("SwarmUI/Models/Lora/styles/pixel.preview.jpg")
    assert not inventory.is_side_file("SwarmUI/Output/local/raw/a.png")


@pytest.mark.parametrize(
    ("key", "folders"),
    [
        ("readme.txt", ("/",)),
        ("ComfyUI/models/x.safetensors", ("ComfyUI",)),
        ("SwarmUI/launch-linux.sh", ("SwarmUI",)),
        ("SwarmUI/Output/local/raw/a.png", ("SwarmUI", "SwarmUI/Output")),
        ("SwarmUI/Models/model.txt", ("SwarmUI", "SwarmUI/Models")),
        (
            "SwarmUI/Models/Lora/a/b.safetensors",
            ("SwarmUI", "SwarmUI/Models", "SwarmUI/Models/Lora"),
        ),
    ],
)
def test_usage_counts_a_key_in_its_top_folder_and_swarmui_subfolders(key, folders):
    assert inventory.usage_folders(key) == folders


def test_staging_folder_is_recognised_at_any_depth():
    assert inventory.is_staging_folder(".s3compat_uploads/")
    assert inventory.is_staging_folder("SwarmUI/Models/Lora/.s3compat_uploads/")
    assert not inventory.is_staging_folder("SwarmUI/Models/Lora/")


def test_swarm_json_reads_modelspec_and_bare_keys():
    side = inventory.parse_swarm_json(
        json.dumps(
            {
                "modelspec.title": "Pixel Art",
                "architecture": "stable-diffusion-xl-v1-base/lora",
                "modelspec.trigger_phrase": ["pixel art", "8-bit"],
                "description": "Small squares.",
                "modelspec.author": "someone",
            }
        ).encode()
    )
    assert side.title == "Pixel Art"
    assert side.architecture == "stable-diffusion-xl-v1-base/lora"
    assert side.trigger_phrase == "pixel art, 8-bit"
    assert side.description == "Small squares."
    assert side.fields["modelspec.author"] == "someone"
    assert side.preview == ""


def test_swarm_json_embedded_preview_is_kept_apart_from_the_fields():
    data_url = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
    side = inventory.parse_swarm_json(
        json.dumps({"modelspec.title": "T", "modelspec.preview_image": data_url}).encode()
    )
    assert side.preview == data_url
    assert "modelspec.preview_image" not in side.fields
    assert inventory.decode_data_image(side.preview) == (b"\x89PNG fake", "png")


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "not a JSON object"), (b"\xff\xfe", "JSON")],
)
def test_unreadable_swarm_json_says_what_is_wrong(raw, message):
    with pytest.raises(SideFileError, match=message):
        inventory.parse_swarm_json(raw)


@pytest.mark.parametrize(
    "url",
    ["data:image/gif;base64,R0lGOD", "data:image/png,plain", "data:image/png;base64,@@@"],
)
def test_only_base64_png_jpeg_webp_previews_are_decoded(url):
    with pytest.raises(SideFileError):
        inventory.decode_data_image(url)
