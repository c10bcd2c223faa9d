"""Which torch device and dtype the generator uses: CUDA in fp16 when there is one, else the CPU in fp32."""

from __future__ import annotations

import os

import torch

from vj.core.errors import VJError


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


def configure_threads(device: torch.device, threads: int | None = None) -> int:
    """CPU threads for torch. On the CPU the compositor (a software GL driver, ffmpeg) needs cores
    too, and OpenMP threads that spin-wait for a busy core starve everyone: measured on 2 cores,
    torch on 1 thread gave the live generator 20.9 fps and torch on 2 gave 5.7 (BENCHMARKS.md).
    So half the cores by default; `--threads` overrides."""
    import os

    n = threads or (max(1, (os.cpu_count() or 2) // 2) if device.type == "cpu" else torch.get_num_threads())
    torch.set_num_threads(n)
    return n


def describe_device(dev: torch.device) -> str:
    """One device in words, for benchmark records."""
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    if dev.type == "cpu":
        import platform

        return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    return dev.type


def describe() -> str:
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return f"mps (torch {torch.__version__})"
    return f"cpu, {torch.get_num_threads()} threads (torch {torch.__version__}; no CUDA device)"
