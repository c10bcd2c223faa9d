"""Preprocessors: an RGB picture -> the map a ControlNet reads (white structure on black).

    canny     OpenCV's Canny edges (thresholds 100/200 on the grey picture, as diffusers' examples
              use): thin, binary; what most canny ControlNets and the seedling's branch were trained on
    softedge  the gradient's magnitude of a slightly blurred picture, normalised by its own 98th
              percentile: soft, graded edges (a stand-in for HED/PiDiNet, which need weights)
    lines     a line drawing: a difference of Gaussians thresholded, lines a pixel or two wide
    none      the picture is already a map (a drawn line picture, a depth video): passed as it is
    depth     a depth network's map, near bright (maps/depth.py: Depth Anything V2 Small, or
              depth:<folder or hub id>; its weights come from the Hugging Face cache, not a package)

Each function takes (h, w, 3) uint8 and gives (h, w) uint8 (none: the picture itself).
Cost per frame is measured by `vj bench guided` (BENCHMARKS.md).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from vj.core.errors import VJError

CANNY_LOW, CANNY_HIGH = 100, 200  # on 0..255 grey


def _cv2():
    try:
        import cv2
    except ImportError:
        raise VJError("[[control]] preprocessors need OpenCV: pip install 'demontage[camera]' "
                      "(opencv-python-headless)") from None
    return cv2


def _grey(rgb: np.ndarray) -> np.ndarray:
    return _cv2().cvtColor(np.ascontiguousarray(rgb), _cv2().COLOR_RGB2GRAY)


def canny(rgb: np.ndarray) -> np.ndarray:
    return _cv2().Canny(_grey(rgb), CANNY_LOW, CANNY_HIGH)


def softedge(rgb: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    g = cv2.GaussianBlur(_grey(rgb), (0, 0), 1.0)
    mag = cv2.add(cv2.convertScaleAbs(cv2.Sobel(g, cv2.CV_16S, 1, 0)), cv2.convertScaleAbs(cv2.Sobel(g, cv2.CV_16S, 0, 1)))
    top = float(np.percentile(mag[::3, ::3], 98))  # a ninth of the pixels tells the percentile well enough
    if top < 4.0:  # a flat picture: no edges, not amplified noise
        return np.zeros(mag.shape, np.uint8)
    return cv2.LUT(cv2.convertScaleAbs(mag, alpha=255.0 / top), _GAMMA)


_GAMMA = (np.clip(np.arange(256) / 255.0, 0, 1) ** 0.8 * 255).astype(np.uint8)  # soft edges a little lifted


def lines(rgb: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    g = _grey(rgb)
    fine = cv2.GaussianBlur(g, (0, 0), 0.8).astype(np.int16)
    coarse = cv2.GaussianBlur(g, (0, 0), 2.0).astype(np.int16)
    return (cv2.absdiff(fine, coarse) > 4).astype(np.uint8) * 255


def none(rgb: np.ndarray) -> np.ndarray:
    return rgb


PREPROCESSORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "canny": canny, "softedge": softedge, "lines": lines, "none": none}


def preprocessor(name: str, device: str = "cpu") -> Callable[[np.ndarray], np.ndarray]:
    """The preprocessor a [[control]] names; a depth network is loaded here, on `device` (one that
    can't be: ModelLoadError)."""
    from vj.maps.depth import DepthMap, depth_source

    source = depth_source(name)
    if source is not None:
        _cv2()
        return DepthMap(source, device)
    try:
        fn = PREPROCESSORS[name]
    except KeyError:
        raise VJError(f"preprocessor {name!r}: one of {', '.join(PREPROCESSORS)}, depth, depth:<folder or hub id>") from None
    if name != "none":
        _cv2()  # missing OpenCV is said when the show starts, not at the first frame
    return fn


def as_rgb(m: np.ndarray) -> np.ndarray:
    """A map as an RGB picture (grey maps replicated), for showing it as a layer."""
    return np.repeat(m[..., None], 3, axis=2) if m.ndim == 2 else m
