"""`vj bench engine`: how fast the live engine runs on this machine, measured piece by piece.

    generator   loop.frame() back to back on the generator's device (ms per frame, fps)
    compositor  one render frame of the compositor at the output size, with GPU readback
    live        the real live loop, headless, for --seconds: render fps (paced at --fps), the
                generator's fps on its own thread beside it, and the latency from a snapshot
                (the state of audio and controls) to the first render frame that shows its image
    offline     `vj render`'s loop without the encoder: frames per second, frame-exact
"""

from __future__ import annotations

import json
import platform
import statistics
import time

from vj.output.base import Output, ProgramFrame


class ReadbackOutput(Output):
    """Reads every frame back from the GPU (as a recorder does) and discards it."""

    name = "readback"

    def present(self, frame: ProgramFrame) -> None:
        frame.rgba()

    def close(self) -> None:
        pass


def _median_ms(fn, n: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def run(model_name: str = "tiny-random", size: str = "1280x720", gen_size: str | None = None, seconds: float = 10.0,
        fps: float = 60.0, device: str = "auto", generator: str = "process", threads: int | None = None) -> dict:
    from vj import assemble
    from vj.audio.sources import SilentInput
    from vj.clock import FramePacer, ManualClock, RealClock
    from vj.show.setfile import load_set, parse_size, with_overrides
    from vj.generate import device as torch_device
    from vj.generate import registry
    from vj.render.context import open_headless
    from vj.resources import find_set

    show = with_overrides(load_set(find_set("demo")), model=model_name, size=parse_size(size, "--size"),
                          gen_size=parse_size(gen_size, "--gen-size") if gen_size else None)
    spec = registry.resolve(show.model)
    dev, dtype = torch_device.pick(device)
    n_threads = torch_device.configure_threads(dev, threads)
    model = registry.load(spec, dev, dtype)
    surface = open_headless()
    controls = assemble.build_controls(show, 1)

    def engine(clock, gen=None):
        gen = gen or assemble.local_generator(show, model, 1)
        return assemble.make_engine(controls, assemble.make_compositor(surface.ctx, show), gen,
                                    clock=clock, audio=SilentInput(), outputs=[ReadbackOutput()])

    # generator alone
    e = engine(ManualClock())
    snap = e.snapshot()
    gen_ms = _median_ms(lambda: e.generator.loop.frame(snap), 30)
    # compositor alone (render + readback)
    comp_ms = _median_ms(lambda: (e.compositor.render(snap), e.compositor.read_rgba()), 60)
    # offline loop (generator in step with the renderer)
    e = engine(ManualClock())
    n_off = 48
    s_off = e.render_offline(n_off, show.fps)
    # live loop, with the generator where `vj run` puts it
    clock = RealClock()
    gen = None
    if generator == "process":
        gen = assemble.process_generator(show, 1, device, threads)
        gen.start(wait_ready=True)
    e = engine(clock, gen)
    clock.reset()
    s_live = e.run_live(seconds, FramePacer(fps, clock) if fps > 0 else None)
    return {
        "model": spec.name,
        "fixture": spec.fixture,
        "device": str(dev),
        "torch_device": torch_device.describe(),
        "renderer": surface.renderer,
        "size": f"{show.size[0]}x{show.size[1]}",
        "gen_size": "x".join(map(str, e.generator.size)),
        "steps": show.steps,
        "torch_threads": n_threads,
        "generator_ms": round(gen_ms, 2),
        "generator_fps_alone": round(1e3 / gen_ms, 1),
        "compositor_ms": round(comp_ms, 2),
        "offline_fps": round(s_off.frames / s_off.seconds, 1),
        "live_seconds": round(s_live.seconds, 2),
        "live_render_fps": round(s_live.frames / s_live.seconds, 1),
        "live_render_target_fps": fps,
        "live_generator_where": generator,
        "live_generator_fps": round(s_live.gen_frames / s_live.seconds, 1),
        "live_latency_ms_p50": None if s_live.latency_ms_p50 is None else round(s_live.latency_ms_p50, 1),
        "live_latency_ms_p95": None if s_live.latency_ms_p95 is None else round(s_live.latency_ms_p95, 1),
        "generator_errors": s_live.gen_errors,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
    }


def main(args) -> int:
    r = run(args.model, args.size, args.gen_size, args.seconds, args.fps, args.device, args.generator, args.threads)
    if args.json:
        print(json.dumps(r))
        return 0
    label = " (random-weight fixture)" if r["fixture"] else ""
    print(f"model       {r['model']}{label}, {r['steps']} step(s), generator {r['gen_size']} on {r['torch_device'].split(',')[0]}, {r['torch_threads']} torch thread(s)")
    print(f"renderer    {r['renderer']}, output {r['size']}")
    print(f"generator   {r['generator_ms']:8.2f} ms/frame   {r['generator_fps_alone']:7.1f} fps (alone)")
    print(f"compositor  {r['compositor_ms']:8.2f} ms/frame   (render + readback)")
    print(f"offline     {r['offline_fps']:8.1f} fps         (vj render's loop, no encoder)")
    lat = (f"{r['live_latency_ms_p50']:.1f} / {r['live_latency_ms_p95']:.1f} ms"
           if r["live_latency_ms_p50"] is not None else "n/a")
    print(f"live        render {r['live_render_fps']:.1f} fps (target {r['live_render_target_fps']:g}), "
          f"generator ({r['live_generator_where']}) {r['live_generator_fps']:.1f} fps, latency p50/p95 {lat}, {r['generator_errors']} errors "
          f"over {r['live_seconds']:.1f} s")
    return 0
