"""The generator in its own process: faults, crashes and restarts while the show goes on."""

import os
import time
from types import MappingProxyType

import numpy as np
import pytest

from vj import assemble
from vj.audio.sources import SilentInput
from vj.clock import FramePacer, RealClock
from vj.show.setfile import load_set, with_overrides
from vj.core.errors import ModelLoadError
from vj.generate.process import GeneratorConfig, ProcessGenerator
from vj.render.compositor import Compositor
from vj.resources import find_set
from vj.core.snapshot import Snapshot
from helpers import MemoryOutput, crash_mark


def live(gl_ctx, wrap=None, seconds=4.0, until=None):
    """A live show of `seconds`; with `until(engine)`, it ends as soon as that holds (checked a few
    times a second) and `seconds` is only the limit: a busy machine waits longer, not fails."""
    show = with_overrides(load_set(find_set("demo")), size=(160, 96), model="tiny-random")
    controls = assemble.build_controls(show, 1)
    gen = assemble.process_generator(show, seed=1, wrap=wrap)
    gen.start(wait_ready=True, timeout=120)
    out = MemoryOutput()
    clock = RealClock()
    e = assemble.make_engine(controls, Compositor(gl_ctx, show.size, show.effect), gen, clock=clock,
                             audio=SilentInput(), outputs=[out])
    def check(_line):
        if until is not None and until(e):
            e.stop_requested = True

    clock.reset()
    s = e.run_live(seconds, FramePacer(30, clock), status_every=0.25, on_status=check)
    e.generator.stop()
    return e, s, out


def test_frames_come_back_from_the_generator_process(gl_ctx):
    e, s, out = live(gl_ctx)
    assert s.gen_frames > 5 and s.gen_errors == 0
    assert e.generator.size == (128, 128)
    assert s.latency_ms_p50 is not None and s.latency_ms_p50 > 0
    assert out.frames[-1].std() > 2
    assert e.generator.state == "stopped" and e.generator._shm is None  # shared memory released


def test_frame_faults_in_the_child_are_counted_and_frames_keep_coming(gl_ctx):
    e, s, out = live(gl_ctx, wrap="helpers:fail_every_third_frame")
    assert s.gen_errors > 0 and s.gen_frames > 3
    assert "injected fault" in e.generator.last_error


def test_out_of_memory_in_the_child_lowers_the_size_and_frames_keep_coming(gl_ctx):
    e, s, out = live(gl_ctx, wrap="helpers:out_of_memory_above_96x96")
    g = e.generator
    assert g.size == (96, 96) and s.gen_frames > 3
    assert "lowered the size from 128x128 to 96x96" in g.last_error
    assert out.frames[-1].std() > 2


def test_a_crashed_generator_process_is_restarted_and_the_show_goes_on(gl_ctx):
    # the back-off and the model's reload take longer on a busy machine: wait for the frames, not a time
    mark = crash_mark(os.getpid())
    if os.path.exists(mark):
        os.remove(mark)  # left by an earlier run whose process id this one reuses
    e, s, out = live(gl_ctx, wrap="helpers:crash_at_frame_20", seconds=180.0,
                     until=lambda e: e.generator.restarts >= 1 and e.generator.last_index > 220)
    g = e.generator
    crashed = os.path.exists(mark)
    if crashed:
        os.remove(mark)
    assert crashed, "the child never reached snapshot 20"
    assert g.restarts >= 1
    assert len(out.frames) == s.frames  # the renderer never stopped
    assert s.frames > 200
    assert g.last_index > 25  # frames came again after the crash at snapshot 20
    late = out.frames[-1].astype(float)
    assert late.std() > 2 and np.abs(late - out.frames[len(out.frames) // 2]).mean() > 0.5


def test_a_model_that_cannot_load_in_the_child_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    g = ProcessGenerator(GeneratorConfig("stabilityai/sd-turbo"))
    with pytest.raises(ModelLoadError, match="local Hugging Face cache.*seedling"):
        g.start(wait_ready=True, timeout=120)
    assert g.state == "stopped"


def test_frames_are_handed_over_without_a_copy_and_every_slot_comes_back():
    """The renderer uploads the frame straight from shared memory: the frame it was given keeps
    its slot until the next one arrives, then the slot goes back to the child (three slots:
    a slot kept twice would stop the frames after two)."""
    show = with_overrides(load_set(find_set("demo")), size=(96, 64), model="tiny-random")
    g = assemble.process_generator(show, seed=1)
    g.start(wait_ready=True, timeout=120)
    got = []
    try:
        for i in range(4000):
            g.submit(Snapshot(i, i / 30, MappingProxyType({}), ("a flooded cathedral",), 1))
            f = g.latest()
            if f is not None:
                assert not f.pixels.flags.owndata  # a view of the slot
                assert np.shares_memory(f.pixels, np.frombuffer(g._shm.buf, np.uint8))
                got.append((f.pixels.copy(), f.pixels))
                if len(got) == 12:
                    break
            time.sleep(0.005)
        assert len(got) == 12
        assert g._held is not None and g.dropped == 0
        kept = got[-1][1]
        for i in range(5000, 5006):  # the child goes on making frames (not taken) into the other slots
            g.submit(Snapshot(i, i / 30, MappingProxyType({}), ("a burning cathedral",), 1))
            time.sleep(0.2)
        assert np.array_equal(kept, got[-1][0])  # the frame given out is not written over while held
    finally:
        g.stop()  # a frame still held: the segment is unlinked, unmapped once the frame is gone
    assert g._shm is None and len(g._retired) == 1
    assert np.array_equal(kept, got[-1][0])  # still mapped, still readable
    del got, kept, f
    g._drop_shm()
    assert g._retired == []
