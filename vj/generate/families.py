"""A model's family -> the loop that plays it (core/protocols.Loop): a new family is a new module
and a line here. The diffusion families (sd, sdxl, the built-in seedling) share the streaming
loop (loop.py); the GAN family has its own (gan.py)."""

from __future__ import annotations


def make_loop(model, size: tuple[int, int], steps: int, seed: int, *, live: bool = False, input: str | None = None,
              batch: bool = False, deep_cache: int = 1, negative: str = ""):
    if model.family == "gan":
        from vj.generate.gan import GanLoop

        return GanLoop(model, seed, input)
    from vj.generate.loop import StreamLoop

    return StreamLoop(model, size, steps, seed, live=live, input=input, batch=batch, deep_cache=deep_cache,
                      negative=negative)
