"""The whole loop in-process: real GL (EGL), real tiny diffusers model, real feature tracker."""


import numpy as np

from vj import assemble
from vj.audio.sources import FileInput, SilentInput
from vj.audio.synth import drum_pattern
from vj.clock import FramePacer, ManualClock, RealClock
from vj.show.setfile import load_set, with_overrides
from vj.render.compositor import Compositor
from vj.resources import find_set
from helpers import BrokenOutput, FaultInjectingLoop, MemoryOutput, write_wav

SIZE = (160, 96)


def build(gl_ctx, model, *, audio=None, outputs=None, clock=None, wrap_loop=None, seed=1, **overrides):
    show = with_overrides(load_set(find_set("demo")), size=SIZE, **overrides)
    controls = assemble.build_controls(show, seed)
    generator = assemble.local_generator(show, model, seed, wrap_loop)
    return assemble.make_engine(controls, Compositor(gl_ctx, show.size, show.effect), generator,
                                clock=clock or ManualClock(), audio=audio or SilentInput(),
                                outputs=outputs if outputs is not None else [MemoryOutput()])


def diff(a, b):
    return float(np.abs(a.astype(np.float64) - b).mean())


def test_offline_render_is_deterministic(gl_ctx, tiny_model):
    runs = []
    for _ in range(2):
        out = MemoryOutput()
        e = build(gl_ctx, tiny_model, outputs=[out])
        s = e.render_offline(24, 24.0)
        assert s.frames == 24 and s.gen_frames == 24 and s.gen_errors == 0
        runs.append(out.frames)
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
    assert diff(runs[0][0], runs[0][-1]) > 1  # and it moves


def test_the_show_goes_on_when_the_generator_raises(gl_ctx, tiny_model):
    out = MemoryOutput()
    faults = set(range(5, 15))
    e = build(gl_ctx, tiny_model, outputs=[out], wrap_loop=lambda loop: FaultInjectingLoop(loop, faults))
    s = e.render_offline(24, 24.0)
    assert s.frames == 24 and len(out.frames) == 24  # no frame missing
    assert s.gen_errors == len(faults) and s.gen_frames == 24 - len(faults)
    for f in out.frames:
        assert f.mean() > 10 and f.std() > 2  # never black, never flat
    # during the faults the generated layer holds still: only the compositor (feedback, effect) moves it
    clean = MemoryOutput()
    build(gl_ctx, tiny_model, outputs=[clean]).render_offline(24, 24.0)
    assert np.array_equal(out.frames[4], clean.frames[4])
    assert not np.array_equal(out.frames[10], clean.frames[10])


def test_the_show_goes_on_live_when_the_generator_raises(gl_ctx, tiny_model):
    out = MemoryOutput()
    e = build(gl_ctx, tiny_model, outputs=[out], clock=RealClock(),
              wrap_loop=lambda loop: FaultInjectingLoop(loop, set(range(0, 100000, 3))))
    clock = e.clock
    s = e.run_live(duration=1.5, pacer=FramePacer(60, clock))
    assert s.frames > 10 and len(out.frames) == s.frames
    assert s.gen_errors > 0 and s.gen_frames > 0
    assert e.generator._thread is None  # stopped cleanly
    assert out.frames[-1].std() > 2


def test_a_lost_output_is_dropped_and_the_others_go_on(gl_ctx, tiny_model):
    good, bad = MemoryOutput(), BrokenOutput(fail_at=3)
    e = build(gl_ctx, tiny_model, outputs=[bad, good])
    s = e.render_offline(10, 24.0)
    assert s.frames == 10 and len(good.frames) == 10
    assert bad.closed and bad not in e.outputs
    info = e.overlay_info()  # the operator sees it on the preview
    assert f"{bad.name}: lost" in info.warnings and info.lines[0].startswith("render ")
    assert f"{bad.name} LOST" in e.status_line()  # and the status line, long after the log line scrolled away


def test_the_overlay_draws_warnings_in_red_and_meters():
    from vj.render.overlay import Overlay, OverlayInfo
    from vj.render.context import open_headless

    o = Overlay(open_headless().ctx)
    calm = o.image(OverlayInfo(("render 60 fps",), (("lvl", 0.0),)))
    alarm = o.image(OverlayInfo(("render 60 fps",), (("lvl", 1.0),), ("generator errors 3",)))
    red = lambda a: int(((a[..., 0] > 200) & (a[..., 1] < 120) & (a[..., 3] == 255)).sum())  # noqa: E731
    green = lambda a: int(((a[..., 1] > 200) & (a[..., 0] < 120) & (a[..., 3] == 255)).sum())  # noqa: E731
    assert red(calm) == 0 and red(alarm) > 20
    assert green(calm) == 0 and green(alarm) > 100  # the level meter filled


def test_loud_audio_changes_the_image_and_silence_does_not(gl_ctx, tiny_model, tmp_path):
    sr = 48000
    beat = drum_pattern(124, 2, sr=sr, noise_db=-90).audio
    loud = write_wav(tmp_path / "loud.wav", np.concatenate([np.zeros(sr, np.float32), beat]))
    quiet = write_wav(tmp_path / "quiet.wav", np.zeros(3 * sr, np.float32))
    frames = {}
    for name, path in (("loud", loud), ("quiet", quiet)):
        out = MemoryOutput()
        build(gl_ctx, tiny_model, outputs=[out], audio=FileInput(path)).render_offline(72, 24.0)
        frames[name] = out.frames
    silent_part = [diff(a, b) for a, b in zip(frames["loud"][:24], frames["quiet"][:24])]
    loud_part = [diff(a, b) for a, b in zip(frames["loud"][30:], frames["quiet"][30:])]
    assert max(silent_part) == 0.0  # same seed, same silence: the same frames
    assert np.mean(loud_part) > 5.0  # the sound moved the image


def test_a_show_with_no_output_still_runs_its_course(gl_ctx, tiny_model):
    e = build(gl_ctx, tiny_model, outputs=[])
    s = e.render_offline(5, 24.0)
    assert s.frames == 5 and s.gen_frames == 5


def test_freeze_holds_the_generated_image_and_rests_the_generator(gl_ctx, tiny_model):
    made = []

    def counting(loop):
        frame = loop.frame

        def counted(snap):
            made.append(snap.index)
            return frame(snap)

        loop.frame = counted
        return loop

    out = MemoryOutput()
    e = build(gl_ctx, tiny_model, outputs=[out], wrap_loop=counting)
    e.params.set("feedback.amount", 0.0)  # nothing that moves by itself
    e.params.set("fx.kaleido.amount", 0.0)
    e.render_offline(24, 24.0)  # a second: every slewed parameter is where it was sent
    e.params.set("gen.freeze", 1.0)
    e.params.set("noise.walk", 30.0)  # the walk goes on, nothing shows it
    e.render_offline(6, 24.0)
    assert made == list(range(24))  # no frame asked while frozen
    held = out.frames[24:]
    assert all(np.array_equal(held[0], f) for f in held)  # the picture holds
    assert "FROZEN" in e.status_line() and any("FROZEN" in w for w in e.overlay_info().warnings)
    forgot = []
    e.compositor.forget_pace = lambda: forgot.append(True)
    e.params.set("gen.freeze", 0.0)
    e.render_offline(2, 24.0)
    assert made[-2:] == [30, 31] and not np.array_equal(out.frames[-1], held[0])
    assert forgot == [True]  # the gap the freeze made is not taken for the generator's pace


def test_the_master_fader_is_said_on_the_preview_and_in_the_status_line(gl_ctx, tiny_model):
    out = MemoryOutput()
    e = build(gl_ctx, tiny_model, outputs=[out])
    e.params.set("master.level", 0.5)
    e.render_offline(12, 24.0)
    assert "master fader at 50%" in e.status_line()
    assert "master fader at 50%" in e.overlay_info().warnings
    e.params.set("master.level", 0.0)
    e.render_offline(12, 24.0)
    assert out.frames[-1].max() == 0  # black to the outputs
    assert "master fader at 0%: every output is black" in e.overlay_info().warnings
