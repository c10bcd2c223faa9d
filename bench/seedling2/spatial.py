"""t=999-only fresh batches: does the UNet learn noise -> picture when only the spatial fields vary
(the scalars zeroed for the painter: no noise-chosen colour, shape, background, light)?"""
import sys, time, torch, numpy as np, random, dataclasses
from vj.seedling import grammar, layout, model, paint, train
torch.manual_seed(0); torch.set_num_threads(2)
B, steps, mode = 16, int(sys.argv[1]), sys.argv[2]
pool = grammar.caption_pool(2000, 1)
unet = model.new_unet(); pipe = model.pipeline(unet)
emb = train.encode_pool(pipe, [s.caption() for s in pool], torch.device("cpu")).float()
space = model.pixel_space(8)
def pics(scenes, gen):
    z = torch.randn(len(scenes), 192, 16, 28, generator=gen)
    lays = layout.read(z, (224, 128))
    if mode == "spatial":
        lays = [dataclasses.replace(l, scalars=np.zeros_like(l.scalars)) for l in lays]
    imgs = [paint.paint(s, l, 224, 128) for s, l in zip(scenes, lays)]
    return z, torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2) * 2 - 1
gen = torch.Generator().manual_seed(3)
hidx = list(range(1900, 1932))
hn, hx = pics([pool[i] for i in hidx], gen)
hz = space.encode(hx)[0].mode()
print(mode, "held flat-mean", round(((hx - hx.mean((2, 3), keepdim=True)) ** 2).mean().item(), 4), flush=True)
opt = torch.optim.AdamW(unet.parameters(), lr=1e-3, weight_decay=0.01)
rng = random.Random(5); t0 = time.time()
for step in range(1, steps + 1):
    idx = [rng.randrange(1900) for _ in range(B)]
    n, x = pics([pool[i] for i in idx], gen)
    pred = unet(n, torch.full((B,), 999), encoder_hidden_states=emb[idx], return_dict=False)[0]
    loss = ((pred - space.encode(x)[0].mode()) ** 2).mean()
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0); opt.step()
    if step % 100 == 0:
        with torch.no_grad():
            hp = unet(hn, torch.full((32,), 999), encoder_hidden_states=emb[hidx], return_dict=False)[0]
        print(step, "held", round(((hp - hz) ** 2).mean().item(), 4), f"{time.time()-t0:.0f}s", flush=True)
