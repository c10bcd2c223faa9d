"""A depth map from a depth network: near is bright, far is dark (what depth ControlNets read).

`preprocessor = "depth"` in a [[control]] reads the picture through Depth Anything V2 Small
(depth-anything/Depth-Anything-V2-Small-hf, Apache-2.0, 25 M parameters), `"depth:<folder or hub
id>"` through another depth network transformers loads (AutoModelForDepthEstimation: Depth
Anything, DPT/MiDaS, GLPN...). No package ships such weights: a hub id must be in the local
Hugging Face cache (fetched once online) or a folder beside the set; one that can't be loaded is
one line and the show goes on without that control.

The picture is resized here (OpenCV, no image processor needed) so that its short side is
`depth_side(device)` pixels (126 on a CPU, where 224 cost 350 ms a map on one thread; 364 on a GPU)
and both sides are multiples of the network's patch (14 for Depth Anything's DINOv2), normalised
as ImageNet was, and the network's relative depth (disparity: larger is
nearer) is stretched between its 2nd and 98th percentiles to 0..255 and scaled back to the
picture. It runs where the other preprocessors run, on the map's own thread (maps/worker.py), on
the generator's device: a slow network delays the map, never the frame.
"""

from __future__ import annotations

import os

import numpy as np

from vj.core.errors import LOAD_ERRORS, ModelLoadError, first_line

DEFAULT_DEPTH = "depth-anything/Depth-Anything-V2-Small-hf"
CPU_SIDE, GPU_SIDE = 126, 364  # the short side the network sees (a multiple of 14; it was trained at 518)
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


def depth_side(device: str) -> int:
    return CPU_SIDE if str(device).split(":")[0] == "cpu" else GPU_SIDE


def depth_source(name: str) -> str | None:
    """The depth network a preprocessor's name asks for (None: not a depth preprocessor)."""
    if name == "depth":
        return DEFAULT_DEPTH
    if name.startswith("depth:") and name[6:]:
        return name[6:]
    return None


class DepthMap:
    """rgb (h, w, 3) uint8 -> depth (h, w) uint8, near bright. Loads its network once."""

    def __init__(self, source: str, device: str = "cpu") -> None:
        import torch
        from transformers import AutoModelForDepthEstimation
        from transformers.utils import logging as tf_logging

        os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
        os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
        level = tf_logging.get_verbosity()
        tf_logging.set_verbosity_error()
        tf_logging.disable_progress_bar()  # a bar per load in the show's log otherwise
        try:
            self.net = AutoModelForDepthEstimation.from_pretrained(source).to(device).eval()
        except LOAD_ERRORS as e:
            raise ModelLoadError(f"depth network {source}: can't load it ({first_line(e)}); a folder with a transformers "
                                 f"depth model (config.json + weights) or a hub id already in the local Hugging Face "
                                 f"cache (fetch it once online)") from None
        finally:
            tf_logging.set_verbosity(level)
            tf_logging.enable_progress_bar()
        self.device, self.torch, self.side = device, torch, depth_side(device)
        backbone = getattr(self.net.config, "backbone_config", None)
        self.patch = int(getattr(backbone, "patch_size", None) or getattr(self.net.config, "patch_size", None) or 16)

    def _input(self, rgb: np.ndarray):
        import cv2

        h, w = rgb.shape[:2]
        k = self.side / min(h, w)
        p = self.patch
        size = (max(p, round(w * k / p) * p), max(p, round(h * k / p) * p))
        x = (cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
             - _MEAN) / _STD
        return self.torch.from_numpy(x.transpose(2, 0, 1)[None].copy()).to(self.device)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        with self.torch.inference_mode():
            d = self.net(pixel_values=self._input(rgb)).predicted_depth[0].float().cpu().numpy()
        lo, hi = np.percentile(d[::2, ::2], (2, 98))
        if not np.isfinite(hi - lo) or hi - lo < 1e-6:  # a flat picture: no depth to tell
            return np.zeros(rgb.shape[:2], np.uint8)
        m = (np.clip((d - lo) / (hi - lo), 0.0, 1.0) * 255.0).astype(np.uint8)
        return cv2.resize(m, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
