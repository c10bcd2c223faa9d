"""Where a UNet call's time goes, block by block, and whether torch.compile / channels_last pay.

    .venv/bin/python bench/unet_blocks.py [--model random:sd-turbo] [--size 256] [--threads 2]
                                          [--compile] [--channels-last]

The per-block figures in BENCHMARKS.md (what deep-feature caching saves) and the compile /
channels_last comparisons come from this script.
"""

import argparse
import collections
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="random:sd-turbo")
    ap.add_argument("--size", type=int, default=256, help="image side, pixels")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile(unet)")
    ap.add_argument("--channels-last", action="store_true", help="also time the channels_last layout")
    a = ap.parse_args()

    from vj.generate import registry

    torch.set_num_threads(a.threads)
    m = registry.load(registry.resolve(a.model), torch.device("cpu"), torch.float32)
    unet = m.unet
    s = a.size // m.vae_scale
    x = torch.randn(1, unet.config.in_channels, s, s)
    t = torch.tensor(999.0)
    e = torch.randn(1, 77, unet.config.cross_attention_dim)

    def timed(label, fn, xx):
        with torch.inference_mode():
            t0 = time.perf_counter()
            fn(xx, t, encoder_hidden_states=e)
            first = time.perf_counter() - t0
            ts = []
            for _ in range(a.calls):
                t0 = time.perf_counter()
                fn(xx, t, encoder_hidden_states=e)
                ts.append(time.perf_counter() - t0)
        print(f"{label}: first call {first:.2f} s, then " + ", ".join(f"{v:.2f}" for v in sorted(ts)) + " s")

    # per block, with forward hooks
    spent: dict[str, float] = collections.defaultdict(float)
    started: dict[str, float] = {}
    blocks = {"conv_in": unet.conv_in, "conv_out": unet.conv_out, "mid": unet.mid_block}
    blocks.update({f"down{i}": b for i, b in enumerate(unet.down_blocks)})
    blocks.update({f"up{i}": b for i, b in enumerate(unet.up_blocks)})
    hooks = []
    for name, mod in blocks.items():
        hooks.append(mod.register_forward_pre_hook(lambda *_, n=name: started.__setitem__(n, time.perf_counter())))
        hooks.append(mod.register_forward_hook(lambda *_, n=name: spent.__setitem__(n, spent[n] + time.perf_counter() - started[n])))
    with torch.inference_mode():
        unet(x, t, encoder_hidden_states=e)
        spent.clear()
        t0 = time.perf_counter()
        for _ in range(a.calls):
            unet(x, t, encoder_hidden_states=e)
        total = (time.perf_counter() - t0) / a.calls
    for h in hooks:
        h.remove()
    print(f"{a.model} at {a.size}x{a.size}, fp32, {a.threads} threads: one UNet call {total:.2f} s")
    for name in blocks:
        print(f"  {name:8} {spent[name] / a.calls:.3f} s")
    shell = sum(spent[n] for n in ("conv_in", "down0", f"up{len(unet.up_blocks) - 1}", "conv_out")) / a.calls
    print(f"  the shell a deep-cached call still runs: {shell:.2f} s ({100 * shell / total:.0f}%)")

    timed("eager", unet, x)
    if a.channels_last:
        unet.to(memory_format=torch.channels_last)
        timed("channels_last", unet, x.to(memory_format=torch.channels_last))
        unet.to(memory_format=torch.contiguous_format)
    if a.compile:
        timed("torch.compile", torch.compile(unet), x)


if __name__ == "__main__":
    main()
