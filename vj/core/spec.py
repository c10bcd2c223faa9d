"""What a set describes, as frozen dataclasses: the show, its prompts, routes, scenes, LFOs,
envelopes, layers and control settings, with the vocabulary they are checked against (LFO shapes,
triggers, blend modes, layer sources). show/setfile.py reads them from TOML; every other part only reads them."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from vj.core.features import AnalyzerConfig

# The ranges a set's numbers and the command line's flags share: one source for setfile.py (a set is
# read by them), cli.py (its flags are checked by them and its help says them) and the docs.
RANGES: dict[str, tuple[float, float]] = {
    "steps": (1, 8),  # denoising steps per frame ([generator] steps, --steps)
    "deep_cache": (1, 8),  # frames per full UNet pass, 1: off ([generator] deep_cache, --deep-cache)
    "fps": (1, 240),  # program frames a second ([show] fps, --fps)
    "quantum": (1, 16),  # beats a bar ([tempo] quantum, --quantum)
    "audio_channel": (1, 64),  # 1-based input channel ([audio] channel, --audio-channel)
    "bpm": (20, 400),  # a tempo held or looked for ([audio] bpm_range, --bpm, --bpm-range)
    "sensitivity": (0.05, 20),  # onsets ([audio] sensitivity, hit_sensitivity, --sensitivity)
    "seed": (0, 2**63 - 1),  # ([generator] seed, --seed)
}

LFO_SHAPES = ("sine", "triangle", "saw", "square", "random")
# Events that fire envelopes and re-sample prompt templates (audio.bar: the first beat of a bar,
# from the beat tracker or an outside MIDI clock; the engine adds it).
TRIGGERS = ("audio.onset", "audio.beat", "audio.bar", "audio.bass_hit", "audio.mid_hit", "audio.high_hit")
TRIGGER_SHORTHANDS = {"onset": "audio.onset", "beat": "audio.beat", "bar": "audio.bar"}


@dataclass(frozen=True)
class LfoSpec:
    name: str
    shape: str = "sine"
    beats: float = 4.0  # one cycle per this many beats: 0.25 .. 64
    phase: float = 0.0  # 0..1, where in the cycle beat 0 falls

    def value(self, beat_pos: float, seed: int = 0) -> float:
        x = beat_pos / self.beats + self.phase
        f = x % 1.0
        if self.shape == "sine":
            return 0.5 - 0.5 * math.cos(2.0 * math.pi * f)
        if self.shape == "triangle":
            return 1.0 - abs(2.0 * f - 1.0)
        if self.shape == "saw":
            return f
        if self.shape == "square":
            return 1.0 if f < 0.5 else 0.0
        # random: one value per cycle, the same for the same cycle and seed (renders repeat)
        h = (int(math.floor(x)) * 2654435761 + seed * 40503 + zlib.crc32(self.name.encode())) & 0xFFFFFFFF
        h ^= h >> 15
        h = (h * 2246822519) & 0xFFFFFFFF
        h ^= h >> 13
        return h / 0xFFFFFFFF


@dataclass(frozen=True)
class EnvelopeSpec:
    name: str
    trigger: str  # an event source: audio.onset, audio.beat, audio.*_hit, midi.<ch>.note.<n>
    attack: float = 0.005  # s
    decay: float = 0.3  # s


BLEND_MODES = ("normal", "add", "screen", "multiply", "overlay", "difference", "subtract", "lighten", "darken")
LAYER_SOURCES = ("generator", "feedback", "input", "image", "video", "camera", "shader", "control")


@dataclass(frozen=True)
class LayerSpec:
    source: str = "generator"  # generator[:NAME] | feedback | input[:NAME] | control (the first [[control]]'s map) | image:<path> | video:<path> | camera:<N or URL> | shader:<name>
    blend: str = "normal"  # one of BLEND_MODES (also the parameter layer.<n>.blend, by index)
    opacity: float = 1.0  # starting value of layer.<n>.opacity
    group: str = "A"  # A or B: the side of the crossfader
    effects: tuple[str, ...] = ()  # the layer's own effect chain (parameters layer.<n>.fx.<effect>.<uniform>)
    fit: str = "cover"  # its image into the frame: "cover" (cropped to fill) or "contain" (whole, bars transparent)

    @property
    def kind(self) -> str:
        return self.source.split(":", 1)[0]

    @property
    def arg(self) -> str:
        return self.source.split(":", 1)[1] if ":" in self.source else ""

    @property
    def generator(self) -> str | None:
        """The generator whose frames (a generator layer) or input image (an input layer) it shows:
        "" the main one ([generator]), else the name of a [generators.NAME]; None for other sources."""
        return self.arg if self.kind in ("generator", "input") else None


DEFAULT_STACK = (LayerSpec(),)


@dataclass(frozen=True)
class PromptSpec:
    text: str  # a prompt or a template with choices: "a {flooded|burning} cathedral"
    weight: float = 1.0  # initial value of `prompt.<n>.weight`
    resample: tuple[str, ...] = ()  # triggers that draw new choices: beat, bar, onset, audio.*_hit, midi.<ch>.note.<n>


# what a set may write as [generator] scheduler = "..." -> the diffusers class it swaps in
SCHEDULERS = {
    "euler": "EulerDiscreteScheduler",
    "euler-a": "EulerAncestralDiscreteScheduler",
    "ddim": "DDIMScheduler",
    "pndm": "PNDMScheduler",
    "dpm": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
    "lcm": "LCMScheduler",
}


@dataclass(frozen=True)
class LoraSpec:
    name: str  # the parameter is lora.<name>.weight
    source: str  # a .safetensors file (a path, resolved beside the set) or a hub id (org/name)
    weight: float = 1.0  # initial value of `lora.<name>.weight` (0..2)


# [[control]] preprocessor = "..." -> what it reads from the picture (vj/maps/preprocess.py); "none": the
# source is already a map (a drawn line picture, a depth video); "depth": a depth network's map (also
# "depth:<folder or hub id>": maps/depth.py)
PREPROCESSORS = ("canny", "softedge", "lines", "none", "depth")
# what a control or a reference reads by name (setfile._guide_source reads the rest: image:, video:,
# camera:, layer:<n>): "input", the generator's own input; "program", the composited picture (frames late)
GUIDE_SOURCES = ("input", "program")
# what a control may read beyond what a reference image may: "feedback", the generator's own last frame
CONTROL_ONLY_SOURCES = ("feedback",)


def reads_program(controls, ipadapter) -> bool:
    """Does a generator's guidance read the program picture (source = "program")?"""
    return any(c.source == "program" for c in controls) or (ipadapter is not None and ipadapter.image == "program")


@dataclass(frozen=True)
class ControlSpec:
    """[[control]]: a ControlNet keeping a picture's structure (generate/guided/)."""

    name: str  # the parameter is control.<name>.scale
    model: str  # a diffusers ControlNet folder, a hub id, or "seedling-edges" (the built-in model's branch)
    preprocessor: str = "canny"  # one of PREPROCESSORS
    source: str = "input"  # input (the frame the generator is given) | feedback (its own last frame) | image:<file>
    #                        | video:<file> | camera:<N|URL>
    scale: float = 1.0  # initial control.<name>.scale, 0..2 (0: off, exactly the model without it)
    start: float = 0.0  # share of the steps where it begins, 0..1
    end: float = 1.0  # share of the steps where it ends, start..1


@dataclass(frozen=True)
class IpAdapterSpec:
    """[ipadapter]: a reference image's look, through diffusers' IP-Adapter (generate/guided/ipadapter.py)."""

    model: str  # a folder or hub id holding the adapter's weights (and its image encoder)
    weights: str = "ip-adapter_sd15.safetensors"  # the weight file's name in it
    subfolder: str = "models"  # where the weight file lies in it ("" for the top)
    image_encoder: str = "image_encoder"  # the image encoder's folder, inside subfolder (diffusers' image_encoder_folder)
    image: str = "input"  # the reference: a still file, input, video:<file>, camera:<N|URL>; taken again on /vj/grab
    scale: float = 0.6  # initial ipadapter.scale, 0..2


@dataclass(frozen=True)
class GeneratorSpec:
    """One generator of a show: the main one ([generator], shown by layers whose source is
    "generator") or a named one ([generators.NAME], shown by "generator:NAME"). Every generator reads
    the same snapshot (prompts, noise walk, strength, chaos...); what differs is written here."""

    name: str = ""  # "" the main one; else the NAME of [generators.NAME]
    model: str = "sd-turbo"  # registry name, local diffusers folder or hub id
    steps: int = 1  # denoising steps per frame, 1..8
    size: tuple[int, int] | None = None  # (w, h) pixels it makes; None: the model's native size
    seed: int | None = None  # main: the show's seed (None: drawn); named: its own noise seed (None: the show's)
    input: str | None = None  # image-to-image: "feedback", "camera:N" or a video file; None: text-to-image
    scheduler: str | None = None  # swap the model's scheduler (SCHEDULERS); None: its own
    negative: str = ""  # the negative prompt (gen.guidance > 1)
    tiny_vae: bool = False  # decode with TAESD / TAESDXL
    stream_batch: bool | None = None  # None: on CUDA
    deep_cache: int = 1  # 1..8 (see generate/deepcache.py)
    loras: tuple[LoraSpec, ...] = ()  # the set's [[lora]] (the main generator's only)
    fallback: str | None = None  # a local model that plays when this one can't (not loaded, a box lost)
    remote: tuple[str, ...] = ()  # HOST:PORT of `vj serve` boxes (several: they alternate frames); (): local
    remote_keys: tuple[str, ...] = ()  # each box's public CURVE key (40 Z85 characters; one: the same for all)
    controls: tuple["ControlSpec", ...] = ()  # the set's [[control]]s (the main generator's only)
    ipadapter: "IpAdapterSpec | None" = None  # the set's [ipadapter] (the main generator's only)

    @property
    def label(self) -> str:
        """How the status line and messages call it: "generator", or "generator NAME"."""
        return f"generator {self.name}" if self.name else "generator"

    @property
    def source(self) -> str:
        """The layer source that shows it."""
        return f"generator:{self.name}" if self.name else "generator"


@dataclass(frozen=True)
class RouteSpec:
    source: str  # a modulation source, e.g. "audio.level" (0..1)
    target: str  # a parameter name, e.g. "noise.kick"
    amount: float = 1.0  # target += offset + amount * curve(source), then clamped to the target's range
    offset: float = 0.0
    range: tuple[float, float] | None = None  # instead of amount/offset: lo + (hi - lo) * curve(source)
    curve: str = "linear"  # linear | exp | log | step
    attack: float = 0.0  # s: how fast the contribution may rise
    release: float = 0.0  # s: how fast it may fall


CURVES = ("linear", "exp", "log", "step")


@dataclass(frozen=True)
class Route:
    """A route as it runs (vj/control/routes.py): checked, its curve one of CURVES."""

    source: str
    target: str
    amount: float = 1.0  # target units per unit of (curved) source
    offset: float = 0.0  # target units added to the contribution
    curve: str = "linear"
    attack: float = 0.0  # s
    release: float = 0.0  # s

    def __post_init__(self) -> None:
        if self.curve not in CURVES:
            raise ValueError(f"curve {self.curve!r}: use one of {', '.join(CURVES)}")
        for what, v in (("amount", self.amount), ("offset", self.offset), ("attack", self.attack),
                        ("release", self.release)):
            if not math.isfinite(v) or (what in ("attack", "release") and v < 0):
                raise ValueError(f"{what} = {v} is not usable")


@dataclass(frozen=True)
class SceneSpec:
    name: str
    params: Mapping[str, float] = field(default_factory=dict)  # values to jump to
    prompts: tuple[str, ...] | None = None  # new prompt texts (None: keep them)
    transition: tuple[float, str] | None = None  # (N, "beats" | "bars" | "s"), N 0: a cut; None: the set's


def say_length(n: float, unit: str) -> str:
    """A length as a performer writes it: "1 bar", "2 bars", "1 beat", "1.5 s" (unit: beats, bars or s)."""
    return f"{n:g} {unit}" if unit == "s" or n != 1 else f"{n:g} {unit.removesuffix('s')}"


@dataclass(frozen=True)
class EdgeSpec:
    """A way from one scene to another ([[edge]]; see vj/show/graph.py for what each condition means)."""

    source: str  # a scene's name, or "*": from any
    target: str
    after: tuple[float, str] | None = None  # (N, "beats" | "bars" | "s") in the scene
    time: tuple[float, float] | None = None  # show seconds
    energy: tuple[float, float] | None = None  # the sound's presence, 0..1
    onset: float | None = None  # an onset at least this strong (0..1)
    note: str | None = None  # midi.<ch>.note.<n>
    chance: float | None = None  # probability per bar
    weight: float = 1.0  # among edges that fire together
    quantize: str | None = None  # "bar" | "beat" | "now"; None: the set's


@dataclass(frozen=True)
class GraphSpec:
    """[graph]: how the scenes are walked, and the [[edge]]s between them."""

    start: str | None = None  # the first scene (default: the first listed)
    quantize: str = "bar"  # where moves land: the next bar, the next beat, or now
    drift: float = 0.0  # chance per bar, when nothing else moves, of a random way out
    edges: tuple[EdgeSpec, ...] = ()


@dataclass(frozen=True)
class OscSettings:
    port: int = 9000
    host: str = "127.0.0.1"  # 0.0.0.0 to accept the LAN
    allow: tuple[str, ...] = ()  # sender addresses allowed (empty: any that can reach the port)
    out: str | None = None  # HOST:PORT to send features, events and parameter changes to


@dataclass(frozen=True)
class WebSettings:
    """[web]: the remote in a browser (vj/web/). Off unless the set has the table or --web is given."""

    on: bool = False  # the set has a [web] table
    port: int = 8080
    host: str = "127.0.0.1"  # beyond loopback (0.0.0.0, a LAN address) the page needs its token
    token: str | None = None  # a fixed token (>= 16 characters) for a bookmark; None: a fresh one each show
    preview_fps: float = 5.0  # preview frames a second sent to each page (0: no preview), 0..15
    preview_width: int = 480  # pixels, the preview's width (its height keeps the program's aspect), 64..960


@dataclass(frozen=True)
class MidiSettings:
    inputs: tuple[str, ...] = ()  # substrings of port names to open ("all": every input)
    mapping: Path | None = None  # a mapping file; None: the shipped one whose [device] match fits


@dataclass(frozen=True)
class ShowSet:
    path: Path | None  # where it was read from (None: built in code)
    name: str = "untitled"
    size: tuple[int, int] = (1280, 720)  # program output (width, height), pixels
    fps: float = 30.0  # program frame rate: headless loop, recordings, offline render
    audio: Path | None = None  # default audio file for `vj render`
    model: str = "sd-turbo"  # registry name, local diffusers folder or hub id
    remote: tuple[str, ...] = ()  # [generator] remote: boxes running `vj serve` (HOST:PORT) that make the frames; two or more alternate
    remote_keys: tuple[str, ...] = ()  # [generator] key: each box's key (Z85, as `vj serve` prints it), or one for all
    steps: int = 1  # denoising steps per frame, 1..8
    scheduler: str | None = None  # swap the model's scheduler (generate/samplers.SCHEDULERS); None: its own
    negative: str = ""  # the negative prompt: what guidance (gen.guidance > 1) steers away from
    loras: tuple[LoraSpec, ...] = ()  # each one's weight is the parameter lora.<name>.weight
    controls: tuple[ControlSpec, ...] = ()  # [[control]]: ControlNets, each weighted by control.<name>.scale
    ipadapter: IpAdapterSpec | None = None  # [ipadapter]: a reference image's look, ipadapter.scale
    tiny_vae: bool = False  # decode with TAESD / TAESDXL (a fraction of the VAE's cost, a little softer)
    gen_size: tuple[int, int] | None = None  # generator resolution; None: the model's native size
    seed: int | None = None  # None: a fresh seed from the OS each run
    more_seeds: tuple[int, ...] = ()  # `seeds = [a, b, c]`: b, c (weights noise.seed.<n>.weight; a is `seed`)
    input: str | None = None  # image-to-image: "feedback", "camera:N" or a video file; None: text-to-image
    stream_batch: bool | None = None  # 2-4 steps in one UNet call per frame (n-1 frames later); None: on CUDA
    deep_cache: int = 1  # N > 1: reuse the UNet's deep features for N-1 frames of N (faster, coarser motion)
    fallback: str | None = None  # [generator] fallback: a local model that plays when `model` can't
    generators: tuple[GeneratorSpec, ...] = ()  # [generators.NAME]: more generators, each on the layers naming it
    prompts: tuple[PromptSpec, ...] = (PromptSpec("a field of possibilities"),)
    effects: tuple[str, ...] = ()  # the master effect chain: shaders in shaders/ (file stems), in order
    shader_dirs: tuple[Path, ...] = ()  # searched for effects before the performer's and the shipped ones
    precision: int = 8  # bits per channel of the compositor's images (8 or 16)
    layers: tuple = ()  # LayerSpec (vj.render.layers), bottom first; empty: the generated frame alone
    params: Mapping[str, float] = field(default_factory=dict)  # initial parameter values
    routes: tuple[RouteSpec, ...] = ()
    audio_edges: tuple[float, float] = (250.0, 2000.0)  # Hz: bass | mid | high
    audio_sensitivity: float = 1.0  # onsets: > 1 finds more, < 1 fewer
    audio_hit_sensitivity: float = 1.0  # per-band hits, likewise
    audio_bpm_range: tuple[float, float] = (70.0, 180.0)  # where the beat tracker looks
    audio_channel: int | None = None  # 1-based input channel; None: the mix of all
    lfos: tuple = ()  # LfoSpec (vj.control.modulators)
    envelopes: tuple = ()  # EnvelopeSpec
    scenes: tuple[SceneSpec, ...] = ()
    transition: tuple[float, str] = (0.0, "s")  # a scene's unless it has its own ([show] transition); 0: cut
    graph: GraphSpec | None = None  # None: no [graph] and no [[edge]]: scenes change when asked, at once
    link: bool = False  # [tempo] link: join the Ableton Link session (--link)
    quantum: int = 4  # [tempo] quantum: beats a bar, for Link and the show clock's bars
    osc: OscSettings = field(default_factory=OscSettings)
    midi: MidiSettings = field(default_factory=MidiSettings)
    web: WebSettings = field(default_factory=WebSettings)
    flags: Mapping[str, str] = field(default_factory=dict)  # field -> the flag that set it ("--model"): show/origin.py

    @property
    def effect(self) -> str | None:
        """The first effect of the chain (or None)."""
        return self.effects[0] if self.effects else None

    def where(self) -> str:
        return str(self.path) if self.path else "set"

    @property
    def generator(self) -> GeneratorSpec:
        """The main generator ([generator] and the command line's --model, --steps... on top)."""
        return GeneratorSpec("", self.model, self.steps, self.gen_size, self.seed, self.input, self.scheduler,
                             self.negative, self.tiny_vae, self.stream_batch, self.deep_cache, self.loras,
                             self.fallback, self.remote, self.remote_keys, self.controls, self.ipadapter)

    def all_generators(self) -> tuple[GeneratorSpec, ...]:
        """The main generator, then the named ones in the order the set lists them."""
        return (self.generator,) + self.generators

    def analyzer_config(self):
        return AnalyzerConfig(edges=self.audio_edges, sensitivity=self.audio_sensitivity,
                              band_sensitivity=self.audio_hit_sensitivity, bpm_range=self.audio_bpm_range)
