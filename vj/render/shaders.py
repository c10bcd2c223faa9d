"""Shader files: found in shaders/, given the common prelude, their parameters read from a header.

An effect is a function of the image it is given, written in one file:

    // @param sides  2  24  6   mirrored segments
    //        name   lo hi  default  description
    uniform float sides;
    vec4 effect(vec2 uv) {          // uv: 0..1 over the frame, origin at the bottom left
        return fetch(uv * 2.0);     // fetch(uv): the image before this effect, at any place
    }

Each @param becomes the parameter `fx.<effect>.<name>`, with no Python code. A source (a layer
that draws itself, such as plasma) is the same without fetch(). An effect may say when it does
nothing (every such line must hold):

    // @bypass amount 0

Where effect files are found, first match wins: the `shaders/` folder beside the set being played
(a set folder travels whole), the performer's own folder (`$VJ_SHADERS`, several separated by
`:`, else ~/.config/demontage/shaders as the mappings' folder), then the shipped ones. The prelude (common.glsl) and the
vertex shader always come with the code.

Because an effect is a function and not a pass, the compositor can run a chain of them inside one
fragment shader (compose.py); only an effect that fetches its input more than once (a blur, an RGB
split) gets a pass of its own. Compile errors name the effect file and its own line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from vj.core.errors import ConfigError, VJError
from vj.core.validate import suggest
from vj.log import log
from vj.resources import data_dir, user_dir

_PARAM = re.compile(r"^\s*//\s*@param\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$")
_BYPASS = re.compile(r"^\s*//\s*@bypass\s+(\S+)\s+(\S+)\s*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SWIZZLE = re.compile(r"^([xyzw]{1,4}|[rgba]{1,4}|[stpq]{1,4})$")
_GL_LINE = re.compile(r"^\s*(\d+)[:(](\d+)\)?(?:\(\d+\))?")  # Mesa "0:12(5): error", NVIDIA "0(12) : error"
_FETCH = re.compile(r"\bfetch\s*\(")
_MACRO = re.compile(r"^\s*#\s*define\s+(\w+)", re.M)
_SIGNATURE = re.compile(r"\bvec4\s+effect\s*\(\s*vec2\s+\w+\s*\)")
_LOOP = re.compile(r"\b(for|while)\b")
INTERNAL = {"present", "overlay", "master"}  # whole programs the compositor and the window use, not effects


class ShaderError(VJError):
    """A shader that does not compile; the message names the file and line."""


@dataclass(frozen=True)
class UniformParam:
    name: str  # uniform name in the shader and last part of the parameter name
    lo: float
    hi: float
    default: float
    doc: str = ""


@dataclass(frozen=True)
class FragmentSource:
    name: str  # file stem: "kaleido"
    path: Path
    text: str  # the file as written
    prelude: str  # common.glsl (starts with #version)
    params: tuple[UniformParam, ...]
    bypass: tuple[tuple[str, float], ...] = ()  # (uniform, value): at these values the effect is the identity
    names: tuple[str, ...] = ()  # its top-level names (uniforms, functions, constants): private when fused

    @property
    def is_effect(self) -> bool:
        """An effect or source (defines effect()); otherwise a whole program (internal shaders)."""
        return "effect" in self.names

    @cached_property
    def macros(self) -> tuple[str, ...]:
        """Names the file #defines (undefined after it when it is fused with others)."""
        return tuple(_MACRO.findall(strip_comments(self.text)))

    @cached_property  # asked every frame (which effects start a pass): the file is read once
    def own_pass(self) -> bool:
        """Reads its input at more than one place (or in a loop): its input must be an image,
        so it starts a pass; an effect that fetches once is fused with what comes before it.
        A helper that fetches counts once for every call to it."""
        bodies = function_bodies(self.text)
        if "effect" not in bodies:
            n = len(_FETCH.findall(strip_comments(self.text)))
            return n > 1
        n, looped = _fetch_sites("effect", bodies, ())
        return n > 1 or (n == 1 and looped)


def function_bodies(code: str) -> dict[str, str]:
    """Each top-level function's body, by name (comments stripped)."""
    out = {}
    for head, body in _top_level(code):
        m = re.search(r"(\w+)\s*\([^()]*\)\s*$", head) if body is not None else None
        if m:
            out[m.group(1)] = body
    return out


def _fetch_sites(fn: str, bodies: dict[str, str], stack: tuple[str, ...]) -> tuple[int, bool]:
    """(how many times calling fn fetches, whether a fetch happens inside a loop)."""
    body = bodies[fn]
    n = len(_FETCH.findall(body))
    looped = n > 0 and bool(_LOOP.search(body))
    for helper in bodies:
        if helper == fn or helper in stack:
            continue
        calls = len(re.findall(rf"\b{helper}\s*\(", body))
        if calls:
            k, inner_loop = _fetch_sites(helper, bodies, stack + (fn,))
            n += calls * k
            looped = looped or inner_loop or (k > 0 and bool(_LOOP.search(body)))
    return n, looped


def shader_dir() -> Path:
    """The shipped shaders (and the prelude, the vertex shader)."""
    return data_dir("shaders")


_SAID_SHADOWED: set[Path] = set()  # files found before a shipped one of the same name (said once)


def set_folder(set_path: Path | None) -> tuple[Path, ...]:
    """The `shaders/` folder beside a set file, when it has one: searched before any other for that
    set (a set folder travels whole). It travels inside the parsed set (ShowSet.shader_dirs)."""
    d = Path(set_path).resolve().parent / "shaders" if set_path else None
    return (d,) if d is not None and d.is_dir() and d != shader_dir().resolve() else ()


def user_dirs() -> list[Path]:
    env = os.environ.get("VJ_SHADERS")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [user_dir("shaders")]


def search_dirs(first: tuple[Path, ...] = ()) -> list[Path]:
    """Where effects are looked for, first match wins: `first` (the set's own folder), the
    performer's folders, the shipped one."""
    return [*first, *(d for d in user_dirs() if d.is_dir()), shader_dir()]


def find_shader(name: str, first: tuple[Path, ...] = ()) -> Path | None:
    for d in search_dirs(first):
        if (d / f"{name}.frag").is_file():
            return d / f"{name}.frag"
    return None


def available_effects(folder: Path | None = None, first: tuple[Path, ...] = ()) -> list[str]:
    folders = [folder] if folder else search_dirs(first)
    return sorted({p.stem for f in folders for p in f.glob("*.frag") if p.stem not in INTERNAL})


def strip_comments(code: str) -> str:
    code = re.sub(r"/\*.*?\*/", " ", code, flags=re.S)
    return re.sub(r"//[^\n]*", "", code)


def _top_level(code: str) -> list[tuple[str, str | None]]:
    """The file's statements outside any function body, comments and preprocessor lines left
    out: (declaration, the body after it, or None for a declaration ending in ;)."""
    text = "\n".join(ln for ln in strip_comments(code).splitlines() if not ln.lstrip().startswith("#"))
    out: list[tuple[str, str | None]] = []
    depth, head, start = 0, [], 0
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                out.append(("".join(head), text[start:i]))
                head = []
        elif depth == 0:
            if ch == ";":
                out.append(("".join(head), None))
                head = []
            else:
                head.append(ch)
    return out


def top_level_names(code: str) -> tuple[str, ...]:
    """Names declared outside any function body: `uniform float a, b;`, `const vec3 K = ...;`,
    `vec3 pal(float t) {...}`. Fused into one program, two effects' names must not meet."""
    return tuple(dict.fromkeys(n for head, _ in _top_level(code) for n in _declared(head)))


def _declared(head: str) -> list[str]:
    head = re.sub(r"\[[^\]]*\]", "", " ".join(head.split()))  # float[3] w, w[3]: the name is w
    if not head or head.startswith(("precision", "struct", "layout")):
        return []
    paren, eq = head.find("("), head.find("=")
    if paren >= 0 and (eq < 0 or paren < eq):  # a function: the name before its parameter list
        m = re.search(r"(\w+)\s*$", head[:paren])
        return [m.group(1)] if m else []
    while True:  # drop initialisers' calls, then take each declarator's name
        simpler = re.sub(r"\([^()]*\)", "", head)
        if simpler == head:
            break
        head = simpler
    out = []
    for k, part in enumerate(head.split(",")):
        part = part.split("=")[0].strip()
        words = re.findall(r"\w+", part)
        if words:
            out.append(words[-1] if k == 0 else words[0])
    return out


def parse_params(text: str, path: Path) -> tuple[UniformParam, ...]:
    params = []
    for n, line in enumerate(text.splitlines(), 1):
        if "@param" not in line:
            continue
        m = _PARAM.match(line)
        if not m:
            raise ConfigError(f"{path}:{n}: '@param' needs: name lo hi default [description]")
        name, *nums, doc = m.groups()
        if not _NAME.match(name):
            raise ConfigError(f"{path}:{n}: @param name {name!r} is not a GLSL identifier")
        if _SWIZZLE.match(name):  # fused effects rename their uniforms: .x or .rgb would be renamed too
            raise ConfigError(f"{path}:{n}: @param name {name!r} reads like a swizzle (.{name}); give it a longer name")
        try:
            lo, hi, default = (float(x) for x in nums)
        except ValueError:
            raise ConfigError(f"{path}:{n}: @param {name}: lo, hi and default must be numbers") from None
        if not lo <= default <= hi:
            raise ConfigError(f"{path}:{n}: @param {name}: default {default} is outside [{lo}, {hi}]")
        params.append(UniformParam(name, lo, hi, default, doc.strip()))
    return tuple(params)


def _own_or_shipped(folder: Path | None, file: str) -> Path:
    """A shader folder's own copy of a support file (a test's folder), else the shipped one."""
    if folder is not None and (folder / file).is_file():
        return folder / file
    return shader_dir() / file


def prelude(folder: Path | None) -> str:
    text = _own_or_shipped(folder, "common.glsl").read_text()
    return text if text.endswith("\n") else text + "\n"


def load_fragment(name: str, folder: Path | None = None, first: tuple[Path, ...] = ()) -> FragmentSource:
    """The file `name`.frag: in `folder`, or the first found along search_dirs(first)."""
    if folder is None and name in INTERNAL:
        folder = shader_dir()  # the window's and the compositor's own programs come with the code
    if folder is not None:
        path = folder / f"{name}.frag"
        where = str(folder)
    else:
        path = find_shader(name, first) or shader_dir() / f"{name}.frag"
        where = ", ".join(str(d) for d in search_dirs(first))
        shipped = shader_dir() / f"{name}.frag"
        if path != shipped and shipped.is_file() and path not in _SAID_SHADOWED:
            _SAID_SHADOWED.add(path)
            log.info(f"effect {name}: {path} (instead of the shipped one)")
    if not path.is_file():
        effects = available_effects(folder, first)
        raise ConfigError(f"effect {name!r} not found{suggest(name, effects)}; effects: {', '.join(effects)} "
                          f"(in {where})")
    text = path.read_text()
    params = parse_params(text, path)
    return FragmentSource(name, path, text, prelude(path.parent), params, parse_bypass(text, path, params),
                          top_level_names(text))


def load_effect(name: str, folder: Path | None = None, first: tuple[Path, ...] = ()) -> FragmentSource:
    """An effect or source file: refused with one line when it is not written as effect(uv)."""
    frag = load_fragment(name, folder, first)
    if not frag.is_effect or not _SIGNATURE.search(strip_comments(frag.text)):
        raise ConfigError(f"{frag.path}: an effect is written as `vec4 effect(vec2 uv) {{ ... fetch(uv) ... }}` "
                          f"(docs/screen.md, 'Writing an effect'); this file has no such function")
    for n in frag.names:  # fused with others, each name is renamed by a macro
        if _SWIZZLE.match(n) or n.startswith("GL_"):
            raise ConfigError(f"{frag.path}: the top-level name {n!r} can't be made private to the file "
                              f"({'it reads like a swizzle, .' + n if _SWIZZLE.match(n) else 'GL_ names are reserved'}); "
                              f"give it a longer name")
    return frag


def parse_bypass(text: str, path: Path, params) -> tuple[tuple[str, float], ...]:
    names = {p.name for p in params}
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if "@bypass" not in line:
            continue
        m = _BYPASS.match(line)
        if not m or m.group(1) not in names:
            raise ConfigError(f"{path}:{n}: '@bypass' needs a declared @param and the value at which the effect "
                              f"does nothing, e.g. // @bypass amount 0")
        try:
            out.append((m.group(1), float(m.group(2))))
        except ValueError:
            raise ConfigError(f"{path}:{n}: @bypass {m.group(1)}: the value must be a number") from None
    return tuple(out)


class GlslText:
    """A fragment shader put together from pieces. Each file's lines are numbered from a block of
    its own (`#line 200001` for the second file...): drivers report the line but not always the
    source-string number, so the block tells the file and the rest its own line."""

    BLOCK = 100000

    def __init__(self, prelude: str, prelude_path: Path, label: str) -> None:
        self.files = [prelude_path, Path(f"<{label}>")]  # block 0: the prelude, 1: generated code
        self.parts = [prelude, f"#line {self.BLOCK + 1}"]

    def add(self, code: str) -> None:
        self.parts.append(code)

    def add_file(self, path: Path, text: str) -> None:
        self.parts += [f"#line {len(self.files) * self.BLOCK + 1}", text, f"#line {self.BLOCK + 1}"]
        self.files.append(path)

    def where(self, line: int) -> str:
        k, n = divmod(line, self.BLOCK)
        return f"{self.files[k] if k < len(self.files) else self.files[1]}:{n}"

    @property
    def code(self) -> str:
        return "\n".join(self.parts) + "\n"


def fragment_text(frag: FragmentSource) -> GlslText:
    """The program for one file alone: a whole program as written, or an effect on one input."""
    g = GlslText(frag.prelude, frag.path.parent / "common.glsl", f"wrapper of {frag.path.name}")
    if frag.is_effect:
        g.add("uniform sampler2D u_input;\nvec4 fetch(vec2 uv) { return texture(u_input, uv); }")
    g.add_file(frag.path, frag.text)
    if frag.is_effect:
        g.add("void main() { frag_color = effect(v_uv); }")
    return g


def vertex_source(folder: Path | None = None) -> str:
    return _own_or_shipped(folder, "quad.vert").read_text()


def compile_program(ctx, frag: FragmentSource, folder: Path | None = None):
    """Compile one shader file with the full-screen vertex shader; errors name the file and line."""
    return compile_text(ctx, fragment_text(frag), folder or frag.path.parent)


def compile_text(ctx, text: GlslText, folder: Path | None = None):
    import moderngl

    try:
        return ctx.program(vertex_shader=vertex_source(folder), fragment_shader=text.code)
    except moderngl.Error as e:
        raise ShaderError(_first_error(str(e), text)) from None


def _first_error(log: str, text: GlslText) -> str:
    for line in log.splitlines():
        m = _GL_LINE.match(line)
        if m and "error" in line.lower():
            msg = line[m.end():].lstrip(":) ").strip()
            return f"{text.where(int(m.group(2)))}: {msg}"
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return f"{text.files[-1]}: does not compile: {lines[-1] if lines else 'no message from the driver'}"
