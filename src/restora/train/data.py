"""Training data: clean images in memory, random patches, on-the-fly seeded degradations.

Every batch is drawn from ``np.random.default_rng([seed, step])``, so a batch depends only
on the seed and the step number: a resumed run sees exactly the batches an uninterrupted
run would. Arrays are HWC float32 in [0, 1]; ``sigma`` is in 8-bit units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from restora.color import linear_to_srgb, srgb_to_linear
from restora.degrade import (
    add_gaussian_noise,
    add_poisson_gaussian_noise,
    blur,
    camera_pair,
    camera_pipeline,
    colour_jitter,
    gaussian_kernel,
    imresize,
    jpeg_compress,
    low_light,
    realistic_mix,
)
from restora.degrade.camera import READ_INTERCEPT, READ_SLOPE, READ_SPREAD
from restora.errors import DatasetError
from restora.io import list_images as list_image_files
from restora.io import read_image
from restora.train.config import DataConfig, DegradationConfig

_GRAY = np.array([0.2989, 0.5870, 0.1140])  # MATLAB rgb2gray
VAL_STREAM = 1_000_003
"""Second seed word of the validation degradations (distinct from every training step)."""


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """HWC image with 1 or 3 channels -> ``channels`` (gray by MATLAB ``rgb2gray`` weights)."""
    arr = image if image.ndim == 3 else image[..., None]
    if arr.shape[2] == channels:
        return arr
    if channels == 1:
        return (arr[..., :3].astype(np.float64) @ _GRAY)[..., None].astype(arr.dtype)
    return np.repeat(arr[..., :1], 3, axis=2)


def list_images(folder: str | Path) -> list[Path]:
    """Readable image files directly inside ``folder``, sorted by name."""
    return list_image_files(folder, role="training/validation")


def load_images(
    folders: list[str] | str, *, channels: int, max_images: int | None = None
) -> list[np.ndarray]:
    """Read every image of ``folders`` as HWC uint8 with ``channels`` channels (8-bit quantised)."""
    files = [f for folder in ([folders] if isinstance(folders, str) else folders) for f in list_images(folder)]
    files = files[:max_images]
    out = []
    for f in files:
        pixels = to_channels(read_image(f).pixels, channels)
        out.append(np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8))
    return out


# --- degradations -------------------------------------------------------------------------


def gaussian(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """AWGN of std ``sigma`` (8-bit units), not clipped (as the papers train)."""
    return add_gaussian_noise(clean, sigma, seed=rng)


def camera(
    clean: np.ndarray, *, photons: float, read_sigma: float, quality: int | None, rng: np.random.Generator
) -> np.ndarray:
    """Simple ISP noise: sRGB -> linear, Poisson-Gaussian (Foi et al. 2008), -> sRGB, JPEG.

    ``photons``: electrons at white level; ``read_sigma``: read noise, 8-bit units (linear
    domain); ``quality``: JPEG quality, or None for no JPEG. Result clipped to [0, 1].
    """
    linear = srgb_to_linear(clean).astype(np.float32)
    noisy = add_poisson_gaussian_noise(linear, photons=photons, read_sigma=read_sigma, seed=rng, clip=True)
    out = np.clip(linear_to_srgb(noisy), 0.0, 1.0).astype(np.float32)
    return out if quality is None else jpeg_compress(out, quality)


def sr_pair(clean: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lr, upsampled)``: MATLAB bicubic ``imresize(clean, 1/scale)`` and its bicubic
    upscale back to ``clean``'s size (the input of scale-1 networks, as VDSR / DnCNN-3).

    ``clean`` H and W must be multiples of ``scale``; lr is (H/scale, W/scale, C).
    """
    lr = imresize(clean, 1.0 / scale)
    up = imresize(lr, output_shape=clean.shape[:2])
    return lr.astype(np.float32), up.astype(np.float32)


def second_order(
    clean: np.ndarray, cfg: DegradationConfig, rng: np.random.Generator, *, lr_output: bool = False
) -> np.ndarray:
    """Blind two-stage degradation (Wang et al., Real-ESRGAN, ICCVW 2021; Zhang et al., BSRGAN).

    Twice: Gaussian blur (std uniform in [0.2, blur_sigma_max] px), bicubic resize by a
    factor uniform in [1/scale, 1.5] (at least 8 px), AWGN (std uniform in [sigma_min,
    sigma_max]), JPEG (quality uniform in [quality_min, quality_max]); then a bicubic resize
    back to the input size. Returns float32 in [0, 1] of ``clean``'s shape.
    """
    h, w = clean.shape[:2]
    x = clean.astype(np.float32)
    for _ in range(2):
        s = rng.uniform(0.2, max(cfg.blur_sigma_max, 0.2))
        x = blur(x, gaussian_kernel(s), boundary="reflect").astype(np.float32)
        f = rng.uniform(1.0 / cfg.scale, 1.5)
        shape = (max(8, round(x.shape[0] * f)), max(8, round(x.shape[1] * f)))
        x = imresize(x, output_shape=shape).astype(np.float32)
        x = gaussian(x, rng.uniform(cfg.sigma_min, cfg.sigma_max), rng)
        x = jpeg_compress(np.clip(x, 0.0, 1.0), int(rng.integers(cfg.quality_min, cfg.quality_max + 1)))
    x = imresize(x, output_shape=(h // cfg.scale, w // cfg.scale) if lr_output else (h, w))
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def _sample_sigma(cfg: DegradationConfig, rng: np.random.Generator) -> float:
    if cfg.sigma_sampling == "log_uniform":
        return float(math.exp(rng.uniform(math.log(cfg.sigma_min), math.log(cfg.sigma_max))))
    return float(rng.uniform(cfg.sigma_min, cfg.sigma_max))


def _camera(clean: np.ndarray, cfg: DegradationConfig, rng: np.random.Generator) -> np.ndarray:
    photons = math.exp(rng.uniform(math.log(cfg.photons_min), math.log(cfg.photons_max)))
    read = float(rng.uniform(cfg.read_sigma_min, cfg.read_sigma_max))
    q = int(rng.integers(cfg.quality_min, cfg.quality_max + 1)) if cfg.camera_jpeg else None
    return camera(clean, photons=photons, read_sigma=read, quality=q, rng=rng)


def _lowlight(clean: np.ndarray, cfg: DegradationConfig, rng: np.random.Generator) -> np.ndarray:
    """An under-exposed camera shot of ``clean`` (:func:`restora.degrade.low_light`): stops
    uniform in [stops_min, stops_max], shot noise log-uniform in [shot_min, shot_max], read
    noise by the log-linear ISO relation, JPEG when ``camera_jpeg``."""
    stops = float(rng.uniform(cfg.stops_min, cfg.stops_max))
    log_shot = rng.uniform(math.log(cfg.shot_min), math.log(cfg.shot_max))
    log_read = READ_SLOPE * log_shot + READ_INTERCEPT + rng.normal(0.0, READ_SPREAD)
    q = int(rng.integers(cfg.quality_min, cfg.quality_max + 1)) if cfg.camera_jpeg else None
    return low_light(clean, rng, stops=stops, shot=math.exp(log_shot), read=math.exp(log_read),
                     quality=q)


def degrade(
    clean: np.ndarray,
    cfg: DegradationConfig,
    rng: np.random.Generator,
    *,
    sigma: float | None = None,
    lr_output: bool = False,
) -> tuple[np.ndarray, float]:
    """Degrade one clean HWC float32 patch; returns ``(degraded, sigma)``.

    ``sigma`` (8-bit units) is what a noise-map network receives: the sampled AWGN std for
    "gaussian" (or the given ``sigma``, used for validation), otherwise the measured std of
    ``degraded - clean`` (times ``pair_map_gain`` for in-camera noise, ``pair_fraction``). ``degraded`` has ``clean``'s shape, except with ``lr_output``
    ("sr" / "second_order" for upsampling networks): ``clean``'s size / ``cfg.scale``, and
    sigma 0.
    """
    if cfg.kind == "gaussian":
        if sigma is None and cfg.pair_fraction > 0 and rng.uniform() < cfg.pair_fraction:
            noisy, rendered = _camera_pair(clean, cfg, rng)  # its noise, on the clean patch
            out = np.clip(clean + (noisy - rendered), 0.0, 1.0).astype(np.float32)
            return out, cfg.pair_map_gain * float(np.std(out.astype(np.float64) - clean) * 255.0)
        if sigma is None and cfg.camera_fraction > 0 and rng.uniform() < cfg.camera_fraction:
            out = _camera(clean, cfg, rng)
            return out, float(np.std(out.astype(np.float64) - clean) * 255.0)
        s = _sample_sigma(cfg, rng) if sigma is None else float(sigma)
        return gaussian(clean, s, rng), s
    if cfg.kind == "camera":
        out = _camera(clean, cfg, rng)
    elif cfg.kind == "camera_isp":
        out = camera_pipeline(clean, rng)
    elif cfg.kind == "real_mix":
        out = realistic_mix(clean, rng)
    elif cfg.kind == "lowlight":
        out = _lowlight(clean, cfg, rng)
    elif cfg.kind == "jpeg":
        out = jpeg_compress(clean, int(rng.integers(cfg.quality_min, cfg.quality_max + 1)))
    elif cfg.kind == "sr":
        if lr_output:
            return imresize(clean, 1.0 / cfg.scale).astype(np.float32), 0.0
        out = sr_pair(clean, cfg.scale)[1]
    else:
        out = second_order(clean, cfg, rng, lr_output=lr_output)
        if lr_output:
            return out, 0.0
    return out, float(np.std(out.astype(np.float64) - clean) * 255.0)


def degrade_pair(
    clean: np.ndarray,
    cfg: DegradationConfig,
    rng: np.random.Generator,
    *,
    sigma: float | None = None,
    lr_output: bool = False,
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(target, degraded, sigma)`` for one clean HWC float32 patch.

    The target is ``clean`` itself except for kind "real", whose camera pairs target the
    noise-free rendering of the same raw scene (:func:`restora.degrade.camera_pair`).
    Other arguments as in :func:`degrade`.
    """
    if cfg.kind != "real":
        out, s = degrade(clean, cfg, rng, sigma=sigma, lr_output=lr_output)
        return clean, out, s
    u = rng.uniform()
    target = clean
    if u < cfg.mix_fraction:
        out = realistic_mix(clean, rng)
    elif u < cfg.mix_fraction + cfg.clean_fraction:
        out = jpeg_compress(clean, int(rng.integers(80, 101)))
    else:
        out, target = _camera_pair(clean, cfg, rng)
    return target, out, float(np.std(out.astype(np.float64) - target) * 255.0)


def _camera_pair(clean: np.ndarray, cfg: DegradationConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """:func:`restora.degrade.camera_pair` of ``clean`` (``(noisy, noise-free)`` renderings of
    it as a raw scene), with the shot, read and noise-blur ranges of ``cfg``."""
    log_shot = rng.uniform(math.log(cfg.shot_min), math.log(cfg.shot_max))
    log_read = READ_SLOPE * log_shot + READ_INTERCEPT + rng.normal(0.0, READ_SPREAD)
    blur, share = 0.0, 1.0
    if cfg.noise_blur_max > 0 and rng.uniform() < cfg.noise_blur_fraction:
        blur = float(rng.uniform(min(0.3, cfg.noise_blur_max), cfg.noise_blur_max))
        if cfg.coarse_share_min < 1.0:
            share = float(rng.uniform(cfg.coarse_share_min, 1.0))
    return camera_pair(clean, rng, shot=math.exp(log_shot), read=math.exp(log_read),
                       jpeg_probability=0.8, noise_blur=blur, coarse_share=share)


def augment(patch: np.ndarray, k: int) -> np.ndarray:
    """The k-th (0..7) dihedral transform: ``rot90`` k % 4 times, then a horizontal flip if k >= 4."""
    out = np.rot90(patch, k % 4, axes=(0, 1))
    return out[:, ::-1] if k >= 4 else out


@dataclass
class Batch:
    """One training batch: NCHW float32 arrays in [0, 1] and per-sample sigma (8-bit units)."""

    inputs: np.ndarray
    targets: np.ndarray
    sigmas: np.ndarray


class PatchSampler:
    """Random crops of in-memory clean images, augmented and degraded, seeded per step."""

    def __init__(
        self, data: DataConfig, degradation: DegradationConfig, *, seed: int, lr_output: bool = False
    ) -> None:
        images = load_images(data.train, channels=data.channels, max_images=data.max_images)
        p = data.patch_size
        self.images = [im for im in images if im.shape[0] >= p and im.shape[1] >= p]
        if not self.images:
            raise DatasetError(
                f"{', '.join(data.train)}: no training image is at least {p}x{p} pixels; "
                f"lower [data] patch_size"
            )
        self.data = data
        self.degradation = degradation
        self.seed = seed
        self.lr_output = lr_output

    def batch(self, step: int) -> Batch:
        """The batch of optimiser step ``step`` (0-based); the same step gives the same batch."""
        rng = np.random.default_rng([self.seed, step])
        p = self.data.patch_size
        xs, ys, ss = [], [], []
        for _ in range(self.data.batch_size):
            im = self.images[int(rng.integers(len(self.images)))]
            top = int(rng.integers(im.shape[0] - p + 1))
            left = int(rng.integers(im.shape[1] - p + 1))
            patch = im[top : top + p, left : left + p]
            if self.data.augment:
                patch = augment(patch, int(rng.integers(8)))
            clean = np.ascontiguousarray(patch, dtype=np.float32) / 255.0
            if self.data.colour_jitter > 0 and rng.uniform() < self.data.colour_jitter:
                clean = colour_jitter(clean, rng)
            target, degraded, sigma = degrade_pair(clean, self.degradation, rng, lr_output=self.lr_output)
            xs.append(degraded.transpose(2, 0, 1))
            ys.append(target.transpose(2, 0, 1))
            ss.append(sigma)
        return Batch(np.stack(xs).astype(np.float32), np.stack(ys), np.asarray(ss, dtype=np.float32))


def validation_set(
    data: DataConfig, degradation: DegradationConfig, *, seed: int, lr_output: bool = False
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """``(clean, degraded, sigma)`` per validation image, fixed for the whole run.

    Gaussian validation uses ``degradation.val_sigma``; image i is degraded with
    ``default_rng([seed, VAL_STREAM, i])``. Empty when ``data.val`` is None.
    """
    if data.val is None:
        return []
    images = load_images(data.val, channels=data.channels, max_images=data.val_max_images)
    out = []
    for i, im in enumerate(images):
        if data.val_crop is not None:
            c = data.val_crop
            top, left = max(0, (im.shape[0] - c) // 2), max(0, (im.shape[1] - c) // 2)
            im = im[top : top + c, left : left + c]
        if degradation.kind in ("sr", "second_order"):
            s = degradation.scale
            im = im[: im.shape[0] - im.shape[0] % s, : im.shape[1] - im.shape[1] % s]
        clean = im.astype(np.float32) / 255.0
        sigma = degradation.val_sigma if degradation.kind == "gaussian" else None
        rng = np.random.default_rng([seed, VAL_STREAM, i])
        target, degraded, s = degrade_pair(clean, degradation, rng, sigma=sigma, lr_output=lr_output)
        out.append((target, degraded, s))
    return out
