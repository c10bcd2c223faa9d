import sys, time, torch, numpy as np, random
from vj.seedling import grammar, layout, model, paint, train
torch.manual_seed(0)
torch.set_num_threads(2)
mode = sys.argv[1] if len(sys.argv) > 1 else "told"
B = 16
scenes = grammar.caption_pool(200, 1)[:B]
gen = torch.Generator().manual_seed(3)
noise, x0 = train.noise_and_pictures(scenes, (224, 128), gen)
space = model.pixel_space(8)
z0 = space.encode(x0)[0].mode()
unet = model.new_unet()
pipe = model.pipeline(unet)
emb = train.encode_pool(pipe, [s.caption() for s in scenes], torch.device("cpu")).float()
flat = ((x0 - x0.mean((2, 3), keepdim=True)) ** 2).mean().item()
print("flat-mean mse", flat, "zero mse", (x0 ** 2).mean().item())
opt = torch.optim.AdamW(unet.parameters(), lr=float(sys.argv[2]) if len(sys.argv) > 2 else 1e-3)
t = torch.full((B,), 999)
t0 = time.time()
for step in range(1, 401):
    pred = unet(noise, t, encoder_hidden_states=emb, return_dict=False)[0]
    loss = ((pred - z0) ** 2).mean()
    opt.zero_grad(); loss.backward()
    gn = torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
    opt.step()
    if step % 25 == 0 or step == 1:
        g_told = unet.conv_in.noise.weight.grad.norm().item()
        print(step, round(loss.item(), 4), "gradnorm", round(gn.item(), 3), "told-grad", round(g_told, 4), f"{time.time()-t0:.0f}s", flush=True)
