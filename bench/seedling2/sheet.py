import torch, numpy as np
from PIL import Image
from vj.seedling import grammar, train
pool = grammar.caption_pool(2000, 1)
gen = torch.Generator().manual_seed(3)
rows = []
for i in range(1900, 1908):
    n, x = train.noise_and_pictures([pool[i]] * 6, (224, 128), gen)
    rows.append(np.concatenate(list(((x.permute(0, 2, 3, 1).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)), 1))
    print(i, pool[i].caption())
Image.fromarray(np.concatenate(rows, 0)).save("/tmp/ovf/targets.png")
