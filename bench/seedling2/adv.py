"""From the season-2 run's final weights: fine-tune the one-step map (t = 999) with MSE plus a small
patch discriminator (hinge), to see whether the hedging to flat pictures breaks."""
import sys, time, copy, torch, numpy as np, random
import torch.nn as nn, torch.nn.functional as F
from pathlib import Path
from PIL import Image
from vj.seedling import grammar, model, train
torch.manual_seed(0); torch.set_num_threads(2)
steps, lam_adv = int(sys.argv[1]), float(sys.argv[2])
pipe = model.load("final", Path("vj/seedling/weights/2"))
G = pipe.unet.train().requires_grad_(True)
pool = grammar.caption_pool(2000, 1)
emb = train.encode_pool(pipe, [s.caption() for s in pool], torch.device("cpu")).float()
space = model.pixel_space(8)
def block(i, o): return nn.Sequential(nn.Conv2d(i, o, 4, 2, 1), nn.LeakyReLU(0.2))
D = nn.Sequential(block(3, 32), block(32, 64), block(64, 128), nn.Conv2d(128, 1, 3, 1, 1))
og = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.99))
od = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.99))
gen = torch.Generator().manual_seed(3)
hidx = list(range(1900, 1932))
hn, hx = train.noise_and_pictures([pool[i] for i in hidx], (224, 128), gen)
def held():
    with torch.no_grad():
        p = space.decode(G(hn, torch.full((32,), 999), encoder_hidden_states=emb[hidx], return_dict=False)[0])[0]
        p2 = space.decode(G(hn.roll(1, 0), torch.full((32,), 999), encoder_hidden_states=emb[hidx], return_dict=False)[0])[0]
    dt, dp = hx - hx.mean((2, 3), keepdim=True), p - p.mean((2, 3), keepdim=True)
    corr = np.median([np.corrcoef(dt[i].ravel(), dp[i].ravel())[0, 1] for i in range(32)])
    return p, dict(mse=round(((p - hx) ** 2).mean().item(), 4), struct=round((dp ** 2).mean().item(), 4),
                   target=round((dt ** 2).mean().item(), 4), corr=round(float(corr), 3),
                   seeds=round(float((p - p2).abs().mean() * 127.5), 1))
print("start", held()[1], flush=True)
rng = random.Random(5); B = 12; t0 = time.time()
for step in range(1, steps + 1):
    idx = [rng.randrange(1900) for _ in range(B)]
    n, x = train.noise_and_pictures([pool[i] for i in idx], (224, 128), gen)
    fake = space.decode(G(n, torch.full((B,), 999), encoder_hidden_states=emb[idx], return_dict=False)[0])[0]
    d_loss = F.relu(1 - D(x)).mean() + F.relu(1 + D(fake.detach().clamp(-1, 1))).mean()
    od.zero_grad(); d_loss.backward(); od.step()
    g_adv = -D(fake.clamp(-1, 1)).mean()
    g_mse = ((fake - x) ** 2).mean()
    loss = g_mse + lam_adv * g_adv
    og.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(G.parameters(), 1.0); og.step()
    if step % 50 == 0:
        p, f = held()
        print(step, "d", round(d_loss.item(), 3), "g_adv", round(g_adv.item(), 3), "mse", round(g_mse.item(), 4), f, f"{time.time()-t0:.0f}s", flush=True)
p, f = held()
rows = [np.concatenate([((hx[i].permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8),
                        ((p[i].permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)], 1) for i in range(8)]
Image.fromarray(np.concatenate(rows, 0)).save(f"/tmp/ovf/adv_{lam_adv}.png")
