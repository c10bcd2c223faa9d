"""`vj bench adherence` and `vj bench sheets`: the built-in model judged by its pictures.

adherence  the tables of vj/seedling/adherence.py (colours, shapes, held-out pairs, blends, seeds)
sheets     docs/seedling-sheet.png (prompts x seeds), docs/seedling-checkpoints.png (early, middle,
           final side by side), docs/seedling-loss.png (the training loss)
Both run the streaming loop itself, on the CPU, offline.
"""

from __future__ import annotations

import json


def _loop(name: str, steps: int):
    import torch

    from vj.generate import registry
    from vj.generate.loop import StreamLoop

    spec = registry.resolve(name)
    m = registry.load(spec, torch.device("cpu"), torch.float32)
    return StreamLoop(m, spec.native_size, steps, seed=1)


def main(args) -> int:
    from vj.seedling import adherence, model, sheets

    if args.what == "adherence":
        r = adherence.report(_loop(args.model, args.steps), seeds=args.seeds)
        print(json.dumps(r) if args.json else "", end="\n" if args.json else "")
        if not args.json:
            adherence.print_report(r)
        return 0
    out = args.out.expanduser()
    out.mkdir(parents=True, exist_ok=True)
    loops = {c: _loop(f"seedling@{c}", args.steps) for c in model.CHECKPOINTS}
    for p in (sheets.contact_sheet(loops["final"], out / "seedling-sheet.png"),
              sheets.checkpoints_sheet(loops, out / "seedling-checkpoints.png"),
              sheets.loss_plot(model.WEIGHTS / "loss.jsonl", out / "seedling-loss.png")):
        print(f"wrote {p}")
    return 0
