"""Plans the compositor's passes and writes their fragment shaders.

On a software renderer (Mesa llvmpipe, the club rig without a GPU) every full-screen pass costs
milliseconds and every texture fetch about as much again (BENCHMARKS.md); on a GPU each pass is a
round trip through memory. So effects are functions (shaders.py) and a chain is composed, not
rendered step by step: `mirror` after `color` after the layer stack is one shader whose
mirror(uv) calls color(uv), which calls the stack. A pass starts only where an effect reads its
input at several places (a blur, an RGB split): there the image before it is drawn once into a
texture and read from there.

    master chain  [stack -> color -> mirror] -> texture -> [rgbsplit -> posterize] -> program
    layer chain   [source -> pixelate] fused into the stack, or, with a blur in it,
                  [source -> ...] -> texture -> [glow -> ...] fused into the stack

A software renderer runs both arms of every branch, even one on a uniform (measured: an unused
feedback fetch behind `if (u_amount > 0.0)` cost as much as a used one), so what is off is left out
of the code instead: each frame's Variant (feedback on, a frame dissolving in, the blend modes, the
pass-starting effects at their identity) picks a plan, and plans are compiled once and kept. A
fused effect at its identity stays in: it costs a few instructions and never a fetch, and toggling
it must not compile anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vj.core.spec import BLEND_MODES
from vj.render.shaders import GlslText

IN_UNIT = 12  # texture unit of a pass's input image (layers take 0..11)

# each blend mode's formula (b: what lies beneath, t: the layer), compiled in when the mode is
# the set's, or chosen by the uniform u_mode<i> in blend_rgb() once a performer moves it
BLEND_ONE = ("{t}", "min({b} + {t}, 1.0)", "1.0 - (1.0 - {b}) * (1.0 - {t})", "{b} * {t}",
             "mix(2.0 * {b} * {t}, 1.0 - 2.0 * (1.0 - {b}) * (1.0 - {t}), step(0.5, {b}))", "abs({b} - {t})",
             "max({b} - {t}, 0.0)", "max({b}, {t})", "min({b}, {t})")
assert len(BLEND_ONE) == len(BLEND_MODES)
BLEND_GLSL = ("vec3 blend_rgb(int mode, vec3 b, vec3 t) {\n"
              + "".join(f"    if (mode == {i}) return {f.format(b='b', t='t')};  // {BLEND_MODES[i]}\n"
                        for i, f in enumerate(BLEND_ONE) if i)
              + "    return t;  // normal\n}\n")

# Under feedback in 8 bits every pass adds half a step of noise before it rounds: rounding alone
# would leave a trail stuck a few steps away from where it should fade to.
DITHER_GLSL = """
uniform float u_dither;
vec4 dithered(vec4 c) {
    uvec2 q = uvec2(gl_FragCoord.xy);
    uint h = q.x * 0x27d4eb2du ^ q.y * 0x165667b1u ^ uint(u_frame) * 0x9e3779b9u;
    h ^= h >> 16u; h *= 0x7feb352du; h ^= h >> 15u; h *= 0x846ca68bu; h ^= h >> 16u;  // lowbias32
    return vec4(c.rgb + u_dither * (float(h >> 8u) / 16777215.0 - 0.5), c.a);
}
"""


def segments(effects: list) -> list[list]:
    """The chain cut before every effect that needs its input as an image. The first segment
    (maybe empty) is fused with what feeds the chain."""
    segs: list[list] = [[]]
    for eff in effects:
        if eff.source.own_pass:
            segs.append([eff])
        else:
            segs[-1].append(eff)
    return segs


@dataclass(frozen=True)
class Variant:
    """What a frame needs compiled in (everything else is left out of the code)."""

    feedback: bool = False  # the previous program image is mixed in (feedback.amount > 0)
    interpolate: bool = False  # a generated frame is dissolving in over the one before
    modes: tuple[int, ...] | None = None  # each layer's blend mode compiled in; None: chosen by uniform
    dither: bool = False  # 8-bit program image under feedback


@dataclass
class PassCode:
    """One pass's shader text and what the compositor must set for it."""

    text: GlslText
    fused: list = field(default_factory=list)  # (effect, glsl prefix): its @param uniforms are <prefix><name>
    sources: list = field(default_factory=list)  # (layer index, glsl prefix) of inline shader sources
    prog: Any = None
    vao: Any = None


class PassWriter:
    def __init__(self, prelude: str, prelude_path, label: str) -> None:
        self.p = PassCode(GlslText(prelude, prelude_path, label))
        self._n = 0

    def add(self, code: str) -> None:
        self.p.text.add(code)

    def include(self, frag, fetch: str | None) -> tuple[str, str]:
        """frag's code with its top-level names made private (f<k>_...) and fetch() bound to the
        function `fetch`. Returns (prefix, name of its effect function)."""
        prefix = f"f{self._n}_"
        self._n += 1
        names = list(frag.names)
        if fetch:  # through a wrapper of its own: a macro's expansion is rescanned, and the upstream's
            # name (stage, L0_src...) may be one of this file's own names, renamed in turn
            self.add(f"vec4 {prefix}in(vec2 uv) {{ return {fetch}(uv); }}")
            names.append("fetch")
        self.add("\n".join(f"#define {n} {prefix + 'in' if n == 'fetch' else prefix + n}" for n in names))
        self.p.text.add_file(frag.path, frag.text)
        # the file's own macros end with it too
        self.add("\n".join(f"#undef {n}" for n in names + list(frag.macros)))
        return prefix, prefix + "effect"

    def chain(self, effects: list, input_fn: str) -> str:
        """Effects composed on top of input_fn; returns the name of the last function."""
        fn = input_fn
        for eff in effects:
            prefix, fn = self.include(eff.source, fn)
            self.p.fused.append((eff, prefix))
        return fn

    def texture_input(self, sampler: str = "u_in") -> str:
        self.add(f"uniform sampler2D {sampler};\nvec4 {sampler}_fetch(vec2 uv) {{ return texture({sampler}, uv); }}")
        return f"{sampler}_fetch"

    def main(self, fn: str, dither: bool) -> PassCode:
        if dither:
            self.add(DITHER_GLSL + f"void main() {{ frag_color = dithered({fn}(v_uv)); }}")
        else:
            self.add(f"void main() {{ frag_color = {fn}(v_uv); }}")
        return self.p


def layer_source(w: PassWriter, i: int, layer, shader_frag, v: Variant) -> str:
    """The function giving layer i's own image in frame coordinates (0..1 over the output)."""
    if layer.kind == "shader":
        prefix, fn = w.include(shader_frag, None)
        w.p.sources.append((i, prefix))
        return fn
    # a texture, covered into the frame (cropped to the aspect, rows flipped for top-first images)
    lines = [f"uniform sampler2D u_src{i};", f"uniform mat2 u_c{i};", f"uniform vec2 u_co{i};",
             f"vec4 L{i}_src(vec2 uv) {{", f"    vec2 t = u_c{i} * clamp(uv, 0.0, 1.0) + u_co{i};  // the frame's edge, not the crop"]
    if layer.fit == "contain":  # the whole image: around it, transparent (cover never samples outside)
        lines.append("    if (any(lessThan(t, vec2(0.0))) || any(greaterThan(t, vec2(1.0)))) return vec4(0.0);")
    lines.append(f"    vec4 s = texture(u_src{i}, t);")
    if layer.generator == "" and layer.kind == "generator" and v.interpolate:  # the main generator's newest
        # frame dissolves in over the one before (a layer generator's is dissolved already: pacing.LayerFrames)
        lines.append("    s = mix(texture(u_gen_prev, t), s, u_gen_mix);")
    w.add("\n".join(lines + ["    return s;", "}"]))
    return f"L{i}_src"


def stack_function(w: PassWriter, layers, layer_fx: list[list], shader_frags: dict, v: Variant) -> str:
    """stage(uv): every layer transformed and blended into its crossfader group, the groups
    crossfaded, the previous program image mixed in (feedback). A layer whose chain has passes of
    its own is read from the texture they end in (sampler u_src<i>)."""
    w.add("\n".join([
        "uniform sampler2D u_prev;      // the previous program output",
        "uniform float u_amount;        // feedback: 0 only the stack, 1 only the feedback",
        "uniform mat2 u_fb_m;           // feedback: output uv -> previous image uv (zoom, rotation)",
        "uniform vec2 u_fb_o;",
        "uniform float u_crossfade;     // 0: group A, 1: group B",
        "uniform sampler2D u_gen_prev;  // the generated frame before the newest (interpolation)",
        "uniform float u_gen_mix;       // 0: the frame before, 1: the newest"]
        + ([BLEND_GLSL] if v.modes is None else [])))
    fns = []
    for i, layer in enumerate(layers):
        segs = segments(layer_fx[i])
        if len(segs) == 1:
            fn = w.chain(segs[0], layer_source(w, i, layer, shader_frags.get(i), v))
        else:
            fn = w.chain(segs[-1], w.texture_input(f"u_src{i}"))
        w.add(f"uniform int u_mode{i};\nuniform float u_opacity{i};\n"
              f"uniform mat2 u_m{i};  // output uv -> the layer's frame: its scale, rotation and shift\n"
              f"uniform vec2 u_o{i};")
        fns.append(fn)
    lines = ["vec4 stage(vec2 uv) {",
             "    uv = clamp(uv, 0.0, 1.0);  // an effect reading outside the frame sees its edge, as from a texture",
             "    vec3 acc_a = vec3(0.0), acc_b = vec3(0.0);", "    vec2 q;", "    vec4 s;"]
    for i, layer in enumerate(layers):
        acc = "acc_b" if layer.group == "B" else "acc_a"
        # outside its frame (scaled down, shifted) a layer is transparent
        blend = (f"blend_rgb(u_mode{i}, {acc}, s.rgb)" if v.modes is None
                 else "(" + BLEND_ONE[v.modes[i]].format(b=acc, t="s.rgb") + ")")
        lines += [f"    q = u_m{i} * uv + u_o{i};",
                  f"    s = any(lessThan(q, vec2(0.0))) || any(greaterThan(q, vec2(1.0))) ? vec4(0.0) : {fns[i]}(q);",
                  f"    {acc} = mix({acc}, {blend}, u_opacity{i} * s.a);"]
    groups = {layer.group for layer in layers}
    mixed = "mix(acc_a, acc_b, u_crossfade)" if groups == {"A", "B"} else ("acc_b" if groups == {"B"} else "acc_a")
    lines += [f"    vec3 stack = {mixed};  // an empty side of the crossfader is not black: it is the other side",
              *(["    stack = mix(stack, texture(u_prev, u_fb_m * uv + u_fb_o).rgb, u_amount);"] if v.feedback else []),
              "    return vec4(stack, 1.0);",
              "}"]
    w.add("\n".join(lines))
    return "stage"


@dataclass
class Plan:
    """Every pass of a frame, in order."""

    layer_passes: dict[int, list[PassCode]]  # layer index -> passes before the stack (their last one ends in u_src<i>)
    stack: PassCode  # the layers, feedback and the master chain's first segment
    master: list[PassCode]  # the master chain's later segments; the last one draws the program image

    @property
    def passes(self) -> list[PassCode]:
        return [x for xs in self.layer_passes.values() for x in xs] + [self.stack] + self.master


def plan(prelude: str, prelude_path, layers, layer_fx: list[list], master_fx: list, shader_frags: dict,
         v: Variant) -> Plan:
    """The passes of a frame. The chains hold only what runs: a pass-starting effect at its
    identity is left out by the caller."""
    layer_passes: dict[int, list[PassCode]] = {}
    for i, layer in enumerate(layers):
        segs = segments(layer_fx[i])
        if len(segs) == 1:
            continue
        passes = []
        for k, seg in enumerate(segs[:-1]):
            w = PassWriter(prelude, prelude_path, f"layer {i + 1} pass {k + 1}")
            if k == 0:
                if layer.kind == "generator" and not layer.generator:
                    w.add("uniform sampler2D u_gen_prev;\nuniform float u_gen_mix;")
                fn = w.chain(seg, layer_source(w, i, layer, shader_frags.get(i), v))
            else:
                fn = w.chain(seg, w.texture_input())
            passes.append(w.main(fn, dither=False))
        layer_passes[i] = passes
    msegs = segments(master_fx)
    w = PassWriter(prelude, prelude_path, "stack")
    fn = w.chain(msegs[0], stack_function(w, layers, layer_fx, shader_frags, v))
    stack = w.main(fn, dither=v.dither)  # feedback is mixed here: its rounding is the one that sticks
    master = []
    for k, seg in enumerate(msegs[1:], 1):
        w = PassWriter(prelude, prelude_path, f"master pass {k + 1}")
        master.append(w.main(w.chain(seg, w.texture_input()), dither=v.dither))
    return Plan(layer_passes, stack, master)
