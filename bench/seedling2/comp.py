"""The season-2 run's final weights at t = 999: do its pictures' deviations from their own mean follow
the painted targets' (composition), or only the mean (colour)?"""
import torch, numpy as np
from pathlib import Path
from vj.seedling import grammar, model, train
torch.manual_seed(0); torch.set_num_threads(2)
pipe = model.load("final", Path("vj/seedling/weights/2"))
unet = pipe.unet
pool = grammar.caption_pool(2000, 1)
idx = list(range(1900, 1964))
emb = train.encode_pool(pipe, [pool[i].caption() for i in idx], torch.device("cpu")).float()
gen = torch.Generator().manual_seed(3)
n, x = train.noise_and_pictures([pool[i] for i in idx], (224, 128), gen)
with torch.no_grad():
    p = unet(n, torch.full((len(idx),), 999), encoder_hidden_states=emb, return_dict=False)[0]
px = model.pixel_space(8).decode(p)[0]
dt = x - x.mean((2, 3), keepdim=True); dp = px - px.mean((2, 3), keepdim=True)
corr = [float(np.corrcoef(dt[i].ravel(), dp[i].ravel())[0, 1]) for i in range(len(idx))]
mean_err = ((x.mean((2, 3)) - px.mean((2, 3))) ** 2).mean().item()
print("mse", ((px - x) ** 2).mean().item(), "flat-mean", (dt ** 2).mean().item(), "mean-colour err", mean_err)
print("composition: corr(pred - its mean, target - its mean) median", np.median(corr), "quartiles", np.percentile(corr, [25, 75]))
print("pred deviation energy", (dp ** 2).mean().item(), "target", (dt ** 2).mean().item())
# the same noise's picture under a shuffled noise: does the prediction follow ITS noise?
with torch.no_grad():
    p2 = unet(n.roll(1, 0), torch.full((len(idx),), 999), encoder_hidden_states=emb, return_dict=False)[0]
px2 = model.pixel_space(8).decode(p2)[0]
print("seeds: mean |pred(noise) - pred(other noise)| x255", float((px - px2).abs().mean() * 127.5))
