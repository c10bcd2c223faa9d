"""Which torch device and dtype the generator uses: CUDA in fp16 when there is one, else the CPU in fp32."""

from __future__ import annotations

import torch

from vj.errors import VJError


def pick(device: str | None = None) -> tuple[torch.device, torch.dtype]:
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda"), torch.float16
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps"), torch.float16
        return torch.device("cpu"), torch.float32
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise VJError(f"--device {device!r} is not a torch device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VJError(f"--device {device}: this torch has no CUDA device; use --device cpu")
    return dev, (torch.float16 if dev.type in ("cuda", "mps") else torch.float32)


def describe() -> str:
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return f"mps (torch {torch.__version__})"
    return f"cpu, {torch.get_num_threads()} threads (torch {torch.__version__}; no CUDA device)"
