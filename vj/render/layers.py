"""The layer stack: sources, blend modes, opacity, transforms, the A/B crossfader, in one GL pass.

A set lists layers bottom first; each belongs to group A or B of the crossfader (a video mixer's two
channels). The generated frame is always layer 1 unless the set says otherwise.

    [[layer]]
    source = "image:stills/moon.png"   # generator | feedback (the last program image) | image:<file>
                                       # | video:<file> (looped) | camera:<N|URL> | shader:<name>
    blend = "screen"                   # normal add screen multiply overlay difference subtract lighten darken
    opacity = 0.6                      # layer.<n>.opacity
    group = "B"                        # A (default) or B: mixer.crossfade 0 shows A, 1 shows B
    effects = ["pixelate"]             # its own chain: layer.<n>.fx.pixelate.size ...

The whole stack is one fragment shader (compose.py writes it, compiled once per stack shape);
modes, opacities and transforms are uniforms that move freely. This file holds the layer's
description, its parameters and the uv maps computed once a frame on the CPU.
"""

from __future__ import annotations

import numpy as np

from vj.core.spec import BLEND_MODES, DEFAULT_STACK, LayerSpec


def declare_params(layers: tuple[LayerSpec, ...], shader_dirs: tuple = ()):
    from vj.core.params import ParamSpec
    from vj.render.shaders import load_effect

    specs = [ParamSpec("mixer.crossfade", 0.0, 1.0, 0.0, "", 0.05, "A/B crossfader: 0 shows group A, 1 group B")]
    if layers == DEFAULT_STACK:
        return specs
    for n, layer in enumerate(layers, 1):
        specs += [
            ParamSpec(f"layer.{n}.opacity", 0.0, 1.0, layer.opacity, "", 0.05, f"opacity of layer {n} ({layer.source})"),
            ParamSpec(f"layer.{n}.blend", 0.0, len(BLEND_MODES) - 1, float(BLEND_MODES.index(layer.blend)), "", 0.0,
                      "blend mode: " + ", ".join(f"{i} {m}" for i, m in enumerate(BLEND_MODES))),
            ParamSpec(f"layer.{n}.scale", 0.1, 4.0, 1.0, "x", 0.05, f"scale of layer {n}"),
            ParamSpec(f"layer.{n}.rotate", -180.0, 180.0, 0.0, "deg", 0.05, f"rotation of layer {n}"),
            ParamSpec(f"layer.{n}.x", -1.0, 1.0, 0.0, "width", 0.05, f"shift of layer {n}, right is positive"),
            ParamSpec(f"layer.{n}.y", -1.0, 1.0, 0.0, "height", 0.05, f"shift of layer {n}, up is positive"),
        ]
        for name in layer.effects:
            fx = load_effect(name, first=shader_dirs)
            specs += [ParamSpec(f"layer.{n}.fx.{name}.{u.name}", u.lo, u.hi, u.default, "", 0.05, u.doc) for u in fx.params]
    return specs


def _affine(m: np.ndarray) -> tuple[tuple[float, ...], tuple[float, float]]:
    """A 3x3 affine matrix on (u, v, 1) -> (mat2 in GL's column order, offset)."""
    return (float(m[0, 0]), float(m[1, 0]), float(m[0, 1]), float(m[1, 1])), (float(m[0, 2]), float(m[1, 2]))


def _t(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0, x], [0, 1.0, y], [0, 0, 1.0]])


def _s(x: float, y: float) -> np.ndarray:
    return np.diag([x, y, 1.0])


def _r(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])


def layer_uv(out_size, src_size, flip: bool, scale: float, rotate: float, x: float, y: float, contain: bool = False):
    """Where an output pixel samples a layer's source: the layer's transform (scale about the centre,
    counterclockwise rotation, shift in fractions of the frame), then the source cover-fitted (cropped
    to the output's aspect; `contain`: whole, what is around it outside 0..1) and, for top-row-first
    images, flipped. Computed once a frame here, so
    the shader does one multiply-add per layer instead of trigonometry per pixel."""
    aspect = out_size[0] / out_size[1]
    src_aspect = src_size[0] / src_size[1]
    kx, ky = (1.0, src_aspect / aspect) if (aspect > src_aspect) != contain else (aspect / src_aspect, 1.0)
    # centred square units -> shift out -> turn back -> unscale -> uv again
    layer = (_t(0.5, 0.5) @ _s(1 / aspect, 1) @ _r(-rotate) @ _s(1 / scale, 1 / scale) @ _t(-x * aspect, -y)
             @ _s(aspect, 1) @ _t(-0.5, -0.5))
    cover = _t(0.5, 0.5) @ _s(1, -1 if flip else 1) @ _s(kx, ky) @ _t(-0.5, -0.5)
    return _affine(cover @ layer)


def feedback_uv(out_size, zoom: float, rotate: float):
    """Where an output pixel samples the previous program image: rotated and zoomed about the centre."""
    aspect = out_size[0] / out_size[1]
    return _affine(_t(0.5, 0.5) @ _s(1 / aspect, 1) @ _s(1 / zoom, 1 / zoom) @ _r(rotate) @ _s(aspect, 1) @ _t(-0.5, -0.5))
