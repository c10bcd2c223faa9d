import sys, time, torch, numpy as np, random
from vj.seedling import grammar, layout, model, paint, train
torch.manual_seed(0); torch.set_num_threads(2)
B = int(sys.argv[2]) if len(sys.argv) > 2 else 16
lr = float(sys.argv[1]) if len(sys.argv) > 1 else 1e-3
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 400
pool = grammar.caption_pool(2000, 1)
unet = model.new_unet(); pipe = model.pipeline(unet)
if "noraw" in sys.argv:
    import types
    def fwd(self, x):
        told = self.noise(model.layout.features(x.float()))
        where = self.where(self._features(x.shape[-2], x.shape[-1], x.device, x.dtype))
        return told + where + self.conv.bias.view(1, -1, 1, 1)
    unet.conv_in.forward = types.MethodType(fwd, unet.conv_in)
    print("noraw", flush=True)
emb = train.encode_pool(pipe, [s.caption() for s in pool], torch.device("cpu")).float()
space = model.pixel_space(8)
gen = torch.Generator().manual_seed(3)
hidx = list(range(1900, 1932))
hn, hx = train.noise_and_pictures([pool[i] for i in hidx], (224, 128), gen)
hz = space.encode(hx)[0].mode()
print("held flat-mean", ((hx - hx.mean((2, 3), keepdim=True)) ** 2).mean().item(), flush=True)
opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.01)
rng = random.Random(5); t0 = time.time()
for step in range(1, steps + 1):
    idx = [rng.randrange(1900) for _ in range(B)]
    n, x = train.noise_and_pictures([pool[i] for i in idx], (224, 128), gen)
    z = space.encode(x)[0].mode()
    pred = unet(n, torch.full((B,), 999), encoder_hidden_states=emb[idx], return_dict=False)[0]
    loss = ((pred - z) ** 2).mean()
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0); opt.step()
    if step % 50 == 0:
        with torch.no_grad():
            hp = unet(hn, torch.full((32,), 999), encoder_hidden_states=emb[hidx], return_dict=False)[0]
            hl = ((hp - hz) ** 2).mean().item()
        print(step, "train", round(loss.item(), 4), "held", round(hl, 4), f"{time.time()-t0:.0f}s", flush=True)
