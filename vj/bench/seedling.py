"""`vj bench adherence`, `vj bench diversity` and `vj bench sheets`: the built-in model judged by its pictures.

adherence  the tables of vj/seedling/adherence.py (colours, shapes, held-out pairs, blends, seeds)
diversity  vj/seedling/diversity.py: how much seeds differ, how the walk moves the picture, for
           checkpoints side by side (the first season's and this one's, by default)
sheets     docs/seedling-sheet.png (prompts x seeds), seedling-seasons.png (the first season and
           this one), seedling-checkpoints.png (early, middle, final), seedling-walk.png (a slow
           walk and a kick), seedling-blends.png (blends and chaos), seedling-loss.png
All run the streaming loop itself, on the CPU, offline.
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


def _print(r: dict, args, printer) -> None:
    print(json.dumps(r) if args.json else "", end="\n" if args.json else "")
    if not args.json:
        printer(r)


def main(args) -> int:
    from vj.seedling import adherence, diversity, model, sheets

    if args.what == "adherence":
        _print(adherence.report(_loop(args.model, args.steps), seeds=args.seeds), args, adherence.print_report)
        return 0
    if args.what == "diversity":
        loops = {name: _loop(name, args.steps) for name in args.models.split(",")}
        _print(diversity.report(loops, seeds=args.seeds), args, diversity.print_report)
        return 0
    out = args.out.expanduser()
    out.mkdir(parents=True, exist_ok=True)
    loops = {c: _loop(f"seedling@{c}", args.steps) for c in model.CHECKPOINTS}
    final = loops["final"]
    for p in (sheets.contact_sheet(final, out / "seedling-sheet.png"),
              sheets.checkpoints_sheet({"seedling-1": _loop("seedling-1", args.steps), "seedling": final},
                                       out / "seedling-seasons.png", seeds=(1, 2, 3), prompts=sheets.SEASON_PROMPTS),
              sheets.checkpoints_sheet(loops, out / "seedling-checkpoints.png"),
              sheets.walk_sheet(final, out / "seedling-walk.png"),
              sheets.blends_sheet(final, out / "seedling-blends.png"),
              sheets.loss_plot(model.WEIGHTS / "loss.jsonl", out / "seedling-loss.png")):
        print(f"wrote {p}")
    return 0
