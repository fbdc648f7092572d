"""The T2I parameter registry (`T2IParamTypes`), a core subset, as ListT2IParams shows it (§3.5)."""

from __future__ import annotations

import re
from dataclasses import dataclass

LONG_MAX = 9223372036854775807
UINT_MAX = 4294967295


def clean_type_name(name: str) -> str:
    """Parameter id: lower-case, then every character outside a-z removed (§3.1 step 1)."""
    return re.sub(r"[^a-z]", "", name.lower())


@dataclass(frozen=True)
class ParamGroup:
    name: str
    toggles: bool = False
    open: bool = True
    priority: float = 10
    description: str = ""
    advanced: bool = False
    can_shrink: bool = True

    @property
    def id(self) -> str:
        return clean_type_name(self.name)

    def to_net(self) -> dict:
        return {
            "name": self.name,
            "id": self.id,
            "toggles": self.toggles,
            "open": self.open,
            "priority": float(self.priority),
            "description": self.description,
            "advanced": self.advanced,
            "can_shrink": self.can_shrink,
            "parent": None,
        }


@dataclass(frozen=True)
class ParamType:
    """One registered parameter; `type` is the SwarmUI data type name."""

    name: str
    type: str
    default: str | None
    description: str = ""
    min: float = 0
    max: float = 0
    step: float = 1
    view_min: float = 0
    view_max: float = 0
    values: tuple[str, ...] | None = None  # "raw///Display" entries
    dynamic_values: str | None = None  # "vae", "loras" or "refiner": filled from the models
    examples: tuple[str, ...] | None = None
    visible: bool = True
    advanced: bool = False
    feature_flag: str | None = None
    toggleable: bool = False
    priority: float = 10
    group: ParamGroup | None = None
    ignore_if: str | None = None
    subtype: str | None = None
    view_type: str = "small"
    always_retain: bool = False

    @property
    def id(self) -> str:
        return clean_type_name(self.name)

    def to_net(self, values: list[str] | None) -> dict:
        """One `list` entry of ListT2IParams; `values` are the raw "raw///Display" values."""
        return {
            "name": self.name,
            "id": self.id,
            "description": self.description,
            "type": self.type,
            "subtype": self.subtype,
            "default": self.default,
            "min": float(self.min),
            "max": float(self.max),
            "view_min": float(self.view_min),
            "view_max": float(self.view_max),
            "step": float(self.step),
            "values": None if values is None else [v.split("///")[0] for v in values],
            "value_names": None if values is None else [v.split("///")[-1] for v in values],
            "examples": None if self.examples is None else list(self.examples),
            "visible": self.visible,
            "advanced": self.advanced,
            "feature_flag": self.feature_flag,
            "toggleable": self.toggleable,
            "priority": float(self.priority),
            "group": self.group.id if self.group else None,
            "always_retain": self.always_retain,
            "do_not_save": False,
            "do_not_preview": False,
            "view_type": self.view_type,
            "extra_hidden": False,
            "can_sectionalize": True,
            "nonreusable": False,
            "depend_non_default": None,
        }


CORE = ParamGroup("Core Parameters", priority=-50)
VARIATION = ParamGroup("Variation Seed", toggles=True, open=False, priority=-17)
RESOLUTION = ParamGroup("Resolution", open=False, priority=-11)
SAMPLING = ParamGroup("Sampling", open=False, priority=-8)
INIT_IMAGE = ParamGroup("Init Image", toggles=True, open=False, priority=-5)
REFINE = ParamGroup("Refine / Upscale", toggles=True, open=False, priority=-3)
ADDONS = ParamGroup("Advanced Model Addons", open=False, advanced=True)
INTERNAL = ParamGroup("Swarm Internal", open=False, priority=0, advanced=True)
ADV_SAMPLING = ParamGroup("Advanced Sampling", open=False, advanced=True)
GROUPS = [
    CORE, VARIATION, RESOLUTION, SAMPLING, INIT_IMAGE, REFINE, ADDONS, INTERNAL, ADV_SAMPLING,
]  # fmt: skip

ASPECT_RATIOS = (
    "1:1///1:1 (Square)", "4:3///4:3 (Old PC)", "3:2///3:2 (Semi-wide)", "8:5///8:5",
    "16:9///16:9 (Standard Widescreen)", "21:9///21:9 (Ultra-Widescreen)", "3:4///3:4",
    "2:3///2:3 (Semi-tall)", "5:8///5:8", "9:16///9:16 (Tall)", "9:21///9:21 (Ultra-Tall)",
    "Custom",
)  # fmt: skip
SAMPLERS = (
    "euler", "euler_ancestral", "heun", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast",
    "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m", "dpmpp_2m_sde",
    "dpmpp_3m_sde", "ddim", "uni_pc", "lcm",
)  # fmt: skip
SCHEDULERS = ("normal", "karras", "exponential", "simple", "ddim_uniform", "sgm_uniform", "beta")


def _flag(name: str, description: str, **extra) -> ParamType:
    """A boolean that is ignored when false (most of SwarmUI's switches)."""
    extra.setdefault("group", INTERNAL)
    return ParamType(
        name, "boolean", "false", description, ignore_if="false", advanced=True, **extra
    )


PARAMS: list[ParamType] = [
    ParamType("Prompt", "text", "", "The input prompt text.", priority=-100, visible=False,
              view_type="prompt", examples=("a photo of a cat",)),
    ParamType("Negative Prompt", "text", "", "What NOT to generate.", ignore_if="",
              priority=-90, visible=False, view_type="prompt"),
    ParamType("Images", "integer", "1", "How many images to generate at once.", ignore_if="1",
              min=1, max=10000, examples=("1", "4"), priority=-50, group=CORE),
    ParamType("Seed", "integer", "-1", "Image seed. -1 = random.", min=-1, max=LONG_MAX,
              priority=-30, view_type="seed", group=CORE),
    ParamType("Steps", "integer", "20", "How many times to run the model.", min=0, max=500,
              view_max=100, examples=("10", "15", "20", "30", "40"), priority=-20, group=CORE,
              view_type="slider"),
    ParamType("CFG Scale", "decimal", "7", "How strongly to scale prompt input.", min=0,
              max=100, view_max=20, step=0.5, examples=("5", "6", "7", "8", "9"), priority=-18,
              view_type="slider", group=CORE),
    ParamType("Variation Seed", "integer", "-1", "Image-variation seed.", min=-1, max=UINT_MAX,
              priority=-17, view_type="seed", group=VARIATION, feature_flag="variation_seed"),
    ParamType("Variation Seed Strength", "decimal", "0", "How strongly to apply the variation.",
              ignore_if="0", min=0, max=1, step=0.05, priority=-17, view_type="slider",
              group=VARIATION, feature_flag="variation_seed"),
    ParamType("Aspect Ratio", "dropdown", "1:1", "Image aspect ratio.", values=ASPECT_RATIOS,
              priority=-11, group=RESOLUTION),
    ParamType("Width", "integer", "512", "Image width, in pixels.", min=64, max=16384,
              view_min=256, view_max=2048, step=32, priority=-10, view_type="pot_slider",
              group=RESOLUTION),
    ParamType("Height", "integer", "512", "Image height, in pixels.", min=64, max=16384,
              view_min=256, view_max=2048, step=32, priority=-9, view_type="pot_slider",
              group=RESOLUTION),
    ParamType("Side Length", "integer", "1024", "Image side length.", min=64, max=16384,
              step=32, toggleable=True, priority=-8, group=RESOLUTION),
    ParamType("Sampler", "dropdown", "euler", "Sampler type.", values=SAMPLERS,
              group=SAMPLING, feature_flag="comfyui", toggleable=True, priority=-5),
    ParamType("Scheduler", "dropdown", "normal", "Scheduler type.", values=SCHEDULERS,
              group=SAMPLING, feature_flag="comfyui", toggleable=True, priority=-4),
    ParamType("Seamless Tileable", "dropdown", "false", "Make the image tileable.",
              ignore_if="false", values=("false", "true", "X-Only", "Y-Only"), group=SAMPLING,
              feature_flag="seamless", priority=15),
    ParamType("Init Image", "image", None, "Init-image, to edit an image.", priority=-5,
              group=INIT_IMAGE),
    ParamType("Init Image Creativity", "decimal", "0.6", "How far from the init image to go.",
              min=0, max=1, step=0.05, priority=-4.5, view_type="slider", group=INIT_IMAGE),
    ParamType("Mask Image", "image", None, "Mask-image, white pixels are changed.",
              priority=-4, group=INIT_IMAGE),
    ParamType("Refiner Model", "model", "(Use Base)", "The model to use for refinement.",
              ignore_if="(Use Base)", dynamic_values="refiner", priority=-5, group=REFINE,
              feature_flag="refiners", subtype="Stable-Diffusion"),
    ParamType("Refiner Control Percentage", "decimal", "0.2", "Refiner control.", min=0,
              max=1, step=0.05, priority=-4, view_type="slider", group=REFINE,
              feature_flag="refiners"),
    ParamType("Refiner Upscale", "decimal", "1", "Upscale between base and refiner.",
              ignore_if="1", min=0.25, max=8, view_max=4, step=0.25, priority=-2,
              view_type="slider", group=REFINE, feature_flag="refiners"),
    ParamType("Model", "model", "", "What main checkpoint model should be used.",
              visible=False, subtype="Stable-Diffusion"),
    ParamType("VAE", "model", "None", "The VAE to use.", ignore_if="None", advanced=True,
              toggleable=True, dynamic_values="vae", subtype="VAE", group=ADDONS),
    ParamType("LoRAs", "list", "", "LoRAs to apply.", ignore_if="", advanced=True,
              toggleable=True, dynamic_values="loras", group=ADDONS, visible=False),
    ParamType("LoRA Weights", "list", "", "Weights for the LoRA list.", ignore_if="", min=-10,
              max=10, step=0.1, advanced=True, toggleable=True, group=ADDONS, visible=False),
    ParamType("LoRA Tenc Weights", "list", "", "Text-encoder weights for the LoRA list.",
              ignore_if="", advanced=True, toggleable=True, group=ADDONS, visible=False),
    ParamType("Batch Size", "integer", "1", "Images per backend call.", ignore_if="1", min=1,
              max=100, view_max=10, advanced=True, view_type="slider", group=INTERNAL,
              priority=-20),
    _flag("Output Intermediate Images", "Also output intermediate images.", priority=-16),
    _flag("Do Not Save", "Do not save this image.", priority=-15, always_retain=True),
    _flag("Do Not Save Intermediates", "Do not save intermediate images.", priority=-15),
    _flag("No Previews", "Previews are not desired.", priority=-14, always_retain=True),
    _flag("No Load Models", "Do not load models to run this request.", priority=-13),
    ParamType("Exact Backend ID", "integer", "0", "Force a specific backend by ID.",
              toggleable=True, advanced=True, view_type="big", group=INTERNAL, priority=-9),
    ParamType("Wildcard Seed", "integer", "-1", "Wildcard selection seed.", min=-1,
              max=UINT_MAX, toggleable=True, view_type="seed", group=INTERNAL, priority=-5,
              always_retain=True),
    _flag("No Seed Increment", "Do not increment the seed per image.", priority=-4),
    ParamType("Personal Note", "text", "", "A personal note kept in the metadata.",
              ignore_if="", advanced=True, view_type="big", group=INTERNAL, priority=0),
    ParamType("Image Format", "dropdown", "PNG", "Override of the output file format.",
              values=("PNG", "JPG", "WEBP"), advanced=True, toggleable=True, group=INTERNAL,
              priority=1),
    ParamType("Override Outpath Format", "text", "", "Override of the output path format.",
              ignore_if="", advanced=True, toggleable=True, group=INTERNAL, priority=2),
    _flag("Continue After Errors", "Keep generating the batch after an error.", priority=3),
    _flag("Forward Raw Backend Data", "Forward raw backend messages.", priority=4),
    _flag("Forward Swarm Data", "Forward Swarm's internal data.", priority=4),
    ParamType("CLIP Stop At Layer", "integer", "-1", "CLIP skip.", min=-24, max=-1,
              toggleable=True, advanced=True, group=ADV_SAMPLING),
]  # fmt: skip

PARAMS_BY_ID = {param.id: param for param in PARAMS}
REMAPPED_IDS = {"saveintermediateimages": "outputintermediateimages", "textvideofps": "videofps"}


def find_param(key: str) -> ParamType | None:
    """The registered parameter a request key means, after normalising it."""
    param_id = clean_type_name(key)
    return PARAMS_BY_ID.get(REMAPPED_IDS.get(param_id, param_id))
