"""Published numbers to reproduce, as data (from the papers' own tables or authors' READMEs).

Keys: (method, dataset, task, level) -> dB, where level is sigma for denoise, scale for
upscale and JPEG quality for deblock. Dataset keys are normalised folder names
(:func:`dataset_key`). Sources are listed in ``PUBLISHED_SOURCES``.
"""

from __future__ import annotations

import re

PUBLISHED_SOURCES = {
    "BM3D": "Dabov et al., TIP 2007 (numbers as tabulated in the DnCNN paper)",
    "CBM3D": "Dabov et al., ICIP 2007 (numbers as tabulated in FFDNet/DRUNet papers)",
    "WNNM": "Gu et al., CVPR 2014 (as tabulated in DnCNN)",
    "DnCNN": "Zhang et al., TIP 2017, Table II / authors' README",
    "FFDNet": "Zhang et al., TIP 2018, Tables II-III",
    "DnCNN-3": "Zhang et al., TIP 2017, Table IV (JPEG, gray)",
    "DRUNet": "Zhang et al., TPAMI 2021 (DPIR), Tables",
    "SwinIR": "Liang et al., ICCVW 2021, Tables",
    "bicubic": "MATLAB imresize bicubic, as tabulated in the SR papers (EDSR/RCAN/SwinIR)",
    "SRCNN": "Dong et al., TPAMI 2016 (as tabulated in later SR papers)",
    "EDSR": "Lim et al., CVPRW 2017",
    "RCAN": "Zhang et al., ECCV 2018",
    "HAT": "Chen et al., CVPR 2023",
}


def _rows(method: str, dataset: str, task: str, levels: tuple, values: tuple) -> dict:
    return {(method, dataset, task, lv): v for lv, v in zip(levels, values) if v is not None}


_SIGMAS = (15, 25, 50)
_QUALITIES = (10, 20, 30, 40)

PUBLISHED: dict[tuple[str, str, str, int], float] = {
    # Gaussian denoising, gray BSD68
    **_rows("BM3D", "bsd68", "denoise", _SIGMAS, (31.07, 28.57, 25.62)),
    **_rows("WNNM", "bsd68", "denoise", _SIGMAS, (31.37, 28.83, 25.87)),
    **_rows("DnCNN", "bsd68", "denoise", _SIGMAS, (31.73, 29.23, 26.23)),
    **_rows("FFDNet", "bsd68", "denoise", _SIGMAS, (31.63, 29.19, 26.29)),
    **_rows("DRUNet", "bsd68", "denoise", _SIGMAS, (31.91, 29.48, 26.59)),
    **_rows("SwinIR", "bsd68", "denoise", _SIGMAS, (31.97, 29.50, 26.58)),
    # Gaussian denoising, colour
    **_rows("CBM3D", "cbsd68", "denoise", _SIGMAS, (33.52, 30.71, 27.38)),
    **_rows("DnCNN", "cbsd68", "denoise", _SIGMAS, (33.90, 31.24, 27.95)),
    **_rows("FFDNet", "cbsd68", "denoise", _SIGMAS, (33.87, 31.21, 27.96)),
    **_rows("DRUNet", "cbsd68", "denoise", _SIGMAS, (34.30, 31.69, 28.51)),
    **_rows("SwinIR", "cbsd68", "denoise", _SIGMAS, (34.42, 31.78, 28.56)),
    **_rows("CBM3D", "kodak24", "denoise", _SIGMAS, (34.28, None, 28.46)),
    **_rows("DnCNN", "kodak24", "denoise", _SIGMAS, (34.60, 32.14, 28.95)),
    **_rows("FFDNet", "kodak24", "denoise", _SIGMAS, (34.63, 32.13, 28.98)),
    **_rows("DRUNet", "kodak24", "denoise", _SIGMAS, (35.31, 32.89, 29.86)),
    **_rows("SwinIR", "kodak24", "denoise", _SIGMAS, (35.34, 32.89, 29.79)),
    **_rows("CBM3D", "mcmaster", "denoise", _SIGMAS, (34.06, 31.66, 28.51)),
    **_rows("DnCNN", "mcmaster", "denoise", _SIGMAS, (33.45, 31.52, 28.62)),
    **_rows("FFDNet", "mcmaster", "denoise", _SIGMAS, (34.66, 32.35, 29.18)),
    **_rows("DRUNet", "mcmaster", "denoise", _SIGMAS, (35.40, 33.14, 30.08)),
    **_rows("SwinIR", "mcmaster", "denoise", _SIGMAS, (35.61, 33.20, 30.22)),
    # Super-resolution, Y-PSNR, MATLAB bicubic degradation
    **_rows("bicubic", "set5", "upscale", (2, 3, 4), (33.66, 30.39, 28.42)),
    **_rows("bicubic", "set14", "upscale", (2, 3, 4), (30.24, 27.55, 26.00)),
    **_rows("bicubic", "b100", "upscale", (2, 3, 4), (29.56, 27.21, 25.96)),
    **_rows("bicubic", "urban100", "upscale", (2, 3, 4), (26.88, 24.46, 23.14)),
    **{(m, d, "upscale", 4): v for m, vals in {
        "SRCNN": (30.48, 27.50, 26.90, 24.52),
        "EDSR": (32.46, 28.80, 27.71, 26.64),
        "RCAN": (32.63, 28.87, 27.77, 26.82),
        "SwinIR": (32.92, 29.09, 27.92, 27.45),
        "HAT": (33.04, 29.23, 28.00, 27.97),
    }.items() for d, v in zip(("set5", "set14", "b100", "urban100"), vals)},
    # JPEG artefact removal, gray
    **_rows("DnCNN-3", "classic5", "deblock", _QUALITIES, (29.40, 31.63, 32.91, 33.77)),
    **_rows("DnCNN-3", "live1", "deblock", _QUALITIES, (29.19, 31.59, 32.98, 33.96)),
    **_rows("DRUNet", "classic5", "deblock", _QUALITIES, (30.16, 32.39, 33.59, 34.41)),
    **_rows("DRUNet", "live1", "deblock", _QUALITIES, (29.79, 32.17, 33.59, 34.58)),
    **_rows("SwinIR", "classic5", "deblock", _QUALITIES, (30.27, 32.52, 33.73, 34.52)),
    **_rows("SwinIR", "live1", "deblock", _QUALITIES, (29.86, 32.25, 33.69, 34.67)),
}

_ALIASES = {"bsd68gray": "bsd68", "cbsd68": "cbsd68", "bsd100": "b100", "kodak": "kodak24"}


def dataset_key(name: str) -> str:
    """Normalise a dataset folder name: ``bsd68_gray`` -> ``bsd68``, ``Set5`` -> ``set5``."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    key = _ALIASES.get(key, key)
    return key.removesuffix("gray") if key.endswith("gray") else key


def published_for(dataset: str, task: str, level: int) -> dict[str, float]:
    """All published results for a dataset/task/level, e.g. ``("bsd68", "denoise", 25)``."""
    key = dataset_key(dataset)
    return {m: v for (m, d, t, lv), v in PUBLISHED.items() if d == key and t == task and lv == level}
