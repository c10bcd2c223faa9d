"""Shader files: found in shaders/, given the common prelude, their parameters read from a header.

An effect declares its controllable uniforms in comment lines at the top:

    // @param sides  2  24  6   mirrored segments
    //        name   lo hi  default  description

and each becomes the parameter `fx.<effect>.<name>`, with no Python code. An effect may also say
when it does nothing, so that its pass is skipped (every such line must hold):

    // @bypass amount 0

Compile errors are reported with the effect file's own line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vj.errors import ConfigError, VJError
from vj.resources import data_dir

_PARAM = re.compile(r"^\s*//\s*@param\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$")
_BYPASS = re.compile(r"^\s*//\s*@bypass\s+(\S+)\s+(\S+)\s*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GL_LINE = re.compile(r"^\s*\d+[:(](\d+)\)?")  # Mesa "0:12(5): error", NVIDIA "0(12) : error"


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
    code: str  # what goes to the GL compiler: the prelude, then the file
    params: tuple[UniformParam, ...]
    prelude_lines: int  # lines before the file's first line in `code`
    bypass: tuple[tuple[str, float], ...] = ()  # (uniform, value): at these values the effect is the identity


def shader_dir() -> Path:
    return data_dir("shaders")


def available_effects(folder: Path | None = None) -> list[str]:
    folder = folder or shader_dir()
    internal = {"present", "overlay", "cover"}
    return sorted(p.stem for p in folder.glob("*.frag") if p.stem not in internal)


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
        try:
            lo, hi, default = (float(x) for x in nums)
        except ValueError:
            raise ConfigError(f"{path}:{n}: @param {name}: lo, hi and default must be numbers") from None
        if not lo <= default <= hi:
            raise ConfigError(f"{path}:{n}: @param {name}: default {default} is outside [{lo}, {hi}]")
        params.append(UniformParam(name, lo, hi, default, doc.strip()))
    return tuple(params)


def load_fragment(name: str, folder: Path | None = None) -> FragmentSource:
    folder = folder or shader_dir()
    path = folder / f"{name}.frag"
    if not path.is_file():
        raise ConfigError(f"effect {name!r} not found in {folder}; effects: {', '.join(available_effects(folder))}")
    prelude = (folder / "common.glsl").read_text()
    text = path.read_text()
    if not prelude.endswith("\n"):
        prelude += "\n"
    params = parse_params(text, path)
    return FragmentSource(name, path, prelude + text, params, prelude.count("\n"), parse_bypass(text, path, params))


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


def shader_program(ctx, name: str, body: str, folder: Path | None = None):
    """Compile generated fragment code (the layer stack) with the common prelude."""
    folder = folder or shader_dir()
    prelude = (folder / "common.glsl").read_text()
    if not prelude.endswith("\n"):
        prelude += "\n"
    frag = FragmentSource(name, folder / f"<generated {name}>", prelude + body, (), prelude.count("\n"))
    return compile_program(ctx, frag, folder)


def vertex_source(folder: Path | None = None) -> str:
    return ((folder or shader_dir()) / "quad.vert").read_text()


def compile_program(ctx, frag: FragmentSource, folder: Path | None = None):
    """Compile a fragment shader with the full-screen vertex shader; errors name the file and line."""
    import moderngl

    try:
        return ctx.program(vertex_shader=vertex_source(folder), fragment_shader=frag.code)
    except moderngl.Error as e:
        raise ShaderError(_first_error(str(e), frag)) from None


def _first_error(log: str, frag: FragmentSource) -> str:
    for line in log.splitlines():
        m = _GL_LINE.match(line)
        if m and "error" in line.lower():
            n = int(m.group(1)) - frag.prelude_lines
            msg = line[m.end():].lstrip(":) ").strip()
            where = f"{frag.path}:{n}" if n > 0 else f"{frag.path.parent / 'common.glsl'}:{int(m.group(1))}"
            return f"{where}: {msg}"
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return f"{frag.path}: does not compile: {lines[-1] if lines else 'no message from the driver'}"
