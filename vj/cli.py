"""The `vj` command: wiring only. Each subcommand builds the pieces and hands them to the engine.

    vj run [SET]          live: real clock, window (or EGL headless), optional recording
    vj render SET         offline and frame-exact: manual clock, audio from a file, an mp4 out
    vj devices            audio inputs, MIDI ports, displays, GL and torch devices
    vj params [SET]       every parameter a set exposes (names, ranges, units)
    vj features AUDIO     the audio analysis, one line per hop (--json: one object per line)
    vj learn PARAM        bind the next MIDI control that moves to a parameter
    vj bench WHAT         figures for BENCHMARKS.md (vj/bench/commands.py: the verbs)
    vj serve              make frames for shows on other machines (a GPU box); prints its key
"""

from __future__ import annotations

import argparse
import glob
import math
import signal
import sys
import time
from pathlib import Path

from vj import __version__
from vj.bench import commands as bench_commands
from vj.core.errors import DeviceError, SetProblems, VJError
from vj.core.spec import RANGES
from vj.log import counted, log, quiet_libraries, setup


def _span(key: str) -> str:
    """A shared range (core/spec.RANGES) as the help and the messages write it: 1..8."""
    return "..".join(f"{x:g}" if isinstance(x, float) else str(x) for x in RANGES[key])


def _in_range(flag: str, key: str, value: float | None) -> None:
    """A flag's number within the range a set's value of the same kind has (one source of truth)."""
    lo, hi = RANGES[key]
    if value is not None and not lo <= value <= hi:
        raise VJError(f"{flag} {value:g}: out of range {_span(key)}" if isinstance(value, float) else
                      f"{flag} {value}: out of range {_span(key)}")


def _show_args(p: argparse.ArgumentParser, set_required: bool) -> None:
    if set_required:
        p.add_argument("set", metavar="SET", help="a set file (.toml) or the name of a shipped set")
    else:
        p.add_argument("set", metavar="SET", nargs="?", default="demo", help="a set file (default: the shipped demo set)")
    p.add_argument("--model", help="seedling (built in), seedling-1, dcgan-faces (a GAN), sd-turbo, sdxl-turbo, sd15, "
                   "sd15-lcm, tiny-random (a test fixture), a diffusers folder or a hub id")
    p.add_argument("--prompt", help="replace the set's prompts with this one")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--size", metavar="WxH", help="program output size, e.g. 1280x720")
    p.add_argument("--fps", type=float, help=f"program frame rate ({_span('fps')}; recording, headless loop, render)")
    p.add_argument("--seed", type=int, help="noise seed; without it each run draws a fresh one (never an earlier "
                   "logged show's) and prints it")
    p.add_argument("--state", metavar="DIR", help="where the show log goes, in DIR/shows (default: $VJ_STATE, else "
                   "~/.local/state/demontage; 'none': no log)")
    p.add_argument("--device", default="auto", help="torch device for the generator: auto, cpu, cuda, cuda:N")
    p.add_argument("--steps", type=int, help=f"denoising steps per frame ({_span('steps')}; default: the set's, 1)")
    p.add_argument("--tiny-vae", action="store_true", default=None,
                   help="decode with TAESD/TAESDXL: a fraction of the VAE's cost (needs madebyollin/taesd once)")
    p.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: half the cores on a CPU)")
    p.add_argument("--input", metavar="SRC", help="image-to-image from SRC: 'feedback' (the loop's own image), a video "
                   "file, or camera:N; `strength` and input.* are its parameters")
    p.add_argument("--camera", type=int, metavar="N", help="image-to-image from camera N (the same as --input camera:N)")
    p.add_argument("--deep-cache", type=int, metavar="N", help="reuse the UNet's deep features for N-1 frames of N "
                   f"({_span('deep_cache')}; 2: about 1.7x faster, coarse shapes a frame behind; default 1: off)")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    p.add_argument("-v", "--verbose", action="store_true", help="debug output, and tracebacks for internal errors")


def _audio_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audio-channel", type=int, metavar="N", help=f"analyse input channel N ({_span('audio_channel')}) "
                   "instead of the mix")
    p.add_argument("--audio-rate", type=int, metavar="HZ", help="sample rate to open a sound card at (default: its own)")
    p.add_argument("--audio-block", type=int, metavar="N", help="sound card block size in samples (default 512)")
    p.add_argument("--bpm", type=float, help=f"hold the tempo at this BPM ({_span('bpm')}), with or without sound (with "
                   "sound the beat phase follows the music; with --link the session is proposed it)")
    p.add_argument("--bpm-range", metavar="LOW-HIGH", help=f"where the beat tracker looks, within {_span('bpm')}, e.g. "
                   "100-180 (default 70-180)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="vj", description="démontage: a live generative-cinema instrument")
    ap.add_argument("--version", action="version", version=f"démontage {__version__}")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")
    # what the shared set-up reads, for the commands that have no such option
    ap.set_defaults(duration=None, fullscreen=None, resume=False, overlay=None, split=False, headless=False, generator="process",
                    generator_key=None,
                    bpm=None, bpm_range=None, quantum=None, osc_port=None, audio_channel=None, mapping=None,
                    sensitivity=None, verbose=False, quiet=False)
    _run_command(sub)
    _render_command(sub)
    _tool_commands(sub)
    _serve_command(sub)
    bench_commands.add(sub.add_parser("bench", help="measure performance (figures go to BENCHMARKS.md)"))
    for command in sub.choices.values():  # -v everywhere: any command's library chatter and tracebacks on request
        if "--verbose" not in command._option_string_actions:
            command.add_argument("-v", "--verbose", action="store_true", help="debug output, and tracebacks for "
                                 "internal errors")
    return ap


def _run_command(sub) -> None:
    run = sub.add_parser("run", help="play a set live (window, or headless with --headless)")
    _show_args(run, set_required=False)
    run.add_argument("--audio", metavar="SRC", help="a file (played in real time), an input device (index or name "
                     "substring), 'default' or 'none' (default: the default input if there is one)")
    run.add_argument("--headless", action="store_true", help="no window: render through EGL (club rigs, servers)")
    run.add_argument("--out", type=Path, metavar="FILE.mp4", help="also record the program output")
    run.add_argument("--ndi", metavar="NAME", help="also send the program as an NDI source called NAME (the ndi extra)")
    run.add_argument("--virtualcam", nargs="?", const="", metavar="DEVICE", help="also send the program to a virtual "
                     "camera (v4l2loopback / OBS; the virtualcam extra); DEVICE e.g. /dev/video2")
    run.add_argument("--spout", nargs="?", const="demontage", metavar="NAME", help="also share the program "
                     "texture as a Spout sender NAME (default demontage; Windows, the spout extra)")
    run.add_argument("--syphon", nargs="?", const="demontage", metavar="NAME", help="also share the program "
                     "texture as a Syphon server NAME (default demontage; macOS, the syphon extra)")
    run.add_argument("--split", action="store_true", help="the window shows the input feed (camera, video, or "
                     "the generated frame) beside the program; key S toggles it; never in recordings or streams")
    run.add_argument("--overlay", action=argparse.BooleanOptionalAction, default=None,
                     help="the status overlay on the window (default: on in a window, off fullscreen; key I toggles)")
    run.add_argument("--stream", action="append", metavar="URL", help="also send the program as a live stream: "
                     "udp://HOST:PORT, srt://HOST:PORT or rtmp://HOST/APP/KEY (repeatable)")
    run.add_argument("--fullscreen", type=int, metavar="N", help="fullscreen on monitor N (see `vj devices`)")
    run.add_argument("--no-monitor", action="store_true", help="with --audio FILE: analyse it without playing it out loud")
    run.add_argument("--audio-loop", action="store_true", help="with --audio FILE: play it round and round (a "
                     "rehearsal on one track); a recording loops it too")
    run.add_argument("--osc-port", type=int, metavar="N", help="listen for OSC on this UDP port (default 9000; 0: any free one)")
    run.add_argument("--osc-host", metavar="ADDR", help="listen on this address (default 127.0.0.1; 0.0.0.0: the LAN)")
    run.add_argument("--osc-allow", metavar="IP[,IP...]", help="accept OSC only from these senders")
    run.add_argument("--osc-out", metavar="HOST:PORT", help="send audio features, events and parameter changes here")
    run.add_argument("--no-osc", action="store_true", help="no OSC listener")
    run.add_argument("--web", metavar="[HOST:]PORT", help="serve the remote (every parameter, scene and prompt, with "
                     "the picture) to a browser: PORT on this machine only, or 0.0.0.0:PORT for phones on the LAN "
                     "(with a token printed at start); the set's [web] otherwise")
    run.add_argument("--no-web", action="store_true", help="no browser remote, whatever the set's [web] says")
    run.add_argument("--link", action=argparse.BooleanOptionalAction, default=None, help="join the Ableton Link "
                     "session: follow its tempo and phase, propose ours (needs the optional package aalink: "
                     "pip install 'demontage[link]'; default: the set's [tempo] link)")
    run.add_argument("--quantum", type=int, metavar="N", help=f"beats a bar for Link and the show's bars "
                     f"({_span('quantum')}; default: the set's [tempo] quantum, 4)")
    run.add_argument("--midi-clock-out", metavar="NAME", help="send MIDI clock (24 ticks a beat, start, stop) from the "
                     "show clock to the MIDI input whose name contains NAME")
    run.add_argument("--midi", action="append", metavar="NAME", help="open MIDI inputs whose name contains NAME "
                     "('all': every input; repeat for more)")
    run.add_argument("--mapping", type=Path, metavar="FILE", help="a MIDI mapping file (default: the one whose "
                     "[device] match fits each port, from your mapping folder, then the shipped ones)")
    run.add_argument("--resume", action="store_true", help="come back where the last show of this set was (after a "
                     "crash, a power cut, kill -9): its scene, prompts, knobs, live routes, tempo and seed")
    _audio_args(run)
    run.add_argument("--generator", default="process", metavar="process|thread|HOST:PORT[,HOST:PORT]",
                     help="where the diffusion loop runs: its own process (default: no GIL shared with the "
                          "renderer, restarted if it crashes), a thread of this one, or `vj serve` on another "
                          "machine (two or more boxes alternate frames; with --generator-key)")
    run.add_argument("--generator-key", metavar="KEY[,KEY]", help="the key `vj serve` printed (one per box, or one "
                     "for all); the set's [generator] key otherwise")


def _serve_command(sub) -> None:
    from vj.core.boxes import DEFAULT_PORT

    srv = sub.add_parser("serve", help="make frames for shows played on other machines (a GPU box or a cloud GPU): "
                         "loads the model once, prints its key")
    srv.add_argument("--bind", default=f"127.0.0.1:{DEFAULT_PORT}", metavar="HOST:PORT",
                     help=f"where to listen (default 127.0.0.1:{DEFAULT_PORT}: this machine only, e.g. through an SSH "
                          f"tunnel; 0.0.0.0:{DEFAULT_PORT} for every network it is on)")
    srv.add_argument("--model", default="sd-turbo", help="the model it serves (as vj run's --model; default sd-turbo)")
    srv.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:N")
    srv.add_argument("--threads", type=int, metavar="N", help="torch CPU threads")
    srv.add_argument("--tiny-vae", action="store_true", help="decode with TAESD/TAESDXL")
    srv.add_argument("--lora", action="append", metavar="NAME=SOURCE", help="load a LoRA adapter (a .safetensors file "
                     "here or a hub id); shows move it by lora.NAME.weight (repeatable)")
    srv.add_argument("--quality", type=int, default=85, metavar="Q", help="JPEG quality of the frames sent (50..100)")
    srv.add_argument("--state", metavar="DIR", help="where its key is kept, in DIR/serve (default: $VJ_STATE, else "
                     "~/.local/state/demontage): the same key after a restart")
    srv.add_argument("--wrap", help=argparse.SUPPRESS)  # module:callable around each loop (tests, benchmarks)
    srv.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    srv.add_argument("-v", "--verbose", action="store_true", help="debug output")


def _render_command(sub) -> None:
    ren = sub.add_parser("render", help="render a set offline, frame-exact, to a video file")
    _show_args(ren, set_required=True)
    ren.add_argument("--audio", metavar="FILE", help="the sound track (default: the set's [show] audio); 'none' for silence")
    ren.add_argument("--out", type=Path, metavar="FILE.mp4", help="the video file (default: the set file's name, .mp4, "
                     "in this folder); one that is there already is never written over without --overwrite: the render "
                     "goes beside it (FILE-2.mp4)")
    ren.add_argument("--overwrite", action="store_true", help="write over --out if it is there")
    ren.add_argument("--audio-channel", type=int, metavar="N", help=f"analyse channel N ({_span('audio_channel')}) "
                     "instead of the mix")
    ren.add_argument("--bpm", type=float, help=f"hold the tempo at this BPM ({_span('bpm')})")
    ren.add_argument("--bpm-range", metavar="LOW-HIGH", help=f"where the beat tracker looks, within {_span('bpm')} "
                     "(default 70-180)")


def _tool_commands(sub) -> None:
    """features, devices, learn, check, params, mux, train."""
    feat = sub.add_parser("features", help="print the audio features, one line per hop (the live analysis code)")
    feat.add_argument("audio", metavar="AUDIO", help="a file, an input device (index or name substring) or 'default'")
    feat.add_argument("--json", action="store_true", help="one JSON object per line")
    feat.add_argument("--set", default=None, help="take the [audio] settings (band edges, BPM range...) from a set")
    feat.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of audio")
    feat.add_argument("--every", type=int, default=1, metavar="N", help="print every N-th hop (events always print)")
    feat.add_argument("--sensitivity", type=float, help=f"onset sensitivity ({_span('sensitivity')}; default 1; more "
                      "finds more)")
    _audio_args(feat)

    sub.add_parser("devices", help="list audio inputs, MIDI ports, displays, GL and torch devices")

    lrn = sub.add_parser("learn", help="bind the next MIDI control you move to a parameter (writes a mapping)")
    lrn.add_argument("param", metavar="PARAM", help="a parameter name (see `vj params`)")
    lrn.add_argument("--midi", action="append", required=True, metavar="NAME", help="MIDI inputs to listen to")
    lrn.add_argument("--set", default="demo", help="the set whose parameters to check the name against")
    lrn.add_argument("--mapping", type=Path, metavar="FILE", help="the mapping to add the binding to")
    lrn.add_argument("--timeout", type=float, default=60.0, metavar="S", help="give up after S seconds")

    chk = sub.add_parser("check", help="check sets: every problem at once, with file:line and a hint (exit 1 on any)")
    chk.add_argument("sets", metavar="SET", nargs="+", help="set files or shipped set names")

    prm = sub.add_parser("params", help="list a set's parameters: every name MIDI, OSC, routes and sets can move")
    prm.add_argument("set", metavar="SET", nargs="?", default="demo")

    mux = sub.add_parser("mux", help="put the sound taped beside a recording into it (a show killed before it could)")
    mux.add_argument("video", type=Path, metavar="VIDEO", help="the recording (its tape: VIDEO's name .audio.wav)")
    mux.add_argument("--tape", type=Path, metavar="WAV", help="another tape than the one beside it")
    mux.add_argument("--offset", type=float, metavar="S", help="seconds from the first frame to the first sample "
                     "(default: as the show noted beside the tape, else 0)")

    trn = sub.add_parser("train", help="train the built-in model (the seedling) from nothing; writes its checkpoints")
    trn.add_argument("--out", type=Path, metavar="DIR", help="where the checkpoints go (default: the shipped "
                     "weights' folder, vj/seedling/weights)")
    trn.add_argument("--steps", type=int, metavar="N", help="training steps (default: the shipped run's)")
    trn.add_argument("--resume", action="store_true", help="go on from the resume file a stopped run left in "
                     "its folder (resume.pt; the same --steps and --out)")
    trn.add_argument("--control", choices=["edges"], help="train the seedling's control branch instead (seedling-edges: "
                     "canny maps as the condition, against the shipped seedling); written to weights/<season>/edges")
    trn.add_argument("--batch", type=int, metavar="N", help="pictures a step (default: the shipped run's)")
    trn.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's own)")


# -- shared set-up ---------------------------------------------------------------------------
def _load_show(args):
    """The set the command plays, with the command line on top; a broken set is refused with every
    one of its problems (as `vj check` says them), before anything starts."""
    from vj.check import check_set
    from vj.show.setfile import load_set
    from vj.resources import find_set

    path = find_set(args.set)
    problems = check_set(path, _replaced(args))
    if problems:
        raise SetProblems([str(p) for p in problems])
    return _overridden(load_set(path), args)


def _replaced(args) -> frozenset[str]:
    """The set's fields whose files the command line makes unused (a live show plays --audio, never
    the set's sound track; --input and --camera replace its input, --mapping its mapping; a render
    opens no MIDI)."""
    live = args.cmd == "run"
    return frozenset(name for name, given in (("audio", live or bool(args.audio)),
                                              ("input", args.input is not None or args.camera is not None),
                                              ("midi", not live or args.mapping is not None)) if given)


def _overridden(show, args):
    """The set with the command line on top (checked here: a bad option fails before anything starts)."""
    from vj.show.setfile import check_template, parse_size, with_overrides
    from vj.core.spec import PromptSpec

    duration = args.duration
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise VJError(f"--duration {duration:g}: a number of seconds above 0 (leave it out to play until stopped)")
    if args.prompt:
        check_template("--prompt", args.prompt)
    for flag, key, value in (("--steps", "steps", args.steps), ("--deep-cache", "deep_cache", args.deep_cache),
                             ("--fps", "fps", args.fps), ("--seed", "seed", args.seed),
                             ("--audio-channel", "audio_channel", args.audio_channel),
                             ("--quantum", "quantum", args.quantum)):
        _in_range(flag, key, value)
    if args.threads is not None and args.threads < 1:
        raise VJError(f"--threads {args.threads}: one or more (leave it out: half the cores on a CPU)")
    if args.osc_port is not None and not 0 <= args.osc_port <= 65535:
        raise VJError(f"--osc-port {args.osc_port}: a UDP port, 1..65535 (0: any free one)")
    if args.input and args.camera is not None:
        raise VJError("--input and --camera: give one of them")
    source = f"camera:{args.camera}" if args.camera is not None else args.input
    if source and source != "feedback" and not source.startswith("camera:") and not Path(source).expanduser().is_file():
        raise VJError(f"--input {source}: no such file (give a video file, 'feedback' or camera:N)")
    flags = {"input": "--camera" if args.camera is not None else "--input", "deep_cache": "--deep-cache",
             "model": "--model", "tiny_vae": "--tiny-vae", "size": "--size", "fps": "--fps", "steps": "--steps",
             "prompts": "--prompt", "remote": "--generator", "remote_keys": "--generator-key"}
    remote, keys = _remote(args)
    return _paired(with_overrides(
        show,
        flags,
        remote=remote,
        remote_keys=keys,
        input=source,
        deep_cache=args.deep_cache,
        model=args.model,
        tiny_vae=args.tiny_vae,
        size=parse_size(args.size, "--size") if args.size else None,
        fps=args.fps,
        steps=args.steps,
        prompts=(PromptSpec(args.prompt),) if args.prompt else None,
    ))


def _paired(show):
    """A remote generator from the set and the command line together: a key for each box."""
    from vj.core.boxes import pair_keys

    pair_keys(show.remote, show.remote_keys, "--generator / [generator] remote")
    return show


def _remote(args) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """--generator HOST:PORT[,HOST:PORT] and --generator-key KEY[,KEY]: the boxes and their keys (None: the set's)."""
    from vj.core.boxes import parse_boxes, parse_keys

    choice, key = args.generator, args.generator_key  # vj render: the defaults (the set's)
    boxes = None if choice in ("process", "thread") else parse_boxes(choice, "--generator")
    return boxes, (parse_keys(key, "--generator-key") if key else None)


def _options(show, args, live: bool):
    """The command line's options for assemble.build_show: OSC and MIDI as the set says, with the
    command line on top."""
    from vj import assemble

    osc = midi = None
    if live and not args.no_osc:
        allow = tuple(a.strip() for a in args.osc_allow.split(",")) if args.osc_allow else show.osc.allow
        osc = (args.osc_host or show.osc.host, args.osc_port if args.osc_port is not None else show.osc.port, allow)
    patterns = tuple(args.midi or ()) or show.midi.inputs if live else ()
    if patterns:
        midi = (patterns, args.mapping or show.midi.mapping)
    return assemble.Options(seed=args.seed, headless=args.headless, fullscreen=args.fullscreen, overlay=args.overlay,
                            split=args.split, generator="thread" if args.generator == "thread" else "process",
                            device=args.device, threads=args.threads,
                            osc_in=osc, midi_in=midi, osc_out=(args.osc_out or show.osc.out) if live else None,
                            link=live and (args.link if args.link is not None else show.link),
                            quantum=(live and args.quantum) or show.quantum,  # render: the set's (no --quantum)
                            midi_clock_out=args.midi_clock_out if live else None,
                            state=_state(args.state), resume=live and args.resume,
                            reread=_reread(show, args) if live and show.path is not None else None,
                            web=_web_settings(show, args) if live else None)


def _web_settings(show, args):
    """The browser remote as the set's [web] says, the command line on top (None: no remote)."""
    import dataclasses

    from vj.web.access import parse_address

    if args.no_web or not (args.web or show.web.on):
        return None
    if not args.web:
        return show.web
    host, port = parse_address(args.web)
    return dataclasses.replace(show.web, on=True, host=host, port=port)


def _reread(show, args):
    """For a live show: the set file read and checked again as `vj check` does, the command line on
    top (vj/show/hot_edit.py applies it at the next bar)."""
    from vj import assemble
    from vj.check import check_set
    from vj.show.setfile import load_set
    from vj.show.hot_edit import Refused

    def read():
        problems = check_set(show.path, _replaced(args))
        if problems:
            raise Refused([str(p) for p in problems])
        new = _overridden(load_set(show.path), args)
        return new, assemble.build_controls(new, 0)

    return read


def _state(arg: str | None) -> Path | None:
    from vj.show.log import state_dir

    if arg is not None and arg.lower() == "none":
        return None
    return Path(arg).expanduser() if arg else state_dir()


def _said(built, show, audio) -> None:
    """What the show is, said once it is built."""
    seed, engine = built.seed, built.engine

    def wxh(size) -> str:
        return f"{size[0]}x{size[1]}" if size else "?"

    more = "".join(f", generator {lg.name} {wxh(lg.generator.size)}" for lg in engine.layer_generators)
    log.info(f"seed {seed}" + (f" (drawn fresh; pass --seed {seed} to see this show again)" if built.seed_drawn else ""))
    gen = wxh(engine.generator.size) if engine.generator.size else "the box's size"
    log.info(f"set {show.where()}: {show.size[0]}x{show.size[1]} at {show.fps:g} fps, generator {gen}, "
             f"{show.steps} step(s){more}; GL {built.surface.renderer}; audio: {audio.status}")


def _analyzer_config(show, args):
    """The set's [audio] settings with the command line's on top."""
    import dataclasses

    cfg = show.analyzer_config()
    changes = {}
    if args.bpm_range:
        try:
            lo, hi = (float(x) for x in args.bpm_range.replace(":", "-").split("-"))
        except ValueError:
            raise VJError(f"--bpm-range {args.bpm_range!r}: write LOW-HIGH, e.g. 100-180") from None
        if not RANGES["bpm"][0] <= lo < hi <= RANGES["bpm"][1]:
            raise VJError(f"--bpm-range {args.bpm_range}: LOW below HIGH, both within {_span('bpm')}")
        changes["bpm_range"] = (lo, hi)
    if args.sensitivity:
        _in_range("--sensitivity", "sensitivity", args.sensitivity)
        changes["sensitivity"] = args.sensitivity
    _in_range("--bpm", "bpm", args.bpm)
    _in_range("--audio-channel", "audio_channel", args.audio_channel)
    return dataclasses.replace(cfg, **changes) if changes else cfg


def _hold_bpm(audio, args) -> None:
    if args.bpm is not None and audio.analyzer is not None:
        audio.analyzer.set_bpm(args.bpm)


def _bpm_by_hand(built, args) -> None:
    """--bpm holds the show's tempo through the same action as /vj/bpm (control/hand.py), with or
    without sound: the show clock, a Link session and the saved state all get it. After a
    --resume's tempo, so the command line wins."""
    if args.bpm is not None:
        built.engine.controls.post("bpm", float(args.bpm), origin="--bpm")


def _check_out(path: Path | None) -> None:
    """Fail on a bad --out before minutes go into loading a model."""
    if path is not None and not path.expanduser().resolve().parent.is_dir():
        raise VJError(f"--out {path}: folder {path.expanduser().resolve().parent} does not exist")


def _on_signals(engine) -> None:
    def stop(signum, frame):
        if engine.stop_requested:  # a second Ctrl-C: leave now
            raise KeyboardInterrupt
        engine.stop_requested = True
        log.info("stopping (again to force)")

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _report(summary, what: str) -> None:
    fps = summary.frames / summary.seconds if summary.seconds > 0 else 0.0
    lat = (f", latency p50 {summary.latency_ms_p50:.0f} ms / p95 {summary.latency_ms_p95:.0f} ms"
           if summary.latency_ms_p50 is not None else "")
    log.info(f"{what}: {counted(summary.frames, 'frame')} in {summary.seconds:.1f} s ({fps:.1f} fps), generator "
             f"{counted(summary.gen_frames, 'frame')}, {counted(summary.gen_errors, 'error')}{lat}")


# -- commands ----------------------------------------------------------------------------------
def _check_outputs(args) -> None:
    """A bad --out or stream URL, a missing package or the wrong OS is said now, not after the
    model has loaded."""
    from vj.output.ffmpeg import check_stream_url

    _check_out(args.out)
    for url in args.stream or []:
        check_stream_url(url)
    if args.spout is not None:
        from vj.output.spout import load_spoutgl

        load_spoutgl()
    if args.syphon is not None:
        from vj.output.syphon import load_syphon

        load_syphon()


def _live_audio(show, args):
    """The sound a live show listens to: --audio, else the default input, else silence."""
    from vj.audio.sources import SilentInput, open_audio

    kw = dict(live=True, config=_analyzer_config(show, args), channel=args.audio_channel or show.audio_channel,
              samplerate=args.audio_rate, blocksize=args.audio_block, monitor=not args.no_monitor, loop=args.audio_loop)
    if args.audio is None:
        try:
            audio = open_audio("default", **kw)
        except DeviceError:
            log.info("no audio input found: running without sound (choose one with --audio FILE|DEVICE)")
            audio = SilentInput()
    else:
        audio = open_audio(args.audio, **kw)
    return audio


def _live_outputs(show, args, audio, recorder: list):
    """What the program goes to besides the window: (surface) -> outputs, made on the render
    thread once GL is up (Spout and Syphon share its context). A recording lands in `recorder`."""
    from vj.output.ffmpeg import FfmpegOutput

    def outputs_for(surface):
        outs = []
        if args.out:
            rec = FfmpegOutput(args.out, show.size, show.fps, audio=audio.track, offline=False)
            if audio.track is None and audio.records:  # a sound card: tape it beside the video
                from vj.audio.tape import AudioTape, free_name

                rec.tape = audio.tape = AudioTape(free_name(rec.path.with_name(rec.path.stem + ".audio.wav")),
                                                  audio.samplerate, audio.channels)
            recorder.append(rec)
            outs.append(rec)
        for url in args.stream or []:
            outs.append(FfmpegOutput(url, show.size, show.fps))
        if args.ndi:
            from vj.output.ndi import NdiOutput

            outs.append(NdiOutput(args.ndi, show.size, show.fps))
        if args.virtualcam is not None:
            from vj.output.virtualcam import VirtualCameraOutput

            outs.append(VirtualCameraOutput(show.size, show.fps, args.virtualcam or None))
        if args.spout is not None:  # made here, on the render thread's GL context, which they share
            from vj.output.spout import SpoutOutput

            outs.append(SpoutOutput(args.spout))
        if args.syphon is not None:
            from vj.output.syphon import SyphonOutput

            outs.append(SyphonOutput(args.syphon))
        if not outs and surface.window is None and _web_settings(show, args) is None:
            log.warning("headless with no --out: the program goes nowhere (add --out FILE.mp4)")
        return outs

    return outputs_for


def cmd_run(args) -> int:
    from vj import assemble
    from vj.clock import FramePacer, RealClock
    from vj.render.context import display_available

    show = _load_show(args)
    _check_outputs(args)
    if args.out is not None:
        _orphaned_tapes(args.out)
    audio = _live_audio(show, args)
    if not args.headless and not display_available():
        log.info("no display: running headless (EGL)")
    recorder: list = []
    outputs_for = _live_outputs(show, args, audio, recorder)
    if not args.no_osc:  # a taken port is said before the model loads, not after
        from vj.control.osc import check_port

        port = args.osc_port if args.osc_port is not None else show.osc.port
        if port:
            check_port(args.osc_host or show.osc.host, port)
    options = _options(show, args, live=True)
    if options.web is not None:  # likewise the web port
        from vj.web.access import check_port as check_web_port

        check_web_port(options.web.host, options.web.port)
    clock = RealClock()
    built = assemble.build_show(show, options, live=True, clock=clock, audio=audio, outputs_for=outputs_for)
    _said(built, show, audio)
    _bpm_by_hand(built, args)
    engine, surface = built.engine, built.surface
    _on_signals(engine)
    # Headless: the pacer is the frame clock. With a window, vsync paces and the pacer caps the
    # loop at the monitor's rate where vsync does nothing (Xvfb, some drivers).
    audio.start()
    clock.reset()
    pacer = FramePacer(show.fps if surface.window is None else surface.refresh_rate, clock)
    log.info(f"playing {show.name}" + (f" for {args.duration:g} s" if args.duration else " (Ctrl-C or Esc to stop)"))
    try:
        summary = engine.run_live(args.duration, pacer, on_status=None if args.quiet else log.info)
    finally:
        built.close()
    _report(summary, "show")
    if recorder and recorder[0].complete:
        log.info(f"recorded {recorder[0].path} ({counted(recorder[0].frames_written, 'frame')})")
    return 0


def _orphaned_tapes(out: Path) -> None:
    """Tapes an earlier show left beside its recording (killed before it could mux): say how to mux them."""
    for tape in sorted(out.parent.glob(f"{glob.escape(out.stem)}*.audio.wav")):
        video = tape.with_name(tape.name.removesuffix(".audio.wav") + out.suffix)
        if video.exists():
            log.warning(f"{tape}: the sound of {video} was never put in (that show did not end): vj mux {video}")


def cmd_render(args) -> int:
    from vj import assemble
    from vj.show.origin import placed
    from vj.audio.sources import FileInput, SilentInput
    from vj.clock import ManualClock
    from vj.output.ffmpeg import FfmpegOutput

    show = _load_show(args)
    if args.out is None:
        args.out = Path(f"{show.path.stem if show.path else show.name}.mp4")  # the file's name: a copy is its own
        log.info(f"no --out: rendering to {args.out} in this folder")
    _check_out(args.out)
    _in_range("--bpm", "bpm", args.bpm)  # said before the model loads, sound or none
    out = _render_path(args.out, args.overwrite)
    if args.audio and args.audio.lower() == "none":
        audio = SilentInput()
    else:
        path = Path(args.audio).expanduser() if args.audio else show.audio
        if path is None and args.duration is None:
            raise VJError("vj render needs a sound track or a length: --audio FILE, audio = \"...\" in the set's [show], "
                          "or --duration S (silent)")
        if path is None:
            log.info(f"no sound track (the set has none, no --audio): {args.duration:g} s in silence")
            audio = SilentInput()
        else:
            if not path.is_file():
                raise VJError(f"--audio {args.audio}: no such file" if args.audio else
                              f"{placed(show, 'audio')}: {path} is not there; give --audio FILE")
            if not args.audio and show.path is not None and path.parent != show.path.parent:
                log.info(f"audio: {path.name} is not beside {show.path.name}: the shipped one ({path})")
            audio = FileInput(path, _analyzer_config(show, args), args.audio_channel or show.audio_channel)
    duration = args.duration if args.duration is not None else audio.duration
    if duration is None:
        raise VJError("a silent render needs --duration S")
    n_frames = max(1, round(duration * show.fps))
    duration = n_frames / show.fps

    recorder = []

    def outputs_for(surface):
        recorder.append(FfmpegOutput(out, show.size, show.fps, audio=audio.track, duration=duration, offline=True))
        return list(recorder)

    built = assemble.build_show(show, _options(show, args, live=False), live=False, clock=ManualClock(), audio=audio,
                                outputs_for=outputs_for)
    _said(built, show, audio)
    _bpm_by_hand(built, args)
    engine = built.engine
    _on_signals(engine)
    tty = sys.stderr.isatty() and not args.quiet
    t0 = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] >= (0.25 if tty else 5.0):
            last[0] = now
            rate = done / max(now - t0, 1e-9)
            line = f"render {done}/{total} frames ({rate:.1f} fps, {(total - done) / max(rate, 1e-9):.0f} s left)"
            if tty:
                sys.stderr.write("\r" + line + ("\n" if done == total else ""))
                sys.stderr.flush()
            elif not args.quiet:
                log.info(line)

    try:
        summary = engine.render_offline(n_frames, show.fps, progress)
    finally:
        built.close()
    _report(summary, "render")
    if summary.frames < n_frames or not recorder[0].complete:
        raise VJError(f"render stopped after {summary.frames} of {n_frames} frames; {out} is incomplete")
    log.info(f"wrote {out} ({counted(n_frames, 'frame')}, {duration:.2f} s at {show.fps:g} fps, "
             f"{show.size[0]}x{show.size[1]}{', with audio' if audio.track else ', silent'})")
    return 0


def _render_path(out: Path, overwrite: bool) -> Path:
    """Where a render goes: --out, or, when a file is there already, beside it (the rule of live
    recordings: nothing is written over without a word), unless --overwrite says to."""
    from vj.audio.tape import free_name

    if not out.exists() or overwrite:
        if out.exists():
            log.info(f"{out} exists: writing over it (--overwrite)")
        return out
    beside = free_name(out)
    log.info(f"{out} exists: rendering to {beside} beside it (--overwrite writes over it)")
    return beside


def cmd_check(args) -> int:
    from vj.resources import find_set
    from vj.check import check_set

    bad = 0
    for name in args.sets:
        try:
            path = find_set(name)
        except VJError as e:
            print(f"{name}: {e}")
            bad += 1
            continue
        problems = check_set(path)
        for p in problems:
            print(p)
        bad += len(problems)
        if not args.quiet:
            log.info(f"{path}: " + (counted(len(problems), "problem") if problems else "ok"))
    return 1 if bad else 0


def cmd_params(args) -> int:
    from vj import assemble
    from vj.core.features import SOURCES
    from vj.show.setfile import load_set
    from vj.resources import find_set

    show = load_set(find_set(args.set))
    p = assemble.build_controls(show).params
    print(f"{'parameter':<24} {'value':>8} {'range':>17}  {'unit':<10} description")
    for name in p.names():
        s = p.spec(name)
        print(f"{name:<24} {p.value(name):8.3g} {f'[{s.lo:g}, {s.hi:g}]':>17}  {s.unit:<10} {s.doc}")
    print("\nmodulation sources (for [[route]]): " + ", ".join(SOURCES + ("audio.bar",)))
    return 0


def cmd_learn(args) -> int:
    from vj import assemble
    from vj.show.setfile import load_set
    from vj.control.midi import MidiControl
    from vj.resources import find_set

    controls = assemble.build_controls(load_set(find_set(args.set)))
    controls.params.spec(args.param, "vj learn")
    midi = MidiControl(controls, tuple(args.midi), args.mapping)
    midi.start()
    try:
        midi.learn(args.param)
        print(f"move a control on {', '.join(midi.ports)} for {args.param} (Ctrl-C to give up)", file=sys.stderr)
        deadline = time.monotonic() + args.timeout
        while controls.counters.get("midi_learned") == 0:
            if time.monotonic() > deadline:
                raise VJError(f"vj learn: nothing moved within {args.timeout:g} s")
            time.sleep(0.05)  # a command waiting for a person, not a real-time loop
    finally:
        midi.stop()
    return 0


def cmd_features(args) -> int:
    from vj.audio import features_cli

    return features_cli.main(args, _analyzer_config, _hold_bpm)


def cmd_devices(args) -> int:
    from vj import devices

    print(devices.report())
    return 0


def cmd_bench(args) -> int:
    return bench_commands.run(args)


def cmd_mux(args) -> int:
    import json

    from vj.audio.tape import sidecar
    from vj.output.ffmpeg import has_sound, mux

    video = args.video
    tape = args.tape or video.with_name(video.stem + ".audio.wav")
    if not video.is_file():
        raise VJError(f"{video}: no such recording")
    if not tape.is_file() and args.tape is None:
        if has_sound(video):  # the show's sound was a file: it went into the recording as it played
            log.info(f"{video} has its sound already (no tape beside it): nothing to mux")
            return 0
        raise VJError(f"{video}: no sound in it and no tape beside it ({tape.name}); name the tape with --tape WAV")
    if not tape.is_file():
        raise VJError(f"--tape {tape}: no such file")
    offset = args.offset
    if offset is None:
        try:
            offset = float(json.loads(sidecar(tape).read_text())["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning(f"no note of the offset beside {tape}: the sound starts with the picture (--offset S to shift it)")
            offset = 0.0
    said = mux(video, tape, offset)
    if said is not None:
        raise VJError(f"{video}: the sound could not be added ({said}); {tape} is kept")
    log.info(f"{video}: the sound is in (offset {offset:+.3f} s); {tape} removed")
    return 0


def cmd_train(args) -> int:
    from dataclasses import replace

    if args.threads:  # before anything runs on torch's pool (the seedling's run and its control branch's alike)
        import torch

        torch.set_num_threads(args.threads)
    from vj.seedling import model, train

    if args.control:
        return _train_control(args)
    cfg = train.TrainConfig() if args.steps is None else replace(train.TrainConfig(), steps=args.steps)
    cfg = cfg if args.batch is None else replace(cfg, batch=args.batch)
    if cfg.steps < 20:
        raise VJError(f"vj train --steps {cfg.steps}: use 20 or more (the checkpoints fall at 5% and 30% of the run)")
    train.train(cfg, (args.out or model.WEIGHTS).expanduser(), progress=log.info, resume=args.resume)
    return 0


def _train_control(args) -> int:
    from dataclasses import replace

    from vj.seedling import control, model

    cfg = control.ControlTrainConfig()
    cfg = replace(cfg, steps=args.steps or cfg.steps, batch=args.batch or cfg.batch)
    if cfg.steps < 10:
        raise VJError(f"vj train --control --steps {cfg.steps}: use 10 or more")
    out = (args.out or model.WEIGHTS).expanduser() / args.control
    control.train(cfg, out, progress=log.info)
    return 0


def cmd_serve(args) -> int:
    from vj.core.spec import LoraSpec
    from vj.remote.maker import MakerConfig
    from vj.remote.server import ServeConfig, serve

    loras = []
    for text in args.lora or []:
        name, sep, source = text.partition("=")
        if not sep or not name or not source:
            raise VJError(f"--lora {text!r}: write NAME=SOURCE (a .safetensors file or a hub id)")
        loras.append(LoraSpec(name, source))
    if not 50 <= args.quality <= 100:
        raise VJError(f"--quality {args.quality}: 50..100")
    maker = MakerConfig(args.model, args.device, args.threads, args.tiny_vae, tuple(loras), args.quality, args.wrap)
    return serve(ServeConfig(args.bind, maker, _state(args.state) or _state(None)))


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if not args.cmd:
        ap.print_help()
        return 2
    setup(verbose=args.verbose, quiet=args.quiet)
    quiet_libraries()
    try:
        return {"run": cmd_run, "render": cmd_render, "devices": cmd_devices, "params": cmd_params,
                "features": cmd_features, "learn": cmd_learn, "bench": cmd_bench, "check": cmd_check,
                "train": cmd_train, "mux": cmd_mux, "serve": cmd_serve}[args.cmd](args)
    except VJError as e:
        for line in e.lines if isinstance(e, SetProblems) else [str(e)]:  # a set's problems: a line each
            log.error(f"error: {line}")
        return 2
    except KeyboardInterrupt:
        log.info("interrupted")
        return 130
    except Exception as e:  # a bug: one line, and the traceback on request
        if args.verbose:
            raise
        log.error(f"internal error: {type(e).__name__}: {e} (a bug: rerun with --verbose for the traceback)")
        return 1
